"""Signing outbound deliveries the way Stripe signs its webhooks."""

import hashlib
import hmac
from datetime import datetime

from django.utils import timezone

from custory import crypto
from custory.models import OutboundWebhook

SIGNATURE_HEADER = "Custory-Signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def signature_header(body: bytes, signing_secrets: list[str], *, timestamp: int) -> str:
    """`t=<unix>,v1=<hex>,…`: one HMAC-SHA256 of "<t>.<body>" per secret."""
    signed = f"{timestamp}.".encode() + body
    macs = [
        hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest() for secret in signing_secrets
    ]
    return ",".join([f"t={timestamp}", *(f"v1={mac}" for mac in macs)])


def active_secrets(webhook: OutboundWebhook, *, now: datetime | None = None) -> list[str]:
    """The endpoint's secrets that still sign, newest first, decrypted."""
    now = now or timezone.now()
    return [
        crypto.decrypt(entry["secret"])
        for entry in webhook.secrets
        if not entry.get("expires_at") or datetime.fromisoformat(entry["expires_at"]) > now
    ]
