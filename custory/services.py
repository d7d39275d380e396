"""Writes to the workspace core: workspaces, memberships and invitations, each audited."""

from django.db import transaction
from django.utils.text import slugify

from custory.audit import audit_record
from custory.models import Membership, Role, Workspace


def _unique_slug(name: str) -> str:
    base = slugify(name)[:40] or "workspace"
    slug, n = base, 1
    while Workspace.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def workspace_create(*, name: str, owner, slug: str | None = None) -> Workspace:
    """Create a workspace with its default journey and task rules; the owner becomes its admin."""
    from journeys.services import journey_install_default
    from tasks.services import task_rules_install_default

    workspace = Workspace.objects.create(name=name, slug=slug or _unique_slug(name))
    Membership.objects.create(workspace=workspace, user=owner, role=Role.ADMIN)
    journey_install_default(workspace=workspace)
    task_rules_install_default(workspace=workspace)
    audit_record(workspace=workspace, actor=owner, action="workspace.create", target=workspace)
    return workspace
