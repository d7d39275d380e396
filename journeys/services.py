"""Writes to journeys, stages and steps, and the remap queue: each one transaction, audited.

Mapping rules are edited in journeys.rule_services; changes that alter where signals belong queue a
remap job on commit (remap_request).
"""

from typing import Any

import django_q.tasks
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from billing.models import SignalKind
from custory.audit import audit_record
from custory.models import Workspace
from journeys.conditions import conditions_describe, conditions_validate
from journeys.defaults import (
    DEFAULT_JOURNEY_NAME,
    DEFAULT_RULES,
    DEFAULT_STAGES,
    STAGE_DESCRIPTIONS,
)
from journeys.models import (
    Journey,
    MappingRule,
    RemapRun,
    RemapStatus,
    Stage,
    Step,
)
from journeys.placement import placements_move

UP, DOWN = "up", "down"
REMAP_JOB = "journeys.jobs.journey_remap_run"


def _clean_name(name: str, what: str = "name") -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({what: "Enter a name."})
    if len(name) > 100:
        raise ValidationError({what: "Keep the name under 100 characters."})
    return name


def _audit(actor, action: str, target, **data: Any) -> None:
    audit_record(
        workspace=target.workspace, actor=actor, action=action, target=target, data=data or None
    )


# Journeys ----------------------------------------------------------------------------------------


def _install_template(journey: Journey) -> None:
    """Give a journey the default stages, steps and the rules that map every signal kind."""
    steps_by_name: dict[str, Step] = {}
    for stage_position, (stage_name, steps) in enumerate(DEFAULT_STAGES):
        stage = Stage.objects.create(
            workspace=journey.workspace,
            journey=journey,
            name=stage_name,
            description=STAGE_DESCRIPTIONS.get(stage_name, ""),
            position=stage_position,
        )
        for step_position, (step_name, description) in enumerate(steps):
            steps_by_name[step_name] = Step.objects.create(
                workspace=journey.workspace,
                journey=journey,
                stage=stage,
                name=step_name,
                description=description,
                position=step_position,
            )
    for kinds, step_name, conditions, priority in DEFAULT_RULES:
        MappingRule.objects.create(
            workspace=journey.workspace,
            journey=journey,
            step=steps_by_name[step_name],
            name=rule_default_name(kinds, step_name, conditions),
            kinds=[str(k) for k in kinds],
            conditions=conditions_validate(conditions),
            priority=priority,
        )


def rule_default_name(kinds, step_name: str, conditions: dict) -> str:
    """The name of a rule left unnamed, such as "Refund → Refund request"."""
    labels = ", ".join(SignalKind(k).label.lower() for k in kinds).capitalize()
    condition = f" if {conditions_describe(conditions)}" if conditions else ""
    return f"{labels} → {step_name}{condition}"[:100]


@transaction.atomic
def journey_install_default(*, workspace: Workspace) -> Journey:
    """Give a workspace the default SaaS journey with rules that map every signal kind."""
    journey = Journey.objects.create(
        workspace=workspace,
        name=DEFAULT_JOURNEY_NAME,
        is_default=not Journey.objects.filter(workspace=workspace, is_default=True).exists(),
        position=_next_position(Journey.objects.filter(workspace=workspace)),
    )
    _install_template(journey)
    return journey


def _next_position(queryset) -> int:
    top = queryset.aggregate(top=Max("position"))["top"]
    return 0 if top is None else top + 1


@transaction.atomic
def journey_create(
    *, workspace: Workspace, actor, name: str, description: str = "", from_template: bool = False
) -> Journey:
    """A new journey, empty or from the default template; existing signals are placed in it."""
    journey = Journey.objects.create(
        workspace=workspace,
        name=_clean_name(name),
        description=(description or "").strip(),
        is_default=not Journey.objects.filter(workspace=workspace, is_default=True).exists(),
        position=_next_position(Journey.objects.filter(workspace=workspace)),
    )
    if from_template:
        _install_template(journey)
    _audit(actor, "journey.create", journey, from_template=from_template)
    remap_request(journey=journey, actor=actor, reason="Journey created")
    return journey


@transaction.atomic
def journey_update(*, journey: Journey, actor, name: str, description: str = "") -> Journey:
    before = {"name": journey.name, "description": journey.description}
    journey.name = _clean_name(name)
    journey.description = (description or "").strip()
    journey.save(update_fields=["name", "description"])
    _audit(actor, "journey.update", journey, before=before)
    return journey


@transaction.atomic
def journey_make_default(*, journey: Journey, actor) -> Journey:
    """Make this the journey shown first; the one-default constraint holds throughout."""
    Journey.objects.filter(workspace=journey.workspace, is_default=True).exclude(
        pk=journey.pk
    ).update(is_default=False)
    Journey.objects.filter(pk=journey.pk).update(is_default=True)
    journey.is_default = True
    _audit(actor, "journey.make_default", journey)
    return journey


