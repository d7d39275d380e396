from django.urls import path

from tasks import alert_views, views

app_name = "tasks"

urlpatterns = [
    path("tasks/", views.task_list, name="task_list"),
    path("tasks/bulk/", views.task_bulk, name="task_bulk"),
    path("tasks/<uuid:uuid>/", views.task_detail, name="task_detail"),
    path("tasks/<uuid:uuid>/edit/", views.task_edit, name="task_edit"),
    path("tasks/<uuid:uuid>/status/", views.task_status, name="task_status"),
    path("tasks/<uuid:uuid>/assignee/", views.task_assignee, name="task_assignee"),
    path("tasks/<uuid:uuid>/comments/", views.task_comment, name="task_comment"),
    path("signals/<uuid:uuid>/tasks/", views.signal_tasks, name="signal_tasks"),
    path("settings/task-rules/", views.rule_list, name="rule_list"),
    path("settings/task-rules/new/", views.rule_create, name="rule_create"),
    path("settings/task-rules/<uuid:uuid>/", views.rule_edit, name="rule_edit"),
    path("settings/task-rules/<uuid:uuid>/toggle/", views.rule_toggle, name="rule_toggle"),
    path("settings/alerts/", alert_views.alert_list, name="alert_list"),
    path("settings/alerts/digest/", alert_views.digest_preference, name="digest_preference"),
    path("settings/alerts/<uuid:uuid>/toggle/", alert_views.alert_toggle, name="alert_toggle"),
    path("settings/alerts/<uuid:uuid>/delete/", alert_views.alert_delete, name="alert_delete"),
]
