from django.urls import path

from billing.pipeline import evidence_webhooks

# Included at /hooks/evidence/ by the root URLconf; no namespace, the URL name is global.
urlpatterns = [
    path("<uuid:endpoint>/", evidence_webhooks.evidence_webhook, name="evidence_webhook"),
]
