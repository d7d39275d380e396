"""Outbound webhooks delivered to a local receiver: signature, envelope, retries, rotation."""

import hashlib
import hmac
import http.client
import io
import json
from datetime import timedelta

import pytest
import time_machine
from cryptography.fernet import Fernet
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from custory import crypto
from custory.models import Delivery, DeliveryStatus, OutboundWebhook
from custory.outbound import (
    delivery_redeliver,
    outbound_emit,
    outbound_webhook_create,
    outbound_webhook_rotate,
)
from custory.outbound_jobs import deliveries_sweep
from custory.outbound_signing import active_secrets
from tests.outbound_receiver import start_receiver


@pytest.fixture
def receiver():
    receiver = start_receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture(autouse=True)
def _allow_local(settings):
    settings.CUSTORY_OUTBOUND_ALLOW_PRIVATE = True
    settings.CUSTORY_OUTBOUND_TIMEOUT_SECONDS = 0.5


@pytest.fixture
def hook(workspace, admin, receiver):
    webhook, secret = outbound_webhook_create(
        workspace=workspace, actor=admin, url=receiver.url, event_types=[]
    )
    webhook.plain_secret = secret
    return webhook


@pytest.fixture
def emit(workspace, django_capture_on_commit_callbacks):
    def send(type="signal.payment_failed", data=None):
        with django_capture_on_commit_callbacks(execute=True):
            deliveries = outbound_emit(
                workspace=workspace,
                type=type,
                data=data or {"summary": "Payment of €49.00 failed", "url": "http://x/s/1"},
            )
        return deliveries

    return send


def signatures(header: str) -> tuple[str, list[str]]:
    parts = [part.split("=", 1) for part in header.split(",")]
    timestamp = next(value for key, value in parts if key == "t")
    return timestamp, [value for key, value in parts if key == "v1"]


def expected_mac(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def retry_now(run_sweep, captured):
    Delivery.objects.filter(status=DeliveryStatus.RETRYING).update(next_attempt_at=timezone.now())
    with captured(execute=True):
        run_sweep()


def test_a_delivery_is_signed_over_timestamp_and_raw_body(hook, emit, receiver):
    emit()

    (request,) = receiver.received
    timestamp, macs = signatures(request.headers["Custory-Signature"])
    assert macs == [expected_mac(hook.plain_secret, timestamp, request.body)]
    assert abs(int(timestamp) - timezone.now().timestamp()) < 5
    assert request.headers["Content-Type"] == "application/json"


def test_a_delivery_carries_the_stable_envelope_with_links_back(hook, emit, receiver, workspace):
    (delivery,) = emit(data={"summary": "Payment failed", "url": "http://localhost:8000/w/acme/"})

    envelope = json.loads(receiver.received[0].body)
    assert set(envelope) == {"id", "type", "created", "workspace", "data"}
    assert envelope["id"] == str(delivery.event_id)
    assert envelope["type"] == "signal.payment_failed"
    assert envelope["workspace"] == {
        "slug": "acme",
        "name": "Acme SaaS",
        "url": "http://localhost:8000/w/acme/",
    }
    assert envelope["data"]["summary"] == "Payment failed"
    assert receiver.received[0].headers["Custory-Event-Id"] == envelope["id"]


def test_a_successful_delivery_is_logged_with_status_duration_and_response(hook, emit):
    (delivery,) = emit()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.status_code == 200
    assert delivery.duration_ms is not None
    assert delivery.response_excerpt == "answered 200"
    assert delivery.attempts == 1


def test_a_500_is_retried_with_backoff_and_then_delivered(
    hook, emit, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(500)
    (delivery,) = emit()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert delivery.status_code == 500
    wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=25) < wait <= timedelta(seconds=30)
    assert OutboundWebhook.objects.get().failing_since is not None

    retry_now(deliveries_sweep, django_capture_on_commit_callbacks)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.status_code, delivery.attempts) == ("delivered", 200, 2)
    assert len(receiver.received) == 2
    assert OutboundWebhook.objects.get().failing_since is None


def test_a_timeout_is_retried(hook, emit, receiver, django_capture_on_commit_callbacks):
    receiver.answer((200, 1.5))
    (delivery,) = emit()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert "timed out" in delivery.error
    retry_now(deliveries_sweep, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_a_redirect_is_not_followed(hook, emit, receiver):
    receiver.answer(302)
    (delivery,) = emit()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.status_code) == (DeliveryStatus.RETRYING, 302)
    assert len(receiver.received) == 1


