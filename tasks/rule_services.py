"""Writes to task rules: each one transaction that writes its AuditEvent."""

from typing import Any

from django.db import transaction

from billing.models import SignalKind
from custory.audit import audit_record
from custory.models import Role, User, Workspace
from journeys.conditions import ConditionError
from tasks.conditions import conditions_validate
from tasks.models import TaskPriority, TaskRule
from tasks.services import TaskError, assignee_check
from tasks.templating import template_errors

RULE_FIELDS = (
    "name",
    "enabled",
    "kinds",
    "conditions",
    "title_template",
    "description_template",
    "assignment",
    "assignee",
    "assign_role",
    "priority",
    "due_in_days",
    "resolve_kinds",
    "annotate_kinds",
)


def _rule_check(workspace: Workspace, fields: dict[str, Any]) -> dict[str, Any]:
    """The rule's fields as stored, or TaskError saying what is wrong."""
    kinds_valid = set(SignalKind.values)
    for key in ("kinds", "resolve_kinds", "annotate_kinds"):
        fields[key] = [str(kind) for kind in fields.get(key) or []]
        if set(fields[key]) - kinds_valid:
            raise TaskError(f"Unknown signal kind in {key.replace('_', ' ')}.")
    if not fields["kinds"]:
        raise TaskError("Choose at least one signal kind that opens a task.")
    if set(fields["kinds"]) & (set(fields["resolve_kinds"]) | set(fields["annotate_kinds"])):
        raise TaskError("A signal kind cannot both open a task and close or annotate it.")
    try:
        fields["conditions"] = conditions_validate(fields.get("conditions") or {})
    except ConditionError as error:
        raise TaskError(str(error)) from error
    for key in ("title_template", "description_template"):
        errors = template_errors(fields.get(key) or "")
        if errors:
            raise TaskError(errors[0])
    if fields.get("priority") not in TaskPriority.values:
        raise TaskError("Choose a priority from the list.")
    assignment = fields.get("assignment")
    if assignment == TaskRule.Assignment.MEMBER:
        if fields.get("assignee") is None:
            raise TaskError("Choose the member who gets this rule's tasks.")
        assignee_check(workspace=workspace, assignee=fields["assignee"])
        fields["assign_role"] = ""
    elif assignment == TaskRule.Assignment.ROUND_ROBIN:
        if fields.get("assign_role") not in Role.values:
            raise TaskError("Choose the role whose members take turns.")
        fields["assignee"] = None
    elif assignment == TaskRule.Assignment.NOBODY:
        fields["assignee"], fields["assign_role"] = None, ""
    else:
        raise TaskError("Choose how tasks are assigned.")
    return fields


@transaction.atomic
def task_rule_create(*, workspace: Workspace, actor: User, **fields: Any) -> TaskRule:
    fields = _rule_check(workspace, {key: fields.get(key) for key in RULE_FIELDS})
    fields["enabled"] = bool(fields["enabled"])
    rule = TaskRule.objects.create(workspace=workspace, **fields)
    audit_record(
        workspace=workspace,
        actor=actor,
        action="task_rule.create",
        target=rule,
        data={"kinds": rule.kinds, "enabled": rule.enabled},
    )
    return rule


@transaction.atomic
def task_rule_update(*, rule: TaskRule, actor: User, **fields: Any) -> TaskRule:
    fields = _rule_check(rule.workspace, {key: fields.get(key) for key in RULE_FIELDS})
    fields["enabled"] = bool(fields["enabled"])
    changed = [key for key in RULE_FIELDS if getattr(rule, key) != fields[key]]
    if not changed:
        return rule
    for key in changed:
        setattr(rule, key, fields[key])
    rule.save()
    audit_record(
        workspace=rule.workspace,
        actor=actor,
        action="task_rule.update",
        target=rule,
        data={"fields": [key.replace("_", " ") for key in changed]},
    )
    return rule


@transaction.atomic
def task_rule_set_enabled(*, rule: TaskRule, actor: User, enabled: bool) -> TaskRule:
    if rule.enabled == enabled:
        return rule
    rule.enabled = enabled
    rule.save(update_fields=["enabled"])
    audit_record(
        workspace=rule.workspace,
        actor=actor,
        action="task_rule.enable" if enabled else "task_rule.disable",
        target=rule,
    )
    return rule
