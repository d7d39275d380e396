"""/api/v1/: the caller's workspaces, then each app's endpoints under workspaces/<slug>/.

Apps are included by dotted string so that the core imports no domain app.
"""

from django.urls import include, path

from custory import api

app_name = "api"

urlpatterns = [
    path("workspaces/", api.workspace_list, name="workspace_list"),
    path("workspaces/<slug:slug>/", include("journeys.api_urls")),
    path("workspaces/<slug:slug>/", include("tasks.api_urls")),
    path("workspaces/<slug:slug>/", include("billing.pipeline.api_urls")),
]
