from django.urls import path

from tasks import alert_views

urlpatterns = [
    path(
        "unsubscribe/<str:token>/",
        alert_views.digest_unsubscribe,
        name="digest_unsubscribe",
    ),
]
