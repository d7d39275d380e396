from django.urls import path

from custory import views, webhook_views

app_name = "workspace"

urlpatterns = [
    path("", views.settings_index, name="settings"),
    path("leave/", views.workspace_leave, name="leave"),
    path("members/", views.members, name="members"),
    path("members/invite/", views.member_invite, name="member_invite"),
    path("members/<uuid:membership>/role/", views.member_role, name="member_role"),
    path("members/<uuid:membership>/remove/", views.member_remove, name="member_remove"),
    path(
        "invitations/<uuid:invitation>/resend/",
        views.invitation_resend,
        name="invitation_resend",
    ),
    path(
        "invitations/<uuid:invitation>/cancel/",
        views.invitation_cancel,
        name="invitation_cancel",
    ),
    path("audit/", views.audit_log, name="audit"),
    path("webhooks/", webhook_views.webhook_list, name="webhooks"),
    path("webhooks/<uuid:uuid>/", webhook_views.webhook_detail, name="webhook_detail"),
    path("webhooks/<uuid:uuid>/rotate/", webhook_views.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<uuid:uuid>/toggle/", webhook_views.webhook_toggle, name="webhook_toggle"),
    path("webhooks/<uuid:uuid>/delete/", webhook_views.webhook_delete, name="webhook_delete"),
    path("webhooks/<uuid:uuid>/test/", webhook_views.webhook_test, name="webhook_test"),
    path(
        "webhooks/<uuid:uuid>/deliveries/<uuid:delivery>/redeliver/",
        webhook_views.delivery_redeliver,
        name="delivery_redeliver",
    ),
    path("tokens/", views.api_tokens, name="api_tokens"),
    path("tokens/<uuid:token>/revoke/", views.api_token_revoke, name="api_token_revoke"),
]
