"""Reads for a step's page: its totals by kind, its chart series and its metrics."""

from collections import Counter
from dataclasses import dataclass
from datetime import date

from billing.exchange import StoredRates, reporting_currency
from billing.metrics import ordered_currencies, sort_amounts
from billing.models import SignalKind
from billing.recovery import Recovery, failed_invoices, recovery_cohort
from journeys.board_selectors import (
    KindTotal,
    RecoveryMoney,
    RollupFilter,
    bucketed,
    kind_sort_key,
    kinds_in_reporting_currency,
    period_totals,
    recovery_money,
)
from journeys.losses import cached_by_counts
from journeys.models import SignalPlacement, Step

K = SignalKind


@dataclass
class StepStats:
    kinds: list[KindTotal]
    currencies: list[str]
    unit: str
    buckets: list[date]
    series: dict[str, list[int]]
    checkout_conversion: float | None
    recovery: Recovery | None
    refund_rate: float | None
    recovery_money: RecoveryMoney | None = None

    @property
    def recovery_rate(self) -> dict[str, float]:
        return self.recovery.rate_amount if self.recovery else {}

    @property
    def median_hours_to_recover(self) -> float | None:
        return self.recovery.median_hours if self.recovery else None


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
        amount = row["mrr_delta"] if total.is_change else row["amount"]
        if row["currency"]:
            currency_counts[row["currency"]] += row["count"]
            if amount:
                total.amounts[row["currency"]] = total.amounts.get(row["currency"], 0) + amount
    currencies = ordered_currencies(currency_counts)
    for total in totals.values():
        total.amounts = sort_amounts(total.amounts, currencies)
    return totals, currencies


def _recovery(step: Step, filters: RollupFilter, currencies: list[str]) -> Recovery:
    """The period's failed invoices whose failure (or recovery) this step holds, followed to
    their outcome; figures per invoice, as on the board."""
    invoice_ids = SignalPlacement.objects.filter(
        step=step, signal__kind__in=[K.PAYMENT_FAILED, K.PAYMENT_RECOVERED]
    ).values("signal__object_id")
    rows = failed_invoices(step.workspace, filters).filter(invoice_id__in=invoice_ids)
    return recovery_cohort(rows, currencies)


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
    recovery = None
    if totals.get(K.PAYMENT_FAILED) or totals.get(K.PAYMENT_RECOVERED):
        # The step's invoices are found through its placements: cached under its counts.
        fingerprint = tuple(
            (k, t.count, sorted(t.amounts.items()))
            for k, t in sorted(totals.items())
            if k in (K.PAYMENT_FAILED, K.PAYMENT_RECOVERED)
        )
        recovery = cached_by_counts(
            "step-recovery",
            step,
            filters,
            fingerprint,
            lambda: _recovery(step, filters, currencies),
        )
    currency, rates, day = reporting_currency(step.workspace), StoredRates(), filters.period.end
    kinds_in_reporting_currency(list(totals.values()), currency, day, rates)
    return StepStats(
        kinds=sorted(totals.values(), key=kind_sort_key),
        currencies=currencies,
        unit=unit,
        buckets=buckets,
        series={key[0]: values for key, values in series.items()},
        checkout_conversion=completed / (completed + abandoned) if completed + abandoned else None,
        recovery=recovery,
        recovery_money=recovery_money(recovery, currency, day, rates) if recovery else None,
        refund_rate=_refund_rate(step, filters, count(K.REFUND), count(K.PAYMENT_SUCCEEDED)),
    )
