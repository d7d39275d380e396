"""Helpers for the ingestion tests: a connection with a known signing secret, signed posts."""

import json
import time
import uuid

from billing.models import WebhookSecret
from custory import crypto
from tests.factories import StripeConnectionFactory
from tests.stripe_signing import sign_payload

SECRET = "whsec_testsecretforpipelinetests0123456789"


def connection_with_secret(workspace, secret: str = SECRET, **kwargs):
    connection = StripeConnectionFactory(workspace=workspace, **kwargs)
    WebhookSecret.objects.create(
        connection=connection, secret_encrypted=crypto.encrypt(secret), hint=crypto.mask(secret)
    )
    return connection


def event_payload(event_type: str = "invoice.payment_failed", **extra) -> dict:
    payload = {
        "id": f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": {"id": f"in_{uuid.uuid4().hex[:14]}", "object": "invoice"}},
    }
    payload.update(extra)
    return payload


def post_signed(client, connection, body, *, secret: str = SECRET, timestamp=None, **headers):
    """POST a body (dict → JSON, or raw bytes) to the connection's endpoint, signed by `secret`."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signature = sign_payload(raw, secret, timestamp)
    return client.post(
        connection.webhook_path(),
        data=raw,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
        **headers,
    )
