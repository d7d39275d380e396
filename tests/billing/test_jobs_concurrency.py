"""On PostgreSQL, drains running at once in separate connections never claim the same event."""

import threading

import pytest
from django.db import connection as db_connection
from django.db import connections
from django.utils import timezone

from billing.models import EventStatus, StripeEvent
from billing.pipeline import jobs
from tests.billing.pipeline_helpers import connection_with_secret
from tests.factories import StripeEventFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        db_connection.vendor != "postgresql", reason="SKIP LOCKED claims are PostgreSQL's"
    ),
]


def test_concurrent_drains_apply_each_event_once(workspace, monkeypatch):
    connection = connection_with_secret(workspace)
    now = timezone.now()
    StripeEvent.objects.bulk_create(
        StripeEventFactory.build(
            workspace=workspace,
            connection=connection,
            status=EventStatus.PENDING,
            next_attempt_at=now,
        )
        for _ in range(400)
    )
    applied = []
    lock = threading.Lock()

    def record(*, event):
        with lock:
            applied.append(event.pk)
        return []

    monkeypatch.setattr(jobs, "event_apply", record)
    barrier = threading.Barrier(4)

    def drain():
        barrier.wait()
        try:
            while jobs.events_process_batch(limit=10):
                pass
        finally:
            connections.close_all()

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(applied) == len(set(applied)) == 400
    assert StripeEvent.objects.filter(status=EventStatus.PROCESSED, attempts=1).count() == 400
