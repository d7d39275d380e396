"""With the Redis broker (no transactions, no delivery receipts): jobs are enqueued only after
the events commit, and the sweep re-enqueues work whose job was lost."""

import os

import pytest
from django.utils import timezone

from billing.models import EventDrainState, EventStatus, StripeEvent
from billing.pipeline import jobs
from tests.billing.pipeline_helpers import connection_with_secret, event_payload, post_signed

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/1")


def _redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        os.environ.get("CI") != "true" and not _redis_reachable(),
        reason=f"Redis is not reachable at {REDIS_URL}",
    ),
]


@pytest.fixture
def redis_broker(monkeypatch):
    """Django-Q configured as with REDIS_URL set: the Redis broker, jobs not run inline."""
    from django_q.brokers import get_broker
    from django_q.conf import Conf

    monkeypatch.setattr("billing.pipeline.jobs.event_apply", lambda *, event: [])  # the stub apply
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", REDIS_URL)
    broker = get_broker("custory-pipeline-test")
    monkeypatch.setattr("django_q.tasks.get_broker", lambda *args, **kwargs: broker)
    broker.purge_queue()
    yield broker
    broker.delete_queue()


def _run_queued_jobs(broker) -> list[str]:
    """Do what a qcluster worker does with each queued job: unsign it and call its function."""
    from django.utils.module_loading import import_string
    from django_q.signing import SignedPackage

    ran = []
    while broker.queue_size():
        for _, package in broker.dequeue() or []:
            task = SignedPackage.loads(package)
            import_string(task["func"])(*task["args"], **task["kwargs"])
            ran.append(task["func"])
    return ran


def test_the_job_reaches_redis_only_when_the_event_commits(
    client, workspace, redis_broker, django_capture_on_commit_callbacks
):
    connection = connection_with_secret(workspace)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert post_signed(client, connection, event_payload()).status_code == 200
    assert redis_broker.queue_size() == 0  # not before the commit
    for callback in callbacks:
        callback()
    assert redis_broker.queue_size() == 1
    assert _run_queued_jobs(redis_broker) == [jobs.DRAIN_JOB]
    assert StripeEvent.objects.get().status == EventStatus.PROCESSED


def test_a_lost_redis_job_is_made_good_by_the_sweep(
    client, workspace, redis_broker, django_capture_on_commit_callbacks
):
    connection = connection_with_secret(workspace)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            post_signed(client, connection, event_payload())
    redis_broker.purge_queue()  # the job is lost: Redis has no receipts
    assert EventDrainState.objects.get(pk=1).requested
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.events_sweep()["woke"] == 1
    assert _run_queued_jobs(redis_broker) == [jobs.DRAIN_JOB]
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {EventStatus.PROCESSED}
    assert StripeEvent.objects.filter(processed_at__lte=timezone.now()).count() == 3
