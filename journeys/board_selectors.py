"""Reads for the journey board: per-step cards, journey totals and the board's headline figures.

Counts and amounts come from StepDailyRollup (a few hundred rows per journey and period, whatever
the number of signals). Recovery reads the period's failed invoices (billing.recovery) and MRR
the customers' MRR movements (billing.revenue): tables kept by the pipeline, never signal scans.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Case, F, IntegerField, Q, Sum, Value, When
from django.db.models.functions import TruncMonth, TruncWeek

from billing.exchange import Money, StoredRates, money_in
from billing.figures import Headline, headline
from billing.filters import Period, today
from billing.metrics import (
    SignalFilter,
    ordered_currencies,
    revenue_at_risk,
    sort_amounts,
)
from billing.models import SignalKind
from billing.recovery import Recovery, period_recovery
from billing.revenue import MONEY_KINDS, Movements, period_movements
from journeys.losses import (
    FINGERPRINT_KINDS,
    biggest_losses,
    cached_by_counts,
    net_loss_adjustments,
)
from journeys.models import Journey, Stage, Step, StepDailyRollup

K = SignalKind
# Money lost first on a card: failed payments, refunds and disputes lead.
KIND_ORDER = [K.PAYMENT_FAILED, K.REFUND, K.DISPUTE_OPENED, K.CHECKOUT_ABANDONED]
LOSS_KINDS = (K.PAYMENT_FAILED, K.REFUND, K.DISPUTE_OPENED, K.CHECKOUT_ABANDONED)
CHANGE_KINDS = (K.PLAN_UPGRADED, K.PLAN_DOWNGRADED)


@dataclass
class KindTotal:
    kind: str
    count: int = 0
    previous_count: int = 0
    amounts: dict[str, int] = field(default_factory=dict)
    money: Money | None = None  # the amounts as one figure in the reporting currency

    @property
    def change(self) -> float | None:
        """Relative change against the previous period; None when there was nothing before."""
        if not self.previous_count:
            return None
        return (self.count - self.previous_count) / self.previous_count

    @property
    def is_change(self) -> bool:
        """Plan changes show the MRR they changed by, not the new MRR."""
        return self.kind in CHANGE_KINDS

    @property
    def is_loss(self) -> bool:
        return self.kind in (K.PAYMENT_FAILED, K.REFUND, K.DISPUTE_OPENED, K.CHECKOUT_ABANDONED)


@dataclass
class StepCard:
    step: Step | None  # None: the journey's Unmapped lane
    kinds: list[KindTotal] = field(default_factory=list)
    spark: list[int] = field(default_factory=list)
    loss_money: Money | None = None  # what the step lost, when it is among the biggest losses

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
class RollupFilter(SignalFilter):
    """The board's filters, applied to step rollups as well as to signals."""

    def rollups(self, **lookup):
        rows = StepDailyRollup.objects.filter(**lookup)
        if self.livemode is not None:
            rows = rows.filter(livemode=self.livemode)
        if self.connection_id:
            rows = rows.filter(connection_id=self.connection_id)
        return rows


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


def first_attempt_payments(workspace, filters: RollupFilter) -> int:
    """Payments that succeeded at their first attempt in the period, from the default journey's
    rollups (every signal has one placement per journey): paid invoices less recovered ones."""
    journey = Journey.objects.filter(workspace=workspace).order_by("-is_default", "id").first()
    if journey is None:
        return 0
    counts = dict(
        filters.rollups(journey=journey, kind__in=[K.PAYMENT_SUCCEEDED, K.PAYMENT_RECOVERED])
        .filter(day__gte=filters.period.start, day__lte=filters.period.end)
        .values("kind")
        .order_by()
        .annotate(n=Sum("count"))
        .values_list("kind", "n")
    )
    return max(counts.get(K.PAYMENT_SUCCEEDED, 0) - counts.get(K.PAYMENT_RECOVERED, 0), 0)


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
class RecoveryMoney:
    """A Recovery's amounts in the reporting currency; its rate is recovered over failed."""

    failed: Money
    recovered: Money
    dunning: Money
    lost: Money

    @property
    def rate(self) -> float | None:
        return self.recovered.total / self.failed.total if self.failed.total else None


