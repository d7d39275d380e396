"""The demo history: deterministic, realistic in its mix, and seeded idempotently."""

from collections import Counter
from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from billing.models import Customer, EventStatus, RevenueSignal, StripeConnection, StripeEvent
from billing.normalize import normalize_event
from billing.pipeline.demo import demo_events, demo_seed
from custory import services
from tests.factories import UserFactory

END = datetime(2026, 6, 1, tzinfo=UTC)


def test_the_same_seed_gives_the_same_events():
    assert demo_events(seed=3, customers=20, end=END) == demo_events(seed=3, customers=20, end=END)
    assert demo_events(seed=3, customers=20, end=END) != demo_events(seed=4, customers=20, end=END)


def test_another_day_moves_timestamps_but_keeps_ids():
    today = demo_events(seed=3, customers=20, end=END)
    later = demo_events(seed=3, customers=20, end=datetime(2026, 6, 9, tzinfo=UTC))
    assert [e["id"] for e in today] == [e["id"] for e in later]


def test_six_months_of_three_hundred_customers_cover_every_story():
    events = demo_events(end=END)
    customers = {e["data"]["object"]["id"] for e in events if e["type"] == "customer.created"}
    assert 200 <= len(customers) <= 300
    created = [e["created"] for e in events]
    assert created == sorted(created)
    assert (max(created) - min(created)) / 86400 > 150
    assert len({e["id"] for e in events}) == len(events)
    kinds = Counter(s.kind for e in events for s in normalize_event(e).signals)
    for kind in [
        "checkout_completed",
        "checkout_abandoned",
        "subscription_started",
        "trial_ending",
        "trial_converted",
        "payment_succeeded",
        "payment_failed",
        "plan_upgraded",
        "plan_downgraded",
        "cancellation_scheduled",
        "cancellation_withdrawn",
        "subscription_canceled",
        "refund",
        "dispute_opened",
        "dispute_closed",
    ]:
        assert kinds[kind] > 0, kind
    versions = Counter(e["api_version"] for e in events)
    assert versions["2025-03-31.basil"] and versions["2024-06-20"]
    currencies = {e["data"]["object"].get("currency") for e in events}
    assert {"usd", "eur", "jpy"} <= currencies


@pytest.fixture
def demo_workspace(db):
    owner = UserFactory(email="demo-owner@demo.test")
    return services.workspace_create(name="Demo", owner=owner, slug="demo-test"), owner


def test_seeding_stores_processes_and_is_idempotent(demo_workspace):
    workspace, owner = demo_workspace
    stored, processed = demo_seed(workspace=workspace, actor=owner, customers=25)
    assert stored == processed > 100
    assert not StripeEvent.objects.exclude(status=EventStatus.PROCESSED).exists()
    connection = StripeConnection.objects.get(workspace=workspace)
    assert connection.livemode is False
    assert connection.webhook_secrets.count() == 1
    signals = RevenueSignal.objects.count()
    assert signals > 50
    assert Customer.objects.filter(workspace=workspace, mrr__gt=0).exists()
    assert demo_seed(workspace=workspace, actor=owner, customers=25) == (0, 0)
    assert RevenueSignal.objects.count() == signals
    assert StripeConnection.objects.filter(workspace=workspace).count() == 1


def test_demo_recoveries_are_found(demo_workspace):
    workspace, owner = demo_workspace
    demo_seed(workspace=workspace, actor=owner, customers=80)
    recovered = RevenueSignal.objects.filter(kind="payment_recovered")
    assert recovered.exists()
    assert all(s.details["recovery_seconds"] > 0 for s in recovered)
    churn = set(
        RevenueSignal.objects.filter(kind="subscription_canceled").values_list(
            "details__churn_type", flat=True
        )
    )
    assert churn == {"voluntary", "involuntary"}


@pytest.mark.slow
def test_seed_demo_command_seeds_the_full_history(db, capsys):
    call_command("seed_demo")
    assert "Stripe demo history" in capsys.readouterr().out
    assert RevenueSignal.objects.filter(workspace__slug="demo").count() > 1000
    call_command("seed_demo")
    assert "0 new events" in capsys.readouterr().out
