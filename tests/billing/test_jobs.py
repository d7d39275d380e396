"""The processing jobs: batches, failures with backoff, the attempt limit, the sweep, retries."""

from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import ConnectionStatus, EventDrainState, EventStatus, StripeEvent
from billing.pipeline import apply, jobs
from billing.pipeline.ingest import event_retry, events_retry_failed, events_store
from custory.models import AuditEvent
from tests.billing.pipeline_helpers import connection_with_secret, event_payload
from tests.factories import StripeEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(workspace):
    return connection_with_secret(workspace)


def pending(connection, count=1, **kwargs):
    kwargs = {"status": EventStatus.PENDING, "next_attempt_at": timezone.now(), **kwargs}
    return [
        StripeEventFactory(workspace=connection.workspace, connection=connection, **kwargs)
        for _ in range(count)
    ]


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Inline jobs run when the transaction that queued them commits: this commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def applied(monkeypatch):
    """Record the events event_apply was called with (the stub applies nothing)."""
    seen = []

    def record(*, event):
        seen.append(event.stripe_id)
        return []

    monkeypatch.setattr(jobs, "event_apply", record)
    return seen


@pytest.fixture
def failing(monkeypatch):
    def explode(*, event):
        raise ValueError("bad invoice shape\nsecond line with payload details")

    monkeypatch.setattr(jobs, "event_apply", explode)


def test_a_batch_marks_every_event_processed(connection, applied):
    events = pending(connection, 5)
    assert jobs.events_process_batch() == 5
    for event in events:
        event.refresh_from_db()
        assert event.status == EventStatus.PROCESSED
        assert event.processed_at is not None
        assert event.attempts == 1
        assert event.next_attempt_at is None
    assert sorted(applied) == sorted(e.stripe_id for e in events)


def test_a_batch_applies_events_in_stripe_order(connection, applied):
    now = timezone.now()
    later = pending(connection, created=now)[0]
    earlier = pending(connection, created=now - timedelta(hours=1))[0]
    jobs.events_process_batch()
    assert applied == [earlier.stripe_id, later.stripe_id]


def test_a_batch_takes_at_most_its_size(connection, applied):
    pending(connection, 7)
    assert jobs.events_process_batch(limit=3) == 3
    assert StripeEvent.objects.filter(status=EventStatus.PENDING).count() == 4


def test_only_due_pending_or_failed_events_are_claimed(connection, applied):
    due = pending(connection)[0]
    pending(connection, next_attempt_at=timezone.now() + timedelta(minutes=5))  # not yet
    for status in (EventStatus.PROCESSED, EventStatus.IGNORED, EventStatus.PROCESSING):
        StripeEventFactory(
            workspace=connection.workspace,
            connection=connection,
            status=status,
            next_attempt_at=timezone.now() - timedelta(minutes=1),
        )
    assert jobs.events_claim() == [due.pk]


def test_the_drain_empties_the_queue_and_clears_the_request(connection, applied):
    EventDrainState.objects.filter(pk=1).update(requested=True)
    pending(connection, 250)
    assert jobs.events_drain() == 250
    assert not StripeEvent.objects.exclude(status=EventStatus.PROCESSED).exists()
    assert not EventDrainState.objects.get(pk=1).requested


def test_a_failure_is_recorded_with_a_short_error_and_retried_later(connection, failing):
    event = pending(connection)[0]
    before = timezone.now()
    jobs.events_process_batch()
    event.refresh_from_db()
    assert event.status == EventStatus.FAILED
    assert event.attempts == 1
    assert event.last_error == "ValueError: bad invoice shape"
    assert before + timedelta(seconds=29) < event.next_attempt_at < before + timedelta(seconds=35)
    # Not due yet: nothing is claimed.
    assert jobs.events_process_batch() == 0


def test_one_failing_event_does_not_undo_the_others(connection, monkeypatch):
    bad, good = pending(connection, 2)

    def apply_or_fail(*, event):
        if event.pk == bad.pk:
            raise KeyError("data")
        return []

    monkeypatch.setattr(jobs, "event_apply", apply_or_fail)
    jobs.events_process_batch()
    bad.refresh_from_db()
    good.refresh_from_db()
    assert (bad.status, good.status) == (EventStatus.FAILED, EventStatus.PROCESSED)


