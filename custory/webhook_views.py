"""Settings → Webhooks (admins): endpoints, their secrets (shown once) and delivery logs."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from custory import outbound
from custory.access import get_object_for_member, workspace_view
from custory.forms import WebhookForm, outbound_event_choices
from custory.models import Delivery, OutboundWebhook, Role

DELIVERIES_SHOWN = 50
TEST_EVENT = "test.ping"


def _list_page(request, *, form=None, new_secret="", new_webhook=None, status=200):
    webhooks = OutboundWebhook.objects.for_workspace(request.workspace).order_by("created_at")
    labels = dict(outbound_event_choices())
    for webhook in webhooks:
        webhook.event_labels = [labels.get(t, t) for t in webhook.event_types]
    context = {
        "webhooks": webhooks,
        "form": form or WebhookForm(),
        "new_secret": new_secret,
        "new_webhook": new_webhook,
    }
    return render(request, "custory/webhooks.html", context, status=status)


@workspace_view(role=Role.ADMIN)
def webhook_list(request: HttpRequest) -> HttpResponse:
    """List endpoints; POST adds one and shows its signing secret this once."""
    if request.method != "POST":
        return _list_page(request)
    form = WebhookForm(request.POST)
    if form.is_valid():
        try:
            webhook, secret = outbound.outbound_webhook_create(
                workspace=request.workspace, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error("url", error)
        else:
            return _list_page(request, new_secret=secret, new_webhook=webhook)
    return _list_page(request, form=form, status=400)


def _webhook(request, uuid) -> OutboundWebhook:
    return get_object_for_member(request, OutboundWebhook, uuid=uuid)


def _detail_page(request, webhook, *, form=None, new_secret="", status=200):
    deliveries = webhook.deliveries.order_by("-created_at", "-id")[:DELIVERIES_SHOWN]
    form = form or WebhookForm(
        with_url=False, initial={"format": webhook.format, "event_types": webhook.event_types}
    )
    context = {"webhook": webhook, "deliveries": deliveries, "form": form, "new_secret": new_secret}
    template_name = "custory/webhook_detail.html"
    if request.htmx:
        # The delivery log refreshes itself every few seconds.
        template_name += "#deliveries"
    return render(request, template_name, context, status=status)


@workspace_view(role=Role.ADMIN)
@vary_on_headers("HX-Request")
def webhook_detail(request: HttpRequest, uuid) -> HttpResponse:
    """An endpoint's delivery log; POST changes its events and format."""
    webhook = _webhook(request, uuid)
    if request.method != "POST":
        return _detail_page(request, webhook)
    form = WebhookForm(request.POST, with_url=False)
    if not form.is_valid():
        return _detail_page(request, webhook, form=form, status=400)
    outbound.outbound_webhook_update(webhook=webhook, actor=request.user, **form.cleaned_data)
    messages.success(request, "Webhook saved.")
    return redirect(webhook.get_absolute_url())


@workspace_view(role=Role.ADMIN)
@require_POST
def webhook_rotate(request: HttpRequest, uuid) -> HttpResponse:
    webhook = _webhook(request, uuid)
    secret = outbound.outbound_webhook_rotate(webhook=webhook, actor=request.user)
    webhook.refresh_from_db()
    return _detail_page(request, webhook, new_secret=secret)


@workspace_view(role=Role.ADMIN)
@require_POST
def webhook_toggle(request: HttpRequest, uuid) -> HttpResponse:
    webhook = _webhook(request, uuid)
    enabled = request.POST.get("enabled") == "1"
    outbound.outbound_webhook_set_enabled(webhook=webhook, actor=request.user, enabled=enabled)
    messages.success(request, "Webhook turned on." if enabled else "Webhook turned off.")
    return redirect(webhook.get_absolute_url())


@workspace_view(role=Role.ADMIN)
@require_POST
def webhook_delete(request: HttpRequest, uuid) -> HttpResponse:
    webhook = _webhook(request, uuid)
    outbound.outbound_webhook_delete(webhook=webhook, actor=request.user)
    messages.success(request, f"Webhook to {webhook.url} deleted.")
    return redirect("workspace:webhooks", slug=request.workspace.slug)


@workspace_view(role=Role.ADMIN)
@require_POST
def webhook_test(request: HttpRequest, uuid) -> HttpResponse:
    """Send a test event to this endpoint only."""
    webhook = _webhook(request, uuid)
    sent = outbound.outbound_emit(
        workspace=request.workspace,
        type=TEST_EVENT,
        webhook=webhook,
        data={
            "title": "Test event from Custory",
            "summary": f"{request.user.email} sent a test event to check this endpoint.",
            "url": outbound.absolute_url(webhook.get_absolute_url()),
        },
    )
    if sent:
        messages.success(request, "Test event queued; its delivery shows below in a moment.")
    else:
        messages.error(request, "This webhook is turned off: turn it on to send a test event.")
    return redirect(webhook.get_absolute_url())


@workspace_view(role=Role.ADMIN)
@require_POST
def delivery_redeliver(request: HttpRequest, uuid, delivery) -> HttpResponse:
    webhook = _webhook(request, uuid)
    original = get_object_or_404(Delivery, webhook=webhook, uuid=delivery)
    outbound.delivery_redeliver(delivery=original, actor=request.user)
    messages.success(request, f"{original.event_type} queued for redelivery.")
    return redirect(webhook.get_absolute_url())
