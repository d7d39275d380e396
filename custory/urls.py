from django.contrib import admin
from django.urls import include, path

from custory import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("allauth.urls")),
    path("workspaces/new/", views.workspace_create, name="workspace_create"),
    path("invitations/<uuid:token>/", views.invitation_accept, name="invitation_accept"),
    path("hooks/stripe/", include("billing.pipeline.webhook_urls")),
    path("digests/", include("tasks.digest_urls")),
    path("api/v1/", include("custory.api_urls")),
    path("admin/", admin.site.urls),
    path("w/<slug:slug>/", include("journeys.urls")),
    path("w/<slug:slug>/", include("billing.pipeline.urls")),
    path("w/<slug:slug>/", include("tasks.urls")),
    path("w/<slug:slug>/settings/", include("custory.workspace_urls")),
]

handler404 = "custory.views.page_not_found"
handler403 = "custory.views.permission_denied"
handler500 = "custory.views.server_error"
handler400 = "custory.views.bad_request"
