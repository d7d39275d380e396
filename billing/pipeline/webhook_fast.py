"""The Stripe webhook's fast path on PostgreSQL: a plain WSGI handler in front of Django.

custory.wsgi routes `/hooks/stripe/` here (setting CUSTORY_WSGI_FAST_ROUTES) before Django's
handler, so an ack skips the middleware, URL resolving and the per-request connection health
check. It answers exactly as billing.pipeline.webhooks does (same checks, reasons and statuses)
and hands back to Django (returns None) for anything unusual: not PostgreSQL, not a POST, no
Content-Length (chunked), a path that is not an endpoint, an unknown host, plain http where
SECURE_SSL_REDIRECT applies.

Per request: one HMAC check against secrets cached per process and one JSON parse; then the
event joins a group commit (group_commit.GroupCommit): the requests of a process that arrive
while a write is running are stored together by the next one, in one autocommit statement
(hot_sql.event_store_many_sql) and so one WAL flush, and each gets its own answer only after
that statement committed, so "200 means stored" holds. The statement re-checks, per event, that
the endpoint is active and the verifying secret still active, so a revoke or a retired secret
is refused at once, whatever a process cached; a new secret (rotation) that the cache does not
know makes it reload. If the database refuses a batch, each event is stored alone, so one bad
event fails only its own request; if the database is unreachable, every request is a 503.
"""

import contextlib
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

import psycopg
from django.conf import settings
from django.db import DatabaseError, connection
from django.http.request import split_domain_port, validate_host
from django.utils import timezone

from billing.event_types import PROCESSED_EVENT_TYPES
from billing.models import ConnectionStatus, EventDrainState, EventSource, EventStatus
from billing.pipeline import hot_sql
from billing.pipeline.group_commit import GroupCommit
from billing.pipeline.jobs import REARM_AFTER, drain_job_enqueue
from billing.pipeline.webhooks import (
    Rejected,
    event_parse,
    mode_check,
    rejection_log,
    secret_decrypted,
    signature_check,
)

logger = logging.getLogger("billing.pipeline.webhooks")

PREFIX = "/hooks/stripe/"
_PROCESSED = frozenset(PROCESSED_EVENT_TYPES)
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 410: "Gone", 413: "Payload Too Large"}
_REASONS[503] = "Service Unavailable"
_CACHE_MAX = 10_000
Response = tuple[str, list[tuple[str, str]], list[bytes]]


@dataclass(frozen=True)
class Endpoint:
    connection_id: int
    workspace_id: int
    status: str
    livemode: bool
    secrets: tuple[tuple[int, str], ...]  # (secret id, plaintext) of the active secrets


# uuid → Endpoint, per process. Only a hint: the store statement re-checks status and secret.
_endpoints: dict[uuid.UUID, Endpoint] = {}
_hosts: dict[str, bool] = {}


def stripe_webhook_app(environ: dict) -> Response | None:
    """Handle a webhook POST, or None to let Django handle the request."""
    endpoint = _endpoint_of(environ)
    if endpoint is None or not _ours(environ):
        return None
    status, message = _handle(environ, endpoint)
    body = (message + "\n").encode()
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("X-Content-Type-Options", "nosniff"),
    ]
    return f"{status} {_REASONS[status]}", headers, [body]


def _endpoint_of(environ: dict) -> uuid.UUID | None:
    path = environ.get("PATH_INFO", "")
    rest = path[len(PREFIX) :]
    if not path.startswith(PREFIX) or len(rest) != 37 or rest[-1] != "/" or rest != rest.lower():
        return None
    try:
        return uuid.UUID(rest[:-1])
    except ValueError:
        return None


def _ours(environ: dict) -> bool:
    """PostgreSQL, a POST with a length, a known host, and https where it is required."""
    if connection.vendor != "postgresql" or environ.get("REQUEST_METHOD") != "POST":
        return False
    if not (environ.get("CONTENT_LENGTH") or "").isdigit():
        return False
    if settings.SECURE_SSL_REDIRECT and not _secure(environ):
        return False
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    known = _hosts.get(host)
    if known is None:
        domain, _ = split_domain_port(host)
        known = bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)
        if len(_hosts) < 1000:
            _hosts[host] = known
    return known


def _secure(environ: dict) -> bool:
    if environ.get("wsgi.url_scheme") == "https":
        return True
    header, value = settings.SECURE_PROXY_SSL_HEADER or (None, None)
    return bool(header) and environ.get(header, "").split(",")[0].strip() == value


def _handle(environ: dict, endpoint: uuid.UUID) -> tuple[int, str]:
    length = int(environ["CONTENT_LENGTH"])
    try:
        if length > settings.STRIPE_WEBHOOK_MAX_BYTES:
            raise Rejected(413, "Body too large.")  # before reading it or touching the database
        body = environ["wsgi.input"].read(length)
        stored = _receive(endpoint, body, environ.get("HTTP_STRIPE_SIGNATURE"))
    except Rejected as rejected:
        rejection_log(endpoint, rejected)
        return rejected.status, rejected.reason
    except (psycopg.DataError, psycopg.IntegrityError):
        # The database is up but refuses these values (JSON that jsonb does not take, a value
        # longer than its column): retrying cannot help.
        rejection_log(endpoint, Rejected(400, "The event cannot be stored."))
        return 400, "The event cannot be stored."
    except (psycopg.Error, DatabaseError, OSError) as error:
        logger.error("Stripe webhook not stored (%s): database error", type(error).__name__)
        return 503, "Could not store the event; try again."
    return 200, "Stored." if stored else "Already stored."


