from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing.models import StripeConnection
from custory.access import workspace_view
from custory.models import Role


@workspace_view(role=Role.ADMIN)
def stripe_settings(request: HttpRequest) -> HttpResponse:
    connections = StripeConnection.objects.for_workspace(request.workspace)
    context = {"connections": connections, "nav": "settings"}
    return render(request, "billing/stripe_settings.html", context)