def recovery_money(recovery: Recovery, to: str, day: date, rates) -> RecoveryMoney:
    return RecoveryMoney(
        *(
            money_in(amounts, to, day, rates)
            for amounts in (
                recovery.failed_amounts,
                recovery.recovered_amounts,
                recovery.dunning_amounts,
                recovery.lost_amounts,
            )
        )
    )


@dataclass
class Board:
    journey: Journey
    stages: list[tuple[Stage, list[StepCard]]]
    unmapped: StepCard
    currencies: list[str]
    totals: dict[str, KindTotal]
    at_risk: dict[str, int]
    at_risk_customers: int
    recovery: Recovery
    mrr: dict[str, dict[str, int]]
    headline: Headline
    has_signals: bool
    losses: list[tuple[StepCard, dict[str, int]]] = field(default_factory=list)
    at_risk_money: Money | None = None
    refunds_money: Money | None = None
    recovery_money: RecoveryMoney | None = None
    mrr_money: dict[str, Money] = field(default_factory=dict)

    def total(self, kind) -> KindTotal:
        return self.totals.get(kind) or KindTotal(kind)

    @property
    def recovery_rate(self) -> dict[str, float]:
        """Recovered over failed amount per currency, per invoice (billing.recovery)."""
        return self.recovery.rate_amount


@dataclass
class JourneyTotals:
    """One pass over a journey's rollup rows: totals per kind and per step."""

    totals: dict[str, KindTotal] = field(default_factory=dict)
    per_step: dict = field(default_factory=lambda: defaultdict(dict))
    currency_counts: Counter = field(default_factory=Counter)

    def add(self, row: dict, *, kinds: list[str]) -> None:
        kind, currency = row["kind"], row["currency"]
        if row["count"] and currency:
            self.currency_counts[currency] += row["count"]
        _add_row(self.totals.setdefault(kind, KindTotal(kind)), row)
        if not kinds or kind in kinds:
            _add_row(self.per_step[row["step_id"]].setdefault(kind, KindTotal(kind)), row)


def _add_row(total: KindTotal, row: dict) -> None:
    total.count += row["count"]
    total.previous_count += row["previous_count"]
    currency = row["currency"]
    amount = row["mrr_delta"] if total.kind in CHANGE_KINDS else row["amount"]
    if currency and amount:
        total.amounts[currency] = total.amounts.get(currency, 0) + amount


def _journey_totals(journey: Journey, filters: RollupFilter) -> JourneyTotals:
    # Totals over the whole journey: every signal has exactly one placement per journey.
    sums = JourneyTotals()
    rows = period_totals(
        filters.rollups(journey=journey), filters.period, ["step_id", "kind", "currency"]
    )
    for row in rows:
        sums.add(row, kinds=filters.kinds)
    return sums


def _stage_cards(
    journey: Journey, filters: RollupFilter, sums: JourneyTotals, currencies: list[str]
) -> tuple[list[tuple[Stage, list[StepCard]]], StepCard]:
    """The cards of every step, grouped by stage, and the Unmapped lane's card."""
    spark_rows = filters.rollups(journey=journey)
    if filters.kinds:
        spark_rows = spark_rows.filter(kind__in=filters.kinds)
    _, _, sparks = bucketed(spark_rows, filters.period, ["step_id"])

    def card(step):
        key = step.pk if step else None
        kinds = [k for k in sums.per_step.get(key, {}).values() if k.count or k.previous_count]
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
    return stages, card(None)


def _mrr_movements(movements: Movements, currencies) -> dict[str, dict[str, int]]:
    """Customer-level MRR movements of the period (billing.revenue), main currency first."""
    return {kind: sort_amounts(movements.of(kind), currencies) for kind in MONEY_KINDS}


