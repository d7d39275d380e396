"""Starting and canceling a history import of a connection."""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_q.tasks import async_task

from billing.models import (
    STRIPE_EVENT_RETENTION,
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


def history_import_start(*, connection: StripeConnection, actor) -> HistoryImport:
    """Queue an import of the last 30 days of events; one at a time per connection."""

    require_active(connection)
    if not connection.api_key_encrypted:
        raise ConnectionRefused(
            "Importing history needs a restricted API key with Events: Read. Add one first.",
            code="no_key",
        )
    try:
        with transaction.atomic():
            connection = locked_active(connection)
            history_import = HistoryImport.objects.create(
                workspace=connection.workspace,
                connection=connection,
                since=timezone.now() - STRIPE_EVENT_RETENTION,
                started_by=actor_user(actor),
            )
            audit_record(
                workspace=connection.workspace,
                actor=actor,
                action="stripe.import_start",
                target=connection,
                data={"import_id": history_import.pk, "since": history_import.since.isoformat()},
            )
            transaction.on_commit(
                lambda: async_task(
                    IMPORT_JOB,
                    history_import.pk,
                    task_name=f"history-import-{history_import.pk}",
                )
            )
    except IntegrityError:
        raise ConnectionRefused(
            "An import is already running for this connection; wait for it to finish.",
            code="import_running",
        ) from None
    return history_import


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
