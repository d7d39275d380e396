from django.urls import path

from billing import event_views, settings_views, views

app_name = "billing"

# Signals and customers (dashboard).
dashboard_urlpatterns = [
    path("signals/", views.signal_list, name="signal_list"),
    path("signals/<uuid:uuid>/", views.signal_detail, name="signal_detail"),
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/<uuid:uuid>/", views.customer_detail, name="customer_detail"),
]

# Connecting, rotating and revoking Stripe; history import.
connection_urlpatterns = [
    path("settings/stripe/", settings_views.stripe_settings, name="stripe_settings"),
]

# The event log and ingestion health.
event_urlpatterns = [
    path("settings/stripe/events/", event_views.event_list, name="event_list"),
    path("settings/stripe/events/<int:event_id>/", event_views.event_detail, name="event_detail"),
]

urlpatterns = dashboard_urlpatterns + connection_urlpatterns + event_urlpatterns
