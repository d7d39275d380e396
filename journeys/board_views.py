"""The journey board and step pages: full pages, their htmx fragments and the live poll."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.vary import vary_on_headers

from billing.filters import BoardFilterForm, SignalFilterForm
from billing.metrics import latest_signal
from billing.models import RevenueSignal, StripeConnection
from custory.access import get_object_for_member, workspace_view
from custory.http import page_of, query_without
from journeys.board_selectors import LOSS_KINDS, RollupFilter, board_build
from journeys.evidence import step_evidence
from journeys.live import live_response
from journeys.models import Journey, Step
from journeys.step_selectors import step_stats


def rollup_filter(form: BoardFilterForm) -> RollupFilter:
    connection = form.selected_connection
    return RollupFilter(
        period=form.selected_period,
        kinds=form.selected_kinds,
        livemode=form.selected_livemode,
        connection_id=connection.pk if connection else None,
    )


@workspace_view
@vary_on_headers("HX-Request")
def board(request: HttpRequest) -> HttpResponse:
    journeys = list(Journey.objects.for_workspace(request.workspace).select_related("workspace"))
    journey = None
    wanted = request.GET.get("journey")
    if wanted:
        journey = next((j for j in journeys if str(j.uuid) == wanted), None)
    if journey is None and journeys:
        journey = journeys[0]
    context = {"nav": "journeys", "journeys": journeys, "journey": journey}
    if "live" in request.GET:
        return live_response(request, "journeys/board.html", context)
    form = BoardFilterForm(request.GET or None, workspace=request.workspace)
    filters = rollup_filter(form)
    context.update(
        form=form,
        filters=filters,
        period=filters.period,
        query=request.GET.urlencode(),
        live_query=query_without(request, "live"),
        latest=latest_signal(request.workspace),
        connections=StripeConnection.objects.for_workspace(request.workspace).exists(),
        is_admin=request.membership.role == "admin",
    )
    loss_query = request.GET.copy()
    for name in ("live", "panel", "journey", "kind"):
        loss_query.pop(name, None)
    loss_query.setlist("kind", list(LOSS_KINDS))
    loss_query["sort"] = "-amount"  # the step opens on the customers who lost the most
    context["loss_query"] = loss_query.urlencode()
    if journey is not None:
        context["board"] = board_build(journey=journey, filters=filters)
    template = "journeys/board.html"
    if request.htmx and request.htmx.target in ("board-content", "mrr-panel"):
        template += "#" + request.htmx.target
    return render(request, template, context)


@workspace_view
@vary_on_headers("HX-Request")
def step_detail(request: HttpRequest, uuid) -> HttpResponse:
    step = get_object_for_member(
        request, Step.objects.select_related("stage", "journey", "workspace"), uuid=uuid
    )
    context = {"nav": "journeys", "step": step}
    if "live" in request.GET:
        return live_response(request, "journeys/step_detail.html", context)
    data = request.GET.copy()
    if not data.get("period"):
        data["period"] = "30"
    form = SignalFilterForm(data, workspace=request.workspace).without_any_time()
    filters = rollup_filter(form)
    signals = form.filter_signals(
        RevenueSignal.objects.for_workspace(request.workspace)
        .filter(placements__step=step)
        .select_related("workspace", "customer__workspace")
    )
    context.update(
        form=form,
        period=filters.period,
        stats=step_stats(step=step, filters=filters),
        evidence=step_evidence(step=step, start=filters.period.start_at, end=filters.period.end_at),
        page=page_of(signals, request.GET.get("page")),
        query=query_without(request, "page"),
        live_query=query_without(request, "live"),
        latest=latest_signal(request.workspace),
    )
    template = "journeys/step_detail.html"
    if request.htmx and request.htmx.target in ("step-signals", "step-content"):
        template += "#" + request.htmx.target
    return render(request, template, context)


@workspace_view
def how_we_count(request: HttpRequest) -> HttpResponse:
    """Every figure's definition in plain words, with an example."""
    return render(request, "journeys/how_we_count.html", {"nav": "journeys"})
