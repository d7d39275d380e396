"""Settings › Journeys pages: they work, check the role, refuse bad input and save nothing."""

import re

import pytest
from django.urls import reverse

from custory.models import AuditEvent
from journeys.models import Journey, MappingRule, Stage, Step
from tests.factories import StepFactory
from tests.journeys.conftest import placed_step, step_of


def url(name, *args):
    return reverse(f"journeys:{name}", args=["acme", *args])


@pytest.fixture
def urls(journey):
    stage = journey.stages.get(name="Expand")
    step = step_of(journey, "Plan change")
    rule = journey.mapping_rules.order_by("priority").first()
    return {
        "pages": [
            url("journey_list"),
            url("journey_detail", journey.uuid),
            url("rule_list", journey.uuid),
            url("unmapped", journey.uuid),
            url("remap_status", journey.uuid),
        ],
        "writes": [
            (url("journey_create"), {"name": "Sales-led"}),
            (url("journey_update", journey.uuid), {"name": "Renamed"}),
            (url("journey_make_default", journey.uuid), {}),
            (url("stage_create", journey.uuid), {"name": "Advocate"}),
            (url("stage_update", stage.uuid), {"name": "Grow"}),
            (url("stage_move", stage.uuid), {"direction": "up"}),
            (url("step_create", stage.uuid), {"name": "Add-ons"}),
            (url("step_update", step.uuid), {"name": "Licences"}),
            (url("step_move", step.uuid), {"direction": "up"}),
            (url("rule_toggle", rule.uuid), {}),
            (url("rule_move", rule.uuid), {"direction": "down"}),
            (url("rule_preview", journey.uuid), {"kinds": ["refund"]}),
            (url("rule_create", journey.uuid), {"kinds": ["refund"], "step": step.pk}),
            (url("rule_edit", rule.uuid), {"kinds": ["refund"], "step": step.pk}),
            (url("rule_delete", rule.uuid), {}),
            (url("step_delete", step.uuid), {"target": ""}),
        ],
        "forms": [
            url("rule_create", journey.uuid),
            url("rule_edit", rule.uuid),
            url("step_delete", step.uuid),
            url("stage_delete", stage.uuid),
            url("journey_delete", journey.uuid),
            url("rule_delete", rule.uuid),
        ],
    }


@pytest.mark.parametrize("role", ["admin", "member", "support"])
def test_every_role_sees_the_pages(request, client_for, urls, role):
    client = client_for(request.getfixturevalue(role))
    for page in urls["pages"]:
        assert client.get(page).status_code == 200, page


def test_support_sees_no_edit_controls(client_for, support, urls, journey):
    body = client_for(support).get(url("journey_detail", journey.uuid)).content.decode()
    assert "Add step" not in body and "Delete" not in body and "Checkout" in body
    body = client_for(support).get(url("rule_list", journey.uuid)).content.decode()
    assert "New rule" not in body and "Move " not in body


def test_support_gets_404_for_every_write_and_nothing_changes(client_for, support, urls):
    client = client_for(support)
    for target in urls["forms"]:
        assert client.get(target).status_code == 404, target
    for target, data in urls["writes"]:
        assert client.post(target, data).status_code == 404, target
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("role", ["admin", "member"])
def test_admins_and_members_can_edit(request, client_for, urls, role):
    client = client_for(request.getfixturevalue(role))
    for target in urls["forms"]:
        assert client.get(target).status_code == 200, target
    for target, data in urls["writes"]:
        response = client.post(target, data)
        assert response.status_code in (200, 302), (target, response.status_code)
    assert AuditEvent.objects.filter(actor__email=f"{role}@acme.test").count() >= 13


def test_outsiders_get_404_for_journey_objects_under_their_own_slug(
    client_for, outsider, other_workspace, journey
):
    client = client_for(outsider)
    step = step_of(journey, "Plan change")
    for name, uuid in [
        ("journey_detail", journey.uuid),
        ("unmapped", journey.uuid),
        ("step_delete", step.uuid),
        ("stage_delete", step.stage.uuid),
        ("rule_edit", journey.mapping_rules.first().uuid),
    ]:
        target = reverse(f"journeys:{name}", args=["other", uuid])
        assert client.get(target).status_code == 404, target
    target = reverse("journeys:step_update", args=["other", step.uuid])
    assert client.post(target, {"name": "Hacked"}).status_code == 404
    assert Step.objects.get(pk=step.pk).name == "Plan change"


