from django.urls import path

from billing.pipeline import webhooks

# Included at /hooks/stripe/ by the root URLconf; no namespace, the URL name is global.
urlpatterns = [
    path("<uuid:endpoint>/", webhooks.stripe_webhook, name="stripe_webhook"),
]
