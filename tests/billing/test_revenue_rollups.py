"""The daily revenue rollups never drift: after any event order, redeliveries, processing
batches, a changed trial setting or a rebuild, they equal the rows they add up."""

import itertools
from datetime import date

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.filters import Period
from billing.metrics import SignalFilter
from billing.models import StripeEvent
from billing.mrr_ledger import workspace_movements_rebuild
from billing.pipeline.apply import event_apply
from billing.pipeline.demo import demo_events
from billing.pipeline.ingest import events_store
from billing.pipeline.revenue_rebuild import revenue_rebuild
from billing.recovery import failed_invoices, period_recovery, recovery_cohort
from billing.revenue import mrr_snapshot, period_movements
from billing.revenue_models import (
    MrrDailyRollup,
    MrrMovement,
    RecoveryDailyRollup,
    RevenueSettings,
)
from billing.revenue_rollups import RECOVERY_FIELDS, revenue_rollups_rebuild, utc_day
from custory.batching import deferred_writes
from tests.billing.apply_support import apply_payloads
from tests.billing.scenario_events import DAY, T0, Plan, Stripe
from tests.factories import StripeConnectionFactory

_slugs = itertools.count()
EVERYTHING = Period(date(2000, 1, 1), date(2100, 1, 1))


def mrr_rows(workspace) -> list[tuple]:
    return sorted(
        (r.connection_id, r.livemode, r.day, r.kind, r.currency, r.count, r.amount)
        for r in MrrDailyRollup.objects.filter(workspace=workspace)
    )


def recovery_rows(workspace) -> list[tuple]:
    return sorted(
        (r.connection_id, r.livemode, r.day, r.currency, *(getattr(r, f) for f in RECOVERY_FIELDS))
        for r in RecoveryDailyRollup.objects.filter(workspace=workspace)
    )


def movements_by_day(workspace) -> list[tuple]:
    """The movements added up per day in Python: what the MRR rollup must hold."""
    sums: dict[tuple, list[int]] = {}
    for m in MrrMovement.objects.filter(workspace=workspace):
        key = (m.connection_id, m.livemode, utc_day(m.at), m.kind, m.currency)
        total = sums.setdefault(key, [0, 0])
        total[0] += 1
        total[1] += m.amount
    return sorted((*key, n, amount) for key, (n, amount) in sums.items())


def assert_rollups_match_their_rows(workspace):
    incremental = (mrr_rows(workspace), recovery_rows(workspace))
    assert incremental[0] == movements_by_day(workspace)
    revenue_rollups_rebuild(workspace=workspace)
    assert (mrr_rows(workspace), recovery_rows(workspace)) == incremental
    # The figures read from rollups equal those computed from the rows themselves.
    filters = SignalFilter(period=EVERYTHING)
    from_rows = recovery_cohort(failed_invoices(workspace, filters), median=False)
    from_rollups = period_recovery(workspace, filters, median=False)
    assert from_rollups.by_currency == from_rows.by_currency


def apply_in_batches(connection, payloads: list[dict], size: int) -> None:
    """Apply events in groups, each one transaction with its rollup writes deferred to the
    group's end, as the processing job does (redeliveries applied again)."""
    events_store(connection=connection, payloads=payloads, source="webhook", wake=False)
    by_id = {e.stripe_id: e for e in StripeEvent.objects.filter(connection=connection)}
    for start in range(0, len(payloads), size):
        with transaction.atomic(), deferred_writes():
            for payload in payloads[start : start + size]:
                event_apply(event=by_id[payload["id"]])


