"""Failed payments counted per invoice, and their recovery followed wherever it falls.

The cohort of a period is the invoices whose first failure is in it; each is recovered (paid
later, whenever), lost (uncollectible, voided, subscription canceled) or still in dunning.
"""

import statistics
from dataclasses import dataclass, field

from django.db import connections
from django.db.models import Aggregate, Count, DurationField, F, Sum, Window
from django.db.models.functions import RowNumber

from billing.metrics import SignalFilter, sort_amounts
from billing.revenue_models import FailedInvoice, RecoveryDailyRollup
from billing.revenue_rollups import RECOVERED, cohort_aggregates
from billing.revenue_rollups import RECOVERY_FIELDS as COHORT_FIELDS


@dataclass
class Cohort:
    """Counts and amounts (minor units) of one currency's failed invoices."""

    invoices: int = 0
    attempts: int = 0
    amount: int = 0
    recovered: int = 0
    amount_recovered: int = 0
    in_dunning: int = 0
    amount_in_dunning: int = 0
    lost: int = 0
    amount_lost: int = 0

    @property
    def rate_count(self) -> float | None:
        return self.recovered / self.invoices if self.invoices else None

    @property
    def rate_amount(self) -> float | None:
        return self.amount_recovered / self.amount if self.amount else None


@dataclass
class Recovery:
    by_currency: dict[str, Cohort] = field(default_factory=dict)
    median_hours: float | None = None

    @property
    def total(self) -> Cohort:
        """Counts over every currency (amounts are left per currency)."""
        cohort = Cohort()
        for part in self.by_currency.values():
            for name in ("invoices", "attempts", "recovered", "in_dunning", "lost"):
                setattr(cohort, name, getattr(cohort, name) + getattr(part, name))
        return cohort

    def amounts(self, name: str) -> dict[str, int]:
        return {c: getattr(p, name) for c, p in self.by_currency.items() if getattr(p, name)}

    @property
    def failed_amounts(self) -> dict[str, int]:
        return self.amounts("amount")

    @property
    def recovered_amounts(self) -> dict[str, int]:
        return self.amounts("amount_recovered")

    @property
    def dunning_amounts(self) -> dict[str, int]:
        return self.amounts("amount_in_dunning")

    @property
    def lost_amounts(self) -> dict[str, int]:
        return self.amounts("amount_lost")

    @property
    def rate_amount(self) -> dict[str, float]:
        return {c: p.rate_amount for c, p in self.by_currency.items() if p.amount}


def failed_invoices(workspace, filters: SignalFilter):
    return failed_invoices_between(
        workspace, filters.period.start_at, filters.period.end_at, filters=filters
    )


def failed_invoices_between(workspace, start, end, *, filters: SignalFilter | None = None):
    """The invoices whose first failure is in [start, end), under the board's filters."""
    rows = FailedInvoice.objects.filter(workspace=workspace).first_failed_in(start, end)
    if filters is None:
        return rows
    if filters.livemode is not None:
        rows = rows.filter(livemode=filters.livemode)
    if filters.connection_id:
        rows = rows.filter(connection_id=filters.connection_id)
    return rows


def recovery_cohort(rows, currencies: list[str] | None = None, *, median=True) -> Recovery:
    """The per-invoice figures of a queryset of failed invoices (the period's cohort)."""
    aggregates = cohort_aggregates()
    # Aliased: an aggregate may not share its name with a field it sums.
    sums = (
        rows.values("currency")
        .order_by()
        .annotate(**{f"n_{name}": aggregate for name, aggregate in aggregates.items()})
    )
    by_currency = {
        row["currency"]: Cohort(**{name: row[f"n_{name}"] or 0 for name in aggregates})
        for row in sums
    }
    order = currencies or sorted(by_currency, key=lambda c: -by_currency[c].invoices)
    recovery = Recovery(by_currency=sort_amounts(by_currency, order))
    if median and recovery.total.recovered:
        recovery.median_hours = median_hours_to_recover(rows)
    return recovery


class Median(Aggregate):
    """PostgreSQL's continuous median: the middle value, or the mean of the middle two."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


def median_hours_to_recover(rows) -> float | None:
    """Median time from an invoice's first failure to its payment, over the recovered invoices
    of `rows`. The database finds the middle: reading thousands of timestamps into Python cost
    more than the rest of the board."""
    recovered = rows.filter(RECOVERED)
    wait = F("paid_at") - F("first_failed_at")
    if connections[rows.db].vendor == "postgresql":
        median = recovered.aggregate(median=Median(wait, output_field=DurationField()))["median"]
        middle = [median] if median is not None else []
    else:  # SQLite has no percentile: number the sorted waits and keep the middle one or two.
        numbered = recovered.annotate(
            wait=wait,
            position=Window(RowNumber(), order_by=F("wait").asc()),
            count=Window(Count("pk")),
        )
        middle = numbered.filter(
            position__gte=(F("count") + 1) / 2, position__lte=F("count") / 2 + 1
        ).values_list("wait", flat=True)
    hours = [max(wait.total_seconds(), 0) / 3600 for wait in middle]
    return round(statistics.fmean(hours), 1) if hours else None


def period_recovery(workspace, filters: SignalFilter, currencies=None, *, median=True) -> Recovery:
    """The period's cohort from the daily rollups (billing.revenue_rollups); the median time to
    recover reads the cohort's latest recovered invoices."""
    rows = RecoveryDailyRollup.objects.filter(
        workspace=workspace, day__gte=filters.period.start, day__lte=filters.period.end
    )
    if filters.livemode is not None:
        rows = rows.filter(livemode=filters.livemode)
    if filters.connection_id:
        rows = rows.filter(connection_id=filters.connection_id)
    sums = rows.values("currency").order_by().annotate(**{f"n_{n}": Sum(n) for n in COHORT_FIELDS})
    by_currency = {
        row["currency"]: Cohort(**{n: row[f"n_{n}"] or 0 for n in COHORT_FIELDS}) for row in sums
    }
    order = currencies or sorted(by_currency, key=lambda c: -by_currency[c].invoices)
    recovery = Recovery(by_currency=sort_amounts(by_currency, order))
    if median and recovery.total.recovered:
        recovery.median_hours = median_hours_to_recover(failed_invoices(workspace, filters))
    return recovery
