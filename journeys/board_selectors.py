"""Reads for the journey board and step pages.

Counts and amounts come from StepDailyRollup (a few hundred rows per journey and period, whatever
the number of signals). Only what rollups cannot hold is read from signals, always narrowed by an
index to a few kinds: the churn split and reactivations, and median time to recover.
"""

import hashlib
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.core.cache import cache
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncMonth, TruncWeek

from billing.filters import Period
from billing.models import RevenueSignal, SignalKind, Subscription
from journeys.models import Journey, Stage, Step, StepDailyRollup

K = SignalKind
# Money lost first on a card: failed payments, refunds and disputes lead.
KIND_ORDER = [K.PAYMENT_FAILED, K.REFUND, K.DISPUTE_OPENED, K.CHECKOUT_ABANDONED]
AT_RISK_STATUSES = ["past_due", "unpaid"]


@dataclass
class KindTotal:
    kind: str
    count: int = 0
    previous_count: int = 0
    amounts: dict[str, int] = field(default_factory=dict)

    @property
    def change(self) -> float | None:
        """Relative change against the previous period; None when there was nothing before."""
        if not self.previous_count:
            return None
        return (self.count - self.previous_count) / self.previous_count

    @property
    def is_loss(self) -> bool:
        return self.kind in (K.PAYMENT_FAILED, K.REFUND, K.DISPUTE_OPENED, K.CHECKOUT_ABANDONED)


@dataclass
class StepCard:
    step: Step | None  # None: the journey's Unmapped lane
    kinds: list[KindTotal] = field(default_factory=list)
    spark: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(k.count for k in self.kinds)

    @property
    def previous_count(self) -> int:
        return sum(k.previous_count for k in self.kinds)

    @property
    def change(self) -> float | None:
        if not self.previous_count:
            return None
        return (self.count - self.previous_count) / self.previous_count


@dataclass
class RollupFilter:
    period: Period
    kinds: list[str] = field(default_factory=list)
    livemode: bool | None = None
    connection_id: int | None = None

    def rollups(self, **lookup):
        rows = StepDailyRollup.objects.filter(**lookup)
        if self.livemode is not None:
            rows = rows.filter(livemode=self.livemode)
        if self.connection_id:
            rows = rows.filter(connection_id=self.connection_id)
        return rows

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


def kind_sort_key(total: KindTotal):
    if total.kind in KIND_ORDER:
        return (0, KIND_ORDER.index(total.kind))
    return (1, -total.count, total.kind)


def period_totals(rows_qs, period: Period, group: list[str]):
    """Sums per group over the period and the previous one, in one query."""
    current = Q(day__gte=period.start, day__lte=period.end)

    def in_current(name):
        return Sum(Case(When(current, then=name), default=Value(0), output_field=IntegerField()))

    def in_previous(name):
        return Sum(Case(When(current, then=Value(0)), default=name, output_field=IntegerField()))

    rows = (
        rows_qs.filter(day__gte=period.previous.start, day__lte=period.end)
        .values(*group)
        .order_by()
        .annotate(
            n=in_current(F("count")),
            total=in_current(F("amount")),
            mrr=in_current(F("mrr_delta")),
            previous_n=in_previous(F("count")),
        )
    )
    for row in rows:
        yield {
            **{g: row[g] for g in group},
            "count": row["n"] or 0,
            "amount": row["total"] or 0,
            "mrr_delta": row["mrr"] or 0,
            "previous_count": row["previous_n"] or 0,
        }


def spark_buckets(period: Period) -> tuple[str, list[date]]:
    """How a period is cut for sparklines and charts: by day, week or month."""
    if period.days <= 31:
        return "day", [period.start + timedelta(days=i) for i in range(period.days)]
    if period.days <= 190:
        first = period.start - timedelta(days=period.start.weekday())
        weeks = (period.end - first).days // 7 + 1
        return "week", [first + timedelta(weeks=i) for i in range(weeks)]
    months, cursor = [], period.start.replace(day=1)
    while cursor <= period.end:
        months.append(cursor)
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return "month", months


