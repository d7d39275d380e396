from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from custory.access import get_object_for_member, workspace_view
from journeys.models import Journey, Step


@workspace_view
def board(request: HttpRequest) -> HttpResponse:
    journey = Journey.objects.for_workspace(request.workspace).first()
    return render(request, "journeys/board.html", {"journey": journey, "nav": "journeys"})


@workspace_view
def step_detail(request: HttpRequest, uuid) -> HttpResponse:
    step = get_object_for_member(
        request, Step.objects.select_related("stage", "journey"), uuid=uuid
    )
    return render(request, "journeys/step_detail.html", {"step": step, "nav": "journeys"})
