"""Writes to a journey's mapping rules, each in one transaction and audited; every change queues
a remap of the signals it may move (journeys.services.remap_request).
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from billing.models import SignalKind
from custory.audit import audit_record
from journeys.conditions import ConditionError, conditions_validate
from journeys.models import Journey, MappingRule, Step
from journeys.services import UP, position_swap, remap_request, rule_default_name


def _rule_clean(
    *, journey: Journey, name: str, kinds: list[str], step: Step | None, conditions: Any
) -> dict[str, Any]:
    """A rule's fields as stored, or ValidationError keyed by the form field at fault."""
    errors: dict[str, Any] = {}
    name = (name or "").strip()
    if len(name) > 100:
        errors["name"] = "Keep the name under 100 characters."
    if not isinstance(kinds, list | tuple) or not kinds:
        errors["kinds"] = "Choose at least one signal kind."
    else:
        unknown = [k for k in kinds if k not in SignalKind.values]
        if unknown:
            errors["kinds"] = f"Unknown signal kind: {', '.join(map(str, unknown))}."
    if step is None:
        errors["step"] = "Choose the step these signals belong on."
    elif step.journey_id != journey.pk or step.workspace_id != journey.workspace_id:
        errors["step"] = "Choose a step of this journey."
    try:
        conditions = conditions_validate(conditions)
    except ConditionError as error:
        errors["conditions"] = error.messages
    if errors:
        raise ValidationError(errors)
    kinds = [k for k in SignalKind.values if k in kinds]
    if not name:
        name = rule_default_name(kinds, step.name, conditions)
    return {"name": name, "kinds": kinds, "step": step, "conditions": conditions}


@transaction.atomic
def rule_create(
    *,
    journey: Journey,
    actor,
    kinds: list[str],
    step: Step | None,
    conditions: Any = None,
    name: str = "",
    priority: int | None = None,
    enabled: bool = True,
) -> MappingRule:
    """A new mapping rule (last by default); the journey's signals are re-placed."""
    clean = _rule_clean(journey=journey, name=name, kinds=kinds, step=step, conditions=conditions)
    if priority is None:
        top = journey.mapping_rules.aggregate(top=Max("priority"))["top"]
        priority = 10 if top is None else top + 10
    rule = MappingRule.objects.create(
        workspace=journey.workspace, journey=journey, priority=priority, enabled=enabled, **clean
    )
    audit_record(
        workspace=rule.workspace,
        actor=actor,
        action="mapping_rule.create",
        target=rule,
        data=_rule_data(rule),
    )
    remap_request(
        journey=journey, actor=actor, reason=f"Rule “{rule.name}” created", kinds=rule.kinds
    )
    return rule


def _rule_data(rule: MappingRule) -> dict[str, Any]:
    return {
        "kinds": rule.kinds,
        "step": rule.step.name,
        "conditions": rule.conditions,
        "priority": rule.priority,
        "enabled": rule.enabled,
    }


@transaction.atomic
def rule_update(
    *,
    rule: MappingRule,
    actor,
    kinds: list[str],
    step: Step | None,
    conditions: Any = None,
    name: str = "",
    priority: int | None = None,
    enabled: bool = True,
) -> MappingRule:
    clean = _rule_clean(
        journey=rule.journey, name=name, kinds=kinds, step=step, conditions=conditions
    )
    before = _rule_data(rule)
    kinds_before = list(rule.kinds)
    for field, value in clean.items():
        setattr(rule, field, value)
    if priority is not None:
        rule.priority = priority
    rule.enabled = enabled
    rule.save()
    audit_record(
        workspace=rule.workspace,
        actor=actor,
        action="mapping_rule.update",
        target=rule,
        data={"before": before, "after": _rule_data(rule)},
    )
    remap_request(
        journey=rule.journey,
        actor=actor,
        reason=f"Rule “{rule.name}” changed",
        kinds=sorted(set(kinds_before) | set(rule.kinds)),
    )
    return rule


@transaction.atomic
def rule_toggle(*, rule: MappingRule, actor) -> MappingRule:
    rule.enabled = not rule.enabled
    rule.save(update_fields=["enabled"])
    action = "mapping_rule.enable" if rule.enabled else "mapping_rule.disable"
    audit_record(workspace=rule.workspace, actor=actor, action=action, target=rule)
    verb = "enabled" if rule.enabled else "disabled"
    remap_request(
        journey=rule.journey, actor=actor, reason=f"Rule “{rule.name}” {verb}", kinds=rule.kinds
    )
    return rule


@transaction.atomic
def rule_delete(*, rule: MappingRule, actor) -> None:
    journey = rule.journey
    audit_record(
        workspace=rule.workspace,
        actor=actor,
        action="mapping_rule.delete",
        target=rule,
        data={"name": rule.name, **_rule_data(rule)},
    )
    rule.delete()
    remap_request(
        journey=journey, actor=actor, reason=f"Rule “{rule.name}” deleted", kinds=rule.kinds
    )


@transaction.atomic
def rule_move(*, rule: MappingRule, actor, direction: str) -> bool:
    """Swap a rule with its neighbour in priority order; priorities become 10, 20, 30…"""
    rules = list(
        MappingRule.objects.select_for_update()
        .filter(journey=rule.journey_id)
        .order_by("priority", "id")
    )
    index = next(i for i, item in enumerate(rules) if item.pk == rule.pk)
    if not position_swap(rules, rule, direction):
        return False
    # Only signals of kinds both swapped rules claim can change step.
    swapped = rules[index].kinds + rules[index - 1 if direction == UP else index + 1].kinds
    for index, item in enumerate(rules, start=1):
        if item.priority != index * 10:
            item.priority = index * 10
            item.save(update_fields=["priority"])
    audit_record(
        workspace=rule.workspace,
        actor=actor,
        action="mapping_rule.move",
        target=rule,
        data={"direction": direction},
    )
    remap_request(
        journey=rule.journey,
        actor=actor,
        reason=f"Rule “{rule.name}” reordered",
        kinds=sorted(set(swapped)),
    )
    return True
