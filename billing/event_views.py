from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing.models import StripeEvent
from custory.access import get_object_for_member, workspace_view
from custory.models import Role


@workspace_view(role=Role.ADMIN)
def event_list(request: HttpRequest) -> HttpResponse:
    events = StripeEvent.objects.for_workspace(request.workspace).defer("payload")[:50]
    return render(request, "billing/event_list.html", {"events": events, "nav": "settings"})


@workspace_view(role=Role.ADMIN)
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = get_object_for_member(request, StripeEvent, pk=event_id)
    return render(request, "billing/event_detail.html", {"event": event, "nav": "settings"})
