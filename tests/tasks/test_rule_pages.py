"""Editing task rules: who may, what is checked, and what the audit log keeps."""

import pytest

from custory.models import AuditEvent
from journeys.models import Step
from tasks.models import TaskRule
from tasks.services import task_rules_install_default
from tests.factories import TaskRuleFactory


def form_data(**overrides):
    data = {
        "name": "Big failed payments",
        "enabled": "on",
        "kinds": ["payment_failed"],
        "amount_min": "250.00",
        "mrr_min": "",
        "step": "",
        "repeat_count": "",
        "repeat_days": "",
        "title_template": "Big failure: {customer} ({amount})",
        "description_template": "{customer} failed {count} times. {link}",
        "assignment": "nobody",
        "assignee": "",
        "assign_role": "",
        "priority": "high",
        "due_in_days": "2",
        "resolve_kinds": ["payment_recovered"],
        "annotate_kinds": ["subscription_canceled"],
    }
    return {**data, **overrides}


@pytest.fixture
def rule(workspace):
    return TaskRuleFactory(workspace=workspace, name="Failed payments")


def test_everyone_in_the_workspace_sees_the_rules(client_for, support, workspace):
    task_rules_install_default(workspace=workspace)
    response = client_for(support).get("/w/acme/settings/task-rules/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Repeated failed payments" in html and "Save the account" in html
    assert 'Payment failed<br><small class="muted">2 within 14 days</small>' in html
    assert "customer MRR ≥ $100.00" in html
    assert "Noted: Dispute closed" in html
    assert "New task rule" not in html
    assert "switch off" not in html


@pytest.mark.parametrize("role", ["admin", "member"])
def test_admins_and_members_create_a_rule(request, client_for, workspace, journey, role):
    user = request.getfixturevalue(role)
    step = Step.objects.get(workspace=workspace, name="Recurring payment")
    data = form_data(step=str(step.uuid), repeat_count="3", repeat_days="30")
    response = client_for(user).post("/w/acme/settings/task-rules/new/", data)
    assert response.status_code == 302
    rule = TaskRule.objects.get()
    assert rule.conditions == {
        "amount_min": 25_000,
        "currency": "usd",
        "step": str(step.uuid),
        "repeat_count": 3,
        "repeat_days": 30,
    }
    assert (rule.priority, rule.due_in_days, rule.enabled) == ("high", 2, True)
    assert rule.resolve_kinds == ["payment_recovered"]
    assert rule.annotate_kinds == ["subscription_canceled"]
    event = AuditEvent.objects.get(action="task_rule.create")
    assert event.actor == user and event.target_id == str(rule.uuid)


def test_an_amount_in_a_zero_decimal_currency_is_whole_units(client_for, admin, workspace):
    workspace.main_currency = "jpy"
    workspace.save()
    client_for(admin).post("/w/acme/settings/task-rules/new/", form_data(amount_min="5000"))
    assert TaskRule.objects.get().conditions == {"amount_min": 5000, "currency": "jpy"}


def test_editing_a_rule_keeps_its_values_and_records_what_changed(client_for, member, rule):
    client = client_for(member)
    response = client.get(f"/w/acme/settings/task-rules/{rule.uuid}/")
    assert response.context["form"].initial["name"] == "Failed payments"
    data = form_data(
        name="Failed payments",
        assignment="member",
        assignee=str(member.pk),
        amount_min="",
        resolve_kinds=[],
        annotate_kinds=[],
    )
    response = client.post(f"/w/acme/settings/task-rules/{rule.uuid}/", data)
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.assignment, rule.assignee, rule.conditions) == ("member", member, {})
    fields = AuditEvent.objects.get(action="task_rule.update").data["fields"]
    assert "assignment" in fields and "assignee" in fields and "name" not in fields
    assert (
        client.get(f"/w/acme/settings/task-rules/{rule.uuid}/")
        .context["form"]
        .initial["amount_min"]
        is None
    )


def test_round_robin_keeps_the_role(client_for, admin, rule):
    data = form_data(assignment="round_robin", assign_role="support", assignee="")
    client_for(admin).post(f"/w/acme/settings/task-rules/{rule.uuid}/", data)
    rule.refresh_from_db()
    assert (rule.assignment, rule.assign_role, rule.assignee) == ("round_robin", "support", None)


def test_switching_a_rule_off_and_on_is_audited(client_for, admin, rule):
    client = client_for(admin)
    client.post(f"/w/acme/settings/task-rules/{rule.uuid}/toggle/", {"enabled": "0"})
    rule.refresh_from_db()
    assert rule.enabled is False
    client.post(f"/w/acme/settings/task-rules/{rule.uuid}/toggle/", {"enabled": "1"})
    rule.refresh_from_db()
    assert rule.enabled is True
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["task_rule.disable", "task_rule.enable"]


