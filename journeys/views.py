from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from custory.access import get_object_for_member, workspace_view
from journeys.models import Journey


@workspace_view
def journey_list(request: HttpRequest) -> HttpResponse:
    journeys = Journey.objects.for_workspace(request.workspace)
    return render(request, "journeys/journey_list.html", {"journeys": journeys, "nav": "settings"})


@workspace_view
def unmapped(request: HttpRequest, journey) -> HttpResponse:
    """A journey's Unmapped lane: signals no rule claims (the journeys work fills this page)."""
    journey = get_object_for_member(request, Journey, uuid=journey)
    return render(request, "journeys/journey_list.html", {"journeys": [journey], "nav": "settings"})
