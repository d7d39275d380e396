from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from custory import views

# The admin signs in through allauth's login, so its failed-login limits apply there too
# (set before admin.site.urls is read).
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("allauth.urls")),
    path("workspaces/new/", views.workspace_create, name="workspace_create"),
    path("invitations/<uuid:token>/", views.invitation_accept, name="invitation_accept"),
    path("hooks/stripe/", include("billing.pipeline.webhook_urls")),
    path("digests/", include("tasks.digest_urls")),
    path("hooks/evidence/", include("billing.pipeline.evidence_urls")),
    path("api/v1/", include("custory.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    # The split view serves Swagger UI's start-up script as a file: no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api_schema"), name="api_docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api_schema"), name="api_redoc"),
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
