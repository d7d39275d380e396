from django.urls import path

from custory import views

app_name = "workspace"

urlpatterns = [
    path("", views.settings_index, name="settings"),
    path("members/", views.members, name="members"),
    path("audit/", views.audit_log, name="audit"),
]
