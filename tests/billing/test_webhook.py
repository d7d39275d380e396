"""The webhook endpoint: every answer of issue 4, and what it stores."""

import io
import json
import logging
import time
import uuid

import pytest
import stripe
from django.db import connection as db_connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import (
    ConnectionStatus,
    EventDrainState,
    EventSource,
    EventStatus,
    StripeEvent,
    WebhookSecret,
)
from billing.pipeline import webhooks
from tests.billing.pipeline_helpers import (
    SECRET,
    connection_with_secret,
    event_payload,
    post_signed,
)
from tests.stripe_signing import sign_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(workspace):
    return connection_with_secret(workspace)


@pytest.fixture
def no_inline_jobs(monkeypatch):
    """Jobs are queued on the ORM broker instead of running inline (tests default to sync)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", False)


def test_a_signed_event_is_stored_and_processed(
    client, connection, django_capture_on_commit_callbacks, monkeypatch
):
    # The stub apply: this is about the pipeline, not about what the event means.
    monkeypatch.setattr("billing.pipeline.jobs.event_apply", lambda *, event: [])
    payload = event_payload("invoice.payment_failed")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(client, connection, payload)
    assert response.status_code == 200
    event = StripeEvent.objects.get(stripe_id=payload["id"])
    assert event.workspace_id == connection.workspace_id
    assert event.connection == connection
    assert event.type == "invoice.payment_failed"
    assert event.source == EventSource.WEBHOOK
    assert event.payload == payload
    # Tests run jobs inline once the webhook's transaction commits.
    assert event.status == EventStatus.PROCESSED
    assert event.attempts == 1


def test_the_ack_does_not_wait_for_processing(client, connection, no_inline_jobs):
    from django_q.models import OrmQ

    payload = event_payload()
    assert post_signed(client, connection, payload).status_code == 200
    event = StripeEvent.objects.get(stripe_id=payload["id"])
    assert event.status == EventStatus.PENDING
    assert event.next_attempt_at is not None
    assert OrmQ.objects.count() == 1


def test_duplicate_delivery_stores_one_event(client, connection):
    payload = event_payload()
    first = post_signed(client, connection, payload)
    second = post_signed(client, connection, payload)
    assert (first.status_code, second.status_code) == (200, 200)
    assert StripeEvent.objects.filter(stripe_id=payload["id"]).count() == 1
    assert "Already stored" in second.content.decode()


def test_the_same_event_id_in_two_workspaces_is_two_events(client, connection, other_workspace):
    other = connection_with_secret(other_workspace)
    payload = event_payload()
    assert post_signed(client, connection, payload).status_code == 200
    assert post_signed(client, other, payload).status_code == 200
    assert StripeEvent.objects.filter(stripe_id=payload["id"]).count() == 2


def test_a_burst_enqueues_one_job_not_one_per_event(client, connection, no_inline_jobs):
    from django_q.models import OrmQ

    for _ in range(20):
        assert post_signed(client, connection, event_payload()).status_code == 200
    assert StripeEvent.objects.filter(status=EventStatus.PENDING).count() == 20
    assert OrmQ.objects.count() == 1
    assert EventDrainState.objects.get(pk=1).requested


def test_a_stale_drain_request_is_rearmed(client, connection, no_inline_jobs):
    from django_q.models import OrmQ

    post_signed(client, connection, event_payload())
    EventDrainState.objects.filter(pk=1).update(
        requested_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    post_signed(client, connection, event_payload())
    assert OrmQ.objects.count() == 2


def test_event_and_job_commit_together_rollback_leaves_neither(
    connection, no_inline_jobs, monkeypatch
):
    """If the transaction fails after the insert, neither the event nor its job remains."""
    from django_q.models import OrmQ

    from billing.pipeline import ingest, jobs

    def enqueue_then_fail(**kwargs):
        jobs.drain_request(**kwargs)
        assert OrmQ.objects.count() == 1  # the job row exists inside the transaction
        raise RuntimeError("crash after enqueue")

    monkeypatch.setattr(ingest, "drain_request", enqueue_then_fail)
    with pytest.raises(RuntimeError):
        ingest.event_receive(
            workspace_id=connection.workspace_id,
            connection_id=connection.pk,
            payload=event_payload(),
        )
    assert StripeEvent.objects.count() == 0
    assert OrmQ.objects.count() == 0


def test_types_we_do_not_process_are_stored_as_ignored(client, connection, no_inline_jobs):
    from django_q.models import OrmQ

    payload = event_payload("product.created")
    assert post_signed(client, connection, payload).status_code == 200
    event = StripeEvent.objects.get(stripe_id=payload["id"])
    assert event.status == EventStatus.IGNORED
    assert event.next_attempt_at is None
    assert OrmQ.objects.count() == 0


def test_a_rotated_connection_accepts_both_active_secrets(client, connection):
    from custory import crypto

    new_secret = "whsec_newsecretafterrotation0123456789"
    WebhookSecret.objects.create(
        connection=connection, secret_encrypted=crypto.encrypt(new_secret), hint="new"
    )
    assert post_signed(client, connection, event_payload(), secret=SECRET).status_code == 200
    assert post_signed(client, connection, event_payload(), secret=new_secret).status_code == 200


def test_a_retired_secret_no_longer_verifies(client, connection):
    connection.webhook_secrets.update(retired_at=timezone.now())
    response = post_signed(client, connection, event_payload())
    assert response.status_code == 400
    assert response.content == b"Invalid signature.\n"


def test_our_verification_agrees_with_the_stripe_library(client, connection):
    """A header made by stripe-python itself is accepted."""
    raw = json.dumps(event_payload()).encode()
    header = stripe.WebhookSignature.generate_signature_header(raw.decode(), SECRET)
    response = client.post(
        connection.webhook_path(),
        data=raw,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )
    assert response.status_code == 200


def test_no_session_and_no_cookies(client, connection):
    response = post_signed(client, connection, event_payload())
    assert response.status_code == 200
    assert not response.cookies
    assert "Set-Cookie" not in response.headers


def test_the_hot_path_makes_a_handful_of_queries(client, connection, no_inline_jobs):
    post_signed(client, connection, event_payload())  # warm: the flag is now set
    with CaptureQueriesContext(db_connection) as queries:
        assert post_signed(client, connection, event_payload()).status_code == 200
    # endpoint+secrets; (savepoint) insert; flag update; (release). No decryption query.
    statements = [q["sql"] for q in queries.captured_queries]
    assert len([s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE"))]) == 3


# --- Rejections -------------------------------------------------------------------------------


def _assert_rejected(response, status, reason):
    assert response.status_code == status
    assert response.content.decode() == reason + "\n"
    assert response["Content-Type"].startswith("text/plain")
    assert StripeEvent.objects.count() == 0


def test_missing_signature_is_400(client, connection):
    response = client.post(
        connection.webhook_path(), data=json.dumps(event_payload()), content_type="application/json"
    )
    _assert_rejected(response, 400, "Missing Stripe-Signature header.")


def test_a_wrong_secret_is_400(client, connection):
    response = post_signed(client, connection, event_payload(), secret="whsec_wrongwrongwrong")
    _assert_rejected(response, 400, "Invalid signature.")


def test_a_tampered_body_is_400(client, connection):
    raw = json.dumps(event_payload()).encode()
    signature = sign_payload(raw, SECRET)
    response = client.post(
        connection.webhook_path(),
        data=raw.replace(b"invoice", b"invoicE"),
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )
    _assert_rejected(response, 400, "Invalid signature.")


@pytest.mark.parametrize("header", ["garbage", "t=abc,v1=00", "t=123", "v1=abc", ",,,", "t=1,v0=x"])
def test_a_malformed_signature_header_is_400(client, connection, header):
    response = client.post(
        connection.webhook_path(),
        data=json.dumps(event_payload()),
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )
    assert response.status_code == 400
    assert StripeEvent.objects.count() == 0


def test_a_stale_timestamp_is_400(client, connection):
    response = post_signed(client, connection, event_payload(), timestamp=time.time() - 301)
    _assert_rejected(response, 400, "Signature timestamp is too old (more than 300 s).")


def test_a_timestamp_within_tolerance_is_accepted(client, connection):
    response = post_signed(client, connection, event_payload(), timestamp=time.time() - 280)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [b"not json", b"\xff\xfe\x00garbage", b"", b"{", b"[1, 2]"],
    ids=["text", "binary", "empty", "truncated", "array"],
)
def test_a_body_that_is_not_json_is_400(client, connection, body):
    response = post_signed(client, connection, body)
    assert response.status_code == 400
    assert response.content.decode().count("\n") == 1
    assert StripeEvent.objects.count() == 0


@pytest.mark.parametrize(
    "change",
    [
        {"object": "invoice"},
        {"id": "in_123"},
        {"id": 12},
        {"type": ""},
        {"type": None},
        {"created": "yesterday"},
        {"created": True},
        {"created": -5},
        {"id": "evt_" + "x" * 300},
    ],
)
def test_json_that_is_not_a_stripe_event_is_400(client, connection, change):
    response = post_signed(client, connection, event_payload() | change)
    _assert_rejected(response, 400, "Body is not a Stripe event.")


def test_a_body_over_the_limit_is_413_before_it_is_read(connection, settings):
    """The declared length alone decides: the stream is never read."""
    settings.STRIPE_WEBHOOK_MAX_BYTES = 1024

    class Unreadable(io.RawIOBase):
        def read(self, *args):
            raise AssertionError("the body was read")

    request = RequestFactory().post(
        connection.webhook_path(), data=b"{}", content_type="application/json"
    )
    request.META["CONTENT_LENGTH"] = "1025"
    request.META["wsgi.input"] = Unreadable()
    request._stream = Unreadable()
    response = webhooks.stripe_webhook(request, endpoint=connection.uuid)
    assert response.status_code == 413
    assert StripeEvent.objects.count() == 0


def test_the_real_limit_is_256_kib(client, connection):
    padding = "x" * (256 * 1024)
    response = post_signed(client, connection, event_payload(padding=padding))
    _assert_rejected(response, 413, "Body too large.")


def test_a_chunked_body_over_the_limit_is_413_after_reading_one_byte_more(connection, settings):
    settings.STRIPE_WEBHOOK_MAX_BYTES = 1024

    class CountingStream(io.BytesIO):
        requested = []

        def read(self, size=-1):
            self.requested.append(size)
            return super().read(size)

    stream = CountingStream(b"{" + b" " * 5000 + b"}")
    request = RequestFactory().post(
        connection.webhook_path(), data=b"", content_type="application/json"
    )
    request.META.pop("CONTENT_LENGTH", None)
    request.META["wsgi.input"] = stream
    request.META["wsgi.input_terminated"] = True
    response = webhooks.stripe_webhook(request, endpoint=connection.uuid)
    assert response.status_code == 413
    assert stream.requested == [1025]


def test_a_chunked_body_within_the_limit_is_accepted(connection):
    raw = json.dumps(event_payload()).encode()
    request = RequestFactory().post(
        connection.webhook_path(),
        data=b"",
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign_payload(raw, SECRET),
    )
    request.META.pop("CONTENT_LENGTH", None)
    request.META["wsgi.input"] = io.BytesIO(raw)
    request.META["wsgi.input_terminated"] = True
    response = webhooks.stripe_webhook(request, endpoint=connection.uuid)
    assert response.status_code == 200
    assert StripeEvent.objects.count() == 1


def test_an_unknown_endpoint_is_404(client, connection):
    url = connection.webhook_path().replace(str(connection.uuid), str(uuid.uuid4()))
    response = client.post(url, data=b"{}", content_type="application/json")
    _assert_rejected(response, 404, "Unknown webhook endpoint.")


def test_a_revoked_endpoint_is_410(client, connection):
    connection.status = ConnectionStatus.REVOKED
    connection.save()
    response = post_signed(client, connection, event_payload())
    _assert_rejected(response, 410, "This webhook endpoint was revoked.")


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "head", "options"])
def test_anything_but_post_is_405(client, connection, method):
    response = getattr(client, method)(connection.webhook_path())
    assert response.status_code == 405


def test_rejections_are_logged_without_payload_or_secret(client, connection, caplog):
    payload = event_payload(secret_marker="PAYLOAD-MARKER")
    with caplog.at_level(logging.INFO):
        post_signed(client, connection, payload, secret="whsec_wrongsecretvalue123")
    text = caplog.text
    assert "rejected" in text
    assert "PAYLOAD-MARKER" not in text
    assert "whsec_" not in text
    assert "v1=" not in text


def test_the_stripe_library_logs_at_warning_only(settings):
    assert settings.LOGGING["loggers"]["stripe"]["level"] == "WARNING"


def test_a_database_error_answers_503_so_stripe_retries(client, connection, monkeypatch):
    from django.db import OperationalError

    def broken(**kwargs):
        raise OperationalError("database is down")

    monkeypatch.setattr(webhooks, "event_receive", broken)
    response = post_signed(client, connection, event_payload())
    assert response.status_code == 503
