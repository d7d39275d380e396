"""Task pages: the list and board, a task's page, creating from a signal, and task rule settings.

Views that change something answer htmx with the fragment that changed and plain form posts with
a redirect, so every control works without JavaScript too.
"""

import uuid as uuid_module

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from billing.models import RevenueSignal
from custory.access import get_object_for_member, workspace_view
from custory.http import query_without, safe_next
from custory.models import Role
from tasks import rule_services, services
from tasks.forms import (
    AssigneeForm,
    BulkForm,
    CommentForm,
    StatusForm,
    TaskEditForm,
    TaskFilterForm,
    TaskForm,
    TaskRuleForm,
)
from tasks.models import FollowUpTask, TaskPriority, TaskRule, TaskSignal, TaskStatus
from tasks.selectors import (
    customer_timeline_with_tasks,
    rule_currency,
    rules_for_list,
    signal_panel_context,
    signal_task_initial,
    task_board_columns,
    task_history,
    tasks_filter,
    workspace_members,
)

PAGE_SIZE = 25


def _tasks(request: HttpRequest):
    return FollowUpTask.objects.for_workspace(request.workspace).select_related(
        "workspace", "assignee", "customer", "step", "signal"
    )


# Creating a task from a signal -----------------------------------------------------------------


def _signal_task_form(request: HttpRequest, signal: RevenueSignal, data=None) -> TaskForm:
    """The create form, pre-filled from the signal and assigned to the person creating it."""
    initial = signal_task_initial(signal, assignee_id=request.user.pk)
    return TaskForm(data, workspace=signal.workspace, initial=initial)


@workspace_view
@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def signal_tasks(request: HttpRequest, uuid) -> HttpResponse:
    """A signal's tasks with the create form; the form on the signal page posts here."""
    signal = get_object_for_member(
        request, RevenueSignal.objects.select_related("customer", "workspace"), uuid=uuid
    )
    form = None
    extra = {}
    if request.method == "POST":
        form = _signal_task_form(request, signal, data=request.POST)
        if form.is_valid():
            try:
                task = services.task_create_from_signal(
                    signal=signal, actor=request.user, **form.cleaned_data
                )
            except services.TaskError as error:
                form.add_error(None, str(error))
            else:
                if not request.htmx:
                    messages.success(request, f"Task created: {task.title}")
                    return redirect(safe_next(request, request.path))
                form, extra = None, {"created": task, "refresh_nav": True}
    if form is None:
        form = _signal_task_form(request, signal)
    context = signal_panel_context(request, signal, form, **extra)
    if request.htmx:
        context["next"] = safe_next(request, request.path)
        return render(request, "tasks/_signal_panel.html", context)
    context["nav"] = "signals"
    return render(request, "tasks/signal_tasks.html", context)


# The task list and board -----------------------------------------------------------------------


@workspace_view
@vary_on_headers("HX-Request")
def task_list(request: HttpRequest) -> HttpResponse:
    if not request.GET and request.membership.role == Role.SUPPORT:
        # Support works from their own queue (the count in the nav is theirs too).
        return redirect(f"{request.path}?assignee=me")
    members = list(workspace_members(request.workspace))
    form = TaskFilterForm(request.GET, workspace=request.workspace, members=members)
    form.is_valid()
    filters = {name: value for name, value in form.cleaned_data.items() if name not in form.errors}
    board = request.GET.get("view") == "board"
    if board:
        # The board shows every status; the status filter applies to the list only.
        filters["status"] = "all"
    tasks = tasks_filter(_tasks(request), filters, user=request.user)
    context = {
        "nav": "tasks",
        "form": form,
        "members": members,
        "board": board,
        "statuses": TaskStatus.choices,
        "priorities": TaskPriority.choices,
        "query": query_without(request, "page"),
        "view_query": query_without(request, "view", "page", "status"),
        "bulk_form": BulkForm(workspace=request.workspace),
        "today": timezone.now().date(),
    }
    if board:
        context["columns"] = task_board_columns(tasks)
    else:
        context["page"] = Paginator(tasks, PAGE_SIZE).get_page(request.GET.get("page"))
    template = "tasks/task_list.html"
    if request.htmx and request.htmx.target == "task-results":
        template += "#results"
    return render(request, template, context)


