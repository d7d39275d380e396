"""The event log (admins only): received Stripe events, ingestion health, and retrying failures."""

import json
from datetime import date, datetime, time, timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from billing.models import EventStatus, StripeConnection, StripeEvent
from billing.pipeline.ingest import event_retry, events_retry_failed
from custory.access import get_object_for_member, workspace_view
from custory.models import Role

PAGE_SIZE = 50
# Lag percentiles are computed over this many most recently processed webhook events.
LAG_SAMPLE = 500


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(int(round(fraction * (len(sorted_values) - 1))), len(sorted_values) - 1)
    return sorted_values[index]


def ingestion_health(workspace) -> dict:
    """Last event received, events in the last hour, failures, backlog and processing lag."""
    now = timezone.now()
    events = StripeEvent.objects.for_workspace(workspace)
    counts = events.aggregate(
        last_received=Max("received_at"),
        last_hour=Count("pk", filter=Q(received_at__gte=now - timedelta(hours=1))),
        failed=Count("pk", filter=Q(status=EventStatus.FAILED)),
        gave_up=Count("pk", filter=Q(status=EventStatus.FAILED, next_attempt_at=None)),
        backlog=Count("pk", filter=Q(status__in=[EventStatus.PENDING, EventStatus.PROCESSING])),
    )
    recent = events.filter(
        status=EventStatus.PROCESSED, source="webhook", processed_at__isnull=False
    ).order_by("-processed_at")[:LAG_SAMPLE]
    stripe_lags, our_lags = [], []
    for created, received, processed in recent.values_list(
        "created", "received_at", "processed_at"
    ):
        stripe_lags.append(max((processed - created).total_seconds(), 0.0))
        our_lags.append(max((processed - received).total_seconds(), 0.0))
    stripe_lags.sort()
    our_lags.sort()
    refused = StripeConnection.objects.filter(workspace=workspace).aggregate(
        livemode_refused=Sum("livemode_refused"), livemode_refused_at=Max("livemode_refused_at")
    )
    return {
        **counts,
        **refused,
        "lag_sample": len(stripe_lags),
        "lag_p50": _percentile(stripe_lags, 0.5),
        "lag_p95": _percentile(stripe_lags, 0.95),
        "queue_p50": _percentile(our_lags, 0.5),
        "queue_p95": _percentile(our_lags, 0.95),
    }


def _filtered(request: HttpRequest):
    """The workspace's events narrowed by ?status=, ?type= and ?date= (YYYY-MM-DD, received)."""
    events = StripeEvent.objects.for_workspace(request.workspace).defer("payload")
    status = request.GET.get("status", "")
    if status in EventStatus.values:
        events = events.filter(status=status)
    else:
        status = ""
    event_type = request.GET.get("type", "").strip()[:255]
    if event_type:
        events = events.filter(type__startswith=event_type)
    day_text = request.GET.get("date", "").strip()
    try:
        day = date.fromisoformat(day_text) if day_text else None
    except ValueError:
        day, day_text = None, ""
    if day:
        start = datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())
        events = events.filter(received_at__gte=start, received_at__lt=start + timedelta(days=1))
    return events, {"status": status, "type": event_type, "date": day_text}


@workspace_view(role=Role.ADMIN)
@vary_on_headers("HX-Request")
def event_list(request: HttpRequest) -> HttpResponse:
    events, filters = _filtered(request)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "nav": "settings",
        "page": page,
        "filters": filters,
        "query": query.urlencode(),
        "statuses": EventStatus.choices,
        "health": ingestion_health(request.workspace),
    }
    template_name = "billing/event_list.html"
    if request.htmx:
        template_name += "#event_log"
    return render(request, template_name, context)


@workspace_view(role=Role.ADMIN)
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = get_object_for_member(
        request, StripeEvent.objects.select_related("connection"), pk=event_id
    )
    return render(
        request,
        "billing/event_detail.html",
        {
            "event": event,
            "nav": "settings",
            "payload_pretty": json.dumps(event.payload, indent=2, sort_keys=True),
            "signals": event.signals.all()[:20],
        },
    )


@workspace_view(role=Role.ADMIN)
@require_POST
def event_retry_view(request: HttpRequest, event_id: int) -> HttpResponse:
    event = get_object_for_member(request, StripeEvent, pk=event_id)
    if event_retry(event=event, actor=request.user):
        messages.success(request, f"{event.stripe_id} is queued for another try.")
    else:
        messages.info(request, f"{event.stripe_id} is not failed; nothing to retry.")
    return redirect(event)


@workspace_view(role=Role.ADMIN)
@require_POST
def events_retry_failed_view(request: HttpRequest) -> HttpResponse:
    retried = events_retry_failed(workspace=request.workspace, actor=request.user)
    if retried:
        messages.success(request, f"{retried} failed events are queued for another try.")
    else:
        messages.info(request, "No failed events to retry.")
    return redirect(reverse("billing:event_list", kwargs={"slug": request.workspace.slug}))
