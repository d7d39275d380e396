"""Starting and canceling a history import of a connection."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from billing.models import (
    HistoryImport,
    ImportStatus,
    StripeConnection,
)
from billing.pipeline.connections.rules import (
    IMPORT_JOB,
    ConnectionRefused,
    actor_user,
    locked_active,
    require_active,
)
from custory.audit import audit_record

logger = logging.getLogger(__name__)


RUNNING_REFUSED = "An import is already running for this connection; wait for it to finish."


def _enqueue(history_import: HistoryImport) -> None:
    transaction.on_commit(
        lambda: async_task(
            IMPORT_JOB, history_import.pk, task_name=f"history-import-{history_import.pk}"
        )
    )


def history_import_start(
    *, connection: StripeConnection, actor, since: datetime | None = None, enqueue: bool = True
) -> HistoryImport:
    """Queue an import of the history from `since` (None: all of it); one at a time per
    connection. enqueue=False leaves running it to the caller (stripe_import)."""
    require_active(connection)
    if not connection.api_key_encrypted:
        raise ConnectionRefused(
            "Importing history needs a restricted API key with read access. Add one first.",
            code="no_key",
        )
    try:
        with transaction.atomic():
            connection = locked_active(connection)
            history_import = HistoryImport.objects.create(
                workspace=connection.workspace,
                connection=connection,
                since=since,
                started_by=actor_user(actor),
            )
            audit_record(
                workspace=connection.workspace,
                actor=actor,
                action="stripe.import_start",
                target=connection,
                data={
                    "import_id": history_import.pk,
                    "since": since.isoformat() if since else "all",
                },
            )
            if enqueue:
                _enqueue(history_import)
    except IntegrityError:
        raise ConnectionRefused(RUNNING_REFUSED, code="import_running") from None
    return history_import


def history_import_resume(*, history_import: HistoryImport, actor, enqueue: bool = True) -> bool:
    """Queue a canceled, failed or stalled import again: it continues from its cursors. False
    if it was not stopped (done, or running)."""
    require_active(history_import.connection)
    try:
        with transaction.atomic():
            locked_active(history_import.connection)
            stale = timezone.now() - timedelta(seconds=settings.CUSTORY_IMPORT_LEASE_SECONDS)
            stopped = Q(status__in=[ImportStatus.CANCELED, ImportStatus.FAILED])
            # A runner killed without a word (a job timed out, a host restarted) stalls it.
            stalled = Q(status=ImportStatus.RUNNING, heartbeat_at__lt=stale)
            resumed = (
                HistoryImport.objects.filter(stopped | stalled, pk=history_import.pk)
                .exclude(status=ImportStatus.QUEUED)
                .update(status=ImportStatus.QUEUED, finished_at=None, last_error="", owner="")
            )
            if resumed:
                audit_record(
                    workspace=history_import.workspace,
                    actor=actor,
                    action="stripe.import_resume",
                    target=history_import.connection,
                    data={"import_id": history_import.pk},
                )
                if enqueue:
                    _enqueue(history_import)
    except IntegrityError:
        raise ConnectionRefused(RUNNING_REFUSED, code="import_running") from None
    return bool(resumed)


def history_import_cancel(*, history_import: HistoryImport, actor) -> bool:
    """Stop a queued or running import after its current page; False if it had already ended."""
    with transaction.atomic():
        canceled = HistoryImport.objects.filter(
            pk=history_import.pk, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]
        ).update(
            status=ImportStatus.CANCELED,
            finished_at=timezone.now(),
            last_error="Canceled by an admin.",
        )
        if canceled:
            audit_record(
                workspace=history_import.workspace,
                actor=actor,
                action="stripe.import_cancel",
                target=history_import.connection,
                data={"import_id": history_import.pk},
            )
    return bool(canceled)
