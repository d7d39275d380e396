"""Reads for the Revenue page and its CSVs: headline figures, MRR over time, movements."""

from dataclasses import dataclass, field
from datetime import date

from billing.exchange import Money, RateSource, StoredRates, money_in, reporting_currency
from billing.figures import Headline, headline
from billing.metrics import SignalFilter
from billing.revenue import MONEY_KINDS, revenue_series
from journeys.board_selectors import RollupFilter, first_attempt_payments, spark_buckets
from journeys.revenue_charts import legend, movement_bars, mrr_line


@dataclass
class BucketRow:
    start: date
    mrr: Money
    movements: dict[str, Money] = field(default_factory=dict)


@dataclass
class RevenuePage:
    headline: Headline
    unit: str
    rows: list[BucketRow]
    mrr_chart: str
    movements_chart: str
    legend: str


def revenue_rows(workspace, filters: SignalFilter, rates: RateSource) -> tuple[str, list]:
    """Per day, week or month of the period: MRR at its end and its movements, each converted
    to the reporting currency at the period's last day's rate (so the rows add up)."""
    unit, buckets = spark_buckets(filters.period)
    series = revenue_series(workspace, filters, buckets)
    currency = reporting_currency(workspace)
    day = filters.period.end
    rows = [
        BucketRow(
            start=start,
            mrr=money_in(series.mrr[i], currency, day, rates),
            movements={
                kind: money_in(series.movements[i].get(kind, {}), currency, day, rates)
                for kind in MONEY_KINDS
            },
        )
        for i, start in enumerate(buckets)
    ]
    return unit, rows


def revenue_page(workspace, filters: RollupFilter) -> RevenuePage:
    rates = StoredRates()
    top = headline(
        workspace,
        filters,
        rates=rates,
        first_attempt_payments=first_attempt_payments(workspace, filters),
    )
    unit, rows = revenue_rows(workspace, filters, rates)
    buckets = [row.start for row in rows]
    return RevenuePage(
        headline=top,
        unit=unit,
        rows=rows,
        mrr_chart=mrr_line(buckets, [r.mrr.total for r in rows], top.currency, unit),
        movements_chart=movement_bars(
            buckets,
            [{k: m.total for k, m in r.movements.items()} for r in rows],
            top.currency,
            unit,
        ),
        legend=legend(),
    )