def _receive(endpoint: uuid.UUID, body: bytes, header: str | None) -> bool:
    """Verify and store; True if new. Reloads the endpoint once when the cache was stale."""
    cached = _endpoints.get(endpoint)
    for fresh in (False, True) if cached else (True,):
        known = _endpoint_load(endpoint) if fresh else cached
        try:
            secret_id = signature_check(body, header, known.secrets)
        except Rejected:
            if fresh:
                raise
            continue  # maybe a secret added since we cached: look again
        payload = event_parse(body)
        mode_check(known.connection_id, known.livemode, payload)
        if b"\\u0000" in body:
            body = json.dumps(payload).encode()  # NUL stripped by event_parse: jsonb takes it
        endpoint_ok, inserted = _store(endpoint, secret_id, payload, body)
        if endpoint_ok:
            return inserted
        _endpoints.pop(endpoint, None)  # revoked or secret retired meanwhile: look again
    raise Rejected(400, "Invalid signature.")


def _endpoint_load(endpoint: uuid.UUID) -> Endpoint:
    rows = _execute(hot_sql.endpoint_secrets_sql(), [endpoint], fetch="all")
    _endpoints.pop(endpoint, None)
    if not rows:
        raise Rejected(404, "Unknown webhook endpoint.")
    connection_id, workspace_id, status, livemode = rows[0][:4]
    if status == ConnectionStatus.REVOKED:
        raise Rejected(410, "This webhook endpoint was revoked.")
    secrets = tuple(
        (secret_id, secret_decrypted(token))
        for *_, secret_id, token, retired_at in rows
        if secret_id is not None and token and retired_at is None
    )
    found = Endpoint(connection_id, workspace_id, status, bool(livemode), secrets)
    if len(_endpoints) >= _CACHE_MAX:
        _endpoints.clear()
    _endpoints[endpoint] = found
    return found


class _Row(NamedTuple):
    """One verified event on its way into a batch (the order of event_store_many_sql)."""

    endpoint: uuid.UUID
    secret_id: int
    stripe_id: str
    type: str
    api_version: str
    created: datetime
    livemode: bool
    payload: str
    received_at: datetime
    due: bool


def _store(endpoint: uuid.UUID, secret_id: int, payload: dict, body: bytes) -> tuple[bool, bool]:
    """(endpoint still active with that secret, event newly stored), once it is committed."""
    return _group_commit.submit(_row(endpoint, secret_id, payload, body))


def _row(endpoint: uuid.UUID, secret_id: int, payload: dict, body: bytes) -> _Row:
    event_type = payload["type"]
    return _Row(
        endpoint,
        secret_id,
        payload["id"],
        event_type,
        str(payload.get("api_version") or ""),
        datetime.fromtimestamp(payload["created"], tz=UTC),
        bool(payload.get("livemode")),
        body.decode("utf-8"),
        timezone.now(),
        event_type in _PROCESSED,
    )


def _store_many(rows: Sequence[_Row]) -> list[tuple[bool, bool] | Exception]:
    """Store a batch in one statement and one commit; if the database refuses it, store each
    row alone so that one bad row fails only its own request. A lost connection fails all."""
    try:
        return _store_batch(rows)
    except (psycopg.Error, DatabaseError) as error:
        if len(rows) == 1 or not _connection_usable():
            return [error] * len(rows)
    outcomes = []
    for row in rows:
        try:
            outcomes.extend(_store_batch([row]))
        except (psycopg.Error, DatabaseError) as error:
            outcomes.append(error)
    return outcomes


def _store_batch(rows: Sequence[_Row]) -> list[tuple[bool, bool]]:
    now = timezone.now()
    params = [
        *(list(column) for column in zip(*rows, strict=True)),
        EventSource.WEBHOOK.value,
        EventStatus.PENDING.value,
        EventStatus.IGNORED.value,
        now,
        EventStatus.PENDING.value,
        now - REARM_AFTER,
    ]
    results = _execute(hot_sql.event_store_many_sql(), params, fetch="all")
    if any(flipped for *_, flipped in results):
        _drain_enqueue()
    return [(bool(endpoint_ok), bool(inserted)) for endpoint_ok, inserted, _ in results]


# Up to every thread of a process in one batch (gunicorn.conf.py: 16 threads).
_group_commit: GroupCommit[_Row, tuple[bool, bool]] = GroupCommit(_store_many, max_batch=64)


def _connection_usable() -> bool:
    raw = connection.connection
    return raw is not None and not raw.closed and not raw.broken


def _drain_enqueue() -> None:
    """The event is committed; ask for its drain job. If that fails, lower the flag again so the
    next webhook asks (the every-minute sweep wakes a drain for anything due meanwhile)."""
    try:
        drain_job_enqueue()
    except Exception as error:
        logger.error("Drain job not enqueued (%s); the sweep will wake one", type(error).__name__)
        with contextlib.suppress(Exception):  # best effort: the sweep re-arms it anyway
            EventDrainState.objects.filter(pk=1).update(requested=False)


def _execute(sql: str, params: list, *, fetch: str):
    """Run one prepared statement on this thread's connection (server-side binding, autocommit
    outside a transaction). A connection that broke since its last use (no health check per
    request any more) is replaced and the statement tried once more: it is idempotent."""
    for attempt in (1, 2):
        try:
            connection.ensure_connection()
            with psycopg.Cursor(connection.connection) as cursor:
                cursor.execute(sql, params, prepare=True)
                return cursor.fetchall() if fetch == "all" else cursor.fetchone()
        except (psycopg.OperationalError, psycopg.InterfaceError):
            if attempt == 2 or connection.in_atomic_block:
                raise
            connection.close()
    raise AssertionError("unreachable")
