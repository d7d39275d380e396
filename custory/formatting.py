"""How people read times, durations and audit entries: one date format, words over raw numbers."""

from datetime import UTC, date, datetime
from typing import Any

from django.utils import timezone

DATE_FORMAT = "%-d %b %Y"  # 3 Dec 2026
DATETIME_FORMAT = "%-d %b %Y, %H:%M"  # 3 Dec 2026, 09:15 (UTC)


def day_text(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if timezone.is_aware(value) else value
    return value.strftime(DATE_FORMAT)


def when_text(value: datetime | str | None) -> str:
    """A datetime (or an ISO 8601 string) as "3 Dec 2026, 09:15 UTC"; other text as it is."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if timezone.is_aware(value):
        value = value.astimezone(UTC)
    return value.strftime(DATETIME_FORMAT) + " UTC"


_UNITS = [("day", 86400), ("h", 3600), ("min", 60)]


def duration_text(seconds: float | None) -> str:
    """Seconds in words: 0.25 → "250 ms", 12.5 → "12.5 s", 1251918.9 → "14 days 11 h"."""
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    parts = []
    rest = int(round(seconds))
    for name, size in _UNITS:
        count, rest = divmod(rest, size)
        if count:
            label = f"{count} {name}" + ("s" if name == "day" and count > 1 else "")
            parts.append(label)
        if len(parts) == 2:
            break
    return " ".join(parts) or f"{rest} s"


# Audit entries as sentences: "Ann revoked the Stripe connection acct_123".
_VERBS = {
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "enable": "turned on",
    "disable": "turned off",
    "move": "moved",
    "revoke": "revoked",
    "accept": "accepted",
    "cancel": "cancelled",
    "resend": "resent",
    "remove": "removed",
    "leave": "left",
    "assign": "assigned",
    "status": "changed the status of",
    "rotate": "rotated the secret of",
    "redeliver": "redelivered",
    "connect": "connected",
    "role_change": "changed the role of",
    "make_default": "made default",
    "preference": "changed the preferences of",
}
_NOUNS = {
    "stripe": "Stripe",
    "api_token": "API token",
    "mapping_rule": "mapping rule",
    "task_rule": "task rule",
    "outbound_webhook": "webhook",
    "evidence_webhook": "evidence webhook",
    "evidence_rule": "evidence rule",
    "digest": "digest",
    "membership": "membership",
}
# Stripe's actions read better written out.
_PHRASES = {
    "stripe.connect": "connected Stripe",
    "stripe.revoke": "revoked the Stripe connection",
    "stripe.purge": "purged the Stripe data of",
    "stripe.key_replace": "replaced the Stripe API key of",
    "stripe.key_verify": "verified the Stripe API key of",
    "stripe.secret_add": "added a webhook signing secret to",
    "stripe.secret_retire": "retired a webhook signing secret of",
    "stripe.endpoint_create": "created a webhook endpoint for",
    "stripe.import_start": "started a history import for",
    "stripe.import_cancel": "cancelled the history import of",
    "stripe.event_retry": "retried the Stripe event",
    "stripe.events_retry_failed": "retried the failed Stripe events of",
    "stripe.encryption_rotate": "re-encrypted the secrets of",
    "membership.leave": "left the workspace",
    "membership.role_change": "changed the role of",
    "membership.remove": "removed the member",
    "invitation.accept": "accepted the invitation",
}


def audit_sentence(*, actor: str, action: str, target: str) -> str:
    """One line a person reads: who did what to what."""
    phrase = _PHRASES.get(action)
    if phrase is None:
        noun, _, verb = action.partition(".")
        noun_text = _NOUNS.get(noun, noun.replace("_", " "))
        phrase = f"{_VERBS.get(verb, verb.replace('_', ' '))} {noun_text}".strip()
        if verb == "make_default":
            phrase = f"made {noun_text} the default:"
    sentence = f"{actor or 'Custory'} {phrase}"
    if target:
        sentence += f" “{target}”"
    return sentence + "."


def audit_detail_text(key: str, value: Any) -> str:
    """A detail of an audit entry as "Role: admin" rather than role=admin."""
    label = key.replace("_", " ").capitalize()
    if isinstance(value, bool):
        value = "yes" if value else "no"
    return f"{label}: {when_text(value) if _looks_like_time(value) else value}"


def _looks_like_time(value: Any) -> bool:
    return isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T"
