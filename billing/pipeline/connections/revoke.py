"""Revoking a connection at once, and optionally deleting the data it brought."""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from billing.customer_figures import customer_figures_rebuild
from billing.models import (
    ConnectionStatus,
    Customer,
    EventStatus,
    HistoryImport,
    ImportStatus,
    RevenueSignal,
    StripeConnection,
    StripeEvent,
    Subscription,
)
from billing.pipeline.connections.rules import (
    actor_user,
    locked_active,
)
from billing.revenue_rollups import revenue_rollups_rebuild
from custory.audit import audit_record
from journeys.models import StepDailyRollup
from tasks.outbound_events import sync_problem_announce

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RevokeResult:
    secrets_erased: int
    imports_canceled: int
    events_ignored: int
    purged: dict[str, int] | None


def _purge(connection: StripeConnection) -> dict[str, int]:
    """Delete the data that came from this connection, and nothing else."""

    workspace = connection.workspace
    rollups, _ = StepDailyRollup.objects.filter(workspace=workspace, connection=connection).delete()
    signals = RevenueSignal.objects.filter(workspace=workspace).filter(
        Q(connection=connection) | Q(event__connection=connection)
    )
    _, signal_counts = signals.delete()
    subscriptions = Subscription.objects.filter(
        workspace=workspace, customer__connection=connection
    ).count()
    _, customer_counts = Customer.objects.filter(
        workspace=workspace, connection=connection
    ).delete()
    _, event_counts = StripeEvent.objects.filter(
        workspace=workspace, connection=connection
    ).delete()
    # Purged customers took their MRR movements with them; the signals purged may have been
    # another connection's customers'.
    revenue_rollups_rebuild(workspace=workspace)
    customer_figures_rebuild(workspace=workspace)
    return {
        "events": event_counts.get(StripeEvent._meta.label, 0),
        "signals": signal_counts.get(RevenueSignal._meta.label, 0)
        + event_counts.get(RevenueSignal._meta.label, 0),
        "customers": customer_counts.get(Customer._meta.label, 0),
        "subscriptions": subscriptions,
        "rollups": rollups,
    }


def _revoked_announce(connection: StripeConnection) -> None:
    """Tell outbound webhooks that events stopped: a sync problem."""
    sync_problem_announce(
        workspace=connection.workspace,
        type="sync.connection_revoked",
        summary=f"The Stripe connection {connection} was revoked: no more events arrive.",
        url=settings.SITE_URL
        + reverse("billing:stripe_settings", kwargs={"slug": connection.workspace.slug}),
        details={"connection": {"id": str(connection.uuid), "account": connection.account_id}},
    )


def connection_revoke(
    *, connection: StripeConnection, actor, delete_data: bool = False
) -> RevokeResult:
    """Revoke at once: erase the secrets, stop imports and queued work, optionally purge data."""
    with transaction.atomic():
        connection = locked_active(connection)
        now = timezone.now()
        secrets_erased, _ = connection.webhook_secrets.all().delete()
        had_key = bool(connection.api_key_encrypted)
        connection.status = ConnectionStatus.REVOKED
        connection.api_key_encrypted = ""
        connection.revoked_by = actor_user(actor)
        connection.revoked_at = now
        connection.save(update_fields=["status", "api_key_encrypted", "revoked_by", "revoked_at"])
        imports_canceled = HistoryImport.objects.filter(
            connection=connection, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]
        ).update(
            status=ImportStatus.CANCELED,
            finished_at=now,
            last_error="Stopped because the Stripe connection was revoked.",
        )
        # Queued jobs find their events ignored and do nothing.
        events_ignored = StripeEvent.objects.filter(
            workspace=connection.workspace,
            connection=connection,
            status__in=[EventStatus.PENDING, EventStatus.PROCESSING, EventStatus.FAILED],
        ).update(status=EventStatus.IGNORED, last_error="connection revoked", next_attempt_at=None)
        audit_record(
            workspace=connection.workspace,
            actor=actor,
            action="stripe.revoke",
            target=connection,
            data={
                "mode": connection.mode_label,
                "account_id": connection.account_id,
                "secrets_erased": secrets_erased,
                "api_key_erased": had_key,
                "imports_canceled": imports_canceled,
                "events_ignored": events_ignored,
                "delete_data": delete_data,
            },
        )
        _revoked_announce(connection)
        purged = None
        if delete_data:
            purged = _purge(connection)
            audit_record(
                workspace=connection.workspace,
                actor=actor,
                action="stripe.purge",
                target=connection,
                data=purged,
            )
    return RevokeResult(
        secrets_erased=secrets_erased,
        imports_canceled=imports_canceled,
        events_ignored=events_ignored,
        purged=purged,
    )
