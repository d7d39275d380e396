from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("signals/", views.signal_list, name="signal_list"),
    path("signals/<uuid:uuid>/", views.signal_detail, name="signal_detail"),
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/<uuid:uuid>/", views.customer_detail, name="customer_detail"),
    path("settings/stripe/", views.stripe_settings, name="stripe_settings"),
    path("settings/stripe/events/", views.event_list, name="event_list"),
    path("settings/stripe/events/<int:event_id>/", views.event_detail, name="event_detail"),
]
