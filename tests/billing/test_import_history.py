"""The history import job against the fake Stripe API: paging, progress, errors, revocation."""

import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_q.models import Success

from billing.event_types import PROCESSED_EVENT_TYPES
from billing.models import (
    EventSource,
    EventStatus,
    HistoryImport,
    ImportStatus,
    StripeConnection,
    StripeEvent,
)
from billing.pipeline import connections
from billing.pipeline.history import client, runner
from billing.pipeline.history_jobs import JOB, history_import_run
from tests.billing.history_support import run_import
from tests.stripe_fake import RK_TEST, WHSEC_OLD, serve_fake_stripe


@pytest.fixture
def fake_stripe(settings):
    settings.CUSTORY_IMPORT_RATE = 100000
    yield from serve_fake_stripe(settings)


@pytest.fixture
def keyed_connection(workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST)
    return connections.connection_create(
        workspace=workspace, actor=admin, webhook_secret=WHSEC_OLD, api_key=RK_TEST
    )


def _events(fake_stripe, type, count, *, age=timedelta(hours=1)):
    created = int((timezone.now() - age).timestamp())
    return [fake_stripe.add_event(type=type, created=created - n) for n in range(count)]


def _start(connection, admin, capture):
    with capture(execute=True):
        history_import = connections.history_import_start(connection=connection, actor=admin)
    history_import.refresh_from_db()
    return history_import


@pytest.mark.django_db
def test_an_import_pages_through_every_processed_type_of_the_last_30_days(
    keyed_connection, admin, fake_stripe, django_capture_on_commit_callbacks
):
    _events(fake_stripe, "invoice.payment_failed", 120)
    _events(fake_stripe, "payment_intent.payment_failed", 5)
    _events(fake_stripe, "product.created", 3)
    _events(fake_stripe, "invoice.paid", 2, age=timedelta(days=31))

    history_import = _start(keyed_connection, admin, django_capture_on_commit_callbacks)

    assert history_import.status == ImportStatus.DONE
    assert (history_import.events_seen, history_import.events_stored) == (125, 125)
    assert history_import.finished_at is not None
    stored = StripeEvent.objects.filter(connection=keyed_connection)
    assert stored.count() == 125
    assert set(stored.values_list("source", flat=True)) == {EventSource.IMPORT}
    assert not stored.filter(type="product.created").exists()

    requests = fake_stripe.requests_to("/v1/events")
    assert len(requests) == 3  # 100 + 20 of the first batch of types, then 5 of the second
    batches = [[v for k, v in r.params if k.startswith("types")] for r in requests]
    assert all(len(batch) <= 20 for batch in batches)
    assert sorted({t for batch in batches for t in batch}) == sorted(PROCESSED_EVENT_TYPES)
    # Each batch of types starts from the top; the second page of the first one follows it.
    afters = [dict(r.params).get("starting_after") for r in requests]
    assert afters.count(None) == 2
    assert stored.filter(stripe_id=next(a for a in afters if a)).exists()
    since = history_import.cursors["_meta"]["events_since"]
    assert abs(since - (time.time() - 30 * 86400)) < 60
    assert all(dict(r.params)["created[gte]"] == str(since) for r in requests)


@pytest.mark.django_db
def test_a_long_history_is_read_by_a_chain_of_short_jobs(
    keyed_connection, admin, fake_stripe, settings, django_capture_on_commit_callbacks
):
    settings.CUSTORY_IMPORT_JOB_SECONDS = 0  # every job hands over after one page
    settings.CUSTORY_IMPORT_WORKERS = 1
    _events(fake_stripe, "invoice.payment_failed", 120)
    _events(fake_stripe, "payment_intent.payment_failed", 5)

    history_import = _start(keyed_connection, admin, django_capture_on_commit_callbacks)

    assert history_import.status == ImportStatus.DONE
    assert (history_import.events_seen, history_import.events_stored) == (125, 125)
    assert history_import.cursors["events:0"]["done"]
    assert StripeEvent.objects.filter(connection=keyed_connection).count() == 125
    assert Success.objects.filter(func=JOB).count() > 3


@pytest.mark.django_db
def test_importing_again_stores_nothing_twice(
    keyed_connection, admin, fake_stripe, django_capture_on_commit_callbacks
):
    _events(fake_stripe, "charge.refunded", 7)
    _start(keyed_connection, admin, django_capture_on_commit_callbacks)
    second = _start(keyed_connection, admin, django_capture_on_commit_callbacks)
    assert (second.events_seen, second.events_stored) == (7, 0)
    assert StripeEvent.objects.filter(connection=keyed_connection).count() == 7