@transaction.atomic
def journey_delete(*, journey: Journey, actor) -> None:
    """Delete a journey with its placements; the workspace keeps at least one journey."""
    others = Journey.objects.filter(workspace=journey.workspace).exclude(pk=journey.pk)
    if not others.exists():
        raise ValidationError("A workspace keeps at least one journey.")
    _audit(actor, "journey.delete", journey, name=journey.name)
    was_default = journey.is_default
    journey.delete()
    if was_default:
        successor = others.order_by("position", "created_at").first()
        Journey.objects.filter(pk=successor.pk).update(is_default=True)


# Stages and steps -------------------------------------------------------------------------------


def _renumber(items: list) -> None:
    for position, item in enumerate(items):
        if item.position != position:
            item.position = position
            item.save(update_fields=["position"])


def position_swap(items: list, item, direction: str) -> bool:
    """Swap item with its neighbour up or down in items; False when it is already at that end."""
    index = next(i for i, other in enumerate(items) if other.pk == item.pk)
    target = index - 1 if direction == UP else index + 1
    if target < 0 or target >= len(items):
        return False
    items[index], items[target] = items[target], items[index]
    return True


@transaction.atomic
def stage_create(*, journey: Journey, actor, name: str, description: str = "") -> Stage:
    stage = Stage.objects.create(
        workspace=journey.workspace,
        journey=journey,
        name=_clean_name(name),
        description=_clean_description(description),
        position=_next_position(journey.stages.all()),
    )
    _audit(actor, "stage.create", stage, journey=journey.name)
    return stage


@transaction.atomic
def stage_update(*, stage: Stage, actor, name: str, description: str = "") -> Stage:
    before = {"name": stage.name, "description": stage.description}
    stage.name = _clean_name(name)
    stage.description = _clean_description(description)
    stage.save(update_fields=["name", "description"])
    _audit(actor, "stage.update", stage, before=before)
    return stage


@transaction.atomic
def stage_move(*, stage: Stage, actor, direction: str) -> bool:
    stages = list(Stage.objects.select_for_update().filter(journey=stage.journey_id))
    if not position_swap(stages, stage, direction):
        return False
    _renumber(stages)
    _audit(actor, "stage.move", stage, direction=direction)
    return True


def _check_target(step: Step | None, journey: Journey, excluded_stage: Stage | None = None):
    if step is None:
        return
    if step.journey_id != journey.pk or step.workspace_id != journey.workspace_id:
        raise ValidationError({"target": "Choose a step of this journey."})
    if excluded_stage is not None and step.stage_id == excluded_stage.pk:
        raise ValidationError({"target": "Choose a step outside the stage being deleted."})


def _step_empty_into(step: Step, target: Step | None) -> tuple[int, int]:
    """Move a step's signals and rules to target (rules are deleted when target is Unmapped)."""
    moved = placements_move(
        journey=step.journey, from_step_id=step.pk, to_step_id=target.pk if target else None
    )
    rules = MappingRule.objects.filter(step=step)
    rules_count = rules.update(step=target) if target else rules.delete()[0]
    return moved, rules_count


@transaction.atomic
def stage_delete(*, stage: Stage, actor, target: Step | None) -> int:
    """Delete a stage and its steps; their signals go to target (None: the Unmapped lane)."""
    _check_target(target, stage.journey, excluded_stage=stage)
    moved = 0
    for step in stage.steps.all():
        moved += _step_empty_into(step, target)[0]
    _audit(
        actor,
        "stage.delete",
        stage,
        name=stage.name,
        signals_moved=moved,
        moved_to=target.name if target else "Unmapped",
    )
    journey = stage.journey
    stage.delete()
    _renumber(list(journey.stages.all()))
    return moved


@transaction.atomic
def step_create(*, stage: Stage, actor, name: str, description: str = "") -> Step:
    step = Step.objects.create(
        workspace=stage.workspace,
        journey_id=stage.journey_id,
        stage=stage,
        name=_clean_name(name),
        description=_clean_description(description),
        position=_next_position(stage.steps.all()),
    )
    _audit(actor, "step.create", step, stage=stage.name)
    return step


def _clean_description(description: str) -> str:
    description = (description or "").strip()
    if len(description) > 300:
        raise ValidationError({"description": "Keep the description under 300 characters."})
    return description


@transaction.atomic
def step_update(*, step: Step, actor, name: str, description: str = "") -> Step:
    before = {"name": step.name, "description": step.description}
    step.name = _clean_name(name)
    step.description = _clean_description(description)
    step.save(update_fields=["name", "description"])
    _audit(actor, "step.update", step, before=before)
    return step


