"""Inbound evidence webhooks: one per workspace and source, signed with its own HMAC secret.

`X-Custory-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>`.
"""

import hashlib
import hmac
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from billing.evidence import BatchResult, evidence_record, posthog_item
from custory.audit import audit_record
from custory.crypto import decrypt, encrypt
from custory.models import InboundWebhook, Workspace

SIGNATURE_HEADER = "X-Custory-Signature"


def hook_url(hook: InboundWebhook) -> str:
    return settings.SITE_URL + reverse("evidence_webhook", kwargs={"endpoint": hook.uuid})


@transaction.atomic
def evidence_hook_create(*, workspace: Workspace, source: str, actor) -> tuple[InboundWebhook, str]:
    """A signed webhook for a source; the source's active one is revoked first (a rotation)."""
    now = timezone.now()
    InboundWebhook.objects.filter(
        workspace=workspace, source=source, revoked_at__isnull=True
    ).update(revoked_at=now)
    secret = "evsec_" + secrets.token_urlsafe(32)
    hook = InboundWebhook.objects.create(
        workspace=workspace,
        source=source,
        secret_encrypted=encrypt(secret),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="evidence_webhook.create",
        target=hook,
        data={"source": source},
    )
    return hook, secret


def evidence_hooks_active(workspace: Workspace) -> list[InboundWebhook]:
    return list(InboundWebhook.objects.filter(workspace=workspace, revoked_at__isnull=True))


def signature_for(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(hook: InboundWebhook, body: bytes, header: str) -> bool:
    scheme, _, provided = (header or "").strip().partition("=")
    if scheme != "sha256" or not provided:
        return False
    expected = signature_for(decrypt(hook.secret_encrypted), body)
    return hmac.compare_digest(expected, f"sha256={provided.strip().lower()}")


def posthog_receive(*, hook: InboundWebhook, payload: Any) -> BatchResult:
    return evidence_record(
        workspace=hook.workspace, items=[posthog_item(payload, source=hook.source)]
    )
