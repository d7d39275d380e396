"""The task list and board, quick and bulk changes, a task's page, comments and the nav count."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import SignalKind
from custory.models import AuditEvent
from journeys.models import Step
from tasks.models import FollowUpTask, TaskComment, TaskStatus
from tasks.services import task_create
from tests.factories import CustomerFactory, FollowUpTaskFactory, RevenueSignalFactory

TODAY = timezone.now().date


def make(workspace, **fields):
    return FollowUpTaskFactory(workspace=workspace, **fields)


def titles(response):
    if response.context.get("page") is not None:
        return {task.title for task in response.context["page"].object_list}
    return {t.title for column in response.context["columns"] for t in column["tasks"]}


@pytest.fixture
def spread(workspace, journey, support, member):
    """Tasks that differ in every filtered way."""
    step = Step.objects.get(workspace=workspace, name="Dispute")
    customer = CustomerFactory(workspace=workspace, name="Globex")
    dispute = RevenueSignalFactory(workspace=workspace, kind=SignalKind.DISPUTE_OPENED)
    return {
        "mine": make(workspace, title="mine", assignee=support),
        "theirs": make(workspace, title="theirs", assignee=member, priority="urgent"),
        "nobody": make(workspace, title="nobody"),
        "late": make(workspace, title="late", due_date=TODAY() - timedelta(days=1)),
        "late but done": make(
            workspace, title="late but done", due_date=TODAY() - timedelta(days=3), status="done"
        ),
        "on step": make(workspace, title="on step", step=step),
        "globex": make(workspace, title="globex", customer=customer),
        "dispute": make(workspace, title="dispute", signal=dispute),
        "in progress": make(workspace, title="in progress", status=TaskStatus.IN_PROGRESS),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("assignee=me", {"mine"}),
        ("assignee=none", {"nobody", "late", "on step", "globex", "dispute", "in progress"}),
        ("overdue=on", {"late"}),
        ("priority=urgent", {"theirs"}),
        ("kind=dispute_opened", {"dispute"}),
        ("status=done", {"late but done"}),
        ("status=in_progress", {"in progress"}),
    ],
)
def test_the_list_filters(client_for, support, spread, query, expected):
    response = client_for(support).get(f"/w/acme/tasks/?{query}")
    assert response.status_code == 200
    assert titles(response) == expected


def test_the_list_shows_open_tasks_by_default(client_for, member, spread):
    response = client_for(member).get("/w/acme/tasks/")
    assert titles(response) == set(spread) - {"late but done"}


def test_the_list_filters_by_step_and_customer(client_for, support, spread):
    client = client_for(support)
    step = spread["on step"].step
    assert titles(client.get(f"/w/acme/tasks/?step={step.uuid}")) == {"on step"}
    customer = spread["globex"].customer
    assert titles(client.get(f"/w/acme/tasks/?customer={customer.uuid}")) == {"globex"}


def test_garbage_filters_are_reported_and_ignored(client_for, support, spread):
    response = client_for(support).get("/w/acme/tasks/?priority=whenever&step=nope&customer=zzz")
    assert response.status_code == 200
    assert len(titles(response)) == 8
    assert response.context["form"].errors


def test_the_board_has_a_column_per_status(client_for, support, spread):
    response = client_for(support).get("/w/acme/tasks/?view=board")
    columns = {column["status"]: column for column in response.context["columns"]}
    assert list(columns) == ["open", "in_progress", "done", "dismissed"]
    assert {t.title for t in columns["done"]["tasks"]} == {"late but done"}
    assert columns["open"]["count"] == 7
    assert b"In progress" in response.content


def test_the_list_pages_through_many_tasks_in_few_queries(
    client_for, support, workspace, django_assert_max_num_queries
):
    customer = CustomerFactory(workspace=workspace)
    for n in range(60):
        make(workspace, title=f"task {n}", assignee=support, customer=customer)
    client = client_for(support)
    client.get("/w/acme/tasks/?assignee=me")  # the session is written on the first request
    with django_assert_max_num_queries(12):
        first = client.get("/w/acme/tasks/?assignee=me")
    assert len(first.context["page"].object_list) == 25
    assert first.context["page"].paginator.num_pages == 3
    last = client.get("/w/acme/tasks/?page=3")
    assert len(last.context["page"].object_list) == 10
    assert client.get("/w/acme/tasks/?page=banana").status_code == 200
    with django_assert_max_num_queries(14):
        client.get("/w/acme/tasks/?view=board")


def test_filtering_with_htmx_returns_only_the_results(client_for, support, spread):
    response = client_for(support).get(
        "/w/acme/tasks/?assignee=me", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="task-results"
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="task-results">')
    assert "mine" in html and "<html" not in html
    assert response["Vary"].count("HX-Request") == 1


def test_a_quick_status_change_with_htmx_returns_the_row(client_for, support, spread):
    task = spread["nobody"]
    response = client_for(support).post(
        f"/w/acme/tasks/{task.uuid}/status/",
        {"status": "in_progress", "fragment": "row"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith(f'<tr id="task-{task.uuid}"')
    task.refresh_from_db()
    assert task.status == "in_progress"
    event = AuditEvent.objects.get(action="task.status")
    assert event.data["from"] == "open" and event.data["to"] == "in_progress"


def test_closing_a_task_sets_when_and_reopening_clears_it(client_for, member, spread):
    task, client = spread["nobody"], client_for(member)
    client.post(f"/w/acme/tasks/{task.uuid}/status/", {"status": "done"})
    task.refresh_from_db()
    assert task.closed_at is not None
    client.post(f"/w/acme/tasks/{task.uuid}/status/", {"status": "open"})
    task.refresh_from_db()
    assert task.status == "open" and task.closed_at is None


def test_a_quick_assignee_change_emails_the_new_assignee(
    client_for, support, member, spread, django_capture_on_commit_callbacks
):
    task = spread["nobody"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(support).post(
            f"/w/acme/tasks/{task.uuid}/assignee/",
            {"assignee": member.pk, "next": "/w/acme/tasks/?assignee=none"},
        )
    assert response["Location"] == "/w/acme/tasks/?assignee=none"
    task.refresh_from_db()
    assert task.assignee == member
    assert AuditEvent.objects.get(action="task.assign").data == {"from": "", "to": member.email}
    assert mail.outbox[0].to == [member.email]
    assert mail.outbox[0].subject == f"Task assigned to you: {task.title}"


@pytest.mark.parametrize(
    ("path", "data", "message"),
    [
        ("status", {"status": "finished"}, "Choose a status from the list."),
        ("status", {}, "Choose a status."),
        ("assignee", {"assignee": "424242"}, "Choose a member of this workspace."),
    ],
)
def test_bad_quick_changes_are_explained_and_change_nothing(
    client_for, support, spread, path, data, message
):
    task = spread["nobody"]
    client = client_for(support)
    response = client.post(f"/w/acme/tasks/{task.uuid}/{path}/", data, HTTP_HX_REQUEST="true")
    assert response.content.decode() == message
    assert response["HX-Retarget"] == "#task-messages"
    response = client.post(f"/w/acme/tasks/{task.uuid}/{path}/", data, follow=True)
    assert message in response.content.decode()
    task.refresh_from_db()
    assert (task.status, task.assignee_id) == ("open", None)
    assert not AuditEvent.objects.exists()


def test_assigning_a_member_of_another_workspace_is_refused(client_for, support, spread, outsider):
    task = spread["nobody"]
    client_for(support).post(f"/w/acme/tasks/{task.uuid}/assignee/", {"assignee": outsider.pk})
    task.refresh_from_db()
    assert task.assignee is None


def test_reopening_while_the_rule_has_another_open_task_is_refused(
    client_for, support, workspace, customer
):
    from tests.factories import TaskRuleFactory

    rule = TaskRuleFactory(workspace=workspace)
    closed = make(workspace, rule=rule, customer=customer, status="done")
    make(workspace, rule=rule, customer=customer)
    response = client_for(support).post(
        f"/w/acme/tasks/{closed.uuid}/status/", {"status": "open"}, follow=True
    )
    assert "already has an open task for this customer" in response.content.decode()
    closed.refresh_from_db()
    assert closed.status == "done"


def test_bulk_actions_change_the_selected_tasks(client_for, support, member, spread):
    chosen = [spread["nobody"], spread["late"], spread["mine"]]
    client = client_for(support)
    data = {"tasks": [str(t.uuid) for t in chosen], "action": "status", "status": "dismissed"}
    response = client.post("/w/acme/tasks/bulk/", data, follow=True)
    assert "3 of 3 selected tasks changed." in response.content.decode()
    assert FollowUpTask.objects.filter(status="dismissed").count() == 3
    data = {"tasks": [str(chosen[0].uuid)], "action": "assign", "assignee": member.pk}
    client.post("/w/acme/tasks/bulk/", data)
    chosen[0].refresh_from_db()
    assert chosen[0].assignee == member
    assert AuditEvent.objects.filter(action="task.status").count() == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "explode"}, "Choose what to do with the selected tasks."),
        ({"action": "status"}, "Choose the status to set."),
        ({"action": "status", "status": "finished"}, "Choose a status from the list."),
        ({"action": "assign", "assignee": "424242"}, "Choose a member of this workspace."),
    ],
)
def test_bad_bulk_actions_are_explained_and_change_nothing(
    client_for, support, spread, data, message
):
    data = {"tasks": [str(spread["nobody"].uuid)], **data}
    response = client_for(support).post("/w/acme/tasks/bulk/", data, follow=True)
    assert message in response.content.decode()
    assert not AuditEvent.objects.exists()


def test_bulk_with_nothing_selected_says_so(client_for, support, spread):
    response = client_for(support).post("/w/acme/tasks/bulk/", {"action": "status"}, follow=True)
    assert "Select at least one task first." in response.content.decode()


def test_bulk_with_another_workspaces_task_is_404_and_changes_nothing(
    client_for, support, spread, other_workspace
):
    foreign = make(other_workspace, title="foreign")
    data = {
        "tasks": [str(spread["nobody"].uuid), str(foreign.uuid)],
        "action": "status",
        "status": "done",
    }
    client = client_for(support)
    assert client.post("/w/acme/tasks/bulk/", data).status_code == 404
    assert client.post("/w/acme/tasks/bulk/", {**data, "tasks": ["garbage"]}).status_code == 404
    assert not FollowUpTask.objects.filter(status="done").exclude(title="late but done").exists()


def test_a_task_page_shows_signal_customer_timeline_step_and_history(
    client_for, support, member, workspace, journey, customer, django_assert_max_num_queries
):
    from journeys.placement import place_signals
    from tasks.services import task_create_from_signal, task_status_set

    signal = RevenueSignalFactory(
        workspace=workspace, customer=customer, amount=4900, currency="eur"
    )
    RevenueSignalFactory(
        workspace=workspace, customer=customer, kind=SignalKind.REFUND, amount=1500, currency="eur"
    )
    place_signals(signals=[signal])
    task = task_create_from_signal(
        signal=signal, actor=member, title="Call Acme", description="See https://example.org"
    )
    task_status_set(task=task, actor=member, status="in_progress")
    TaskComment.objects.create(task=task, body="Attached another failed payment", is_system=True)
    TaskComment.objects.create(task=task, author=support, body="Left a voicemail")
    client = client_for(support)
    with django_assert_max_num_queries(16):
        response = client.get(task.get_absolute_url())
    html = response.content.decode()
    assert "SaaS customer journey › Pay &amp; retain › Recurring payment" in html
    assert "Acme Inc" in html and "€49.00" in html and "€15.00" in html
    assert "Left a voicemail" in html
    history = [entry.text for entry in response.context["history"]]
    assert history == [
        "created the task",
        "changed the status from Open to In progress",
        "Attached another failed payment",
    ]
    assert [entry.kind for entry in response.context["timeline"]].count("signal") == 2
    assert '<a href="https://example.org"' in html


def test_adding_a_comment(client_for, support, spread):
    task = spread["nobody"]
    client = client_for(support)
    response = client.post(f"/w/acme/tasks/{task.uuid}/comments/", {"body": " Called them "})
    assert response.status_code == 302
    comment = TaskComment.objects.get()
    assert (comment.body, comment.author, comment.is_system) == ("Called them", support, False)
    response = client.post(
        f"/w/acme/tasks/{task.uuid}/comments/", {"body": "Again"}, HTTP_HX_REQUEST="true"
    )
    assert response.content.decode().lstrip().startswith('<section id="comments"')
    assert "Again" in response.content.decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "Write something before adding a comment."),
        ("   ", "Write something"),
        ("x" * 5001, "Keep a comment to 5000"),
    ],
)
def test_bad_comments_are_explained_and_not_saved(client_for, support, spread, body, message):
    task = spread["nobody"]
    response = client_for(support).post(f"/w/acme/tasks/{task.uuid}/comments/", {"body": body})
    assert message in response.content.decode()
    assert not TaskComment.objects.exists()


def test_editing_a_task_records_the_changed_fields(client_for, support, spread):
    task = spread["late"]
    data = {
        "title": "Renamed",
        "description": "",
        "priority": "urgent",
        "due_date": task.due_date.isoformat(),  # already past: keeping it is allowed
    }
    response = client_for(support).post(f"/w/acme/tasks/{task.uuid}/edit/", data)
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.priority) == ("Renamed", "urgent")
    assert AuditEvent.objects.get(action="task.update").data == {"fields": ["title", "priority"]}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"title": ""}, "Give the task a title."),
        ({"title": "x" * 10_000}, "Keep the title to 200 characters"),
        ({"priority": "meh"}, "Choose a priority from the list."),
        ({"due_date": "2001-01-01"}, "The due date is in the past"),
        ({"due_date": "soon"}, "Enter the due date as a date"),
    ],
)
def test_bad_edits_are_explained_and_change_nothing(
    client_for, support, spread, overrides, message
):
    task = spread["nobody"]
    data = {"title": "New", "description": "", "priority": "low", "due_date": "", **overrides}
    response = client_for(support).post(f"/w/acme/tasks/{task.uuid}/edit/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    task.refresh_from_db()
    assert task.title == "nobody"
    assert not AuditEvent.objects.exists()


def test_another_workspaces_task_is_404_on_every_task_url(client_for, support, other_workspace):
    foreign = make(other_workspace, title="foreign")
    client = client_for(support)
    for path in ("", "edit/", "status/", "assignee/", "comments/"):
        assert client.get(f"/w/acme/tasks/{foreign.uuid}/{path}").status_code == 404
        data = {"status": "done", "assignee": support.pk, "body": "x", "title": "x"}
        assert client.post(f"/w/acme/tasks/{foreign.uuid}/{path}", data).status_code == 404
    foreign.refresh_from_db()
    assert (foreign.status, foreign.assignee, foreign.title) == ("open", None, "foreign")
    assert not TaskComment.objects.exists()


def test_the_navigation_counts_my_open_tasks_in_one_query(client_for, support, workspace):
    for status in ("open", "in_progress", "done"):
        make(workspace, assignee=support, status=status)
    make(workspace)
    client = client_for(support)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/w/acme/tasks/?assignee=none")
    counts = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT COUNT(*)") and '"assignee_id" =' in q["sql"]
    ]
    assert len(counts) == 1
    html = response.content.decode()
    assert '<span id="nav-task-count" class="nav-task-count"> <span class="badge"' in html
    assert '>2<span class="sr-only"> open, yours</span>' in html
    assert response.context["my_open_task_count"] == 2


def test_pages_outside_a_workspace_do_not_count_tasks(client, stranger):
    client.force_login(stranger)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/workspaces/new/")
    assert "my_open_task_count" not in response.context
    assert not [q for q in queries.captured_queries if "tasks_followuptask" in q["sql"]]


def test_service_refuses_an_assignee_from_another_workspace(workspace, outsider, admin):
    from tasks.services import TaskError

    with pytest.raises(TaskError, match="not a member of this workspace"):
        task_create(workspace=workspace, actor=admin, title="x", assignee=outsider)
    assert not FollowUpTask.objects.exists()


@pytest.mark.parametrize(
    ("fragment", "start"), [("card", '<li class="task-card'), ("detail", '<div id="task-controls"')]
)
def test_quick_changes_answer_with_the_fragment_they_came_from(
    client_for, support, member, spread, fragment, start
):
    task = spread["nobody"]
    response = client_for(support).post(
        f"/w/acme/tasks/{task.uuid}/assignee/",
        {"assignee": member.pk, "fragment": fragment},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert html.lstrip().startswith(start)
    assert f'<option value="{member.pk}" selected>' in html