def test_moving_a_step_with_htmx_answers_the_structure_fragment(client_for, member, journey):
    trial = step_of(journey, "Trial")
    response = client_for(member).post(
        url("step_move", trial.uuid), {"direction": "down"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="journey-structure"')
    assert "<html" not in body
    onboard = journey.stages.get(name="Onboard")
    assert list(onboard.steps.order_by("position").values_list("name", flat=True)) == [
        "Activation",
        "Trial",
    ]


def test_moving_a_step_without_js_redirects_back_to_the_editor(client_for, member, journey):
    response = client_for(member).post(
        url("step_move", step_of(journey, "Trial").uuid), {"direction": "down"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("journey_detail", journey.uuid)


def test_an_empty_step_name_is_refused_with_a_message(client_for, member, journey):
    step = step_of(journey, "Trial")
    response = client_for(member).post(
        url("step_update", step.uuid), {"name": "  "}, headers={"HX-Request": "true"}
    )
    assert 'role="alert"' in response.content.decode()
    assert Step.objects.get(pk=step.pk).name == "Trial"


def test_an_empty_journey_name_is_refused(client_for, member, journey):
    response = client_for(member).post(url("journey_create"), {"name": ""})
    assert response.status_code == 400
    assert Journey.objects.count() == 1


def test_a_rule_form_pointing_to_another_workspaces_step_saves_nothing(
    client_for, member, journey, other_workspace
):
    foreign = StepFactory(stage__journey__workspace=other_workspace)
    before = MappingRule.objects.count()
    response = client_for(member).post(
        url("rule_create", journey.uuid), {"kinds": ["refund"], "step": foreign.pk}
    )
    assert response.status_code == 400
    assert "Choose a step of this journey." in response.content.decode()
    assert MappingRule.objects.count() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"step": "STEP"}, "Choose at least one signal kind."),
        ({"kinds": ["refund"]}, "Choose the step these signals belong on."),
        ({"kinds": ["nope"], "step": "STEP"}, "Select a valid choice."),
        ({"kinds": ["refund"], "step": "STEP", "amount_min": "10"}, "An amount needs a currency"),
        (
            {"kinds": ["refund"], "step": "STEP", "amount_min": "ten", "currency": "eur"},
            "Enter a number.",
        ),
        (
            {"kinds": ["refund"], "step": "STEP", "amount_min": "1.234", "currency": "eur"},
            "at most 2 decimals",
        ),
        (
            {
                "kinds": ["refund"],
                "step": "STEP",
                "amount_min": "5",
                "amount_max": "1",
                "currency": "eur",
            },
            "The maximum is below the minimum.",
        ),
        ({"kinds": ["refund"], "step": "STEP", "currency": "euro"}, "Ensure this value"),
        ({"kinds": ["refund"], "step": "STEP", "attempt_count_min": "x"}, "Enter a whole number."),
        ({"kinds": ["refund"], "step": "STEP", "metadata_value": "pro"}, "Enter the metadata key"),
    ],
)
def test_bad_rule_input_gets_a_clear_error_and_saves_nothing(
    client_for, member, journey, data, message
):
    data = {k: (step_of(journey, "Churn").pk if v == "STEP" else v) for k, v in data.items()}
    before = MappingRule.objects.count()
    response = client_for(member).post(url("rule_create", journey.uuid), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert MappingRule.objects.count() == before


def test_a_rule_is_created_with_conditions_in_minor_units(
    client_for, member, journey, place, django_capture_on_commit_callbacks
):
    big = place(kind="refund", amount=250_00, currency="eur")
    small = place(kind="refund", amount=10_00, currency="eur")
    dispute = step_of(journey, "Dispute")
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(member).post(
            url("rule_create", journey.uuid),
            {
                "kinds": ["refund"],
                "step": dispute.pk,
                "priority": "1",
                "enabled": "on",
                "currency": "EUR",
                "amount_min": "100",
                "metadata_key": "plan",
                "metadata_value": "pro",
                "livemode": "test",
            },
        )
    assert response.status_code == 302
    rule = MappingRule.objects.get(step=dispute, priority=1)
    assert rule.conditions == {
        "amount_min": 100_00,
        "currency": "eur",
        "customer_metadata": {"plan": "pro"},
        "livemode": False,
    }
    assert rule.name == "Refund → Dispute if amount ≥ €100.00, customer plan = pro, test mode only"
    # The factory's customers have no "plan" metadata, so nothing moves.
    assert placed_step(big, journey) == placed_step(small, journey) == "Refund request"


def test_the_rule_edit_form_shows_amounts_in_major_units(client_for, member, journey):
    rule = journey.mapping_rules.first()
    rule.conditions = {"amount_min": 4900, "currency": "eur"}
    rule.save()
    body = client_for(member).get(url("rule_edit", rule.uuid)).content.decode()
    assert 'value="49.00"' in body and 'value="EUR"' in body


def test_the_live_preview_counts_the_last_30_days_and_links_examples(
    client_for, member, journey, place
):
    from datetime import timedelta

    from django.utils import timezone

    recent = place(kind="refund", amount=5000, currency="eur")
    place(kind="refund", amount=100, currency="eur")
    place(
        kind="refund", amount=9000, currency="eur", occurred_at=timezone.now() - timedelta(days=31)
    )
    response = client_for(member).post(
        url("rule_preview", journey.uuid),
        {"kinds": ["refund"], "currency": "eur", "amount_min": "10"},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="rule-preview"')
    assert "<strong>1</strong> signal of the last 30 days matches this rule" in body
    assert reverse("journeys:signal_detail", args=["acme", recent.uuid]) in body
    # Without conditions both recent refunds match, but the default refund rule claims them first.
    body = (
        client_for(member)
        .post(url("rule_preview", journey.uuid), {"kinds": ["refund"], "priority": "500"})
        .content.decode()
    )
    assert "<strong>2</strong> signals" in body and "0 would land on its step" in body


def test_the_preview_waits_for_valid_input(client_for, member, journey):
    body = (
        client_for(member)
        .post(url("rule_preview", journey.uuid), {"kinds": ["refund"], "amount_min": "x"})
        .content.decode()
    )
    assert "Fix these to see which signals" in body and "Enter a number" in body


def test_the_unmapped_lane_groups_by_kind_and_offers_a_prefilled_rule(
    client_for, member, journey, place
):
    rule = next(r for r in journey.mapping_rules.all() if "refund" in r.kinds)
    rule.delete()
    for _ in range(3):
        place(kind="refund")
    place(kind="payment_failed")
    body = client_for(member).get(url("unmapped", journey.uuid)).content.decode()
    assert "Refund" in body and '<span class="badge">3</span>' in body
    assert "Payment failed" not in body
    create = url("rule_create", journey.uuid) + "?kind=refund"
    assert create in body
    form = client_for(member).get(create).content.decode()
    assert re.search(r'value="refund"[^>]*checked', form)
    assert not re.search(r'value="payment_failed"[^>]*checked', form)
    assert "<strong>3</strong> signals" in form


def test_deleting_a_step_through_the_page_moves_signals_where_chosen(
    client_for, member, journey, place
):
    signal = place(kind="refund")
    step = step_of(journey, "Refund request")
    page = client_for(member).get(url("step_delete", step.uuid)).content.decode()
    assert "1 signal" in page and "Unmapped lane" in page
    target = step_of(journey, "Dispute")
    response = client_for(member).post(url("step_delete", step.uuid), {"target": target.pk})
    assert response.status_code == 302
    assert placed_step(signal, journey) == "Dispute"


def test_deleting_a_step_refuses_a_target_outside_the_journey(
    client_for, member, journey, place, workspace
):
    signal = place(kind="refund")
    foreign = StepFactory(stage__journey__workspace=workspace)
    step = step_of(journey, "Refund request")
    response = client_for(member).post(url("step_delete", step.uuid), {"target": foreign.pk})
    assert response.status_code == 400
    assert placed_step(signal, journey) == "Refund request"


def test_deleting_the_last_journey_is_refused(client_for, admin, journey):
    response = client_for(admin).post(url("journey_delete", journey.uuid))
    assert response.status_code == 400
    assert "at least one journey" in response.content.decode()


def test_the_journey_list_links_editor_rules_and_unmapped(client_for, admin, journey):
    body = client_for(admin).get(url("journey_list")).content.decode()
    for name in ("journey_detail", "rule_list", "unmapped"):
        assert url(name, journey.uuid) in body


def test_the_editor_page_has_a_query_budget(
    client_for, member, journey, django_assert_max_num_queries
):
    client = client_for(member)
    with django_assert_max_num_queries(15):
        client.get(url("journey_detail", journey.uuid))
    with django_assert_max_num_queries(15):
        client.get(url("rule_list", journey.uuid))


def test_stage_rename_and_create_with_htmx(client_for, member, journey):
    client = client_for(member)
    stage = journey.stages.first()
    client.post(
        url("stage_update", stage.uuid), {"name": "Explore"}, headers={"HX-Request": "true"}
    )
    response = client.post(
        url("stage_create", journey.uuid), {"name": "Advocate"}, headers={"HX-Request": "true"}
    )
    assert "Advocate" in response.content.decode()
    assert Stage.objects.get(pk=stage.pk).name == "Explore"
    assert journey.stages.order_by("position").last().name == "Advocate"


def test_the_remap_progress_is_polled_while_a_run_is_going(client_for, member, journey):
    from journeys.services import remap_request

    run = remap_request(journey=journey, reason="Rule changed")
    client = client_for(member)
    body = client.get(url("remap_status", journey.uuid)).content.decode()
    assert 'hx-trigger="every 1s"' in body and "Re-placing signals" in body
    run.status, run.done, run.total = "done", 7, 7
    run.save()
    body = client.get(url("remap_status", journey.uuid)).content.decode()
    assert "hx-trigger" not in body and "7 checked" in body
    page = client.get(url("journey_detail", journey.uuid)).content.decode()
    assert 'id="remap"' in page


def test_deleting_a_stage_through_the_page_moves_its_signals(client_for, member, journey, place):
    signals = [place(kind="plan_upgraded"), place(kind="plan_downgraded")]
    stage = journey.stages.get(name="Expand")
    churn = step_of(journey, "Churn")
    page = client_for(member).get(url("stage_delete", stage.uuid)).content.decode()
    assert "Plan change" in page and "2 signals" in page
    response = client_for(member).post(url("stage_delete", stage.uuid), {"target": churn.pk})
    assert response.status_code == 302
    assert [placed_step(s, journey) for s in signals] == ["Churn", "Churn"]
    assert not Stage.objects.filter(pk=stage.pk).exists()


def test_a_second_journey_is_created_made_default_and_deleted(
    client_for, admin, journey, place, django_capture_on_commit_callbacks
):
    signal = place(kind="refund")
    client = client_for(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("journey_create"), {"name": "Sales-led", "from_template": "on"})
    sales = Journey.objects.get(name="Sales-led")
    assert response["Location"] == url("journey_detail", sales.uuid)
    assert placed_step(signal, sales) == "Refund request"  # existing signals are placed in it
    client.post(url("journey_make_default", sales.uuid))
    assert Journey.objects.get(is_default=True) == sales
    assert client.post(url("journey_delete", sales.uuid)).status_code == 302
    assert Journey.objects.get(is_default=True) == journey


def test_a_stage_is_renamed_and_described(client_for, member, journey):
    stage = journey.stages.get(name="Expand")
    client_for(member).post(
        url("stage_update", stage.uuid), {"name": "Grow", "description": "More seats and plans."}
    )
    stage.refresh_from_db()
    assert (stage.name, stage.description) == ("Grow", "More seats and plans.")


def test_the_journey_list_counts_rules_and_unmapped_signals(
    client_for, support, journey, place, django_assert_max_num_queries
):
    rule = next(r for r in journey.mapping_rules.all() if "refund" in r.kinds)
    rule.delete()
    place(kind="refund")
    place(kind="refund")
    client = client_for(support)
    with django_assert_max_num_queries(8):
        body = client.get(url("journey_list")).content.decode()
    assert "Mapping rules (10)" in body and "Unmapped lane (2)" in body
    assert "Make default" not in body and "New journey" not in body