def _row_response(request: HttpRequest, task: FollowUpTask) -> HttpResponse:
    """After a quick change: the changed row/card for htmx, else back where the person was."""
    if not request.htmx:
        return redirect(safe_next(request, task.get_absolute_url()))
    fragment = request.POST.get("fragment", "row")
    task = _tasks(request).get(pk=task.pk)
    context = {
        "task": task,
        "members": list(workspace_members(request.workspace)),
        "statuses": TaskStatus.choices,
        "today": timezone.now().date(),
        "next": safe_next(request, task.get_absolute_url()),
        "refresh_nav": True,
    }
    if fragment == "detail":
        return render(request, "tasks/task_detail.html#controls", context)
    if fragment == "card":
        return render(request, "tasks/task_list.html#card", context)
    return render(request, "tasks/task_list.html#row", context)


def _refuse(request: HttpRequest, task: FollowUpTask, message: str) -> HttpResponse:
    if request.htmx:
        response = HttpResponse(message, status=200)
        response["HX-Retarget"] = "#task-messages"
        response["HX-Reswap"] = "innerHTML"
        return response
    messages.error(request, message)
    return redirect(safe_next(request, task.get_absolute_url()))


@workspace_view
@vary_on_headers("HX-Request")
def task_status(request: HttpRequest, uuid) -> HttpResponse:
    task = get_object_for_member(request, _tasks(request), uuid=uuid)
    if request.method != "POST":
        return redirect(task)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _refuse(request, task, form.errors["status"][0])
    try:
        services.task_status_set(task=task, actor=request.user, status=form.cleaned_data["status"])
    except services.TaskError as error:
        return _refuse(request, task, str(error))
    return _row_response(request, task)


@workspace_view
@vary_on_headers("HX-Request")
def task_assignee(request: HttpRequest, uuid) -> HttpResponse:
    task = get_object_for_member(request, _tasks(request), uuid=uuid)
    if request.method != "POST":
        return redirect(task)
    form = AssigneeForm(request.POST, workspace=request.workspace)
    if not form.is_valid():
        return _refuse(request, task, form.errors["assignee"][0])
    try:
        services.task_assign(task=task, actor=request.user, assignee=form.cleaned_data["assignee"])
    except services.TaskError as error:
        return _refuse(request, task, str(error))
    return _row_response(request, task)


@workspace_view
@require_POST
def task_bulk(request: HttpRequest) -> HttpResponse:
    list_url = reverse("tasks:task_list", kwargs={"slug": request.workspace.slug})
    back = safe_next(request, list_url)
    try:
        uuids = {uuid_module.UUID(value) for value in request.POST.getlist("tasks")}
    except ValueError as error:
        raise Http404("No such task.") from error
    tasks = list(_tasks(request).filter(uuid__in=uuids))
    if len(tasks) != len(uuids):
        raise Http404("No such task.")
    form = BulkForm(request.POST, workspace=request.workspace)
    if not tasks:
        messages.error(request, "Select at least one task first.")
        return redirect(back)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, errors[0])
        return redirect(back)
    data = form.cleaned_data
    changed, errors = services.tasks_bulk_update(
        tasks=tasks,
        actor=request.user,
        status=data["status"] if data["action"] == "status" else None,
        assign=data["action"] == "assign",
        assignee=data.get("assignee"),
    )
    messages.success(request, f"{changed} of {len(tasks)} selected tasks changed.")
    for error in errors:
        messages.error(request, error)
    return redirect(back)


# A task's page ---------------------------------------------------------------------------------


def _detail_context(request: HttpRequest, task: FollowUpTask, **forms) -> dict:
    links = (
        TaskSignal.objects.filter(task=task)
        .select_related("signal__workspace")
        .order_by("attached_at", "id")
    )
    return {
        "nav": "tasks",
        "task": task,
        "edit_form": forms.get("edit_form")
        or TaskEditForm(
            workspace=request.workspace,
            current_due=task.due_date,
            initial={
                "title": task.title,
                "description": task.description,
                "priority": task.priority,
                "due_date": task.due_date,
            },
        ),
        "comment_form": forms.get("comment_form") or CommentForm(),
        "comments": task.comments.filter(is_system=False).select_related("author"),
        "history": task_history(task),
        "signal_links": links,
        "timeline": customer_timeline_with_tasks(task.customer) if task.customer_id else [],
        "members": list(workspace_members(request.workspace)),
        "statuses": TaskStatus.choices,
        "today": timezone.now().date(),
        "next": task.get_absolute_url(),
    }


