"""Per-customer money figures (CustomerFigures), recomputed from the customer's own rows.

Whoever changes a customer's signals, failed invoices, subscriptions or MRR movements refreshes
its figures in the same transaction, after those writes: each row is computed again from the
source rows (index lookups by customer, whatever the size of the workspace), so any order of
events, redelivery or rebuild ends in the same figures. The pipeline refreshes with the
customers locked, so two workers on one customer refresh one after the other.
"""

from collections.abc import Iterable

from django.db import connection
from django.db.models import BigIntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from billing.models import Customer, RevenueSignal, SignalKind, Subscription
from billing.querysets import AT_RISK
from billing.revenue_models import CustomerFigures, FailedInvoice, MrrMovement

FIGURES = ("mrr", "paid", "failed_outstanding", "refunded", "disputed", "at_risk")
# Customers refreshed per statement by a workspace's rebuild.
REBUILD_CHUNK = 500


def _sum_per_customer(rows: QuerySet, column: str = "amount") -> Coalesce:
    """A subquery: the sum of `column` over the outer customer's rows of a queryset."""
    sums = (
        rows.filter(customer_id=OuterRef("pk"))
        .order_by()
        .values("customer_id")
        .annotate(total=Sum(column))
        .values("total")
    )
    return Coalesce(Subquery(sums, output_field=BigIntegerField()), 0)


def figures_from_sources(customers: QuerySet) -> QuerySet:
    """The customers annotated with their FIGURES (as `figure_<name>`: Customer has an `mrr`)
    as their source rows add up now."""
    latest_mrr = (
        MrrMovement.objects.filter(customer_id=OuterRef("pk"))
        .order_by("-at", "-id")
        .values("mrr_after")[:1]
    )
    signals = RevenueSignal.objects.all()
    return customers.annotate(
        figure_mrr=Coalesce(Subquery(latest_mrr, output_field=BigIntegerField()), 0),
        figure_paid=_sum_per_customer(signals.filter(kind=SignalKind.PAYMENT_SUCCEEDED)),
        figure_failed_outstanding=_sum_per_customer(FailedInvoice.objects.in_dunning()),
        figure_refunded=_sum_per_customer(signals.filter(kind=SignalKind.REFUND)),
        figure_disputed=_sum_per_customer(signals.filter(kind=SignalKind.DISPUTE_OPENED)),
        figure_at_risk=_sum_per_customer(Subscription.objects.filter(AT_RISK), "mrr"),
    )


def customer_figures_refresh(*, customer_ids: Iterable[int | None]) -> None:
    """Recompute these customers' figures from their rows: one INSERT … SELECT … ON CONFLICT,
    so the figures never travel to Python and back."""
    ids = sorted({pk for pk in customer_ids if pk is not None})
    if not ids:
        return
    figures = (
        figures_from_sources(Customer.objects.filter(pk__in=ids))
        .order_by("pk")
        .values_list("pk", *(f"figure_{name}" for name in FIGURES))
    )
    select_sql, params = figures.query.get_compiler(connection=connection).as_sql()
    quote = connection.ops.quote_name
    meta = CustomerFigures._meta
    key = quote(meta.pk.column)
    columns = [quote(meta.get_field(name).column) for name in FIGURES]
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in columns)
    # "WHERE true": SQLite reads "SELECT … ON CONFLICT" as a join without it.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({key}, {', '.join(columns)}) "  # noqa: S608
        f"SELECT * FROM ({select_sql}) AS figures WHERE true "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def customer_figures_rebuild(*, workspace) -> None:
    """Recompute the figures of every customer of the workspace (after a rebuild or a purge)."""
    ids = list(
        Customer.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True)
    )
    for start in range(0, len(ids), REBUILD_CHUNK):
        customer_figures_refresh(customer_ids=ids[start : start + REBUILD_CHUNK])