def test_backoff_doubles_and_is_capped():
    assert [jobs.backoff(n).total_seconds() for n in range(1, 6)] == [30, 60, 120, 240, 480]
    assert jobs.backoff(30) == timedelta(hours=6)


def test_after_the_attempt_limit_an_event_stays_failed(connection, failing, time_machine):
    event = pending(connection)[0]
    time_machine.move_to(timezone.now(), tick=False)
    for attempt in range(1, jobs.MAX_ATTEMPTS + 1):
        assert jobs.events_process_batch() == 1, attempt
        event.refresh_from_db()
        assert event.attempts == attempt
        time_machine.shift(timedelta(hours=7))
    assert event.status == EventStatus.FAILED
    assert event.next_attempt_at is None
    assert jobs.events_process_batch() == 0


def test_a_failed_event_is_retried_once_due(connection, failing, monkeypatch, time_machine):
    event = pending(connection)[0]
    time_machine.move_to(timezone.now(), tick=False)
    jobs.events_process_batch()
    monkeypatch.setattr(jobs, "event_apply", lambda *, event: [])
    time_machine.shift(timedelta(seconds=31))
    assert jobs.events_process_batch() == 1
    event.refresh_from_db()
    assert (event.status, event.attempts, event.last_error) == (EventStatus.PROCESSED, 2, "")


def test_the_sweep_puts_back_events_of_a_dead_worker(connection, applied, time_machine, run_jobs):
    events = pending(connection, 3)
    time_machine.move_to(timezone.now(), tick=False)
    jobs.events_claim()  # …and the worker dies before processing them
    assert StripeEvent.objects.filter(status=EventStatus.PROCESSING).count() == 3
    assert jobs.events_sweep()["requeued"] == 0  # the lease has not run out yet
    time_machine.shift(jobs.LEASE + timedelta(seconds=1))
    with run_jobs():
        result = jobs.events_sweep()
    assert result["requeued"] == 3
    # Jobs run inline in tests: the drain the sweep asked for has processed them.
    for event in events:
        event.refresh_from_db()
        assert (event.status, event.attempts) == (EventStatus.PROCESSED, 2)


def test_the_sweep_gives_up_on_an_event_that_keeps_killing_workers(connection, time_machine):
    event = pending(connection, attempts=jobs.MAX_ATTEMPTS - 1)[0]
    time_machine.move_to(timezone.now(), tick=False)
    jobs.events_claim()
    time_machine.shift(jobs.LEASE + timedelta(seconds=1))
    assert jobs.events_sweep()["gave_up"] == 1
    event.refresh_from_db()
    assert event.status == EventStatus.FAILED
    assert "worker killed" in event.last_error


def test_the_sweep_wakes_a_drain_for_pending_events_whose_job_was_lost(
    connection, applied, run_jobs
):
    event = pending(connection, next_attempt_at=None)[0]
    EventDrainState.objects.filter(pk=1).update(requested=True)  # a job was asked for, then lost
    with run_jobs():
        assert jobs.events_sweep()["woke"] == 1
    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED


def test_the_sweep_schedule_exists():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name=jobs.SWEEP_SCHEDULE_NAME)
    assert schedule.func == jobs.SWEEP_JOB
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)


def test_q_cluster_retry_is_above_its_timeout(settings):
    assert settings.Q_CLUSTER["retry"] > settings.Q_CLUSTER["timeout"]
    assert settings.Q_CLUSTER["timeout"] > jobs.DRAIN_SECONDS


def test_a_revoke_while_processing_keeps_the_event_ignored(connection, monkeypatch):
    event = pending(connection)[0]

    def revoke_meanwhile(*, event):
        StripeEvent.objects.filter(pk=event.pk).update(status=EventStatus.IGNORED)
        connection.status = ConnectionStatus.REVOKED
        return []

    monkeypatch.setattr(jobs, "event_apply", revoke_meanwhile)
    jobs.events_process_batch()
    event.refresh_from_db()
    assert event.status == EventStatus.IGNORED


def _queries_to_drain(connection, count):
    pending(connection, count, type="invoice.paid")
    with CaptureQueriesContext(db_connection) as queries:
        assert jobs.events_process_batch(limit=100) == count
    return len(queries.captured_queries)


