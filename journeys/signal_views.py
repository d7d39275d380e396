"""The signals list, a signal's page and the CSV export."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.vary import vary_on_headers

from billing.describe import signal_describe, stripe_dashboard_url
from billing.evidence_selectors import evidence_before, evidence_before_sentence
from billing.exports import signal_csv_response
from billing.filters import SignalFilterForm
from billing.metrics import latest_signal
from billing.models import RevenueSignal
from billing.selectors import signal_timeline_around
from custory.access import get_object_for_member, workspace_view
from custory.http import page_of, query_without
from journeys.live import live_response
from journeys.signal_selectors import signal_journey_context


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
        return live_response(request, "journeys/signal_list.html", context)
    form, signals = _filtered_signals(request)
    context.update(
        form=form,
        page=page_of(signals, request.GET.get("page")),
        query=query_without(request, "page"),
        export_query=query_without(request, "page", "live"),
        live_query=query_without(request, "live"),
        latest=latest_signal(request.workspace),
    )
    template = "journeys/signal_list.html"
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
    after, before = signal_timeline_around(signal)
    context = {
        "nav": "signals",
        "signal": signal,
        "description": signal_describe(signal),
        "stripe_url": stripe_dashboard_url(signal.object_id, livemode=signal.livemode),
        "customer_url": stripe_dashboard_url(
            signal.customer.stripe_id if signal.customer else "", livemode=signal.livemode
        ),
        "journey_contexts": signal_journey_context(signal),
        "timeline_after": after,
        "timeline_before": before,
        "evidence_before_text": evidence_before_sentence(evidence_before(signal)),
    }
    return render(request, "journeys/signal_detail.html", context)
