"""Revenue metrics over billing facts: MRR movements, churn, revenue at risk, recovery time.

These read RevenueSignal and Subscription only; the journey board (journeys.board_selectors)
combines them with its per-step rollups.
"""

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.fields.json import KeyTextTransform

from billing.filters import Period
from billing.models import RevenueSignal, SignalKind, Subscription

K = SignalKind
AT_RISK_STATUSES = ["past_due", "unpaid"]


@dataclass
class SignalFilter:
    """A period plus the board's filters, applied to a workspace's signals."""

    period: Period
    kinds: list[str] = field(default_factory=list)
    livemode: bool | None = None
    connection_id: int | None = None

    def signals(self, workspace):
        rows = RevenueSignal.objects.for_workspace(workspace).in_period(
            self.period.start_at, self.period.end_at
        )
        if self.livemode is not None:
            rows = rows.filter(livemode=self.livemode)
        if self.connection_id:
            rows = rows.filter(connection_id=self.connection_id)
        return rows


def ordered_currencies(counts: Counter) -> list[str]:
    """Most frequent currency first (the workspace's main currency), then by frequency."""
    return sorted(counts, key=lambda c: (-counts[c], c))


def sort_amounts(amounts: dict[str, int], currencies: list[str]) -> dict[str, int]:
    rank = {c: i for i, c in enumerate(currencies)}
    return dict(sorted(amounts.items(), key=lambda item: (rank.get(item[0], 99), item[0])))


def mrr_movements(mrr_by_kind, raw, currencies) -> dict[str, dict[str, int]]:
    churn_split, reactivation = raw
    started = dict(mrr_by_kind.get(K.SUBSCRIPTION_STARTED, {}))
    for currency, amount in reactivation.items():
        started[currency] = started.get(currency, 0) - amount
    mrr = {
        "new": started,
        "expansion": dict(mrr_by_kind.get(K.PLAN_UPGRADED, {})),
        "contraction": dict(mrr_by_kind.get(K.PLAN_DOWNGRADED, {})),
        "churn_voluntary": churn_split.get("voluntary", {}),
        "churn_involuntary": churn_split.get("involuntary", {}),
        "reactivation": reactivation,
    }
    return {
        name: sort_amounts({c: v for c, v in amounts.items() if v}, currencies)
        for name, amounts in mrr.items()
    }


def churn_and_reactivation(workspace, filters: SignalFilter):
    """MRR lost to churn by churn_type, and MRR won back from customers who had churned.

    Rollups do not keep details, so these read signals of two kinds through the kind index.
    """
    signals = filters.signals(workspace)
    churn: dict[str, dict[str, int]] = defaultdict(dict)
    rows = (
        signals.filter(kind=K.SUBSCRIPTION_CANCELED)
        .annotate(churn=KeyTextTransform("churn_type", "details"))
        .values("churn", "currency")
        .order_by()
        .annotate(mrr=Sum("mrr_delta"))
    )
    for row in rows:
        kind = "involuntary" if row["churn"] == "involuntary" else "voluntary"
        churn[kind][row["currency"]] = churn[kind].get(row["currency"], 0) + (row["mrr"] or 0)
    earlier_churn = RevenueSignal.objects.filter(
        workspace=workspace,  # lets the (workspace, kind, occurred_at) index find churn
        customer_id=OuterRef("customer_id"),
        kind=K.SUBSCRIPTION_CANCELED,
        occurred_at__lt=OuterRef("occurred_at"),
    )
    reactivation = {
        row["currency"]: row["mrr"] or 0
        for row in signals.filter(kind=K.SUBSCRIPTION_STARTED, customer__isnull=False)
        .filter(Exists(earlier_churn))
        .values("currency")
        .order_by()
        .annotate(mrr=Sum("mrr_delta"))
    }
    return dict(churn), reactivation


def at_risk_subscriptions(workspace, *, livemode=None, connection_id=None):
    """Subscriptions with an unresolved failed payment (past due, unpaid) or a scheduled
    cancellation."""
    subscriptions = Subscription.objects.filter(workspace=workspace).filter(
        Q(status__in=AT_RISK_STATUSES)
        | Q(cancel_at_period_end=True, status__in=["active", "trialing", "past_due"])
        | Q(cancel_at__isnull=False, status__in=["active", "trialing"])
    )
    if livemode is not None:
        subscriptions = subscriptions.filter(livemode=livemode)
    if connection_id:
        subscriptions = subscriptions.filter(customer__connection_id=connection_id)
    return subscriptions


def revenue_at_risk(workspace, filters: SignalFilter) -> tuple[dict[str, int], int]:
    rows = (
        at_risk_subscriptions(
            workspace, livemode=filters.livemode, connection_id=filters.connection_id
        )
        .values("currency")
        .order_by()
        .annotate(mrr=Sum("mrr"), customers=Count("customer_id", distinct=True))
    )
    amounts, customers = {}, 0
    for row in rows:
        if row["mrr"]:
            amounts[row["currency"]] = row["mrr"]
        customers += row["customers"]
    return amounts, customers


MEDIAN_SAMPLE = 2000


def median_hours_to_recover(workspace, filters: SignalFilter) -> float | None:
    """Median of details.hours_to_recover over the period's latest recoveries (at most 2,000:
    exact for most workspaces, a recent sample for the largest, read through the kind index)."""
    hours = (
        filters.signals(workspace)
        .filter(kind=K.PAYMENT_RECOVERED)
        .order_by("-occurred_at")
        .values_list("details__hours_to_recover", flat=True)[:MEDIAN_SAMPLE]
    )
    values = [float(h) for h in hours if h is not None]
    return statistics.median(values) if values else None


def latest_signal(workspace):
    """The newest signal's id and arrival time: what the live poll compares against."""
    return (
        RevenueSignal.objects.for_workspace(workspace)
        .order_by("-id")
        .values("id", "created_at")
        .first()
    )


def recovery_rates(
    failed: dict[str, int], recovered: dict[str, int], currencies: list[str]
) -> dict[str, float]:
    """Recovered amount over failed amount, per currency with failures."""
    rates = {
        currency: recovered.get(currency, 0) / amount
        for currency, amount in failed.items()
        if amount
    }
    return sort_amounts(rates, currencies)
