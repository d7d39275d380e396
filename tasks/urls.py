from django.urls import path

from tasks import views

app_name = "tasks"

urlpatterns = [
    path("tasks/", views.task_list, name="task_list"),
    path("tasks/<uuid:uuid>/", views.task_detail, name="task_detail"),
    path("settings/task-rules/", views.rule_list, name="rule_list"),
]
