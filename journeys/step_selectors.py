"""Reads for a step's page: its totals by kind, its chart series and its metrics."""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date

from billing.metrics import median_hours_to_recover, ordered_currencies, sort_amounts
from billing.models import SignalKind
from journeys.board_selectors import (
    KindTotal,
    RollupFilter,
    bucketed,
    cached_raw_figure,
    kind_sort_key,
    period_totals,
)
from journeys.models import Step

K = SignalKind


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


def _step_rollups(step: Step, filters: RollupFilter):
    """The step's rollups narrowed by every filter, the kinds included."""
    rows = filters.rollups(step=step)
    return rows.filter(kind__in=filters.kinds) if filters.kinds else rows


def _kind_totals(step: Step, filters: RollupFilter) -> tuple[dict[str, KindTotal], list[str]]:
    rows = period_totals(_step_rollups(step, filters), filters.period, ["kind", "currency"])
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
    return totals, currencies


def _recovery(step: Step, filters: RollupFilter, currencies: list[str]):
    """Recovery rate per currency and median hours to recover, over the whole journey."""
    # Failed and recovered payments may sit on different steps: rate over the whole journey.
    journey_rows = period_totals(
        filters.rollups(journey_id=step.journey_id).filter(
            kind__in=[K.PAYMENT_FAILED, K.PAYMENT_RECOVERED]
        ),
        filters.period,
        ["kind", "currency"],
    )
    amounts: dict[str, dict[str, int]] = defaultdict(dict)
    fingerprint = []
    for row in journey_rows:
        amounts[row["kind"]][row["currency"]] = row["amount"] or 0
        fingerprint.append((row["kind"], row["currency"], row["count"], row["amount"]))
    recovery_rate = {
        currency: amounts[K.PAYMENT_RECOVERED].get(currency, 0) / failed_amount
        for currency, failed_amount in amounts[K.PAYMENT_FAILED].items()
        if failed_amount
    }
    median = cached_raw_figure(
        "median-recovery",
        step.workspace,
        filters,
        tuple(sorted(fingerprint)),
        lambda: median_hours_to_recover(step.workspace, filters),
    )
    return sort_amounts(recovery_rate, currencies), median


def _refund_rate(step: Step, filters: RollupFilter, refunds: int, payments: int) -> float | None:
    if not refunds:
        return None
    if not payments:
        payments = sum(
            row["count"]
            for row in period_totals(
                filters.rollups(journey_id=step.journey_id).filter(kind=K.PAYMENT_SUCCEEDED),
                filters.period,
                ["kind"],
            )
        )
    return refunds / payments if payments else None


def step_stats(*, step: Step, filters: RollupFilter) -> StepStats:
    """A step's totals by kind, its chart series, and its metrics."""
    totals, currencies = _kind_totals(step, filters)
    unit, buckets, series = bucketed(_step_rollups(step, filters), filters.period, ["kind"])

    def count(kind):
        return totals[kind].count if kind in totals else 0

    completed, abandoned = count(K.CHECKOUT_COMPLETED), count(K.CHECKOUT_ABANDONED)
    recovery_rate, median = {}, None
    if totals.get(K.PAYMENT_FAILED) or totals.get(K.PAYMENT_RECOVERED):
        recovery_rate, median = _recovery(step, filters, currencies)
    return StepStats(
        kinds=sorted(totals.values(), key=kind_sort_key),
        currencies=currencies,
        unit=unit,
        buckets=buckets,
        series={key[0]: values for key, values in series.items()},
        checkout_conversion=completed / (completed + abandoned) if completed + abandoned else None,
        recovery_rate=recovery_rate,
        refund_rate=_refund_rate(step, filters, count(K.REFUND), count(K.PAYMENT_SUCCEEDED)),
        median_hours_to_recover=median,
    )
