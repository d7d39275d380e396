"""Where money is lost, net: per journey step, failed payments not recovered (per invoice) and
disputes not won, besides refunds and abandoned checkouts from the step rollups."""

import hashlib
from collections import defaultdict

from django.core.cache import cache
from django.db.models import OuterRef, Subquery, Sum

from billing.metrics import SignalFilter
from billing.models import SignalKind
from billing.recovery import failed_invoices
from journeys.models import Journey, SignalPlacement

K = SignalKind
# Counted from rollups as they are; failed payments and disputes are netted below.
GROSS_LOSS_KINDS = (K.REFUND, K.CHECKOUT_ABANDONED, K.DISPUTE_OPENED)


def unrecovered_failed_by_step(journey: Journey, filters: SignalFilter) -> dict:
    """The period's failed invoices still in dunning or lost, by the step of their failure."""
    step_of_failure = SignalPlacement.objects.filter(
        journey=journey,
        signal__workspace=journey.workspace_id,
        signal__kind=K.PAYMENT_FAILED,
        signal__object_id=OuterRef("invoice_id"),
    ).values("step_id")[:1]
    rows = (
        failed_invoices(journey.workspace, filters)
        .filter(paid_at__isnull=True)
        .annotate(step_id=Subquery(step_of_failure))
        .values("step_id", "currency")
        .order_by()
        .annotate(total=Sum("amount"))
    )
    out: dict = defaultdict(dict)
    for row in rows:
        if row["total"]:
            out[row["step_id"]][row["currency"]] = row["total"]
    return out


def won_disputes_by_step(journey: Journey, filters: SignalFilter) -> dict:
    """Disputes closed as won in the period, by step: money that came back."""
    rows = (
        SignalPlacement.objects.filter(
            journey=journey,
            signal__kind=K.DISPUTE_CLOSED,
            signal__details__dispute_status="won",
            signal__occurred_at__gte=filters.period.start_at,
            signal__occurred_at__lt=filters.period.end_at,
        )
        .values("step_id", "signal__currency")
        .order_by()
        .annotate(total=Sum("signal__amount"))
    )
    if filters.livemode is not None:
        rows = rows.filter(signal__livemode=filters.livemode)
    if filters.connection_id:
        rows = rows.filter(signal__connection_id=filters.connection_id)
    out: dict = defaultdict(dict)
    for row in rows:
        if row["total"]:
            out[row["step_id"]][row["signal__currency"]] = row["total"]
    return out


# Net losses read failed invoices and won disputes by step: cached under the journey's rollup
# counts of the kinds that change them (a payment that recovers an invoice adds a
# payment_recovered signal, a won dispute a dispute_closed one), so they are never stale.
NET_LOSS_TTL = 600
FINGERPRINT_KINDS = (K.PAYMENT_FAILED, K.PAYMENT_RECOVERED, K.DISPUTE_CLOSED)


def cached_by_counts(name: str, owner, filters: SignalFilter, fingerprint, compute):
    """compute(), cached under its owner (a journey, a step), the period, the filters and
    `fingerprint` (rollup counts that change when the figure does)."""
    key = repr(
        (
            name,
            type(owner).__name__,
            str(owner.uuid),  # not the pk: ids are reused after a rolled-back transaction
            filters.period.start,
            filters.period.end,
            filters.livemode,
            filters.connection_id,
            fingerprint,
        )
    )
    key = "figures:" + hashlib.sha256(key.encode()).hexdigest()
    boxed = cache.get(key)
    if boxed is None:
        boxed = (compute(),)  # boxed, so a None result is cached too
        cache.set(key, boxed, NET_LOSS_TTL)
    return boxed[0]


def net_loss_adjustments(journey: Journey, filters: SignalFilter, fingerprint) -> tuple:
    """(unrecovered failed, won disputes) by step, from the cache when the counts match."""
    return cached_by_counts(
        "net-losses",
        journey,
        filters,
        fingerprint,
        lambda: (
            dict(unrecovered_failed_by_step(journey, filters)),
            dict(won_disputes_by_step(journey, filters)),
        ),
    )
