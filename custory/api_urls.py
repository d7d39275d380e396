from django.urls import path

from custory import api

app_name = "api"

urlpatterns = [
    path("workspaces/", api.workspace_list, name="workspace_list"),
]
