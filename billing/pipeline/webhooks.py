"""The Stripe webhook endpoint: verify, store the raw event with its job, answer in milliseconds.

Answers: 200 stored (or already stored), 400 with a one-line reason, 404 unknown endpoint,
410 revoked endpoint, 405 not POST, 413 body over STRIPE_WEBHOOK_MAX_BYTES (refused before it
is read), 503 only when the database is unavailable (Stripe retries); a body that can never be
stored is a 400, so it is not retried for days. Rejections are logged with their reason only:
never the body, the signature header or a secret.
"""

import json
import logging
import time
from collections.abc import Iterable
from functools import lru_cache
from typing import TypeVar

import stripe
from django.conf import settings
from django.db import DatabaseError, DataError, IntegrityError, connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.models import ConnectionStatus, EventSource, StripeConnection
from billing.pipeline import hot_sql
from billing.pipeline.ingest import event_receive, livemode_refusal_count, without_nul
from custory import crypto

logger = logging.getLogger(__name__)

MAX_EVENT_ID_LENGTH = 255
K = TypeVar("K")


class Rejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _plain(message: str, status: int) -> HttpResponse:
    return HttpResponse(message + "\n", status=status, content_type="text/plain")


@lru_cache(maxsize=1024)
def secret_decrypted(token: str) -> str | None:
    """A signing secret, decrypted once per process (the token changes when the secret does)."""
    try:
        return crypto.decrypt(token)
    except (crypto.InvalidToken, crypto.EncryptionNotConfigured):
        return None


def _endpoint(endpoint) -> tuple[int, int, bool, list[str]]:
    """(connection id, workspace id, livemode, active secrets) in one query; or Rejected."""
    uuid_field = StripeConnection._meta.get_field("uuid")
    with connection.cursor() as cursor:
        cursor.execute(hot_sql.endpoint_sql(), [uuid_field.get_db_prep_value(endpoint, connection)])
        rows = cursor.fetchall()
    if not rows:
        raise Rejected(404, "Unknown webhook endpoint.")
    connection_id, workspace_id, status, livemode = rows[0][:4]
    if status == ConnectionStatus.REVOKED:
        raise Rejected(410, "This webhook endpoint was revoked.")
    tokens = [token for *_, token, retired_at in rows if token and retired_at is None]
    return connection_id, workspace_id, bool(livemode), tokens


def _body(request: HttpRequest) -> bytes:
    """The body, refused with 413 before it is read whole when it is too large."""
    limit = settings.STRIPE_WEBHOOK_MAX_BYTES
    declared = request.META.get("CONTENT_LENGTH")
    if declared:
        try:
            length = int(declared)
        except ValueError:
            raise Rejected(400, "Invalid Content-Length.") from None
        if length > limit:
            raise Rejected(413, "Body too large.")
        return request.body
    # No length (chunked): read at most one byte more than allowed from what the server gives.
    stream = request.META.get("wsgi.input") if request.META.get("wsgi.input_terminated") else None
    body = (stream or request).read(limit + 1)
    if len(body) > limit:
        raise Rejected(413, "Body too large.")
    return body


def _verify(body: bytes, header: str | None, tokens: list[str]) -> None:
    """Check Stripe-Signature against every active secret (tolerance 300 s); or Rejected."""
    signature_check(body, header, ((token, secret_decrypted(token)) for token in tokens))