@transaction.atomic
def step_move(*, step: Step, actor, direction: str) -> bool:
    """Move a step up or down within its stage, or across into the neighbouring stage."""
    stages = list(Stage.objects.select_for_update().filter(journey=step.journey_id))
    # Work on freshly read rows: the caller's copy may hold a stale stage or position.
    stage_id = Step.objects.filter(pk=step.pk).values_list("stage_id", flat=True).get()
    steps = list(Step.objects.select_for_update().filter(stage=stage_id))
    step = next(s for s in steps if s.pk == step.pk)
    if position_swap(steps, step, direction):
        _renumber(steps)
    else:
        index = next(i for i, stage in enumerate(stages) if stage.pk == step.stage_id)
        neighbour = index - 1 if direction == UP else index + 1
        if not 0 <= neighbour < len(stages):
            return False
        stage = stages[neighbour]
        others = list(stage.steps.exclude(pk=step.pk))
        step.stage = stage
        step.save(update_fields=["stage"])
        _renumber(others + [step] if direction == UP else [step] + others)
        _renumber([s for s in steps if s.pk != step.pk])
    _audit(actor, "step.move", step, direction=direction, stage=step.stage.name)
    return True


@transaction.atomic
def step_place(*, step: Step, actor, stage: Stage, index: int) -> None:
    """Put a step at `index` in `stage` (dropped there); both stages are renumbered."""
    if stage.journey_id != step.journey_id:
        raise ValidationError({"stage": "Choose a stage of this journey."})
    list(Stage.objects.select_for_update().filter(journey=step.journey_id))
    old_stage_id = Step.objects.filter(pk=step.pk).values_list("stage_id", flat=True).get()
    others = list(Step.objects.select_for_update().filter(stage=stage).exclude(pk=step.pk))
    index = max(0, min(index, len(others)))
    step.stage = stage
    step.save(update_fields=["stage"])
    _renumber(others[:index] + [step] + others[index:])
    if old_stage_id != stage.pk:
        _renumber(list(Step.objects.filter(stage=old_stage_id)))
    _audit(actor, "step.move", step, stage=stage.name, position=index + 1)


@transaction.atomic
def stage_place(*, stage: Stage, actor, index: int) -> None:
    """Put a stage at `index` in its journey (dropped there)."""
    stages = list(Stage.objects.select_for_update().filter(journey=stage.journey_id))
    others = [s for s in stages if s.pk != stage.pk]
    index = max(0, min(index, len(others)))
    _renumber(others[:index] + [stage] + others[index:])
    _audit(actor, "stage.move", stage, position=index + 1)


@transaction.atomic
def step_delete(*, step: Step, actor, target: Step | None) -> int:
    """Delete a step; its signals and rules go to target, or to Unmapped (rules deleted)."""
    if target is not None and target.pk == step.pk:
        raise ValidationError({"target": "Choose another step than the one being deleted."})
    _check_target(target, step.journey)
    moved, rules = _step_empty_into(step, target)
    _audit(
        actor,
        "step.delete",
        step,
        name=step.name,
        signals_moved=moved,
        rules_moved_or_deleted=rules,
        moved_to=target.name if target else "Unmapped",
    )
    stage = step.stage
    step.delete()
    _renumber(list(stage.steps.all()))
    return moved


# Remapping --------------------------------------------------------------------------------------


def remap_request(
    *, journey: Journey, actor=None, reason: str = "", kinds: list[str] | None = None
) -> RemapRun:
    """Queue a re-placement of the journey's signals of these kinds (None: all kinds)."""
    with transaction.atomic():
        # A newer run supersedes any still going, and takes over the kinds it had yet to cover.
        active = RemapRun.objects.select_for_update().filter(
            journey=journey, status__in=[RemapStatus.QUEUED, RemapStatus.RUNNING]
        )
        scope = set(kinds) if kinds else None
        for older in active:
            scope = None if scope is None or not older.kinds else scope | set(older.kinds)
        active.update(status=RemapStatus.SUPERSEDED, finished_at=timezone.now())
        run = RemapRun.objects.create(
            workspace=journey.workspace,
            journey=journey,
            kinds=sorted(scope) if scope else [],
            reason=reason[:200],
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        transaction.on_commit(lambda: remap_enqueue(run_id=run.pk))
    return run


def remap_enqueue(*, run_id: int) -> None:
    """Hand a remap run to the Django-Q2 cluster (journeys.jobs.journey_remap_run)."""
    django_q.tasks.async_task(REMAP_JOB, run_id, task_name=f"journey-remap-{run_id}")
