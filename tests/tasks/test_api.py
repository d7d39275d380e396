"""Tasks and task rules over the API: create from a signal, update, comment; rules by role."""

from billing.models import SignalKind
from custory.models import AuditEvent
from tasks.models import FollowUpTask, TaskRule
from tests.dashboard_data import add_signal, default_journey
from tests.factories import FollowUpTaskFactory, TaskRuleFactory

BASE = "/api/v1/workspaces/acme/"


def test_a_task_is_created_from_a_signal_with_its_journey_context(api_for, support, workspace):
    default_journey(workspace)
    signal = add_signal(workspace, SignalKind.PAYMENT_FAILED)
    response = api_for(support).post(
        BASE + "tasks/",
        {"signal": str(signal.uuid), "priority": "high", "assignee": "support@acme.test"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    task = FollowUpTask.objects.get(uuid=body["id"])
    assert task.signal == signal and task.customer == signal.customer
    assert task.step.name == "Recurring payment"
    assert body["title"] and body["assignee"] == "support@acme.test"
    assert body["context_label"].endswith("Recurring payment")
    assert AuditEvent.objects.filter(action="task.create").exists()


def test_another_workspaces_signal_is_a_404(api_for, member, other_workspace):
    signal = add_signal(other_workspace, SignalKind.PAYMENT_FAILED)
    response = api_for(member).post(
        BASE + "tasks/", {"signal": str(signal.uuid)}, content_type="application/json"
    )
    assert response.status_code == 404
    assert not FollowUpTask.objects.exists()


def test_an_assignee_outside_the_workspace_is_a_400(api_for, member, outsider):
    response = api_for(member).post(
        BASE + "tasks/",
        {"title": "Call", "assignee": "outsider@other.test"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "assignee" in response.json()


def test_a_task_is_updated_and_commented(api_for, member, workspace):
    task = FollowUpTaskFactory(workspace=workspace, title="Call Bob")
    client = api_for(member)
    url = BASE + f"tasks/{task.uuid}/"
    response = client.patch(
        url, {"status": "done", "priority": "urgent"}, content_type="application/json"
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["priority"]) == ("done", "urgent")
    assert response.json()["closed_at"]
    comment = client.post(
        url + "comments/", {"body": "Card replaced."}, content_type="application/json"
    )
    assert comment.status_code == 201 and comment.json()["author"] == "member@acme.test"
    assert [c["body"] for c in client.get(url + "comments/").json()] == ["Card replaced."]
    empty = client.post(url + "comments/", {"body": " "}, content_type="application/json")
    assert empty.status_code == 400


def test_tasks_are_listed_with_filters(api_for, member, workspace):
    FollowUpTaskFactory(workspace=workspace, title="Open one")
    FollowUpTaskFactory(workspace=workspace, title="Done one", status="done")
    client = api_for(member)
    assert [t["title"] for t in client.get(BASE + "tasks/").json()["results"]] == ["Open one"]
    titles = [t["title"] for t in client.get(BASE + "tasks/", {"status": "all"}).json()["results"]]
    assert sorted(titles) == ["Done one", "Open one"]


def test_task_rules_are_read_by_support_and_written_by_members(api_for, support, member, workspace):
    TaskRuleFactory(workspace=workspace, name="Failed payments")
    assert [r["name"] for r in api_for(support).get(BASE + "task-rules/").json()] == [
        "Failed payments"
    ]
    new = {
        "name": "Disputes",
        "kinds": ["dispute_opened"],
        "title_template": "Dispute: {customer}",
        "assignment": "nobody",
        "priority": "high",
    }
    denied = api_for(support).post(BASE + "task-rules/", new, content_type="application/json")
    assert denied.status_code == 403
    created = api_for(member).post(BASE + "task-rules/", new, content_type="application/json")
    assert created.status_code == 201, created.json()
    url = BASE + f"task-rules/{created.json()['id']}/"
    changed = api_for(member).patch(url, {"enabled": False}, content_type="application/json")
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert TaskRule.objects.get(name="Disputes").enabled is False


def test_a_task_rule_with_overlapping_kinds_is_a_400(api_for, member, workspace):
    response = api_for(member).post(
        BASE + "task-rules/",
        {
            "name": "Odd",
            "kinds": ["refund"],
            "resolve_kinds": ["refund"],
            "title_template": "x",
            "assignment": "nobody",
            "priority": "normal",
        },
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "cannot both open a task and close" in response.json()["detail"]


def test_a_null_character_in_a_body_is_a_400(api_for, member, workspace):
    rule = TaskRuleFactory(workspace=workspace)
    response = api_for(member).patch(
        BASE + f"task-rules/{rule.uuid}/",
        {"assignee": "a\x00@b.c"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "Null characters" in str(response.json())
