"""Writing the audit log; every service that changes something calls audit_record."""

from collections.abc import Sequence
from typing import Any

from django.db import models

from custory.bulk_sql import rows_insert
from custory.models import AuditEvent, Workspace


def audit_entry(
    *,
    workspace: Workspace,
    actor,
    action: str,
    target: models.Model | None = None,
    target_label: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """One entry of the workspace's audit log, not yet saved; never put secrets in data."""
    actor_user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent(
        workspace=workspace,
        actor=actor_user,
        actor_label=actor_user.email if actor_user else (actor if isinstance(actor, str) else ""),
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(getattr(target, "uuid", None) or getattr(target, "pk", "") or "")
        if target is not None
        else "",
        target_label=target_label or (str(target) if target is not None else ""),
        data=data or {},
    )


def audit_record(**entry: Any) -> AuditEvent:
    """Append one entry (audit_entry's arguments) to the workspace's audit log."""
    event = audit_entry(**entry)
    event.save(force_insert=True)
    return event


def audit_record_many(entries: Sequence[AuditEvent]) -> None:
    """Append audit_entry()s in one insert, in their order."""
    rows_insert(AuditEvent, entries)
