"""How fast a remap re-places a workspace's signals after a rule change (printed; loose bound)."""

import random
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import RevenueSignal, SignalKind, StripeEvent
from journeys import jobs, rule_services, services
from journeys.models import RemapRun, RemapStatus
from journeys.placement import place_signals
from journeys.selectors import rule_preview
from tests.factories import CustomerFactory, StripeConnectionFactory
from tests.journeys.conftest import raw_totals, rollup_totals

SIGNALS = 5000


@pytest.mark.slow
def test_remapping_5000_signals_after_a_rule_change(workspace, admin):
    journey = services.journey_install_default(workspace=workspace)
    connection = StripeConnectionFactory(workspace=workspace)
    customers = [CustomerFactory(workspace=workspace) for _ in range(50)]
    now = timezone.now()
    events = StripeEvent.objects.bulk_create(
        StripeEvent(
            workspace=workspace,
            connection=connection,
            stripe_id=f"evt_perf_{i}",
            type="invoice.payment_failed",
            api_version="2024-06-20",
            created=now,
            payload={},
        )
        for i in range(SIGNALS)
    )
    rng = random.Random(5)
    signals = RevenueSignal.objects.bulk_create(
        RevenueSignal(
            workspace=workspace,
            event=event,
            connection=connection,
            customer=rng.choice(customers),
            kind=rng.choice(SignalKind.values),
            occurred_at=now - timedelta(days=rng.randrange(60)),
            amount=rng.randrange(100, 100_000),
            currency=rng.choice(["eur", "usd"]),
        )
        for event in events
    )
    place_signals(signals=signals)
    started = time.perf_counter()
    preview = rule_preview(
        journey=journey,
        kinds=SignalKind.values,
        conditions={"amount_min": 50_000, "currency": "eur"},
        priority=1,
    )
    preview_seconds = time.perf_counter() - started
    print(f"\nlive preview over {preview.scanned} signals: {preview_seconds * 1000:.0f} ms")
    assert preview_seconds < 10
    rule = rule_services.rule_create(
        journey=journey,
        actor=admin,
        kinds=["payment_failed", "refund"],
        step=journey.steps.get(name="Payment recovery"),
        conditions={"amount_min": 50_000, "currency": "eur"},
        priority=1,
    )
    scoped = RemapRun.objects.get(journey=journey, status=RemapStatus.QUEUED)
    scoped_seconds = _timed_run(scoped)
    full = services.remap_request(journey=journey, actor=admin, reason="everything")
    full_seconds = _timed_run(full)
    scoped.refresh_from_db()
    full.refresh_from_db()
    print(
        f"\nremap of the rule's kinds ({scoped.done} signals): {scoped_seconds:.2f}s, "
        f"{scoped.moved} moved; full remap of {SIGNALS} signals: {full_seconds:.2f}s "
        f"({SIGNALS / full_seconds:.0f} signals/s)"
    )
    expected = RevenueSignal.objects.filter(kind__in=["payment_failed", "refund"]).count()
    assert (scoped.status, scoped.done) == (RemapStatus.DONE, expected)
    assert (full.status, full.done, full.moved) == (RemapStatus.DONE, SIGNALS, 0)
    assert rollup_totals(journey) == raw_totals(journey)
    assert rule.pk and full_seconds < 120


def _timed_run(run: RemapRun) -> float:
    started = time.perf_counter()
    jobs.journey_remap_run(run.pk)
    return time.perf_counter() - started
