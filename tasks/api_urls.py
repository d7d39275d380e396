"""/api/v1/workspaces/<slug>/: tasks, their comments, task rules."""

from django.urls import path

from tasks import api

urlpatterns = [
    path("tasks/", api.TaskList.as_view(), name="task_list"),
    path("tasks/<uuid:uuid>/", api.TaskDetail.as_view(), name="task_detail"),
    path("tasks/<uuid:uuid>/comments/", api.TaskComments.as_view(), name="task_comments"),
    path("task-rules/", api.TaskRuleList.as_view(), name="task_rule_list"),
    path("task-rules/<uuid:uuid>/", api.TaskRuleDetail.as_view(), name="task_rule_detail"),
]
