"""Writes to journeys: creating the default journey and its rules."""

from django.db import transaction

from custory.models import Workspace
from journeys.defaults import DEFAULT_JOURNEY_NAME, DEFAULT_RULES, DEFAULT_STAGES
from journeys.models import Journey, MappingRule, Stage, Step


@transaction.atomic
def journey_install_default(*, workspace: Workspace) -> Journey:
    """Give a workspace the default SaaS journey with rules that map every signal kind."""
    journey = Journey.objects.create(
        workspace=workspace,
        name=DEFAULT_JOURNEY_NAME,
        is_default=not Journey.objects.filter(workspace=workspace, is_default=True).exists(),
    )
    steps_by_name: dict[str, Step] = {}
    for stage_position, (stage_name, steps) in enumerate(DEFAULT_STAGES):
        stage = Stage.objects.create(
            workspace=workspace, journey=journey, name=stage_name, position=stage_position
        )
        for step_position, (step_name, description) in enumerate(steps):
            steps_by_name[step_name] = Step.objects.create(
                workspace=workspace,
                journey=journey,
                stage=stage,
                name=step_name,
                description=description,
                position=step_position,
            )
    for kinds, step_name, conditions, priority in DEFAULT_RULES:
        MappingRule.objects.create(
            workspace=workspace,
            journey=journey,
            step=steps_by_name[step_name],
            name=f"{', '.join(str(k) for k in kinds)} → {step_name}",
            kinds=[str(k) for k in kinds],
            conditions=conditions,
            priority=priority,
        )
    return journey
