"""Reads over billing facts that pages share: timelines, customer search, subscriptions."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, F, OuterRef, Q

from billing.exchange import converted_amount
from billing.metrics import at_risk_subscriptions
from billing.models import Customer, RevenueSignal, Subscription
from billing.revenue_models import CustomerFigures

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


CUSTOMER_SORTS = {
    "mrr": "Largest MRR",
    "paid": "Most paid",
    "failed": "Most outstanding failed",
    "refunded": "Most refunded",
    "disputed": "Most disputed",
    "risk": "Most at risk",
}
# The CustomerFigures column each sort reads.
SORT_FIGURES = {
    "mrr": "mrr",
    "paid": "paid",
    "failed": "failed_outstanding",
    "refunded": "refunded",
    "disputed": "disputed",
    "risk": "at_risk",
}


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
        # By converted amount: ¥50,000 is not more than $495. A customer without figures
        # (none computed yet) sorts last.
        value = converted_amount(workspace, field=f"figures__{SORT_FIGURES[sort]}")
        customers = customers.annotate(sort_value=value).order_by(
            F("sort_value").desc(nulls_last=True), "-first_seen_at"
        )
    return customers


def customer_figures_add(customers: list[Customer]) -> list[Customer]:
    """Give a page of customers their figures (`customer.figures`), read in one query."""
    rows = CustomerFigures.objects.in_bulk([customer.pk for customer in customers])
    for customer in customers:
        customer.figures = rows.get(customer.pk) or CustomerFigures(customer=customer)
    return customers


def customer_figures_of(customer: Customer) -> CustomerFigures:
    """The customer's figures; zeros for a customer none were computed for yet."""
    figures = CustomerFigures.objects.filter(customer=customer).first()
    return figures or CustomerFigures(customer=customer)


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
