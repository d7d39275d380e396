"""Shared pieces of revenue figures: the board's signal filter, currency order, revenue at risk.

Recovery per invoice lives in billing.recovery, customer-level MRR in billing.revenue.
"""

from collections import Counter
from dataclasses import dataclass, field

from django.db.models import Count, Sum

from billing.filters import Period
from billing.models import RevenueSignal, SignalKind, Subscription
from billing.querysets import AT_RISK

K = SignalKind


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


def at_risk_subscriptions(workspace, *, livemode=None, connection_id=None):
    """Subscriptions with an unresolved failed payment (past due, unpaid) or a scheduled
    cancellation."""
    subscriptions = Subscription.objects.filter(workspace=workspace).filter(AT_RISK)
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


def latest_signal(workspace):
    """The newest signal's id and arrival time: what the live poll compares against."""
    return (
        RevenueSignal.objects.for_workspace(workspace)
        .order_by("-id")
        .values("id", "created_at")
        .first()
    )
