"""Writing the audit log; every service that changes something calls audit_record."""

from typing import Any

from django.db import models

from custory.models import AuditEvent, Workspace


def audit_record(
    *,
    workspace: Workspace,
    actor,
    action: str,
    target: models.Model | None = None,
    target_label: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one entry to the workspace's audit log; never put secrets in data."""
    actor_user = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
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
