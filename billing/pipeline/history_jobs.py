"""The Django-Q job that imports a connection's last 30 days of events through the Stripe API."""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.event_types import PROCESSED_EVENT_TYPES
from billing.models import (
    ConnectionStatus,
    EventSource,
    HistoryImport,
    ImportStatus,
    StripeConnection,
)
from billing.pipeline import stripe_api
from billing.pipeline.connections import IMPORT_JOB, api_key_for
from billing.pipeline.ingest import events_store
from billing.pipeline.jobs import drain_request
from custory import crypto

logger = logging.getLogger(__name__)

JOB = IMPORT_JOB


def _type_batches() -> list[list[str]]:
    """PROCESSED_EVENT_TYPES split into the groups Stripe accepts in one /v1/events request."""
    size = stripe_api.EVENTS_TYPES_PER_REQUEST
    types = list(PROCESSED_EVENT_TYPES)
    return [types[i : i + size] for i in range(0, len(types), size)]


def _running(import_id: int) -> HistoryImport | None:
    """The import, if it is still running and its connection still active; else None."""
    history_import = HistoryImport.objects.select_related("connection").filter(pk=import_id).first()
    if history_import is None or history_import.status != ImportStatus.RUNNING:
        return None
    if history_import.connection.status != ConnectionStatus.ACTIVE:
        return None
    return history_import


def _store_page(import_id: int, connection_id: int, events: list[dict], cursor: str) -> bool:
    """Store one page and count it, unless the import was stopped meanwhile; True if stored."""
    with transaction.atomic():
        # The same row lock as connection_revoke: a page is either stored before the revoke
        # (and then purged or ignored by it) or not at all.
        connection = StripeConnection.objects.select_for_update().get(pk=connection_id)
        running = HistoryImport.objects.filter(pk=import_id, status=ImportStatus.RUNNING)
        if connection.status != ConnectionStatus.ACTIVE or not running.exists():
            return False
        # The drain is asked for when this job ends (_finish/_hand_over), not once per page.
        stored = events_store(
            connection=connection, payloads=events, source=EventSource.IMPORT, wake=False
        )
        running.update(
            events_seen=F("events_seen") + len(events),
            events_stored=F("events_stored") + stored,
            cursor=cursor,
        )
    return True


def _finish(import_id: int, status: str, error: str = "") -> None:
    HistoryImport.objects.filter(pk=import_id, status=ImportStatus.RUNNING).update(
        status=status, last_error=error, finished_at=timezone.now()
    )
    # What was stored is processed by the same jobs as webhooks (billing.pipeline.jobs).
    drain_request()


def _parse_cursor(cursor: str) -> tuple[int, str | None]:
    """The cursor is "<batch index>:<last event id of the stored page>", empty at the start."""
    if not cursor:
        return 0, None
    batch, _, after = cursor.partition(":")
    return int(batch), after or None


def _hand_over(import_id: int) -> None:
    """Queue the rest of the import as a fresh job, unless it was stopped meanwhile."""
    from django_q.tasks import async_task

    requeued = HistoryImport.objects.filter(pk=import_id, status=ImportStatus.RUNNING).update(
        status=ImportStatus.QUEUED
    )
    if requeued:
        async_task(JOB, import_id, task_name=f"history-import-{import_id}")
        drain_request()


def history_import_run(import_id: int) -> None:
    """Page through /v1/events (newest first) and store each page; stop when told to.

    One job reads at most CUSTORY_IMPORT_PAGES_PER_JOB pages, then queues the rest as a new job,
    so no job outlives the cluster's timeout however long the history is.
    """
    claimed = HistoryImport.objects.filter(pk=import_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING
    )
    if not claimed:
        return
    history_import = _running(import_id)
    if history_import is None:
        return
    connection = history_import.connection
    try:
        api_key = api_key_for(connection)
    except crypto.InvalidToken:
        api_key = ""
    if not api_key:
        _finish(import_id, ImportStatus.FAILED, "This connection has no usable API key.")
        return
    created_gte = int(history_import.since.timestamp())
    batches = _type_batches()
    batch, starting_after = _parse_cursor(history_import.cursor)
    pages_left = getattr(settings, "CUSTORY_IMPORT_PAGES_PER_JOB", 20)
    try:
        while batch < len(batches):
            if _running(import_id) is None:
                return
            if pages_left == 0:
                _hand_over(import_id)
                return
            page = stripe_api.events_page(
                api_key=api_key,
                types=batches[batch],
                created_gte=created_gte,
                starting_after=starting_after,
            )
            pages_left -= 1
            if page.has_more and page.events:
                starting_after = page.events[-1]["id"]
            else:
                batch, starting_after = batch + 1, None
            cursor = f"{batch}:{starting_after or ''}"
            if not _store_page(import_id, connection.pk, page.events, cursor):
                return
    except stripe_api.StripeAPIError as error:
        logger.warning("History import %s stopped: %s", import_id, error.kind)
        _finish(import_id, ImportStatus.FAILED, error.message)
        return
    except Exception:
        # Never leave an import "running" forever: that would block the next one.
        _finish(import_id, ImportStatus.FAILED, "The import stopped on an unexpected error.")
        raise
    _finish(import_id, ImportStatus.DONE)