def bucketed(rows_qs, period: Period, group: list[str]):
    """Signal counts per group and bucket within the period."""
    unit, buckets = spark_buckets(period)
    rows_qs = rows_qs.filter(day__gte=period.start, day__lte=period.end)
    if unit == "day":
        bucket_expr = None
    elif unit == "week":
        bucket_expr = TruncWeek("day")
    else:
        bucket_expr = TruncMonth("day")
    if bucket_expr is not None:
        rows_qs = rows_qs.annotate(bucket=bucket_expr)
        key = "bucket"
    else:
        key = "day"
    rows = rows_qs.values(*group, key).order_by().annotate(n=Sum("count"))
    index = {b: i for i, b in enumerate(buckets)}
    series: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(buckets))
    for row in rows:
        bucket = row[key]
        if hasattr(bucket, "date"):
            bucket = bucket.date()
        if bucket in index:
            series[tuple(row[g] for g in group)][index[bucket]] += row["n"]
    return unit, buckets, series


@dataclass
class Board:
    journey: Journey
    stages: list[tuple[Stage, list[StepCard]]]
    unmapped: StepCard
    currencies: list[str]
    totals: dict[str, KindTotal]
    at_risk: dict[str, int]
    at_risk_customers: int
    recovery_rate: dict[str, float]
    mrr: dict[str, dict[str, int]] | None  # None: not computed yet (deferred)
    has_signals: bool
    losses: list[tuple[StepCard, dict[str, int]]] = field(default_factory=list)

    def total(self, kind) -> KindTotal:
        return self.totals.get(kind) or KindTotal(kind)


def board_build(*, journey: Journey, filters: RollupFilter, defer_raw: bool = False) -> Board:
    """Everything the board shows for one journey and filter set, in a constant number of queries.

    With defer_raw, MRR movements that need raw signals are left out (board.mrr is None) unless
    cached: the page then loads them as a fragment, so the board never waits on them.
    """
    period = filters.period
    rows = list(
        period_totals(filters.rollups(journey=journey), period, ["step_id", "kind", "currency"])
    )
    # Totals over the whole journey: every signal has exactly one placement per journey.
    currency_counts: Counter = Counter()
    totals: dict[str, KindTotal] = {}
    mrr_by_kind: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_step: dict[int | None, dict[str, KindTotal]] = defaultdict(dict)
    for row in rows:
        kind, currency = row["kind"], row["currency"]
        if row["count"] and currency:
            currency_counts[currency] += row["count"]
        total = totals.setdefault(kind, KindTotal(kind))
        total.count += row["count"]
        total.previous_count += row["previous_count"]
        if currency and row["amount"]:
            total.amounts[currency] = total.amounts.get(currency, 0) + row["amount"]
        if row["mrr_delta"] and currency:
            mrr_by_kind[kind][currency] += row["mrr_delta"]
        if filters.kinds and kind not in filters.kinds:
            continue
        card_total = per_step[row["step_id"]].setdefault(kind, KindTotal(kind))
        card_total.count += row["count"]
        card_total.previous_count += row["previous_count"]
        if currency and row["amount"]:
            card_total.amounts[currency] = card_total.amounts.get(currency, 0) + row["amount"]
    currencies = ordered_currencies(currency_counts)
    for total in totals.values():
        total.amounts = sort_amounts(total.amounts, currencies)

    spark_rows = filters.rollups(journey=journey)
    if filters.kinds:
        spark_rows = spark_rows.filter(kind__in=filters.kinds)
    _, _, sparks = bucketed(spark_rows, period, ["step_id"])

    def card(step):
        key = step.pk if step else None
        kinds = [k for k in per_step.get(key, {}).values() if k.count or k.previous_count]
        for k in kinds:
            k.amounts = sort_amounts(k.amounts, currencies)
        return StepCard(step=step, kinds=sorted(kinds, key=kind_sort_key), spark=sparks[(key,)])

    steps_by_stage: dict[int, list[Step]] = defaultdict(list)
    for step in Step.objects.filter(journey=journey).select_related("stage", "workspace"):
        steps_by_stage[step.stage_id].append(step)
    stages = [
        (stage, [card(step) for step in steps_by_stage[stage.pk]])
        for stage in Stage.objects.filter(journey=journey)
    ]

    failed = totals.get(K.PAYMENT_FAILED)
    recovered = totals.get(K.PAYMENT_RECOVERED)
    recovery_rate = {}
    if failed:
        for currency, failed_amount in failed.amounts.items():
            if failed_amount:
                recovered_amount = recovered.amounts.get(currency, 0) if recovered else 0
                recovery_rate[currency] = recovered_amount / failed_amount

    fingerprint = tuple(
        (t.count, t.previous_count, sorted(mrr_by_kind.get(kind, {}).items()))
        for kind in (K.SUBSCRIPTION_STARTED, K.SUBSCRIPTION_CANCELED)
        for t in [totals.get(kind) or KindTotal(kind)]
    )
    raw = cached_raw_figure(
        "churn",
        journey.workspace,
        filters,
        fingerprint,
        lambda: churn_and_reactivation(journey.workspace, filters),
        peek=defer_raw,
    )
    mrr = mrr_movements(mrr_by_kind, raw, currencies) if raw is not None else None
    unmapped = card(None)
    at_risk, at_risk_customers = revenue_at_risk(journey.workspace, filters)
    return Board(
        journey=journey,
        stages=stages,
        unmapped=unmapped,
        currencies=currencies,
        totals=totals,
        at_risk=sort_amounts(at_risk, currencies),
        at_risk_customers=at_risk_customers,
        recovery_rate=sort_amounts(recovery_rate, currencies),
        mrr=mrr,
        has_signals=bool(rows),
        losses=biggest_losses([c for _, cards in stages for c in cards], currencies),
    )


