from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from custory.access import workspace_view
from journeys.models import Journey


@workspace_view
def journey_list(request: HttpRequest) -> HttpResponse:
    journeys = Journey.objects.for_workspace(request.workspace)
    return render(request, "journeys/journey_list.html", {"journeys": journeys, "nav": "settings"})
