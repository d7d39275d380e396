"""A period's revenue figures in one place, in the reporting currency with a per-currency
breakdown: what the metrics command prints and the "How we count" page defines."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import BigIntegerField, Count, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from billing.exchange import (
    Money,
    Part,
    RateSource,
    StoredRates,
    money_in,
    money_of_parts,
    reporting_currency,
)
from billing.filters import Period, today
from billing.metrics import SignalFilter, revenue_at_risk
from billing.models import SignalKind
from billing.recovery import period_recovery
from billing.revenue import MONEY_KINDS, Movements, mrr_snapshot, period_movements

K = SignalKind


@dataclass
class Figures:
    currency: str
    period: Period
    rates: RateSource
    filters: SignalFilter

    def money(self, amounts: dict[str, int], day: date | None = None) -> Money:
        return money_in(amounts, self.currency, day or self.period.end, self.rates)

    def money_of(self, parts: list[Part]) -> Money:
        return money_of_parts(parts, self.currency, self.period.end, self.rates)


@dataclass
class Headline:
    """The board's headline figures at the end of a period, in the reporting currency."""

    currency: str
    mrr: Money
    mrr_start: Money
    arr: Money
    paying_customers: int
    paying_by_currency: dict[str, int]
    paying_at_start: int
    movements: dict[str, Money]
    churned_customers: int
    failed_invoices: int
    first_attempt_payments: int

    @property
    def arpa(self) -> int | None:
        return self.mrr.total // self.paying_customers if self.paying_customers else None

    @property
    def arpa_by_currency(self) -> dict[str, int]:
        return {
            c: self.mrr.by_currency[c] // n
            for c, n in sorted(self.paying_by_currency.items())
            if c in self.mrr.by_currency
        }

    def _lost(self, *kinds: str) -> int:
        return -sum(self.movements[k].total for k in kinds)

    @property
    def gross_mrr_churn_rate(self) -> float | None:
        lost = self._lost("churn_voluntary", "churn_involuntary", "contraction")
        return _ratio(lost, self.mrr_start.total)

    @property
    def net_mrr_churn_rate(self) -> float | None:
        lost = self._lost(
            "churn_voluntary", "churn_involuntary", "contraction", "expansion", "reactivation"
        )
        return _ratio(lost, self.mrr_start.total)

    @property
    def customer_churn_rate(self) -> float | None:
        return _ratio(self.churned_customers, self.paying_at_start)

    @property
    def failed_payment_rate(self) -> float | None:
        return _ratio(self.failed_invoices, self.failed_invoices + self.first_attempt_payments)