@pytest.mark.django_db
def test_a_missing_permission_fails_the_import_with_the_reason(
    workspace, admin, fake_stripe, django_capture_on_commit_callbacks
):
    fake_stripe.add_key(RK_TEST, can_read_events=False)
    connection = connections.connection_create(
        workspace=workspace, actor=admin, webhook_secret=WHSEC_OLD, api_key=RK_TEST
    )
    history_import = _start(connection, admin, django_capture_on_commit_callbacks)
    assert history_import.status == ImportStatus.FAILED
    assert "Events: Read" in history_import.last_error
    assert RK_TEST not in history_import.last_error


@pytest.mark.django_db
def test_a_rate_limit_is_waited_out_as_stripe_says_then_exponentially(
    keyed_connection, admin, fake_stripe, django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.CUSTORY_IMPORT_WORKERS = 1  # one listing at a time: the 429s hit the second page
    waits = []
    monkeypatch.setattr(client, "sleep", waits.append)
    monkeypatch.setattr(client, "jitter", lambda: 0.5)
    _events(fake_stripe, "invoice.payment_failed", 150)

    def on_events_request(number):
        if number == 1:  # queued while answering the first page: the next requests fail
            fake_stripe.fail_next("/v1/events", 429, type="rate_limit_error", retry_after="7")
            fake_stripe.fail_next("/v1/events", 429, type="rate_limit_error")

    fake_stripe.on_events_request = on_events_request
    history_import = _start(keyed_connection, admin, django_capture_on_commit_callbacks)
    assert history_import.status == ImportStatus.DONE
    assert (history_import.events_seen, history_import.events_stored) == (150, 150)
    assert [w for w in waits if w >= 1] == [7.0, 1.5]  # Retry-After, then 2 s * (1/2 + 0.5/2)


@pytest.mark.django_db
def test_a_rate_limit_that_lasts_pauses_the_import_keeping_what_was_stored(
    keyed_connection, admin, fake_stripe, django_capture_on_commit_callbacks, monkeypatch, settings
):
    settings.CUSTORY_IMPORT_WORKERS = 1
    monkeypatch.setattr(client, "sleep", lambda seconds: None)
    _events(fake_stripe, "invoice.payment_failed", 150)

    def on_events_request(number):
        if number == 1:
            for _ in range(client.MAX_RATE_LIMIT_RETRIES + 1):
                fake_stripe.fail_next("/v1/events", 429, type="rate_limit_error")

    fake_stripe.on_events_request = on_events_request
    history_import = _start(keyed_connection, admin, django_capture_on_commit_callbacks)
    assert history_import.status == ImportStatus.FAILED
    assert "Resume it later" in history_import.last_error
    assert history_import.events_stored == 100
    assert StripeEvent.objects.filter(connection=keyed_connection).count() == 100


@pytest.mark.django_db
def test_only_one_import_runs_at_a_time(keyed_connection, admin):
    connections.history_import_start(connection=keyed_connection, actor=admin)
    with pytest.raises(ValidationError, match="already running"):
        connections.history_import_start(connection=keyed_connection, actor=admin)
    assert HistoryImport.objects.count() == 1


@pytest.mark.django_db
def test_a_canceled_import_does_not_run(keyed_connection, admin, fake_stripe):
    _events(fake_stripe, "invoice.paid", 3)
    history_import = connections.history_import_start(connection=keyed_connection, actor=admin)
    connections.history_import_cancel(history_import=history_import, actor=admin)
    history_import_run(history_import.pk)
    history_import.refresh_from_db()
    assert history_import.status == ImportStatus.CANCELED
    assert fake_stripe.requests_to("/v1/events") == []


@pytest.mark.django_db
def test_progress_is_saved_group_by_group_and_revoking_mid_import_stops_it(
    workspace, admin, fake_stripe, settings
):
    settings.CUSTORY_IMPORT_WORKERS = 1
    fake_stripe.add_key(RK_TEST)
    connection = connections.connection_create(
        workspace=workspace, actor=admin, webhook_secret=WHSEC_OLD, api_key=RK_TEST
    )
    _events(fake_stripe, "invoice.payment_failed", 2500)
    seen = []

    def revoke_after_the_first_events(history_import):
        if history_import.events_seen and not seen:
            seen.append(history_import.events_seen)
            connections.connection_revoke(
                connection=StripeConnection.objects.get(pk=connection.pk), actor=admin
            )

    history_import = connections.history_import_start(
        connection=connection, actor=admin, enqueue=False
    )
    assert run_import(history_import, progress=revoke_after_the_first_events) == runner.STOPPED

    history_import.refresh_from_db()
    assert history_import.status == ImportStatus.CANCELED, history_import.last_error
    # The first group of events was saved whole, in pages; the next one was refused.
    assert 0 < seen[0] < 2500 and seen[0] % 100 == 0
    assert history_import.events_seen == seen[0]
    stored = StripeEvent.objects.filter(connection=connection)
    assert stored.count() == history_import.events_seen
    assert set(stored.values_list("status", flat=True)) == {EventStatus.PROCESSED}
    # Listing stopped with it: far from all 25 pages were read.
    assert len(fake_stripe.requests_to("/v1/events")) < 25