def test_support_gets_404_on_every_rule_write(client_for, support, rule):
    client = client_for(support)
    for path in ("new/", f"{rule.uuid}/", f"{rule.uuid}/toggle/"):
        assert client.get(f"/w/acme/settings/task-rules/{path}").status_code == 404
        response = client.post(f"/w/acme/settings/task-rules/{path}", form_data(enabled="0"))
        assert response.status_code == 404
    rule.refresh_from_db()
    assert rule.enabled and rule.name == "Failed payments"
    assert TaskRule.objects.count() == 1
    assert not AuditEvent.objects.exists()


def test_another_workspaces_rule_is_404(client_for, outsider, rule):
    client = client_for(outsider)
    for path in (f"{rule.uuid}/", f"{rule.uuid}/toggle/"):
        assert client.get(f"/w/other/settings/task-rules/{path}").status_code == 404
        assert client.post(f"/w/other/settings/task-rules/{path}", form_data()).status_code == 404
    rule.refresh_from_db()
    assert rule.enabled


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": ""}, "Give the rule a name."),
        ({"kinds": []}, "Choose at least one signal kind that opens a task."),
        ({"kinds": ["payment_exploded"]}, "payment_exploded is not a signal kind."),
        ({"title_template": ""}, "Give the tasks a title template."),
        ({"title_template": "x" * 10_000}, "Ensure this value has at most 200 characters"),
        ({"title_template": "Call {customr}"}, "Unknown placeholder {customr}. You can use"),
        ({"description_template": "{customer.__class__}"}, "Unknown placeholder"),
        ({"title_template": "Call {customer!r}"}, "Write the placeholder plainly as {customer}."),
        ({"title_template": "Call {customer"}, "A brace is not closed"),
        ({"title_template": "Call {}"}, "Unknown placeholder {}."),
        ({"priority": "whenever"}, "Choose a priority from the list."),
        ({"amount_min": "lots"}, "Enter an amount such as 100.00."),
        ({"amount_min": "-5"}, "Ensure this value is greater than or equal to 0."),
        ({"amount_min": "1.005"}, "USD amounts have at most 2 decimals."),
        ({"repeat_count": "2"}, "Say within how many days the signals must occur."),
        ({"repeat_days": "14"}, "Say how many signals must occur in the window."),
        ({"repeat_count": "1", "repeat_days": "14"}, "greater than or equal to 2"),
        ({"repeat_count": "2", "repeat_days": "999"}, "less than or equal to 365"),
        ({"due_in_days": "-1"}, "greater than or equal to 0"),
        ({"due_in_days": "soon"}, "Enter a whole number."),
        ({"assignment": "member"}, "Choose the member who gets this rule&#x27;s tasks."),
        ({"assignment": "member", "assignee": "99999"}, "Choose a member of this workspace."),
        ({"assignment": "round_robin"}, "Choose the role whose members take turns."),
        ({"assignment": "round_robin", "assign_role": "boss"}, "Choose a role from the list."),
        ({"assignment": "lottery"}, "Choose how tasks are assigned."),
        ({"step": "not-a-step"}, "Choose a step of this workspace&#x27;s journeys."),
        ({"resolve_kinds": ["payment_failed"]}, "Payment failed already opens this rule"),
        (
            {"annotate_kinds": ["payment_recovered"]},
            "Payment recovered already closes the task.",
        ),
    ],
)
def test_bad_rule_input_is_explained_and_nothing_is_saved(
    client_for, admin, rule, overrides, message
):
    client = client_for(admin)
    for url in ("/w/acme/settings/task-rules/new/", f"/w/acme/settings/task-rules/{rule.uuid}/"):
        response = client.post(url, form_data(**overrides))
        assert response.status_code == 200
        assert message in response.content.decode()
    assert TaskRule.objects.count() == 1
    rule.refresh_from_db()
    assert rule.name == "Failed payments"
    assert not AuditEvent.objects.exists()


def test_assigning_a_rule_to_a_member_of_another_workspace_is_refused(
    client_for, admin, rule, outsider
):
    data = form_data(assignment="member", assignee=str(outsider.pk))
    response = client_for(admin).post(f"/w/acme/settings/task-rules/{rule.uuid}/", data)
    assert "Choose a member of this workspace." in response.content.decode()
    rule.refresh_from_db()
    assert rule.assignee is None


def test_another_workspaces_step_is_refused(client_for, admin, rule, other_workspace):
    from journeys.services import journey_install_default

    foreign = journey_install_default(workspace=other_workspace).steps.first()
    response = client_for(admin).post(
        f"/w/acme/settings/task-rules/{rule.uuid}/", form_data(step=str(foreign.uuid))
    )
    assert "Choose a step of this workspace" in response.content.decode()
    rule.refresh_from_db()
    assert rule.conditions == {}
