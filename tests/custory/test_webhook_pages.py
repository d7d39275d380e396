"""Settings → Webhooks: admins add endpoints (secret shown once), read the delivery log,
redeliver, rotate, switch off; and the outbound_webhook_add command."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from custory.models import Delivery, DeliveryStatus, OutboundWebhook
from custory.outbound import outbound_webhook_create


@pytest.fixture(autouse=True)
def _allow_local(settings):
    settings.CUSTORY_OUTBOUND_ALLOW_PRIVATE = True


@pytest.fixture
def hook(workspace, admin):
    webhook, _ = outbound_webhook_create(
        workspace=workspace, actor=admin, url="http://127.0.0.1:9/hook", event_types=[]
    )
    return webhook


def url(name, workspace, *args):
    return reverse(f"workspace:{name}", args=[workspace.slug, *args])


def test_it_works(client_for, admin, workspace, hook):
    response = client_for(admin).get(url("webhooks", workspace))
    assert response.status_code == 200
    assert "http://127.0.0.1:9/hook" in response.content.decode()


def test_it_checks_role(client_for, member, workspace, hook):
    client = client_for(member)
    assert client.get(url("webhooks", workspace)).status_code == 404
    assert client.get(hook.get_absolute_url()).status_code == 404


def test_it_checks_workspace(client_for, outsider, workspace, hook):
    assert client_for(outsider).get(hook.get_absolute_url()).status_code == 404


def test_adding_a_slack_webhook_shows_its_secret_once(client_for, admin, workspace):
    client = client_for(admin)
    response = client.post(
        url("webhooks", workspace),
        {
            "url": "http://127.0.0.1:9/services/T000/B000/XXX",
            "format": "slack",
            "event_types": ["signal.payment_failed", "task.created"],
        },
    )
    assert response.status_code == 200
    webhook = OutboundWebhook.objects.get()
    secret = response.context["new_secret"]
    assert secret.startswith("whsec_") and secret in response.content.decode()
    assert webhook.format == "slack"
    assert webhook.event_types == ["signal.payment_failed", "task.created"]
    assert secret not in client.get(url("webhooks", workspace)).content.decode()


def test_a_private_url_is_refused_by_default(client_for, admin, workspace, settings):
    settings.CUSTORY_OUTBOUND_ALLOW_PRIVATE = False
    response = client_for(admin).post(
        url("webhooks", workspace), {"url": "http://10.0.0.8/hook", "format": "json"}
    )
    assert response.status_code == 400
    assert "private address" in response.content.decode()
    assert not OutboundWebhook.objects.exists()


def test_the_delivery_log_shows_status_code_duration_and_response(client_for, admin, hook):
    Delivery.objects.create(
        webhook=hook,
        event_type="signal.refund",
        payload={},
        status=DeliveryStatus.RETRYING,
        status_code=503,
        duration_ms=87,
        response_excerpt="upstream unavailable",
        attempts=2,
    )
    page = client_for(admin).get(hook.get_absolute_url()).content.decode()
    assert "503" in page and "87 ms" in page and "upstream unavailable" in page


def test_redeliver_queues_the_same_event_again(client_for, admin, workspace, hook):
    delivery = Delivery.objects.create(webhook=hook, event_type="signal.refund", payload={"a": 1})
    response = client_for(admin).post(
        url("delivery_redeliver", workspace, hook.uuid, delivery.uuid)
    )
    assert response.status_code == 302
    again = Delivery.objects.exclude(pk=delivery.pk).get()
    assert (again.event_id, again.payload) == (delivery.event_id, {"a": 1})


def test_rotating_shows_the_new_secret_once(client_for, admin, workspace, hook):
    response = client_for(admin).post(url("webhook_rotate", workspace, hook.uuid))
    assert response.context["new_secret"] in response.content.decode()
    assert len(OutboundWebhook.objects.get().secrets) == 2


def test_switching_off_and_on(client_for, admin, workspace, hook):
    client = client_for(admin)
    client.post(url("webhook_toggle", workspace, hook.uuid), {"enabled": "0"})
    assert OutboundWebhook.objects.get().disabled_at is not None
    client.post(url("webhook_toggle", workspace, hook.uuid), {"enabled": "1"})
    assert OutboundWebhook.objects.get().disabled_at is None


def test_a_test_event_goes_to_this_endpoint_only(client_for, admin, workspace, hook):
    outbound_webhook_create(
        workspace=workspace, actor=admin, url="http://127.0.0.1:9/other", event_types=[]
    )
    client_for(admin).post(url("webhook_test", workspace, hook.uuid))
    (delivery,) = Delivery.objects.all()
    assert (delivery.webhook, delivery.event_type) == (hook, "test.ping")


def test_deleting(client_for, admin, workspace, hook):
    client_for(admin).post(url("webhook_delete", workspace, hook.uuid))
    assert not OutboundWebhook.objects.exists()


def test_the_command_prints_the_secret_on_its_last_line(workspace):
    out = io.StringIO()
    call_command(
        "outbound_webhook_add",
        "acme",
        "http://127.0.0.1:9/hook",
        "--events",
        "payment_failed,task.created",
        "--format",
        "slack",
        stdout=out,
    )
    last = out.getvalue().strip().splitlines()[-1]
    assert last.startswith("SECRET=whsec_")
    webhook = OutboundWebhook.objects.get()
    assert webhook.event_types == ["signal.payment_failed", "task.created"]
    assert webhook.format == "slack"


def test_the_command_refuses_unknown_events_and_private_urls(workspace, settings):
    with pytest.raises(CommandError, match="Unknown event"):
        call_command("outbound_webhook_add", "acme", "http://127.0.0.1:9/", "--events", "nope")
    settings.CUSTORY_OUTBOUND_ALLOW_PRIVATE = False
    with pytest.raises(CommandError, match="loopback"):
        call_command("outbound_webhook_add", "acme", "http://127.0.0.1:9/")


def test_the_delivery_log_refreshes_itself_as_a_fragment(client_for, admin, hook):
    Delivery.objects.create(webhook=hook, event_type="signal.refund", payload={})
    response = client_for(admin).get(hook.get_absolute_url(), headers={"HX-Request": "true"})
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="deliveries"')
    assert "signal.refund" in page and "<html" not in page
