"""Storing raw Stripe events (from the webhook or the history import) and queueing their processing.

An event is stored exactly once per workspace (the database constraint decides, not a check
first) and, in the same transaction, a drain job is asked for, so a job exists for every
committed event and no job exists for an event that was not committed.
"""

import json
from datetime import UTC, datetime

import psycopg
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from billing.event_types import PROCESSED_EVENT_TYPES
from billing.models import EventSource, EventStatus, StripeConnection, StripeEvent
from billing.pipeline import hot_sql
from billing.pipeline.jobs import drain_request
from custory.audit import audit_record
from custory.models import Workspace

_PROCESSED = frozenset(PROCESSED_EVENT_TYPES)


def _row(
    *,
    workspace_id: int,
    connection_id: int | None,
    payload: dict,
    source: str,
    now,
    ignore_unprocessed: bool = True,
):
    event_type = str(payload.get("type") or "")
    processed = event_type in _PROCESSED or not ignore_unprocessed
    return StripeEvent(
        workspace_id=workspace_id,
        connection_id=connection_id,
        stripe_id=payload["id"],
        type=event_type,
        api_version=str(payload.get("api_version") or ""),
        created=datetime.fromtimestamp(int(payload.get("created") or 0), tz=UTC),
        livemode=bool(payload.get("livemode")),
        payload=payload,
        source=source,
        status=EventStatus.PENDING if processed else EventStatus.IGNORED,
        received_at=now,
        next_attempt_at=now if processed else None,
    )


def event_receive(
    *, workspace_id: int, connection_id: int, payload: dict, source: str = EventSource.WEBHOOK
) -> bool:
    """Store one verified event and queue its processing atomically; False for a duplicate.

    The webhook's hot path: one INSERT … ON CONFLICT DO NOTHING (the constraint decides what
    is a duplicate) built once, instead of the ORM's per-call model and query building.
    """
    row = _row(
        workspace_id=workspace_id,
        connection_id=connection_id,
        payload=payload,
        source=source,
        now=timezone.now(),
    )
    sql, fields = hot_sql.event_insert_sql()
    values = [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, values)
        if cursor.fetchone() is None:
            return False  # billing_event_unique_per_workspace: Stripe delivered it before.
        if row.status == EventStatus.PENDING:
            drain_request()
    return True


def without_nul(value):
    """The JSON value without NUL characters in its strings and keys (JSONB refuses NUL)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


def livemode_refusal_count(*, connection_id: int) -> None:
    """Count one webhook event refused for its mode on the connection (the event log shows it)."""
    StripeConnection.objects.filter(pk=connection_id).update(
        livemode_refused=F("livemode_refused") + 1, livemode_refused_at=timezone.now()
    )


def events_store(
    *,
    connection: StripeConnection,
    payloads: list[dict],
    source: str = EventSource.IMPORT,
    wake: bool = True,
) -> int:
    """Insert events not stored yet (idempotent by constraint); return how many were new.

    Every event is stored `pending`, whatever its type: the import only asks Stripe for the
    types we process, and other callers (the demo generator) choose what they store. With
    wake=False the caller asks for the drain itself (the history import does, per job).
    """
    now = timezone.now()
    rows = [
        _row(
            workspace_id=connection.workspace_id,
            connection_id=connection.pk,
            payload=without_nul(payload),
            source=source,
            now=now,
            ignore_unprocessed=False,
        )
        for payload in payloads
    ]
    if not rows:
        return 0
    with transaction.atomic():
        ours = StripeEvent.objects.filter(workspace_id=connection.workspace_id)
        before = ours.count()
        StripeEvent.objects.bulk_create(rows, ignore_conflicts=True)
        stored = ours.count() - before
        if stored and wake:
            drain_request()
    return stored


def events_insert(
    *, connection: StripeConnection, payloads: list[dict], source: str
) -> list[StripeEvent]:
    """Insert the events not stored yet (by constraint), without counting them or waking a
    drain: the history import applies them itself, in the caller's transaction. Return the rows
    as built. On PostgreSQL those it inserted have their ids and are stored `processed` already
    (one write, not an insert and then an update; events_unapplied puts them back if applying
    fails); elsewhere all are `pending` and have no ids. A conflict leaves the stored row as it
    was."""
    now = timezone.now()
    rows = [
        _row(
            workspace_id=connection.workspace_id,
            connection_id=connection.pk,
            payload=payload,
            source=source,
            now=now,
            ignore_unprocessed=False,
        )
        for payload in payloads
    ]
    if _insert_returns_ids():
        for row in rows:
            row.status, row.attempts, row.processed_at = EventStatus.PROCESSED, 1, now
            row.next_attempt_at = None
    _rows_insert(rows)
    return rows


def _insert_returns_ids() -> bool:
    """Whether _rows_insert gives the rows it inserted their ids (PostgreSQL's statement)."""
    return connection.vendor == "postgresql"


def events_unapplied(*, ids: list[int]) -> None:
    """Put events events_insert stored `processed` back to `pending`: applying them failed."""
    StripeEvent.objects.filter(pk__in=ids).update(
        status=EventStatus.PENDING, attempts=0, processed_at=None, next_attempt_at=timezone.now()
    )


def _rows_insert(rows: list[StripeEvent]) -> None:
    """Insert new rows of one connection, source and time; on PostgreSQL by a hand-built
    statement (hot_sql.events_import_sql)."""
    if not _insert_returns_ids() or not rows:
        StripeEvent.objects.bulk_create(rows, ignore_conflicts=True)
        return
    first = rows[0]
    params = [
        first.workspace_id,
        first.connection_id,
        first.source,
        first.status,
        first.attempts,
        first.last_error,
        first.received_at,
        first.next_attempt_at,
        first.processed_at,
        [row.stripe_id for row in rows],
        [row.type for row in rows],
        [row.api_version for row in rows],
        [row.created for row in rows],
        [row.livemode for row in rows],
        [json.dumps(row.payload) for row in rows],
    ]
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(hot_sql.events_import_sql(), params, prepare=True)
        inserted = dict(cursor.fetchall())
    for row in rows:
        # An id listed twice was inserted once: the first of its rows takes it.
        row.pk = inserted.pop(row.stripe_id, None)


def event_retry(*, event: StripeEvent, actor) -> bool:
    """Queue one failed event for another try now; False if it is not failed any more."""
    with transaction.atomic():
        retried = StripeEvent.objects.filter(pk=event.pk, status=EventStatus.FAILED).update(
            status=EventStatus.PENDING, next_attempt_at=timezone.now()
        )
        if retried:
            audit_record(
                workspace=event.workspace,
                actor=actor,
                action="stripe.event_retry",
                target=event,
                data={"stripe_id": event.stripe_id, "type": event.type},
            )
            drain_request()
    return bool(retried)


def events_retry_failed(*, workspace: Workspace, actor) -> int:
    """Queue every failed event of the workspace for another try now; return how many."""
    with transaction.atomic():
        retried = StripeEvent.objects.filter(workspace=workspace, status=EventStatus.FAILED).update(
            status=EventStatus.PENDING, next_attempt_at=timezone.now()
        )
        if retried:
            audit_record(
                workspace=workspace,
                actor=actor,
                action="stripe.events_retry_failed",
                data={"events": retried},
            )
            drain_request()
    return retried
