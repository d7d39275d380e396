"""Two schedulers running at the same moment still fire an alert once and send a digest once."""

import threading
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.db import connection, connections

from custory.models import Role
from tasks.alert_services import alert_rule_create
from tasks.alerts import alerts_evaluate
from tasks.digests import digests_send
from tasks.models import AlertRule, AlertState, DigestSend
from tests.factories import MembershipFactory, SubscriptionFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"
)
RUNS = 4


def at_once(work):
    barrier = threading.Barrier(RUNS)
    results, errors = [], []

    def run():
        try:
            barrier.wait(timeout=10)
            results.append(work())
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(RUNS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_evaluations_fire_an_alert_once(workspace, admin):
    SubscriptionFactory(workspace=workspace, status="past_due", mrr=90000, currency="usd")
    alert_rule_create(
        workspace=workspace, actor=admin, metric="mrr_at_risk", threshold=100, currency="usd"
    )
    results = at_once(alerts_evaluate)
    assert sum(result["fired"] for result in results) == 1
    assert AlertRule.objects.get().state == AlertState.FIRING
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_digest_runs_send_each_digest_once(workspace):
    for n in range(3):
        MembershipFactory(workspace=workspace, role=Role.MEMBER, user__email=f"m{n}@acme.test")
    with time_machine.travel(datetime(2026, 11, 30, 8, 0, tzinfo=UTC), tick=False):
        results = at_once(digests_send)
    assert sum(results) == 3
    assert DigestSend.objects.count() == 3
    assert sorted(m.to[0] for m in mail.outbox) == ["m0@acme.test", "m1@acme.test", "m2@acme.test"]
