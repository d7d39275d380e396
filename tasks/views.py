from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from custory.access import get_object_for_member, workspace_view
from tasks.models import FollowUpTask, TaskRule


@workspace_view
def task_list(request: HttpRequest) -> HttpResponse:
    tasks = FollowUpTask.objects.for_workspace(request.workspace).select_related("assignee")[:50]
    return render(request, "tasks/task_list.html", {"tasks": tasks, "nav": "tasks"})


@workspace_view
def task_detail(request: HttpRequest, uuid) -> HttpResponse:
    task = get_object_for_member(request, FollowUpTask, uuid=uuid)
    return render(request, "tasks/task_detail.html", {"task": task, "nav": "tasks"})


@workspace_view
def rule_list(request: HttpRequest) -> HttpResponse:
    rules = TaskRule.objects.filter(workspace=request.workspace)
    return render(request, "tasks/rule_list.html", {"rules": rules, "nav": "settings"})
