"""Reads over billing facts that pages share: timelines, customer search, subscriptions."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import BigIntegerField, Exists, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from billing.exchange import converted_amount
from billing.metrics import at_risk_subscriptions
from billing.models import Customer, RevenueSignal, SignalKind, Subscription
from billing.revenue_models import FailedInvoice, MrrMovement

TIMELINE_AROUND = 5
CUSTOMER_TIMELINE_LIMIT = 200


def signal_timeline_around(signal: RevenueSignal) -> tuple[list, list]:
    """The customer's signals just before and just after this one (newest first in each)."""
    if not signal.customer_id:
        return [], []
    mine = (
        RevenueSignal.objects.filter(customer_id=signal.customer_id)
        .exclude(pk=signal.pk)
        .select_related("workspace")
    )
    before = mine.filter(
        Q(occurred_at__lt=signal.occurred_at) | Q(occurred_at=signal.occurred_at, id__lt=signal.pk)
    ).order_by("-occurred_at", "-id")[:TIMELINE_AROUND]
    after = mine.filter(
        Q(occurred_at__gt=signal.occurred_at) | Q(occurred_at=signal.occurred_at, id__gt=signal.pk)
    ).order_by("occurred_at", "id")[:TIMELINE_AROUND]
    return list(reversed(list(after))), list(before)


def _per_customer(rows, column: str = "amount", **lookup):
    """A subquery: the sum of `column` over the outer customer's rows of a queryset."""
    sums = (
        rows.filter(customer_id=OuterRef("pk"), **lookup)
        .order_by()
        .values("customer_id")
        .annotate(total=Sum(column))
        .values("total")
    )
    return Coalesce(Subquery(sums, output_field=BigIntegerField()), 0)


CUSTOMER_SORTS = {
    "mrr": "Largest MRR",
    "paid": "Most paid",
    "failed": "Most outstanding failed",
    "refunded": "Most refunded",
    "disputed": "Most disputed",
    "risk": "Most at risk",
}


FIGURE_NAMES = ("mrr", "paid", "failed", "refunded", "disputed", "risk")


def customer_figures(workspace, customers, names=FIGURE_NAMES):
    """Each customer's MRR (as the figures count it), total paid, failed amount still in
    dunning, refunded, disputed and MRR at risk now, in minor units of its currency (`names`:
    only those figures)."""
    signals = RevenueSignal.objects.filter(workspace=workspace)
    latest_mrr = (
        MrrMovement.objects.filter(customer_id=OuterRef("pk"))
        .order_by("-at", "-id")
        .values("mrr_after")[:1]
    )
    figures = {
        "mrr": lambda: Coalesce(Subquery(latest_mrr, output_field=BigIntegerField()), 0),
        "paid": lambda: _per_customer(signals, kind=SignalKind.PAYMENT_SUCCEEDED),
        "failed": lambda: _per_customer(
            FailedInvoice.objects.filter(workspace=workspace).in_dunning()
        ),
        "refunded": lambda: _per_customer(signals, kind=SignalKind.REFUND),
        "disputed": lambda: _per_customer(signals, kind=SignalKind.DISPUTE_OPENED),
        "risk": lambda: _per_customer(at_risk_subscriptions(workspace), "mrr"),
    }
    return customers.annotate(**{f"figure_{name}": figures[name]() for name in names})


def customer_search(workspace, *, q: str = "", at_risk: bool = False, sort: str = ""):
    customers = (
        Customer.objects.for_workspace(workspace)
        .select_related("workspace")
        .annotate(
            at_risk=Exists(at_risk_subscriptions(workspace).filter(customer_id=OuterRef("pk")))
        )
    )
    q = (q or "").strip()
    if q:
        customers = customers.filter(Q(email__icontains=q) | Q(name__icontains=q) | Q(stripe_id=q))
    if at_risk:
        customers = customers.filter(
            pk__in=at_risk_subscriptions(workspace).values("customer_id")
        ).order_by("-mrr", "-first_seen_at")
    if sort in CUSTOMER_SORTS:
        # By converted amount: ¥50,000 is not more than $495. This computes every customer's
        # figure; without a sort, only the page's customers get theirs (customer_figures_add).
        customers = (
            customer_figures(workspace, customers, names=[sort])
            .annotate(sort_value=converted_amount(workspace, field=f"figure_{sort}"))
            .order_by("-sort_value", "-first_seen_at")
        )
    return customers


def customer_figures_add(workspace, customers: list) -> list:
    """Give a page of customers their figures (one query for the page, not the whole list;
    a list sorted by one figure has that one already)."""
    missing = [c for c in customers if not all(hasattr(c, f"figure_{n}") for n in FIGURE_NAMES)]
    if missing:
        rows = customer_figures(workspace, Customer.objects.filter(pk__in=[c.pk for c in missing]))
        by_pk = {row.pk: row for row in rows}
        for customer in missing:
            for name in FIGURE_NAMES:
                value = getattr(by_pk.get(customer.pk), f"figure_{name}", 0)
                setattr(customer, f"figure_{name}", value)
    return customers


@dataclass
class TimelineEntry:
    """One line of a customer's timeline: a signal, or something another app adds (a task)."""

    at: datetime
    kind: str  # "signal", "task", …
    obj: object


def customer_timeline(
    customer: Customer,
    *,
    limit: int = CUSTOMER_TIMELINE_LIMIT,
    others: Iterable[TimelineEntry] = (),
) -> list[TimelineEntry]:
    """The customer's signals merged with `others`, newest first, at most `limit` entries."""
    signals = (
        RevenueSignal.objects.filter(customer=customer)
        .select_related("workspace")
        .order_by("-occurred_at", "-id")[:limit]
    )
    entries = [TimelineEntry(s.occurred_at, "signal", s) for s in signals]
    entries += list(others)
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]


def customer_subscriptions(customer: Customer):
    return list(Subscription.objects.filter(customer=customer).order_by("-state_as_of", "-id"))