def _all_counts(totals) -> tuple:
    return tuple(
        sorted((k, t.count, t.previous_count, sorted(t.amounts.items())) for k, t in totals.items())
    )


def _revenue_figures(journey, filters, totals, currencies):
    """Per-invoice recovery, MRR movements and the headline figures; cached by the caller under
    every rollup count, so a new signal refreshes them (changes no signal tells of, such as an
    invoice marked uncollectible, show within the cache's ten minutes)."""
    recovery = period_recovery(journey.workspace, filters, currencies)
    paid, recovered = totals.get(K.PAYMENT_SUCCEEDED), totals.get(K.PAYMENT_RECOVERED)
    first_attempt = (paid.count if paid else 0) - (recovered.count if recovered else 0)
    movements = period_movements(journey.workspace, filters)
    top = headline(
        journey.workspace,
        filters,
        failed_invoices=recovery.total.invoices,
        first_attempt_payments=max(first_attempt, 0),
        movements=movements,
    )
    return recovery, movements, top


def kinds_in_reporting_currency(kinds: list[KindTotal], to: str, day: date, rates) -> None:
    """Give each kind total its one reporting-currency figure (the parts stay in `amounts`)."""
    for total in kinds:
        if total.amounts:
            total.money = money_in(total.amounts, to, day, rates)


def board_build(*, journey: Journey, filters: RollupFilter) -> Board:
    """Everything the board shows for one journey and filter set, in a constant number of queries
    (rollups, failed invoices and MRR movements; never a scan of signals)."""
    sums = _journey_totals(journey, filters)
    currencies = ordered_currencies(sums.currency_counts)
    totals = sums.totals
    for total in totals.values():
        total.amounts = sort_amounts(total.amounts, currencies)
    stages, unmapped = _stage_cards(journey, filters, sums, currencies)
    at_risk, at_risk_customers = revenue_at_risk(journey.workspace, filters)
    recovery, movements, top = cached_by_counts(
        "board-revenue",
        journey,
        filters,
        _all_counts(totals),
        lambda: _revenue_figures(journey, filters, totals, currencies),
    )
    rates = StoredRates()
    refunds = totals.get(K.REFUND)
    day = filters.period.end
    cards = [card for _, stage_cards in stages for card in stage_cards] + [unmapped]
    for card in cards:
        kinds_in_reporting_currency(card.kinds, top.currency, day, rates)
    kinds_in_reporting_currency(list(totals.values()), top.currency, day, rates)
    losses = _losses(
        journey,
        filters,
        stages,
        currencies,
        totals,
        recovery,
        to_reporting=lambda amounts: money_in(amounts, top.currency, day, rates),
    )
    mrr = _mrr_movements(movements, currencies)
    return Board(
        journey=journey,
        stages=stages,
        unmapped=unmapped,
        currencies=currencies,
        totals=totals,
        at_risk=sort_amounts(at_risk, currencies),
        at_risk_customers=at_risk_customers,
        recovery=recovery,
        mrr=mrr,
        headline=top,
        at_risk_money=money_in(at_risk, top.currency, today(), rates),
        refunds_money=money_in(
            refunds.amounts if refunds else {}, top.currency, filters.period.end, rates
        ),
        has_signals=bool(sums.totals),
        losses=losses,
        recovery_money=recovery_money(recovery, top.currency, day, rates),
        mrr_money={kind: money_in(parts, top.currency, day, rates) for kind, parts in mrr.items()},
    )


def _fingerprint(totals) -> tuple:
    return tuple(
        (kind, t.count, sorted(t.amounts.items()))
        for kind in FINGERPRINT_KINDS
        for t in [totals.get(kind) or KindTotal(kind)]
    )


def _losses(journey, filters, stages, currencies, totals, recovery, *, to_reporting):
    failed, won = net_loss_adjustments(journey, filters, _fingerprint(totals), recovery)
    cards = [c for _, stage_cards in stages for c in stage_cards]
    return biggest_losses(cards, currencies, to_reporting, failed=failed, won=won)
