from django.urls import path

from billing.pipeline import event_views, settings_views

app_name = "billing"

# Connecting, rotating and revoking Stripe; history import.
connection_urlpatterns = [
    path("settings/stripe/", settings_views.stripe_settings, name="stripe_settings"),
    path(
        "settings/stripe/<uuid:connection>/",
        settings_views.connection_detail,
        name="connection_detail",
    ),
    path(
        "settings/stripe/<uuid:connection>/secrets/",
        settings_views.secret_add,
        name="secret_add",
    ),
    path(
        "settings/stripe/<uuid:connection>/secrets/retire/",
        settings_views.secret_retire,
        name="secret_retire",
    ),
    path("settings/stripe/<uuid:connection>/key/", settings_views.key_replace, name="key_replace"),
    path(
        "settings/stripe/<uuid:connection>/key/verify/",
        settings_views.key_verify,
        name="key_verify",
    ),
    path(
        "settings/stripe/<uuid:connection>/endpoint/",
        settings_views.endpoint_create,
        name="endpoint_create",
    ),
    path(
        "settings/stripe/<uuid:connection>/import/",
        settings_views.history_import,
        name="history_import",
    ),
    path("settings/sync-health/", settings_views.sync_health_index, name="sync_health_index"),
    path(
        "settings/stripe/<uuid:connection>/health/",
        settings_views.sync_health,
        name="sync_health",
    ),
    path(
        "settings/stripe/<uuid:connection>/health/fetch-missing/",
        settings_views.gaps_fetch,
        name="gaps_fetch",
    ),
    path(
        "settings/stripe/<uuid:connection>/import/resume/",
        settings_views.history_import_resume,
        name="history_import_resume",
    ),
    path(
        "settings/stripe/<uuid:connection>/import/cancel/",
        settings_views.history_import_cancel,
        name="history_import_cancel",
    ),
    path(
        "settings/stripe/<uuid:connection>/revoke/",
        settings_views.connection_revoke,
        name="connection_revoke",
    ),
]

# The event log and ingestion health.
event_urlpatterns = [
    path("settings/stripe/events/", event_views.event_list, name="event_list"),
    path("settings/stripe/events/<int:event_id>/", event_views.event_detail, name="event_detail"),
    path(
        "settings/stripe/events/<int:event_id>/retry/",
        event_views.event_retry_view,
        name="event_retry",
    ),
    path(
        "settings/stripe/events/retry-failed/",
        event_views.events_retry_failed_view,
        name="events_retry_failed",
    ),
]

urlpatterns = connection_urlpatterns + event_urlpatterns
