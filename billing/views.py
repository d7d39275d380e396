from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing.models import Customer, RevenueSignal, StripeConnection, StripeEvent
from custory.access import get_object_for_member, workspace_view
from custory.models import Role


@workspace_view
def signal_list(request: HttpRequest) -> HttpResponse:
    signals = RevenueSignal.objects.for_workspace(request.workspace).select_related("customer")[:50]
    return render(request, "billing/signal_list.html", {"signals": signals, "nav": "signals"})


@workspace_view
def signal_detail(request: HttpRequest, uuid) -> HttpResponse:
    signal = get_object_for_member(
        request, RevenueSignal.objects.select_related("customer"), uuid=uuid
    )
    return render(request, "billing/signal_detail.html", {"signal": signal, "nav": "signals"})


@workspace_view
def customer_list(request: HttpRequest) -> HttpResponse:
    customers = Customer.objects.for_workspace(request.workspace)[:50]
    return render(
        request, "billing/customer_list.html", {"customers": customers, "nav": "customers"}
    )


@workspace_view
def customer_detail(request: HttpRequest, uuid) -> HttpResponse:
    customer = get_object_for_member(request, Customer, uuid=uuid)
    return render(
        request, "billing/customer_detail.html", {"customer": customer, "nav": "customers"}
    )


@workspace_view(role=Role.ADMIN)
def stripe_settings(request: HttpRequest) -> HttpResponse:
    connections = StripeConnection.objects.for_workspace(request.workspace)
    return render(
        request, "billing/stripe_settings.html", {"connections": connections, "nav": "settings"}
    )


@workspace_view(role=Role.ADMIN)
def event_list(request: HttpRequest) -> HttpResponse:
    events = StripeEvent.objects.for_workspace(request.workspace).defer("payload")[:50]
    return render(request, "billing/event_list.html", {"events": events, "nav": "settings"})


@workspace_view(role=Role.ADMIN)
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = get_object_for_member(request, StripeEvent, pk=event_id)
    return render(request, "billing/event_detail.html", {"event": event, "nav": "settings"})
