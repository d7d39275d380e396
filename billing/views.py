from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from billing.models import Customer, RevenueSignal
from custory.access import get_object_for_member, workspace_view


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
    context = {"customers": customers, "nav": "customers"}
    return render(request, "billing/customer_list.html", context)


@workspace_view
def customer_detail(request: HttpRequest, uuid) -> HttpResponse:
    customer = get_object_for_member(request, Customer, uuid=uuid)
    context = {"customer": customer, "nav": "customers"}
    return render(request, "billing/customer_detail.html", context)
