"""Creating a follow-up task from a signal in one step: the form, its checks, and who may use it."""

from datetime import timedelta

import pytest
from django.core import mail
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone

from billing.models import SignalKind
from custory.models import AuditEvent
from journeys.placement import place_signals
from tasks.models import FollowUpTask, TaskSignal
from tests.factories import MembershipFactory, RevenueSignalFactory


@pytest.fixture
def signal(workspace, journey, customer):
    signal = RevenueSignalFactory(
        workspace=workspace,
        customer=customer,
        kind=SignalKind.PAYMENT_FAILED,
        amount=4900,
        currency="eur",
        details={"attempt_count": 2, "decline_code": "insufficient_funds"},
    )
    place_signals(signals=[signal])
    return signal


def url(signal, slug="acme"):
    return f"/w/{slug}/signals/{signal.uuid}/tasks/"


def valid(user, **overrides):
    data = {
        "title": "Follow up: failed payment — Acme Inc (€49.00)",
        "description": "Call them",
        "assignee": str(user.pk),
        "priority": "high",
        "due_date": (timezone.now().date() + timedelta(days=2)).isoformat(),
    }
    return {**data, **overrides}


def test_the_form_is_prefilled_from_the_signal(client_for, support, signal):
    response = client_for(support).get(url(signal))
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["title"] == "Follow up: failed payment — Acme Inc (€49.00)"
    description = form.initial["description"]
    assert "What happened: Payment failed on" in description
    assert "Amount: €49.00 (attempt 2)" in description
    assert "Reason: insufficient_funds" in description
    assert "Customer: Acme Inc" in description
    assert "Journey step: SaaS customer journey › Pay & retain › Recurring payment" in description
    assert f"http://localhost:8000/w/acme/signals/{signal.uuid}/" in description
    assert form.initial["assignee"] == support.pk
    assert form.initial["priority"] == "high"
    assert b"Create follow-up task" in response.content


def test_zero_decimal_amounts_have_no_decimals_in_the_title(client_for, support, workspace):
    signal = RevenueSignalFactory(workspace=workspace, amount=5000, currency="jpy")
    response = client_for(support).get(url(signal))
    assert response.context["form"].initial["title"].endswith("(¥5,000)")


@pytest.mark.parametrize("role", ["admin", "member", "support"])
def test_every_role_creates_a_task_linked_to_signal_customer_and_step(
    request, client_for, signal, role, django_capture_on_commit_callbacks
):
    user = request.getfixturevalue(role)
    assignee = MembershipFactory(workspace=signal.workspace).user
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user).post(url(signal), valid(assignee, next="/w/acme/tasks/"))
    assert response.status_code == 302
    assert response["Location"] == "/w/acme/tasks/"
    task = FollowUpTask.objects.get()
    assert (task.signal, task.customer, task.created_by) == (signal, signal.customer, user)
    assert task.step.name == "Recurring payment"
    assert task.context_label.endswith("Pay & retain › Recurring payment")
    assert (task.assignee, task.priority) == (assignee, "high")
    assert TaskSignal.objects.filter(task=task, signal=signal, rule=None).exists()
    actions = set(
        AuditEvent.objects.filter(target_id=str(task.uuid)).values_list("action", flat=True)
    )
    assert actions == {"task.create", "task.assign"}
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [assignee.email]
    assert f"http://localhost:8000/w/acme/tasks/{task.uuid}/" in mail.outbox[0].body


def test_with_htmx_the_new_task_appears_in_the_panel_at_once(client_for, support, signal):
    response = client_for(support).post(url(signal), valid(support), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    task = FollowUpTask.objects.get()
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="panel tasks-panel" id="signal-tasks"')
    assert f'href="/w/acme/tasks/{task.uuid}/"' in html
    assert "Task created" in html and "assigned to you" in html
    assert 'id="nav-task-count"' in html and 'hx-swap-oob="true"' in html
    assert "<html" not in html


def test_assigning_yourself_sends_no_email(
    client_for, support, signal, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client_for(support).post(url(signal), valid(support))
    assert FollowUpTask.objects.get().assignee == support
    assert mail.outbox == []


def test_an_unsafe_next_falls_back_to_this_page(client_for, support, signal):
    response = client_for(support).post(url(signal), valid(support, next="https://evil.test/"))
    assert response["Location"] == url(signal)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"title": ""}, "Give the task a title."),
        ({"title": "   "}, "Give the task a title."),
        ({"title": "x" * 10_000}, "Keep the title to 200 characters (it has 10000)."),
        ({"description": "x" * 10_001}, "Keep the description to 10000 characters"),
        ({"priority": "whenever"}, "Choose a priority from the list."),
        ({"due_date": "2020-01-01"}, "The due date is in the past; choose today or later."),
        ({"due_date": "next tuesday"}, "Enter the due date as a date, like 2026-12-31."),
        ({"due_date": "31/12/2026"}, "Enter the due date as a date, like 2026-12-31."),
        ({"assignee": "999999"}, "Choose a member of this workspace."),
        ({"assignee": "not-a-number"}, "Choose a member of this workspace."),
    ],
)
def test_bad_input_is_explained_and_nothing_is_saved(
    client_for, support, signal, overrides, message
):
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client_for(support).post(url(signal), valid(support, **overrides), **headers)
        assert response.status_code == 200
        assert message in response.content.decode()
    assert not FollowUpTask.objects.exists()
    assert not AuditEvent.objects.exists()


def test_assigning_a_member_of_another_workspace_is_refused(client_for, support, signal, outsider):
    response = client_for(support).post(url(signal), valid(outsider))
    assert "Choose a member of this workspace." in response.content.decode()
    assert not FollowUpTask.objects.exists()


def test_another_workspaces_signal_is_404(client_for, outsider, signal):
    client = client_for(outsider)
    assert client.get(url(signal, slug="other")).status_code == 404
    assert client.post(url(signal, slug="other"), valid(outsider)).status_code == 404
    assert client.post(url(signal), valid(outsider)).status_code == 404
    assert not FollowUpTask.objects.exists()


def test_the_signal_page_tag_renders_the_tasks_and_the_form(rf_user_request, signal, support):
    FollowUpTask.objects.create(workspace=signal.workspace, title="Call Acme", signal=signal)
    request = rf_user_request(support)
    html = Template("{% load tasks_tags %}{% signal_tasks_panel signal %}").render(
        Context({"signal": signal, "request": request, "csrf_token": "tok"})
    )
    assert "Call Acme" in html
    assert f'action="/w/acme/signals/{signal.uuid}/tasks/"' in html
    assert 'name="csrfmiddlewaretoken" value="tok"' in html
    assert "Follow up: failed payment — Acme Inc (€49.00)" in html


@pytest.fixture
def rf_user_request(workspace):
    def make(user):
        request = RequestFactory().get(f"/w/acme/signals/{workspace.pk}/")
        request.user = user
        request.workspace = workspace
        return request

    return make
