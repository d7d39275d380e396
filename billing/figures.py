"""A period's revenue figures in one place, in the reporting currency with a per-currency
breakdown: what the metrics command prints and the "How we count" page defines."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, Sum

from billing.exchange import Money, RateSource, StoredRates, money_in, reporting_currency
from billing.filters import Period
from billing.metrics import SignalFilter, revenue_at_risk
from billing.models import SignalKind
from billing.recovery import period_recovery
from billing.revenue import MONEY_KINDS, mrr_at, paying_customers_by_currency, period_movements

K = SignalKind


@dataclass
class Figures:
    currency: str
    period: Period
    rates: RateSource
    filters: SignalFilter

    def money(self, amounts: dict[str, int], day: date | None = None) -> Money:
        return money_in(amounts, self.currency, day or self.period.end, self.rates)


def _signal_sums(workspace, filters: SignalFilter, kind: str, **details) -> tuple[int, dict]:
    rows = filters.signals(workspace).filter(kind=kind)
    for key, value in details.items():
        rows = rows.filter(**{f"details__{key}": value})
    per_currency = rows.values("currency").order_by().annotate(n=Count("id"), total=Sum("amount"))
    count, amounts = 0, {}
    for row in per_currency:
        count += row["n"]
        if row["currency"] and row["total"]:
            amounts[row["currency"]] = row["total"]
    return count, amounts


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def period_figures(
    workspace, period: Period, *, rates: RateSource | None = None, filters=None
) -> dict:
    """The figures of `period` as the metrics command's JSON object (money in minor units)."""
    filters = filters or SignalFilter(period=period)
    f = Figures(reporting_currency(workspace), period, rates or StoredRates(), filters)
    mrr = f.money(mrr_at(workspace, period.end_at, filters))
    paying = paying_customers_by_currency(workspace, period.end_at, filters)
    movements = period_movements(workspace, filters)
    recovery = period_recovery(workspace, filters)
    total = recovery.total
    failed = f.money(recovery.failed_amounts)
    recovered = f.money(recovery.recovered_amounts)
    refunds, refunded = _signal_sums(workspace, filters, K.REFUND)
    opened, disputed = _signal_sums(workspace, filters, K.DISPUTE_OPENED)
    won, _ = _signal_sums(workspace, filters, K.DISPUTE_CLOSED, dispute_status="won")
    lost, _ = _signal_sums(workspace, filters, K.DISPUTE_CLOSED, dispute_status="lost")
    at_risk, _ = revenue_at_risk(workspace, filters)
    arpa_parts = {c: mrr.by_currency[c] // n for c, n in paying.items() if c in mrr.by_currency}
    customers = sum(paying.values())
    return {
        "currency": f.currency.upper(),
        "from": period.start.isoformat(),
        "to": period.end.isoformat(),
        "mrr": mrr.as_json(),
        "arr": f.money({c: v * 12 for c, v in mrr.by_currency.items()}).as_json(),
        "paying_customers": customers,
        "arpa": {
            "total": mrr.total // customers if customers else 0,
            "by_currency": {c.upper(): v for c, v in sorted(arpa_parts.items())},
        },
        "movements": {kind: f.money(movements.of(kind)).as_json() for kind in MONEY_KINDS},
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
        "refunds": {"count": refunds, "amount": f.money(refunded).as_json()},
        "disputes": {
            "opened": opened,
            "amount": f.money(disputed).as_json(),
            "won": won,
            "lost": lost,
        },
        "revenue_at_risk": f.money(at_risk).as_json(),
    }
