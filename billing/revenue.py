"""Reads of customer-level MRR: movements over a period, MRR and paying customers at a moment.

From MrrDailyRollup (MrrMovement added up per day, billing.revenue_rollups), never from raw
signals; a moment inside a day adds that day's movements before it.
"""

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from django.db.models import Count, Q, Sum

from billing.metrics import SignalFilter
from billing.revenue_models import MovementKind, MrrDailyRollup, MrrMovement
from billing.revenue_rollups import utc_day

M = MovementKind
MONEY_KINDS = [
    M.NEW,
    M.EXPANSION,
    M.CONTRACTION,
    M.CHURN_VOLUNTARY,
    M.CHURN_INVOLUNTARY,
    M.REACTIVATION,
]
STARTS, STOPS = (M.NEW, M.REACTIVATION), (M.CHURN_VOLUNTARY, M.CHURN_INVOLUNTARY)


def workspace_movements(workspace, filters: SignalFilter | None = None):
    rows = MrrMovement.objects.filter(workspace=workspace)
    if filters is not None and filters.livemode is not None:
        rows = rows.filter(livemode=filters.livemode)
    if filters is not None and filters.connection_id:
        rows = rows.filter(connection_id=filters.connection_id)
    return rows


@dataclass
class Movements:
    """A period's MRR movements by kind and currency (signed minor units), and their counts."""

    amounts: dict[str, dict[str, int]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def of(self, kind: str) -> dict[str, int]:
        return self.amounts.get(kind, {})

    def net(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for per_currency in self.amounts.values():
            for currency, amount in per_currency.items():
                total[currency] = total.get(currency, 0) + amount
        return {c: v for c, v in total.items() if v}


def workspace_rollups(workspace, filters: SignalFilter | None = None):
    rows = MrrDailyRollup.objects.filter(workspace=workspace)
    if filters is not None and filters.livemode is not None:
        rows = rows.filter(livemode=filters.livemode)
    if filters is not None and filters.connection_id:
        rows = rows.filter(connection_id=filters.connection_id)
    return rows


def period_movements(workspace, filters: SignalFilter) -> Movements:
    rows = (
        workspace_rollups(workspace, filters)
        .filter(day__gte=filters.period.start, day__lte=filters.period.end)
        .values("kind", "currency")
        .order_by()
        .annotate(total=Sum("amount"), n=Sum("count"))
    )
    movements = Movements(amounts={kind: {} for kind in MONEY_KINDS})
    for row in rows:
        movements.counts[row["kind"]] = movements.counts.get(row["kind"], 0) + row["n"]
        if row["kind"] in MONEY_KINDS and row["total"]:
            movements.amounts[row["kind"]][row["currency"]] = row["total"]
    return movements


def _before(workspace, moment: datetime, filters: SignalFilter | None):
    """Rollup rows of the days before `moment`'s day, and the movements of that day before it
    (none at midnight): together, every movement before `moment`."""
    day_start = datetime.combine(utc_day(moment), time.min, tzinfo=UTC)
    days = workspace_rollups(workspace, filters).filter(day__lt=day_start.date())
    same_day = workspace_movements(workspace, filters).filter(at__gte=day_start, at__lt=moment)
    return days, same_day


def mrr_at(workspace, moment: datetime, filters: SignalFilter | None = None) -> dict[str, int]:
    """MRR per currency just before `moment`: every movement before it, added up."""
    mrr: dict[str, int] = {}
    for rows in _before(workspace, moment, filters):
        for row in rows.values("currency").order_by().annotate(total=Sum("amount")):
            mrr[row["currency"]] = mrr.get(row["currency"], 0) + (row["total"] or 0)
    return {c: v for c, v in mrr.items() if v}


def paying_customers_by_currency(
    workspace, moment: datetime, filters: SignalFilter | None = None
) -> dict[str, int]:
    """Customers paying just before `moment`, by the currency they pay in: those who started
    or came back, less those who churned."""
    days, same_day = _before(workspace, moment, filters)
    counted = [
        days.filter(kind__in=STARTS + STOPS).values("currency", "kind").annotate(n=Sum("count")),
        same_day.filter(kind__in=STARTS + STOPS).values("currency", "kind").annotate(n=Count("id")),
    ]
    paying: dict[str, int] = {}
    for rows in counted:
        for row in rows.order_by():
            sign = 1 if row["kind"] in STARTS else -1
            paying[row["currency"]] = paying.get(row["currency"], 0) + sign * row["n"]
    return {c: n for c, n in paying.items() if n}


def paying_customers_at(workspace, moment: datetime, filters: SignalFilter | None = None) -> int:
    return sum(paying_customers_by_currency(workspace, moment, filters).values())


@dataclass
class Snapshot:
    """MRR and paying customers by currency at the start and the end of a period."""

    mrr_start: dict[str, int]
    mrr_end: dict[str, int]
    paying_start: dict[str, int]
    paying_end: dict[str, int]


def mrr_snapshot(workspace, filters: SignalFilter) -> Snapshot:
    """Both ends of the period in one query over the daily rollups before its end."""
    before = Q(day__lt=filters.period.start)
    starts, stops = Q(kind__in=STARTS), Q(kind__in=STOPS)
    rows = (
        workspace_rollups(workspace, filters)
        .filter(day__lte=filters.period.end)
        .values("currency")
        .order_by()
        .annotate(
            mrr_end=Sum("amount"),
            mrr_start=Sum("amount", filter=before),
            in_end=Sum("count", filter=starts),
            out_end=Sum("count", filter=stops),
            in_start=Sum("count", filter=starts & before),
            out_start=Sum("count", filter=stops & before),
        )
    )
    snap = Snapshot({}, {}, {}, {})
    for row in rows:
        c = row["currency"]
        for target, value in (
            (snap.mrr_end, row["mrr_end"] or 0),
            (snap.mrr_start, row["mrr_start"] or 0),
            (snap.paying_end, (row["in_end"] or 0) - (row["out_end"] or 0)),
            (snap.paying_start, (row["in_start"] or 0) - (row["out_start"] or 0)),
        ):
            if value:
                target[c] = value
    return snap


def _bucket_of(day, buckets: list) -> int | None:
    """Index of the bucket (by start day, ascending) that holds `day`."""
    index = bisect_right(buckets, day) - 1
    return index if index >= 0 else None


@dataclass
class Series:
    """Per bucket: the movements by kind and currency, and the MRR at the bucket's end."""

    buckets: list
    movements: list[dict[str, dict[str, int]]]
    mrr: list[dict[str, int]]


def revenue_series(workspace, filters: SignalFilter, buckets: list) -> Series:
    """MRR at the end of each bucket and the movements in it, from the period's daily rollups
    and the MRR before the period (so the line and the bars always agree)."""
    start_mrr = mrr_at(workspace, filters.period.start_at, filters)
    moved: list[dict[str, dict[str, int]]] = [{} for _ in buckets]
    rows = (
        workspace_rollups(workspace, filters)
        .filter(day__gte=filters.period.start, day__lte=filters.period.end)
        .values_list("day", "kind", "currency", "amount")
    )
    for day, kind, currency, amount in rows:
        index = _bucket_of(day, buckets)
        if index is None or kind not in MONEY_KINDS or not amount:
            continue
        per_kind = moved[index].setdefault(kind, {})
        per_kind[currency] = per_kind.get(currency, 0) + amount
    mrr, running = [], dict(start_mrr)
    for per_kind in moved:
        for amounts in per_kind.values():
            for currency, amount in amounts.items():
                running[currency] = running.get(currency, 0) + amount
        mrr.append({c: v for c, v in running.items() if v})
    return Series(buckets=list(buckets), movements=moved, mrr=mrr)