def _first_attempt_payments(workspace, filters: SignalFilter) -> int:
    """Payments that succeeded at their first attempt: paid invoices less recovered ones."""
    counts = dict(
        filters.signals(workspace)
        .filter(kind__in=[K.PAYMENT_SUCCEEDED, K.PAYMENT_RECOVERED])
        .values("kind")
        .order_by()
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    return max(counts.get(K.PAYMENT_SUCCEEDED, 0) - counts.get(K.PAYMENT_RECOVERED, 0), 0)


def headline(
    workspace,
    filters: SignalFilter,
    *,
    rates: RateSource | None = None,
    failed_invoices: int | None = None,
    first_attempt_payments: int | None = None,
    movements: Movements | None = None,
) -> Headline:
    """MRR, ARR, paying customers, ARPA, churn rates and the failed-payment rate of a period;
    the board passes what it has already read (rollup counts, the period's movements)."""
    f = Figures(reporting_currency(workspace), filters.period, rates or StoredRates(), filters)
    movements = movements or period_movements(workspace, filters)
    if failed_invoices is None:
        failed_invoices = period_recovery(workspace, filters).total.invoices
    if first_attempt_payments is None:
        first_attempt_payments = _first_attempt_payments(workspace, filters)
    snap = mrr_snapshot(workspace, filters)
    mrr = f.money(snap.mrr_end)
    return Headline(
        currency=f.currency,
        mrr=mrr,
        mrr_start=f.money(snap.mrr_start),
        arr=f.money({c: v * 12 for c, v in mrr.by_currency.items()}),
        paying_customers=sum(snap.paying_end.values()),
        paying_by_currency=snap.paying_end,
        paying_at_start=sum(snap.paying_start.values()),
        movements={kind: f.money(movements.of(kind)) for kind in MONEY_KINDS},
        churned_customers=sum(
            movements.counts.get(k, 0) for k in ("churn_voluntary", "churn_involuntary")
        ),
        failed_invoices=failed_invoices,
        first_attempt_payments=first_attempt_payments,
    )


def _signal_sums(workspace, filters: SignalFilter, kind: str, **details) -> tuple[int, list[Part]]:
    """How many signals of `kind` the period holds, and their amounts per currency, apart
    where Stripe converted them (settled in the account's currency at Stripe's rate)."""
    rows = filters.signals(workspace).filter(kind=kind)
    for key, value in details.items():
        rows = rows.filter(**{f"details__{key}": value})
    settled = Cast(KT("details__settlement_amount"), BigIntegerField())
    groups = (
        rows.annotate(settled_in=KT("details__settlement_currency"))
        .values("currency", "settled_in")
        .order_by()
        .annotate(n=Count("id"), total=Sum("amount"), settled=Sum(settled))
    )
    count, parts = 0, []
    for row in groups:
        count += row["n"]
        if row["currency"] and row["total"]:
            settled_in = (row["settled_in"] or "") if row["settled"] is not None else ""
            parts.append(Part(row["currency"], row["total"], settled_in, row["settled"] or 0))
    return count, parts


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


DEFAULT_DAYS = 30


def figures_period(start: date | None = None, end: date | None = None) -> Period:
    """The metrics' period: `start` to `end` (UTC days, both included), ending today and
    starting 30 days before the end unless given. Raises ValueError when start is after end."""
    end = end or today()
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ValueError("The first day must not be after the last day.")
    return Period(start, end)


def period_figures(
    workspace,
    period: Period,
    *,
    rates: RateSource | None = None,
    filters=None,
    first_attempt_payments: int | None = None,
) -> dict:
    """The figures of `period` as the metrics command's JSON object (money in minor units);
    callers with step rollups pass the period's first-attempt payments (else signals count)."""
    filters = filters or SignalFilter(period=period)
    rates = rates or StoredRates()
    f = Figures(reporting_currency(workspace), period, rates, filters)
    recovery = period_recovery(workspace, filters)
    top = headline(
        workspace,
        filters,
        rates=rates,
        failed_invoices=recovery.total.invoices,
        first_attempt_payments=first_attempt_payments,
    )
    at_risk, _ = revenue_at_risk(workspace, filters)
    return {
        "currency": f.currency.upper(),
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "mrr": top.mrr.as_json(),
        "arr": top.arr.as_json(),
        "paying_customers": top.paying_customers,
        "arpa": {
            "total": top.arpa or 0,
            "by_currency": {c.upper(): v for c, v in top.arpa_by_currency.items()},
        },
        "movements": {kind: money.as_json() for kind, money in top.movements.items()},
        **_recovery_figures(f, recovery),
        **_refunds_and_disputes(workspace, f),
        "revenue_at_risk": f.money(at_risk).as_json(),
    }


def _recovery_figures(f: Figures, recovery) -> dict:
    total = recovery.total
    failed = f.money(recovery.failed_amounts)
    recovered = f.money(recovery.recovered_amounts)
    return {
        "failed_payments": {
            "invoices": total.invoices,
            "attempts": total.attempts,
            "amount": failed.as_json(),
        },
        "recovery": {
            "invoices_recovered": total.recovered,
            "amount_recovered": recovered.as_json(),
            "in_dunning": total.in_dunning,
            "lost": total.lost,
            "rate_amount": _ratio(recovered.total, failed.total),
            "rate_count": _ratio(total.recovered, total.invoices),
        },
    }


def _refunds_and_disputes(workspace, f: Figures) -> dict:
    refunds, refunded = _signal_sums(workspace, f.filters, K.REFUND)
    opened, disputed = _signal_sums(workspace, f.filters, K.DISPUTE_OPENED)
    won, _ = _signal_sums(workspace, f.filters, K.DISPUTE_CLOSED, dispute_status="won")
    lost, _ = _signal_sums(workspace, f.filters, K.DISPUTE_CLOSED, dispute_status="lost")
    return {
        "refunds": {"count": refunds, "amount": f.money_of(refunded).as_json()},
        "disputes": {
            "opened": opened,
            "amount": f.money_of(disputed).as_json(),
            "won": won,
            "lost": lost,
        },
    }
