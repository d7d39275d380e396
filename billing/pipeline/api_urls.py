"""/api/v1/workspaces/<slug>/: the Stripe event log and inbound evidence webhooks (admins)."""

from django.urls import path

from billing.pipeline import api

urlpatterns = [
    path("events/", api.EventList.as_view(), name="event_list"),
    path("events/<int:event_id>/", api.EventDetail.as_view(), name="event_detail"),
    path("evidence/sources/", api.EvidenceHookList.as_view(), name="evidence_sources"),
]
