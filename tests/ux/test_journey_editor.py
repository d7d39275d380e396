"""Dropping a stage or a step at a new place: the services behind drag and drop."""

from django.urls import reverse

from journeys import services
from journeys.services import journey_install_default


def _names(journey):
    return [(s.name, [p.name for p in s.steps.all()]) for s in journey.stages.all()]


def test_a_step_dropped_in_another_stage_lands_at_that_index(workspace, admin):
    journey = journey_install_default(workspace=workspace)
    trial = journey.steps.get(name="Trial")
    leave = journey.stages.get(name="Renew or leave")
    services.step_place(step=trial, actor=admin, stage=leave, index=1)
    names = dict(_names(journey))
    assert names["Renew or leave"] == ["Cancellation intent", "Trial", "Churn"]
    assert names["Onboard"] == ["Activation"]
    positions = list(leave.steps.values_list("position", flat=True))
    assert positions == [0, 1, 2]


def test_a_stage_dropped_first_moves_the_others_along(workspace, admin):
    journey = journey_install_default(workspace=workspace)
    last = journey.stages.order_by("-position").first()
    services.stage_place(stage=last, actor=admin, index=0)
    assert [name for name, _ in _names(journey)][:2] == ["Renew or leave", "Convert"]


def test_support_cannot_drop_anything(client_for, support, workspace):
    journey = journey_install_default(workspace=workspace)
    step = journey.steps.first()
    url = reverse("journeys:step_place", args=["acme", step.uuid])
    response = client_for(support).post(url, {"stage": str(step.stage.uuid), "index": "0"})
    assert response.status_code == 404


def test_a_bad_drop_is_refused_without_a_500(client_for, member, workspace):
    journey = journey_install_default(workspace=workspace)
    step = journey.steps.first()
    url = reverse("journeys:step_place", args=["acme", step.uuid])
    for data in ({"stage": "nope", "index": "0"}, {"stage": str(step.stage.uuid), "index": "x"}):
        assert client_for(member).post(url, data).status_code in (302, 200)