def failed_invoices_stream(basil: bool) -> list[dict]:
    """Three customers' invoices failing twice, then paid, marked uncollectible, or left
    in dunning until the subscription is canceled."""
    stripe = Stripe(basil=basil)
    for n, last in enumerate(["paid", "uncollectible", "canceled"]):
        cus, sub_id, inv_id, plan = f"cus_f{n}", f"sub_f{n}", f"in_f{n}", Plan("price_f", 1000)
        stripe.event("customer.subscription.created", stripe.subscription(sub_id, cus, [plan]), T0)
        for attempt in (1, 2):
            inv = stripe.invoice(inv_id, cus, sub_id, 1000 * (n + 1), attempt_count=attempt)
            stripe.event("invoice.payment_failed", inv, T0 + attempt * DAY + n)
        if last == "paid":
            inv = stripe.invoice(
                inv_id, cus, sub_id, 1000 * (n + 1), attempt_count=3, paid_at=T0 + 5 * DAY
            )
            stripe.event("invoice.paid", inv, T0 + 5 * DAY)
        elif last == "uncollectible":
            inv = stripe.invoice(inv_id, cus, sub_id, 1000 * (n + 1), attempt_count=2)
            inv["status_transitions"]["marked_uncollectible_at"] = T0 + 9 * DAY
            stripe.event("invoice.marked_uncollectible", inv, T0 + 9 * DAY)
        else:
            gone = stripe.subscription(
                sub_id,
                cus,
                [plan],
                status="canceled",
                at=T0 + 10 * DAY,
                cancel_reason="payment_failed",
            )
            stripe.event("customer.subscription.deleted", gone, T0 + 10 * DAY)
    return stripe.events


@st.composite
def shuffled_streams(draw):
    seed = draw(st.integers(min_value=0, max_value=10_000))
    events = demo_events(seed=seed, customers=5, months=4)
    events += failed_invoices_stream(draw(st.booleans()))
    order = draw(st.permutations(range(len(events))))
    duplicates = draw(st.lists(st.sampled_from(range(len(events))), max_size=6))
    return [events[i] for i in order] + [events[i] for i in duplicates]


@pytest.mark.django_db
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shuffled_streams(), st.sampled_from([0, 1, 7]), st.booleans())
def test_rollups_equal_the_rows_after_any_event_order(payloads, batch, from_start):
    connection = StripeConnectionFactory(workspace__slug=f"rollups-{next(_slugs)}")
    workspace = connection.workspace
    if from_start:
        RevenueSettings.objects.create(workspace=workspace, count_trials_from_start=True)
    if batch:
        apply_in_batches(connection, payloads, batch)
    else:
        apply_payloads(connection, payloads)
    assert MrrMovement.objects.filter(workspace=workspace).exists()
    assert RecoveryDailyRollup.objects.filter(workspace=workspace, lost=2, recovered=1).exists()
    assert_rollups_match_their_rows(workspace)


@pytest.mark.django_db
def test_changing_how_trials_count_moves_the_rollups_with_the_movements():
    connection = StripeConnectionFactory()
    workspace = connection.workspace
    apply_payloads(connection, demo_events(seed=3, customers=6, months=3))
    before = mrr_rows(workspace)
    RevenueSettings.objects.create(workspace=workspace, count_trials_from_start=True)
    workspace_movements_rebuild(workspace=workspace)
    assert_rollups_match_their_rows(workspace)
    assert mrr_rows(workspace) != before


@pytest.mark.django_db
def test_revenue_rebuild_leaves_the_rollups_as_processing_did():
    connection = StripeConnectionFactory()
    workspace = connection.workspace
    apply_payloads(connection, demo_events(seed=11, customers=5, months=3))
    apply_payloads(connection, failed_invoices_stream(basil=True))
    processed = (mrr_rows(workspace), recovery_rows(workspace))
    assert processed[0] and processed[1]
    revenue_rebuild(workspace=workspace)
    assert (mrr_rows(workspace), recovery_rows(workspace)) == processed


@pytest.mark.django_db
def test_figures_read_from_rollups_add_up_to_the_movements_of_the_period():
    connection = StripeConnectionFactory()
    workspace = connection.workspace
    apply_payloads(connection, demo_events(seed=5, customers=6, months=4))
    days = sorted({utc_day(m.at) for m in MrrMovement.objects.filter(workspace=workspace)})
    period = Period(days[len(days) // 3], days[2 * len(days) // 3])
    filters = SignalFilter(period=period)
    snap, moved = mrr_snapshot(workspace, filters), period_movements(workspace, filters)
    net = moved.net()
    for currency in set(snap.mrr_start) | set(snap.mrr_end) | set(net):
        change = snap.mrr_end.get(currency, 0) - snap.mrr_start.get(currency, 0)
        assert change == net.get(currency, 0)
    in_period = MrrMovement.objects.filter(
        workspace=workspace, at__gte=period.start_at, at__lt=period.end_at
    )
    assert sum(moved.counts.values()) == in_period.count()