def test_a_delivery_not_due_yet_is_not_sent_by_the_sweep(
    hook, emit, receiver, django_capture_on_commit_callbacks
):
    receiver.answer(500)
    emit()
    with django_capture_on_commit_callbacks(execute=True):
        assert deliveries_sweep() == 0
    assert len(receiver.received) == 1


def test_endpoint_failing_for_three_days_is_disabled_and_admins_are_emailed(
    hook, emit, receiver, admin, member, django_capture_on_commit_callbacks
):
    receiver.answer(*[500] * 40)
    start = timezone.now()
    (delivery,) = emit()
    with time_machine.travel(start + timedelta(days=3, minutes=1), tick=False):
        retry_now(deliveries_sweep, django_capture_on_commit_callbacks)

    delivery.refresh_from_db()
    webhook = OutboundWebhook.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert webhook.disabled_at is not None
    assert "three days" in webhook.disabled_reason
    (message,) = mail.outbox
    assert message.to == ["admin@acme.test"]
    assert webhook.url in message.body
    assert emit() == []


def test_events_go_only_to_endpoints_that_want_them(workspace, admin, receiver, emit):
    outbound_webhook_create(
        workspace=workspace, actor=admin, url=receiver.url, event_types=["task.created"]
    )
    assert emit(type="signal.refund") == []
    assert len(emit(type="task.created")) == 1


def test_redeliver_sends_the_same_event_again(
    hook, emit, receiver, admin, django_capture_on_commit_callbacks
):
    (delivery,) = emit()
    delivery.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        again = delivery_redeliver(delivery=delivery, actor=admin)

    first, second = (json.loads(r.body) for r in receiver.received)
    assert first["id"] == second["id"]
    assert Delivery.objects.get(pk=again.pk).status == DeliveryStatus.DELIVERED


def test_rotation_signs_with_old_and_new_secret_until_the_overlap_ends(hook, emit, receiver, admin):
    new_secret = outbound_webhook_rotate(webhook=hook, actor=admin, overlap=timedelta(hours=1))
    emit()
    timestamp, macs = signatures(receiver.received[-1].headers["Custory-Signature"])
    body = receiver.received[-1].body
    assert macs == [
        expected_mac(new_secret, timestamp, body),
        expected_mac(hook.plain_secret, timestamp, body),
    ]

    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        emit()
    timestamp, macs = signatures(receiver.received[-1].headers["Custory-Signature"])
    assert macs == [expected_mac(new_secret, timestamp, receiver.received[-1].body)]


def test_secrets_are_stored_encrypted(hook):
    stored = json.dumps(OutboundWebhook.objects.get().secrets)
    assert hook.plain_secret not in stored


def test_slack_format_posts_a_block_kit_message(workspace, admin, receiver, emit):
    outbound_webhook_create(
        workspace=workspace, actor=admin, url=receiver.url, event_types=[], format="slack"
    )
    emit(
        data={
            "title": "Payment failed",
            "summary": "€49.00 from Acme Inc — card declined",
            "url": "http://localhost:8000/w/acme/signals/1/",
            "fields": {"Step": "Pay & retain › Renewal"},
        }
    )
    message = json.loads(receiver.received[0].body)
    assert message["text"].startswith("Payment failed")
    types = [block["type"] for block in message["blocks"]]
    assert types == ["header", "section", "section", "actions", "context"]
    assert message["blocks"][3]["elements"][0]["url"].endswith("/signals/1/")


def test_encryption_rotate_reencrypts_outbound_secrets(hook, settings):
    old_key = settings.CUSTORY_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.CUSTORY_ENCRYPTION_KEYS = [new_key, old_key]
    crypto._fernet.cache_clear()
    try:
        call_command("encryption_rotate", stdout=io.StringIO())
        settings.CUSTORY_ENCRYPTION_KEYS = [new_key]
        crypto._fernet.cache_clear()
        assert active_secrets(OutboundWebhook.objects.get()) == [hook.plain_secret]
    finally:
        crypto._fernet.cache_clear()


def test_a_garbled_answer_is_retried(hook, emit, monkeypatch):
    def garbled(*args, **kwargs):
        raise http.client.BadStatusLine("HTTP/9 nonsense")

    monkeypatch.setattr("custory.outbound_jobs.post", garbled)
    (delivery,) = emit()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    assert "BadStatusLine" in delivery.error


def test_the_sweep_prunes_finished_deliveries_after_thirty_days(hook, emit):
    (delivery,) = emit()
    with time_machine.travel(timezone.now() + timedelta(days=29)):
        deliveries_sweep()
    assert Delivery.objects.filter(pk=delivery.pk).exists()
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        deliveries_sweep()
    assert not Delivery.objects.filter(pk=delivery.pk).exists()
