"""Outbound webhooks: endpoints with rotating signing secrets, and the events they receive.

`outbound_emit` stores one Delivery per endpoint that wants the event, in the caller's
transaction, and asks for their delivery once it commits (custory.outbound_jobs). A delivery is
signed as Stripe signs its webhooks: `Custory-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`, one v1
per active secret, each the HMAC-SHA256 of "<t>.<raw body>".
"""

import json
import secrets
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from custory import crypto
from custory.audit import audit_record
from custory.batching import batch_memo
from custory.models import Delivery, OutboundFormat, OutboundWebhook, Workspace
from custory.outbound_http import OutboundRefused, target_resolve
from custory.outbound_jobs import deliveries_enqueue
from custory.outbound_signing import SECRET_PREFIX

# How long a replaced secret keeps signing after a rotation, so receivers can switch over.
ROTATION_OVERLAP = timedelta(hours=24)


def absolute_url(path: str) -> str:
    return settings.SITE_URL + path


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def url_check(url: str) -> None:
    """Refuse a URL outbound delivery would refuse, with a message for the form."""
    try:
        target_resolve(url)
    except OutboundRefused as error:
        raise ValidationError(str(error), code="outbound_refused") from error


def outbound_webhook_create(
    *,
    workspace: Workspace,
    actor,
    url: str,
    event_types: list[str],
    format: str = OutboundFormat.JSON,
) -> tuple[OutboundWebhook, str]:
    """Add an endpoint; returns it and its signing secret, which is shown only this once."""
    if format not in OutboundFormat.values:
        raise ValidationError("Choose JSON or Slack.", code="invalid_format")
    # Resolved before the transaction opens: a slow DNS answer holds no database lock.
    url_check(url)
    secret = secret_generate()
    with transaction.atomic():
        webhook = OutboundWebhook.objects.create(
            workspace=workspace,
            url=url,
            event_types=sorted(set(event_types)),
            format=format,
            secrets=[{"secret": crypto.encrypt(secret), "expires_at": None}],
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_record(
            workspace=workspace,
            actor=actor,
            action="outbound_webhook.create",
            target=webhook,
            data={"format": format, "events": webhook.event_types},
        )
    return webhook, secret


@transaction.atomic
def outbound_webhook_rotate(
    *, webhook: OutboundWebhook, actor, overlap: timedelta = ROTATION_OVERLAP
) -> str:
    """Add a new secret; the current ones keep signing for `overlap`. Returns the new secret."""
    webhook = OutboundWebhook.objects.select_for_update().get(pk=webhook.pk)
    now = timezone.now()
    until = (now + overlap).isoformat()
    kept = []
    for entry in webhook.secrets:
        expires = entry.get("expires_at")
        if expires and datetime.fromisoformat(expires) <= now:
            continue
        kept.append({**entry, "expires_at": min(expires, until) if expires else until})
    secret = secret_generate()
    webhook.secrets = [{"secret": crypto.encrypt(secret), "expires_at": None}, *kept]
    webhook.save(update_fields=["secrets"])
    audit_record(
        workspace=webhook.workspace,
        actor=actor,
        action="outbound_webhook.rotate",
        target=webhook,
        data={"overlap_hours": overlap.total_seconds() / 3600},
    )
    return secret


@transaction.atomic
def outbound_webhook_update(
    *, webhook: OutboundWebhook, actor, event_types: list[str], format: str
) -> OutboundWebhook:
    if format not in OutboundFormat.values:
        raise ValidationError("Choose JSON or Slack.", code="invalid_format")
    webhook.event_types = sorted(set(event_types))
    webhook.format = format
    webhook.save(update_fields=["event_types", "format"])
    audit_record(
        workspace=webhook.workspace,
        actor=actor,
        action="outbound_webhook.update",
        target=webhook,
        data={"format": format, "events": webhook.event_types},
    )
    return webhook


@transaction.atomic
def outbound_webhook_set_enabled(*, webhook: OutboundWebhook, actor, enabled: bool) -> None:
    """Turn an endpoint off, or back on (which forgets its failing streak)."""
    if enabled:
        OutboundWebhook.objects.filter(pk=webhook.pk).update(
            disabled_at=None, disabled_reason="", failing_since=None
        )
    else:
        OutboundWebhook.objects.filter(pk=webhook.pk, disabled_at__isnull=True).update(
            disabled_at=timezone.now(), disabled_reason="Turned off by an admin."
        )
    webhook.refresh_from_db()
    audit_record(
        workspace=webhook.workspace,
        actor=actor,
        action="outbound_webhook.enable" if enabled else "outbound_webhook.disable",
        target=webhook,
    )


@transaction.atomic
def outbound_webhook_delete(*, webhook: OutboundWebhook, actor) -> None:
    audit_record(
        workspace=webhook.workspace,
        actor=actor,
        action="outbound_webhook.delete",
        target=webhook,
        target_label=webhook.url,
    )
    webhook.delete()


def envelope(*, event_id, type: str, workspace: Workspace, data: dict[str, Any]) -> dict:
    """The stable shape every delivery has: id, type, created, workspace, data."""
    return {
        "id": str(event_id),
        "type": type,
        "created": int(timezone.now().timestamp()),
        "workspace": {
            "slug": workspace.slug,
            "name": workspace.name,
            "url": absolute_url(workspace.get_absolute_url()),
        },
        "data": json.loads(json.dumps(data, default=str)),
    }


def _endpoints(workspace_id: int) -> list[OutboundWebhook]:
    return batch_memo(
        ("outbound_webhooks", workspace_id),
        lambda: list(OutboundWebhook.objects.filter(workspace_id=workspace_id).enabled()),
    )


def outbound_wants(*, workspace_id: int, type: str) -> bool:
    """Whether any enabled endpoint of the workspace takes this event type (memoized per batch)."""
    return any(hook.wants(type) for hook in _endpoints(workspace_id))


def outbound_emit(
    *,
    workspace: Workspace,
    type: str,
    data: dict[str, Any],
    webhook: OutboundWebhook | None = None,
) -> list[Delivery]:
    """Store a Delivery for each enabled endpoint that wants `type` (or only for `webhook`,
    whatever types it takes); deliver after commit."""
    if webhook is not None:
        endpoints = [webhook] if webhook.enabled and webhook.workspace_id == workspace.pk else []
    else:
        endpoints = [hook for hook in _endpoints(workspace.pk) if hook.wants(type)]
    if not endpoints:
        return []
    payload = envelope(event_id=uuid4(), type=type, workspace=workspace, data=data)
    now = timezone.now()
    deliveries = Delivery.objects.bulk_create(
        [
            Delivery(
                webhook=hook,
                event_id=payload["id"],
                event_type=type,
                payload=payload,
                created_at=now,
                next_attempt_at=now,
            )
            for hook in endpoints
        ]
    )
    _deliver_on_commit(deliveries)
    return deliveries


@transaction.atomic
def delivery_redeliver(*, delivery: Delivery, actor) -> Delivery:
    """Send a delivery's event again, as a new delivery with the same event id."""
    now = timezone.now()
    again = Delivery.objects.create(
        webhook=delivery.webhook,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        payload=delivery.payload,
        created_at=now,
        next_attempt_at=now,
    )
    audit_record(
        workspace=delivery.webhook.workspace,
        actor=actor,
        action="outbound_webhook.redeliver",
        target=delivery.webhook,
        data={"event": str(delivery.event_id), "type": delivery.event_type},
    )
    _deliver_on_commit([again])
    return again


def _deliver_on_commit(deliveries: list[Delivery]) -> None:
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: deliveries_enqueue(ids=ids))