def signature_check(body: bytes, header: str | None, secrets: Iterable[tuple[K, str | None]]) -> K:
    """The key of the first (key, secret) whose secret signed this body; or Rejected.

    Shared by the Django view and the WSGI fast path (webhook_fast), so both answer the same.
    """
    if not header:
        raise Rejected(400, "Missing Stripe-Signature header.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(400, "Body is not UTF-8 JSON.") from None
    stale = False
    for key, secret in secrets:
        if not secret:
            continue
        try:
            stripe.WebhookSignature.verify_header(
                text, header, secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE
            )
        except stripe.SignatureVerificationError as error:
            message = str(error)
            if message.startswith("Timestamp outside the tolerance zone"):
                stale = True
            elif message.startswith(("Unable to extract", "No signatures found with expected")):
                raise Rejected(400, "Malformed Stripe-Signature header.") from None
            continue
        _not_in_the_future(header)
        return key
    if stale:
        raise Rejected(400, "Signature timestamp is too old (more than 300 s).")
    raise Rejected(400, "Invalid signature.")


def _not_in_the_future(header: str) -> None:
    """Stripe's library refuses old timestamps only; one too far ahead is refused the same way."""
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            if int(value) > time.time() + settings.STRIPE_WEBHOOK_TOLERANCE:
                raise Rejected(400, "Signature timestamp is in the future (more than 300 s).")
            return


def event_parse(body: bytes) -> dict:
    try:
        payload = json.loads(body)
    except ValueError:
        raise Rejected(400, "Body is not JSON.") from None
    except RecursionError:
        raise Rejected(400, "Body is nested too deeply.") from None
    if b"\\u0000" in body:
        # PostgreSQL's JSONB refuses NUL characters: strip them (rare, so checked on the bytes).
        payload = without_nul(payload)
    if not (
        isinstance(payload, dict)
        and payload.get("object") == "event"
        and isinstance(payload.get("id"), str)
        and payload["id"].startswith("evt_")
        and len(payload["id"]) <= MAX_EVENT_ID_LENGTH
        and isinstance(payload.get("type"), str)
        and payload["type"]
        and isinstance(payload.get("created"), int)
        and not isinstance(payload.get("created"), bool)
        and 0 <= payload["created"] < 2**33
    ):
        raise Rejected(400, "Body is not a Stripe event.")
    return payload


def mode_check(connection_id: int, livemode: bool, payload: dict) -> None:
    """An event of the other mode (live on a test connection or back) is refused and counted."""
    sent = payload.get("livemode")
    if isinstance(sent, bool) and sent != livemode:
        livemode_refusal_count(connection_id=connection_id)
        mode, other = ("live", "test") if livemode else ("test", "live")
        raise Rejected(400, f"A {other}-mode event was sent to this {mode}-mode connection.")


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest, endpoint) -> HttpResponse:
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > settings.STRIPE_WEBHOOK_MAX_BYTES:
        # Refused before touching the database or the body.
        return _reject(endpoint, Rejected(413, "Body too large."))
    try:
        connection_id, workspace_id, livemode, tokens = _endpoint(endpoint)
        body = _body(request)
        _verify(body, request.headers.get("Stripe-Signature"), tokens)
        payload = event_parse(body)
        mode_check(connection_id, livemode, payload)
        stored = event_receive(
            workspace_id=workspace_id,
            connection_id=connection_id,
            payload=payload,
            source=EventSource.WEBHOOK,
        )
    except Rejected as rejected:
        return _reject(endpoint, rejected)
    except RecursionError:
        return _reject(endpoint, Rejected(400, "Body is nested too deeply."))
    except (DataError, IntegrityError) as error:
        # The database is up but refuses these values: retrying cannot help.
        logger.error("Stripe webhook not storable (%s)", type(error).__name__)
        return _reject(endpoint, Rejected(400, "The event cannot be stored."))
    except DatabaseError as error:
        logger.error("Stripe webhook not stored (%s): database error", type(error).__name__)
        return _plain("Could not store the event; try again.", 503)
    return _plain("Stored." if stored else "Already stored.", 200)


def _reject(endpoint, rejected: Rejected) -> HttpResponse:
    rejection_log(endpoint, rejected)
    return _plain(rejected.reason, rejected.status)


def rejection_log(endpoint, rejected: Rejected) -> None:
    """One line with the status and reason: never the body, the signature header or a secret."""
    logger.warning(
        "Stripe webhook rejected: %s %s (endpoint %s…)",
        rejected.status,
        rejected.reason,
        str(endpoint)[:8],
    )