def test_the_pipeline_adds_a_constant_number_of_queries_per_event(connection, applied):
    """With the stub apply: its transaction (a savepoint in tests) and its status update."""
    ten = _queries_to_drain(connection, 10)
    fifty = _queries_to_drain(connection, 50)
    per_event = (fifty - ten) / 40
    assert per_event <= 3, (ten, fifty)
    # Per batch: the claim, its transactions, the events' workspace and connection (read once,
    # not joined into every event), and on PostgreSQL the shard locks taken and let go.
    assert ten - 10 * per_event <= 16


def test_with_the_real_apply_the_queries_per_event_stay_constant(connection):
    """Whatever the real apply costs per event, a batch costs that times N plus a constant."""
    ten = _queries_to_drain(connection, 10)
    thirty = _queries_to_drain(connection, 30)
    fifty = _queries_to_drain(connection, 50)
    assert abs((fifty - thirty) - (thirty - ten)) <= 2, (ten, thirty, fifty)


def test_the_real_apply_is_what_the_jobs_call():
    assert jobs.event_apply is apply.event_apply


def test_imported_events_feed_the_same_path(connection, applied, run_jobs):
    payloads = [event_payload("customer.created"), event_payload("invoice.paid")]
    with run_jobs():
        assert events_store(connection=connection, payloads=payloads) == 2
    assert events_store(connection=connection, payloads=payloads) == 0
    assert set(StripeEvent.objects.values_list("status", flat=True)) == {EventStatus.PROCESSED}
    assert set(StripeEvent.objects.values_list("source", flat=True)) == {"import"}


def test_retrying_one_failed_event_is_audited(connection, failing, admin, run_jobs):
    event = pending(connection)[0]
    jobs.events_process_batch()
    event.refresh_from_db()
    with run_jobs():
        assert event_retry(event=event, actor=admin)
    event.refresh_from_db()
    # Inline jobs: it was tried again at once (and failed again).
    assert event.attempts == 2
    assert AuditEvent.objects.filter(action="stripe.event_retry", actor=admin).exists()


def test_retrying_an_event_that_is_not_failed_does_nothing(connection, admin, applied):
    event = pending(connection)[0]
    jobs.events_process_batch()
    assert not event_retry(event=event, actor=admin)
    assert not AuditEvent.objects.filter(action="stripe.event_retry").exists()


def test_retry_all_failed_requeues_only_this_workspace(
    connection, other_workspace, admin, monkeypatch, failing, run_jobs
):
    mine = pending(connection, 3)
    theirs = pending(connection_with_secret(other_workspace))
    jobs.events_process_batch()
    monkeypatch.setattr(jobs, "event_apply", lambda *, event: [])
    with run_jobs():
        assert events_retry_failed(workspace=connection.workspace, actor=admin) == 3
    for event in mine:
        event.refresh_from_db()
        assert event.status == EventStatus.PROCESSED
    theirs[0].refresh_from_db()
    assert theirs[0].status == EventStatus.FAILED
    audit = AuditEvent.objects.get(action="stripe.events_retry_failed")
    assert audit.data == {"events": 3}


def test_the_pipeline_rows_come_back_after_a_flush():
    from django_q.models import Schedule

    EventDrainState.objects.all().delete()
    Schedule.objects.all().delete()
    jobs.pipeline_rows_ensure()
    jobs.pipeline_rows_ensure()
    assert EventDrainState.objects.get(pk=1)
    assert Schedule.objects.filter(name=jobs.SWEEP_SCHEDULE_NAME).count() == 1


def test_the_events_process_command_drains_everything_due(connection, applied):
    from io import StringIO

    from django.core.management import call_command

    pending(connection, 120)
    out = StringIO()
    call_command("events_process", stdout=out)
    assert "Processed 120 events" in out.getvalue()
    assert StripeEvent.objects.filter(status=EventStatus.PROCESSED).count() == 120


def test_a_retry_not_above_the_timeout_stops_startup(tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "custory.settings",
        "SECRET_KEY": "x" * 50,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'q.sqlite3'}",
        "Q_TIMEOUT": "200",
        "Q_RETRY": "100",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "Q_RETRY must be larger than Q_TIMEOUT" in result.stderr
