"""The Django-Q job that imports a connection's last 30 days of events through the Stripe API."""

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing import crypto, stripe_api
from billing.connections import api_key_for
from billing.event_types import PROCESSED_EVENT_TYPES
from billing.ingest import events_store
from billing.models import (
    ConnectionStatus,
    EventSource,
    HistoryImport,
    ImportStatus,
    StripeConnection,
)

logger = logging.getLogger(__name__)


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
        stored = events_store(connection=connection, payloads=events, source=EventSource.IMPORT)
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


def history_import_run(import_id: int) -> None:
    """Page through /v1/events (newest first) and store each page; stop when told to."""
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
    try:
        for batch_number, types in enumerate(_type_batches(), start=1):
            starting_after = None
            while True:
                if _running(import_id) is None:
                    return
                page = stripe_api.events_page(
                    api_key=api_key,
                    types=types,
                    created_gte=created_gte,
                    starting_after=starting_after,
                )
                if page.events:
                    starting_after = page.events[-1]["id"]
                cursor = f"{batch_number}:{starting_after or ''}"
                if not _store_page(import_id, connection.pk, page.events, cursor):
                    return
                if not page.has_more or not page.events:
                    break
    except stripe_api.StripeAPIError as error:
        logger.warning("History import %s stopped: %s", import_id, error.kind)
        _finish(import_id, ImportStatus.FAILED, error.message)
        return
    except Exception:
        # Never leave an import "running" forever: that would block the next one.
        _finish(import_id, ImportStatus.FAILED, "The import stopped on an unexpected error.")
        raise
    _finish(import_id, ImportStatus.DONE)
