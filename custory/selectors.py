"""Reads of the workspace core that views share."""

from django.db.models import QuerySet

from custory.forms import SYSTEM_ACTOR
from custory.models import ApiToken, AuditEvent, Membership, Workspace

# Keys whose values the audit page never shows, whatever a service put into an event's data.
SECRET_WORDS = ("secret", "password", "token", "key", "signature", "credential")


def audit_filter_choices(workspace: Workspace) -> tuple[list[str], list[str]]:
    """The distinct actions and actor labels in a workspace's log, for the filter menus."""
    events = AuditEvent.objects.for_workspace(workspace).order_by()
    actions = sorted(set(events.values_list("action", flat=True).distinct()))
    actors = sorted(set(events.values_list("actor_label", flat=True).distinct()))
    return actions, actors


def audit_events(
    workspace: Workspace, *, action="", actor="", date_from=None, date_to=None
) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.for_workspace(workspace)
    if action:
        events = events.filter(action=action)
    if actor:
        events = events.filter(actor_label="" if actor == SYSTEM_ACTOR else actor)
    if date_from:
        events = events.filter(at__date__gte=date_from)
    if date_to:
        events = events.filter(at__date__lte=date_to)
    return events.order_by("-at", "-id")


def audit_data_for_display(data) -> list[tuple[str, str]]:
    """An event's data as (key, value) pairs, with anything secret-looking masked."""
    if not isinstance(data, dict):
        return [("data", str(data))]
    pairs = []
    for key, value in sorted(data.items()):
        if any(word in str(key).lower() for word in SECRET_WORDS):
            value = "••••••"
        pairs.append((str(key), value if isinstance(value, str) else str(value)))
    return pairs


def api_tokens_visible(workspace: Workspace, membership: Membership):
    """A member's own tokens; an admin sees every token of the workspace."""
    tokens = ApiToken.objects.filter(workspace=workspace).select_related("user", "workspace")
    if not membership.is_admin:
        tokens = tokens.filter(user=membership.user)
    return tokens
