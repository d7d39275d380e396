"""The signals list and page, the CSV export, the customers list and page."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.vary import vary_on_headers

from billing import selectors
from billing.describe import signal_describe, stripe_dashboard_url
from billing.exports import signal_csv_response
from billing.filters import SignalFilterForm
from billing.models import Customer, RevenueSignal
from custory.access import get_object_for_member, workspace_view
from journeys.board_selectors import latest_signal
from journeys.board_views import live_response, query_without, signal_page

CUSTOMER_PAGE_SIZE = 50


def _filtered_signals(request: HttpRequest) -> tuple[SignalFilterForm, object]:
    form = SignalFilterForm(request.GET or None, workspace=request.workspace)
    signals = form.filter_signals(
        RevenueSignal.objects.for_workspace(request.workspace).select_related(
            "workspace", "customer__workspace"
        )
    )
    return form, signals


@workspace_view
@vary_on_headers("HX-Request")
def signal_list(request: HttpRequest) -> HttpResponse:
    context = {"nav": "signals"}
    if "live" in request.GET:
        return live_response(request, "billing/signal_list.html", context)
    form, signals = _filtered_signals(request)
    context.update(
        form=form,
        page=signal_page(signals, request.GET.get("page")),
        query=query_without(request, "page"),
        export_query=query_without(request, "page", "live"),
        live_query=query_without(request, "live"),
        latest=latest_signal(request.workspace),
    )
    template = "billing/signal_list.html"
    if request.htmx and request.htmx.target == "signal-results":
        template += "#signal-results"
    return render(request, template, context)


@workspace_view
def signal_export(request: HttpRequest) -> HttpResponse:
    _, signals = _filtered_signals(request)
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    return signal_csv_response(signals, f"{request.workspace.slug}-signals-{stamp}.csv")


@workspace_view
def signal_detail(request: HttpRequest, uuid) -> HttpResponse:
    signal = get_object_for_member(
        request,
        RevenueSignal.objects.select_related("customer", "event", "connection", "workspace"),
        uuid=uuid,
    )
    after, before = selectors.signal_timeline_around(signal)
    context = {
        "nav": "signals",
        "signal": signal,
        "description": signal_describe(signal),
        "stripe_url": stripe_dashboard_url(signal.object_id, livemode=signal.livemode),
        "customer_url": stripe_dashboard_url(
            signal.customer.stripe_id if signal.customer else "", livemode=signal.livemode
        ),
        "journey_contexts": selectors.signal_journey_context(signal),
        "timeline_after": after,
        "timeline_before": before,
    }
    return render(request, "billing/signal_detail.html", context)


@workspace_view
@vary_on_headers("HX-Request")
def customer_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")
    at_risk = request.GET.get("at_risk") == "1"
    customers = selectors.customer_search(request.workspace, q=q, at_risk=at_risk)
    # No COUNT(*): a search over every customer would then run twice.
    page = signal_page(customers, request.GET.get("page"), CUSTOMER_PAGE_SIZE)
    context = {
        "nav": "customers",
        "page": page,
        "q": q,
        "at_risk": at_risk,
        "query": query_without(request, "page"),
    }
    template = "billing/customer_list.html"
    if request.htmx and request.htmx.target == "customer-results":
        template += "#customer-results"
    return render(request, template, context)


@workspace_view
def customer_detail(request: HttpRequest, uuid) -> HttpResponse:
    customer = get_object_for_member(
        request, Customer.objects.select_related("workspace"), uuid=uuid
    )
    subscriptions = selectors.customer_subscriptions(customer)
    context = {
        "nav": "customers",
        "customer": customer,
        "subscriptions": subscriptions,
        "plan": next((s.plan_name or s.price_id for s in subscriptions if s.status), ""),
        "timeline": selectors.customer_timeline(customer),
        "timeline_limit": selectors.CUSTOMER_TIMELINE_LIMIT,
        "steps": selectors.customer_steps(customer),
        "stripe_url": stripe_dashboard_url(customer.stripe_id, livemode=customer.livemode),
    }
    return render(request, "billing/customer_detail.html", context)