LOSS_KINDS = (K.PAYMENT_FAILED, K.REFUND, K.DISPUTE_OPENED, K.CHECKOUT_ABANDONED)


def biggest_losses(cards: list[StepCard], currencies: list[str], top: int = 3):
    """The steps losing the most money (failed, refunded, disputed, abandoned), main currency
    first: the board's answer to "where are we losing money"."""
    losses = []
    for card in cards:
        amounts: dict[str, int] = {}
        for total in card.kinds:
            if total.kind in LOSS_KINDS:
                for currency, amount in total.amounts.items():
                    amounts[currency] = amounts.get(currency, 0) + amount
        if amounts:
            losses.append((card, sort_amounts(amounts, currencies)))
    rank = {c: i for i, c in enumerate(currencies)}

    def size(item):
        amounts = item[1]
        currency = min(amounts, key=lambda c: rank.get(c, 99))
        return (rank.get(currency, 99), -amounts[currency])

    return sorted(losses, key=size)[:top]


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


# Figures read from raw signals are cached under a key that includes the rollup counts of the
# kinds they read: a new signal of those kinds changes the key, so they are never stale for long.
RAW_FIGURE_TTL = 600


def cached_raw_figure(
    name: str, workspace, filters: RollupFilter, fingerprint, compute, *, peek: bool = False
):
    """The cached figure, computed on a miss; with peek, None on a miss instead."""
    key = repr(
        (
            name,
            workspace.pk,
            filters.period.start,
            filters.period.end,
            filters.livemode,
            filters.connection_id,
            fingerprint,
        )
    )
    key = "dashboard:" + hashlib.sha256(key.encode()).hexdigest()
    boxed = cache.get(key)
    if boxed is None and peek:
        return None
    if boxed is None:
        boxed = (compute(),)  # boxed, so a None result is cached too
        cache.set(key, boxed, RAW_FIGURE_TTL)
    return boxed[0]


