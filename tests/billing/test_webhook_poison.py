"""Webhook bodies that can never succeed are a 400 (not a 500 or 503 Stripe retries for days)."""

import json
import time

import pytest
from django.db import DataError, IntegrityError, OperationalError

from billing.models import Customer, EventStatus, StripeConnection, StripeEvent
from billing.pipeline import webhooks
from tests.billing.pipeline_helpers import connection_with_secret, event_payload, post_signed

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection(workspace):
    return connection_with_secret(workspace)


def _nested(depth: int) -> bytes:
    return b'{"id": "evt_deep", "object": "event", "type": "x.y", "created": 1, "data": ' + (
        b"[" * depth + b"]" * depth + b"}"
    )


def test_a_body_nested_5000_levels_deep_is_400(client, connection):
    response = post_signed(client, connection, _nested(5000))
    assert response.status_code == 400
    assert response.content == b"Body is nested too deeply.\n"
    assert not StripeEvent.objects.exists()


def test_a_body_nested_a_little_deep_is_stored(client, connection):
    assert post_signed(client, connection, _nested(200)).status_code == 200
    assert StripeEvent.objects.filter(stripe_id="evt_deep").exists()


def test_an_event_with_nul_characters_is_stored_without_them_and_processed(
    client, connection, django_capture_on_commit_callbacks
):
    payload = event_payload(
        "customer.created",
        data={"object": {"id": "cus_nul", "object": "customer", "name": "Ann\u0000Lee"}},
    )
    payload["data"]["object"]["metadata"] = {"k\u0000ey": "v\u0000"}
    with django_capture_on_commit_callbacks(execute=True):
        response = post_signed(client, connection, payload)
    assert response.status_code == 200
    event = StripeEvent.objects.get(stripe_id=payload["id"])
    assert event.status == EventStatus.PROCESSED
    assert event.payload["data"]["object"]["name"] == "AnnLee"
    assert event.payload["data"]["object"]["metadata"] == {"key": "v"}
    assert Customer.objects.get(stripe_id="cus_nul").name == "AnnLee"


def test_a_nul_in_the_event_type_is_stripped_too(client, connection):
    payload = event_payload("invoice.paid\u0000")
    assert post_signed(client, connection, payload).status_code == 200
    assert StripeEvent.objects.get(stripe_id=payload["id"]).type == "invoice.paid"


@pytest.mark.parametrize("error", [DataError, IntegrityError])
def test_values_the_database_refuses_are_400(client, connection, monkeypatch, error):
    def refuse(**kwargs):
        raise error("value refused")

    monkeypatch.setattr(webhooks, "event_receive", refuse)
    response = post_signed(client, connection, event_payload())
    assert (response.status_code, response.content) == (400, b"The event cannot be stored.\n")


def test_only_an_unavailable_database_is_503(client, connection, monkeypatch):
    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(webhooks, "event_receive", down)
    assert post_signed(client, connection, event_payload()).status_code == 503


def test_a_timestamp_more_than_300_s_in_the_future_is_400(client, connection):
    response = post_signed(client, connection, event_payload(), timestamp=time.time() + 330)
    assert response.status_code == 400
    assert response.content == b"Signature timestamp is in the future (more than 300 s).\n"
    assert not StripeEvent.objects.exists()


def test_a_timestamp_a_little_in_the_future_is_accepted(client, connection):
    response = post_signed(client, connection, event_payload(), timestamp=time.time() + 250)
    assert response.status_code == 200


def test_a_live_event_on_a_test_connection_is_refused_and_counted(client, connection):
    response = post_signed(client, connection, event_payload(livemode=True))
    assert response.status_code == 400
    assert response.content == b"A live-mode event was sent to this test-mode connection.\n"
    post_signed(client, connection, event_payload(livemode=True))
    connection.refresh_from_db()
    assert connection.livemode_refused == 2
    assert connection.livemode_refused_at is not None
    assert not StripeEvent.objects.exists()


def test_a_test_event_on_a_live_connection_is_refused(client, workspace):
    live = connection_with_secret(workspace, livemode=True)
    response = post_signed(client, live, event_payload(livemode=False))
    assert response.content == b"A test-mode event was sent to this live-mode connection.\n"
    assert post_signed(client, live, event_payload(livemode=True)).status_code == 200


def test_the_event_log_counts_events_refused_for_their_mode(client_for, admin, connection):
    StripeConnection.objects.filter(pk=connection.pk).update(livemode_refused=3)
    html = client_for(admin).get("/w/acme/settings/stripe/events/").content.decode()
    assert 'data-testid="livemode-refused">3' in html


def test_json_escapes_of_a_backslash_are_not_mistaken_for_nul(client, connection):
    payload = event_payload(description="C:\\u0000dir")
    assert post_signed(client, connection, json.dumps(payload).encode()).status_code == 200
    stored = StripeEvent.objects.get(stripe_id=payload["id"]).payload
    assert stored["description"] == "C:\\u0000dir"
