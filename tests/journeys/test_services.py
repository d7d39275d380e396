"""Editing journeys, stages and steps: moves, deletions that keep every signal, audit."""

import pytest
from django.core.exceptions import ValidationError

from custory.models import AuditEvent
from journeys import rule_services, services
from journeys.models import Journey, MappingRule, SignalPlacement, Stage, Step
from tests.factories import StepFactory
from tests.journeys.conftest import placed_step, raw_totals, rollup_totals, step_of


def _names(journey):
    return [
        (stage.name, [step.name for step in stage.steps.order_by("position")])
        for stage in journey.stages.order_by("position")
    ]


def test_deleting_a_step_moves_its_signals_and_rules_to_the_chosen_step(journey, place, admin):
    failed = [place(kind="payment_failed", amount=100 * i) for i in range(1, 4)]
    succeeded = place(kind="payment_succeeded")
    refund = place(kind="refund")
    recurring, recovery = (
        step_of(journey, "Recurring payment"),
        step_of(journey, "Payment recovery"),
    )
    moved = services.step_delete(step=recurring, actor=admin, target=recovery)
    assert moved == 4
    assert not Step.objects.filter(pk=recurring.pk).exists()
    for signal in [*failed, succeeded]:
        assert placed_step(signal, journey) == "Payment recovery"
    assert placed_step(refund, journey) == "Refund request"
    assert rollup_totals(journey) == raw_totals(journey)
    rule = next(r for r in journey.mapping_rules.all() if "payment_failed" in r.kinds)
    assert rule.step == recovery  # new failed payments follow the same choice
    event = AuditEvent.objects.get(action="step.delete")
    assert event.data["signals_moved"] == 4 and event.data["moved_to"] == "Payment recovery"


def test_deleting_a_step_into_unmapped_keeps_its_signals_in_the_unmapped_lane(
    journey, place, member
):
    refunds = [place(kind="refund"), place(kind="refund")]
    services.step_delete(step=step_of(journey, "Refund request"), actor=member, target=None)
    assert [placed_step(s, journey) for s in refunds] == [None, None]
    assert SignalPlacement.objects.filter(journey=journey).count() == 2
    assert rollup_totals(journey) == raw_totals(journey)
    assert not [r for r in journey.mapping_rules.all() if "refund" in r.kinds]


def test_a_step_of_another_journey_is_refused_as_a_target(journey, place, admin, workspace):
    signal = place(kind="refund")
    foreign = StepFactory(stage__journey__workspace=workspace)
    with pytest.raises(ValidationError):
        services.step_delete(step=step_of(journey, "Refund request"), actor=admin, target=foreign)
    assert placed_step(signal, journey) == "Refund request"


def test_deleting_a_stage_moves_all_its_steps_signals(journey, place, admin):
    signals = [place(kind="dispute_opened"), place(kind="payment_failed"), place(kind="refund")]
    stage = journey.stages.get(name="Pay & retain")
    churn = step_of(journey, "Churn")
    with pytest.raises(ValidationError):
        services.stage_delete(stage=stage, actor=admin, target=step_of(journey, "Dispute"))
    assert services.stage_delete(stage=stage, actor=admin, target=churn) == 3
    assert {placed_step(s, journey) for s in signals} == {"Churn"}
    assert rollup_totals(journey) == raw_totals(journey)
    assert [name for name, _ in _names(journey)] == [
        "Convert",
        "Onboard",
        "Expand",
        "Renew or leave",
    ]


def test_steps_move_within_and_across_stages(journey, admin):
    trial = step_of(journey, "Trial")
    services.step_move(step=trial, actor=admin, direction="down")
    assert _names(journey)[1] == ("Onboard", ["Activation", "Trial"])
    services.step_move(step=trial, actor=admin, direction="down")  # over the edge: next stage
    assert _names(journey)[1] == ("Onboard", ["Activation"])
    assert _names(journey)[2][1][0] == "Trial"
    services.step_move(step=trial, actor=admin, direction="up")
    assert _names(journey)[1] == ("Onboard", ["Activation", "Trial"])
    first = step_of(journey, "Checkout")
    assert not services.step_move(step=first, actor=admin, direction="up")


def test_stages_move_and_renumber(journey, admin):
    stage = journey.stages.get(name="Expand")
    services.stage_move(stage=stage, actor=admin, direction="up")
    assert [n for n, _ in _names(journey)][2:4] == ["Expand", "Pay & retain"]
    positions = list(journey.stages.order_by("position").values_list("position", flat=True))
    assert positions == list(range(5))


def test_names_are_required_and_trimmed(journey, admin):
    stage = journey.stages.first()
    with pytest.raises(ValidationError):
        services.step_create(stage=stage, actor=admin, name="   ")
    with pytest.raises(ValidationError):
        services.stage_update(stage=stage, actor=admin, name="")
    step = services.step_create(stage=stage, actor=admin, name="  Demo call ", description=" x ")
    assert (step.name, step.description, step.position) == ("Demo call", "x", 1)


def test_journeys_keep_one_default_and_at_least_one(workspace, journey, admin):
    other = services.journey_create(workspace=workspace, actor=admin, name="Sales-led")
    assert not other.is_default and other.stages.count() == 0
    services.journey_make_default(journey=other, actor=admin)
    assert list(Journey.objects.filter(is_default=True)) == [other]
    services.journey_delete(journey=other, actor=admin)
    journey.refresh_from_db()
    assert journey.is_default
    with pytest.raises(ValidationError):
        services.journey_delete(journey=journey, actor=admin)


def test_a_rule_pointing_to_another_workspaces_step_is_refused(journey, admin, other_workspace):
    foreign = StepFactory(stage__journey__workspace=other_workspace)
    with pytest.raises(ValidationError) as error:
        rule_services.rule_create(journey=journey, actor=admin, kinds=["refund"], step=foreign)
    assert "step" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        rule_services.rule_create(
            journey=journey,
            actor=admin,
            kinds=["nonsense"],
            step=step_of(journey, "Churn"),
            conditions={"amount_min": "lots"},
        )
    assert {"kinds", "conditions"} <= set(error.value.message_dict)
    assert MappingRule.objects.filter(journey=journey).count() == 11


def test_every_change_is_audited(workspace, journey, admin, django_capture_on_commit_callbacks):
    stage = services.stage_create(journey=journey, actor=admin, name="Advocate")
    step = services.step_create(stage=stage, actor=admin, name="Referral")
    services.step_update(step=step, actor=admin, name="Referrals")
    services.stage_update(stage=stage, actor=admin, name="Advocacy")
    with django_capture_on_commit_callbacks(execute=True):
        rule = rule_services.rule_create(journey=journey, actor=admin, kinds=["refund"], step=step)
        rule_services.rule_update(rule=rule, actor=admin, kinds=["refund"], step=step, priority=5)
        rule_services.rule_delete(rule=rule, actor=admin)
    services.step_delete(step=step, actor=admin, target=None)
    services.stage_delete(stage=Stage.objects.get(pk=stage.pk), actor=admin, target=None)
    services.journey_update(journey=journey, actor=admin, name="Self-serve")
    actions = list(
        AuditEvent.objects.filter(workspace=workspace)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "stage.create",
        "step.create",
        "step.update",
        "stage.update",
        "mapping_rule.create",
        "mapping_rule.update",
        "mapping_rule.delete",
        "step.delete",
        "stage.delete",
        "journey.update",
    ]
    assert all(e.actor == admin for e in AuditEvent.objects.filter(workspace=workspace))