@workspace_view
@vary_on_headers("HX-Request")
def task_detail(request: HttpRequest, uuid) -> HttpResponse:
    task = get_object_for_member(
        request,
        _tasks(request).select_related(
            "rule",
            "created_by",
            "customer__workspace",
            "step__workspace",
            "signal__workspace",
            "signal__customer__workspace",
        ),
        uuid=uuid,
    )
    return render(request, "tasks/task_detail.html", _detail_context(request, task))


@workspace_view
def task_edit(request: HttpRequest, uuid) -> HttpResponse:
    task = get_object_for_member(request, _tasks(request), uuid=uuid)
    if request.method != "POST":
        return redirect(task)
    form = TaskEditForm(request.POST, workspace=request.workspace, current_due=task.due_date)
    if form.is_valid():
        services.task_update(task=task, actor=request.user, **form.cleaned_data)
        messages.success(request, "Task saved.")
        return redirect(task)
    context = _detail_context(request, task, edit_form=form)
    context["edit_open"] = True
    return render(request, "tasks/task_detail.html", context)


@workspace_view
@vary_on_headers("HX-Request")
def task_comment(request: HttpRequest, uuid) -> HttpResponse:
    task = get_object_for_member(request, _tasks(request), uuid=uuid)
    if request.method != "POST":
        return redirect(task)
    form = CommentForm(request.POST)
    if form.is_valid():
        services.task_comment_add(task=task, actor=request.user, body=form.cleaned_data["body"])
        if not request.htmx:
            return redirect(task.get_absolute_url() + "#comments")
        form = CommentForm()
    context = _detail_context(request, task, comment_form=form)
    if request.htmx:
        return render(request, "tasks/task_detail.html#comments", context)
    return render(request, "tasks/task_detail.html", context)


# Task rules ------------------------------------------------------------------------------------


@workspace_view
def rule_list(request: HttpRequest) -> HttpResponse:
    rules = rules_for_list(request.workspace)
    return render(request, "tasks/rule_list.html", {"rules": rules, "nav": "settings"})


@workspace_view(role=Role.MEMBER)
@require_http_methods(["GET", "POST"])
def rule_create(request: HttpRequest) -> HttpResponse:
    currency = rule_currency(request.workspace, None)
    form = TaskRuleForm(request.POST or None, workspace=request.workspace, currency=currency)
    if request.method == "POST" and form.is_valid():
        try:
            rule = rule_services.task_rule_create(
                workspace=request.workspace, actor=request.user, **form.rule_fields()
            )
        except services.TaskError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Task rule “{rule.name}” created.")
            return redirect("tasks:rule_list", slug=request.workspace.slug)
    context = {"form": form, "rule": None, "nav": "settings", "currency": currency}
    return render(request, "tasks/rule_form.html", context)


@workspace_view(role=Role.MEMBER)
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, uuid) -> HttpResponse:
    rule = get_object_for_member(request, TaskRule, uuid=uuid)
    currency = rule_currency(request.workspace, rule)
    form = TaskRuleForm(
        request.POST or None,
        workspace=request.workspace,
        currency=currency,
        initial=TaskRuleForm.initial_from(rule, currency),
    )
    if request.method == "POST" and form.is_valid():
        try:
            rule_services.task_rule_update(rule=rule, actor=request.user, **form.rule_fields())
        except services.TaskError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Task rule “{rule.name}” saved.")
            return redirect("tasks:rule_list", slug=request.workspace.slug)
    context = {"form": form, "rule": rule, "nav": "settings", "currency": currency}
    return render(request, "tasks/rule_form.html", context)


@workspace_view(role=Role.MEMBER)
def rule_toggle(request: HttpRequest, uuid) -> HttpResponse:
    rule = get_object_for_member(request, TaskRule, uuid=uuid)
    if request.method == "POST":
        enabled = request.POST.get("enabled") == "1"
        rule_services.task_rule_set_enabled(rule=rule, actor=request.user, enabled=enabled)
        state = "on" if enabled else "off"
        messages.success(request, f"Task rule “{rule.name}” switched {state}.")
    return redirect("tasks:rule_list", slug=request.workspace.slug)
