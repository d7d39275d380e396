"""The live poll every dashboard page shares: it tells the page when a newer signal arrived."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing.metrics import latest_signal
from custory.http import query_without


def live_response(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    """The poll fragment; tells the page to refresh when a newer signal arrived."""
    latest = latest_signal(request.workspace)
    context = {**context, "latest": latest, "live_query": query_without(request, "live")}
    response = render(request, f"{template}#live", context)
    seen = request.GET.get("live", "")
    if latest and seen != str(latest["id"]):
        response["HX-Trigger"] = "signals-changed"
    return response