def churn_and_reactivation(workspace, filters: RollupFilter):
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


def revenue_at_risk(workspace, filters: RollupFilter) -> tuple[dict[str, int], int]:
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


# Step page


@dataclass
class StepStats:
    kinds: list[KindTotal]
    currencies: list[str]
    unit: str
    buckets: list[date]
    series: dict[str, list[int]]
    checkout_conversion: float | None
    recovery_rate: dict[str, float]
    refund_rate: float | None
    median_hours_to_recover: float | None


def step_stats(*, step: Step, filters: RollupFilter) -> StepStats:
    """A step's totals by kind, its chart series, and its metrics."""
    period = filters.period
    rows = list(period_totals(filters.rollups(step=step), period, ["kind", "currency"]))
    currency_counts: Counter = Counter()
    totals: dict[str, KindTotal] = {}
    for row in rows:
        total = totals.setdefault(row["kind"], KindTotal(row["kind"]))
        total.count += row["count"]
        total.previous_count += row["previous_count"]
        if row["currency"]:
            currency_counts[row["currency"]] += row["count"]
            if row["amount"]:
                total.amounts[row["currency"]] = (
                    total.amounts.get(row["currency"], 0) + row["amount"]
                )
    currencies = ordered_currencies(currency_counts)
    for total in totals.values():
        total.amounts = sort_amounts(total.amounts, currencies)
    unit, buckets, series = bucketed(filters.rollups(step=step), period, ["kind"])

    def count(kind):
        return totals[kind].count if kind in totals else 0

    completed, abandoned = count(K.CHECKOUT_COMPLETED), count(K.CHECKOUT_ABANDONED)
    conversion = completed / (completed + abandoned) if completed + abandoned else None
    failed, recovered = totals.get(K.PAYMENT_FAILED), totals.get(K.PAYMENT_RECOVERED)
    recovery_rate = {}
    median = None
    if failed or recovered:
        # Failed and recovered payments may sit on different steps: rate over the whole journey.
        journey_rows = period_totals(
            filters.rollups(journey_id=step.journey_id).filter(
                kind__in=[K.PAYMENT_FAILED, K.PAYMENT_RECOVERED]
            ),
            period,
            ["kind", "currency"],
        )
        amounts: dict[str, dict[str, int]] = defaultdict(dict)
        fingerprint = []
        for row in journey_rows:
            amounts[row["kind"]][row["currency"]] = row["amount"] or 0
            fingerprint.append((row["kind"], row["currency"], row["count"], row["amount"]))
        for currency, failed_amount in amounts[K.PAYMENT_FAILED].items():
            if failed_amount:
                recovery_rate[currency] = (
                    amounts[K.PAYMENT_RECOVERED].get(currency, 0) / failed_amount
                )
        recovery_rate = sort_amounts(recovery_rate, currencies)
        median = cached_raw_figure(
            "median-recovery",
            step.workspace,
            filters,
            tuple(sorted(fingerprint)),
            lambda: median_hours_to_recover(step.workspace, filters),
        )
    refunds, payments = count(K.REFUND), count(K.PAYMENT_SUCCEEDED)
    refund_rate = None
    if refunds:
        if not payments:
            payments = sum(
                row["count"]
                for row in period_totals(
                    filters.rollups(journey_id=step.journey_id).filter(kind=K.PAYMENT_SUCCEEDED),
                    period,
                    ["kind"],
                )
            )
        refund_rate = refunds / payments if payments else None
    kinds = sorted(totals.values(), key=kind_sort_key)
    return StepStats(
        kinds=kinds,
        currencies=currencies,
        unit=unit,
        buckets=buckets,
        series={key[0]: values for key, values in series.items()},
        checkout_conversion=conversion,
        recovery_rate=recovery_rate,
        refund_rate=refund_rate,
        median_hours_to_recover=median,
    )


MEDIAN_SAMPLE = 2000


def median_hours_to_recover(workspace, filters: RollupFilter) -> float | None:
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
