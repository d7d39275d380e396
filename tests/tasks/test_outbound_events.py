"""What reaches outbound webhooks: new signals from processing, task changes, sync problems."""

import pytest

from billing.models import EventStatus, SignalKind
from billing.pipeline.connections import connection_revoke
from billing.pipeline.jobs import MAX_ATTEMPTS, _failure_record
from custory import services
from custory.models import Delivery
from custory.outbound import outbound_webhook_create
from tasks.models import TaskStatus
from tasks.outbound_events import event_type_choices
from tasks.services import task_assign, task_create, task_status_set
from tests.billing.apply_support import apply_payloads, load
from tests.factories import StripeConnectionFactory, StripeEventFactory, UserFactory


@pytest.fixture(autouse=True)
def _allow_local(settings):
    settings.CUSTORY_OUTBOUND_ALLOW_PRIVATE = True


def endpoint(workspace, actor, events=()):
    webhook, _ = outbound_webhook_create(
        workspace=workspace, actor=actor, url="http://127.0.0.1:9/hook", event_types=list(events)
    )
    return webhook


@pytest.fixture
def connection(db):
    owner = UserFactory(email="owner@outbound.test")
    workspace = services.workspace_create(name="Outbound", owner=owner, slug="outbound")
    connection = StripeConnectionFactory(workspace=workspace)
    connection.owner = owner
    return connection


def test_a_failed_payment_is_announced_once_with_links_back(connection):
    endpoint(connection.workspace, connection.owner, ["signal.payment_failed"])
    payload = load("synthetic_basil_invoice_payment_failed.json")

    apply_payloads(connection, [payload, payload])

    (delivery,) = Delivery.objects.all()
    data = delivery.payload["data"]
    assert delivery.event_type == "signal.payment_failed"
    assert data["signal"]["kind"] == "payment_failed"
    assert data["url"].startswith("http://localhost:8000/w/outbound/signals/")
    assert data["customer"]["url"].startswith("http://localhost:8000/w/outbound/customers/")
    assert "failed" in data["summary"]
    assert data["step"]


def test_signals_nobody_subscribed_to_store_no_delivery(connection):
    endpoint(connection.workspace, connection.owner, ["signal.refund"])
    apply_payloads(connection, [load("synthetic_basil_invoice_payment_failed.json")])
    assert not Delivery.objects.exists()


def test_task_created_assigned_and_closed_are_announced(workspace, admin, member):
    endpoint(workspace, admin, ["task.created", "task.assigned", "task.closed"])

    task = task_create(workspace=workspace, actor=admin, title="Call Acme")
    task_assign(task=task, actor=admin, assignee=member)
    task_status_set(task=task, actor=admin, status=TaskStatus.DONE)
    task_status_set(task=task, actor=admin, status=TaskStatus.DISMISSED)

    types = list(Delivery.objects.order_by("id").values_list("event_type", flat=True))
    assert types == ["task.created", "task.assigned", "task.closed"]
    assigned = Delivery.objects.get(event_type="task.assigned").payload["data"]
    assert assigned["task"]["assignee"] == "member@acme.test"


def test_an_event_that_fails_for_good_is_a_sync_problem(workspace, admin):
    endpoint(workspace, admin, ["sync.event_failed"])
    event = StripeEventFactory(
        workspace=workspace, status=EventStatus.PROCESSING, attempts=MAX_ATTEMPTS
    )
    _failure_record(event, ValueError("boom"))

    (delivery,) = Delivery.objects.all()
    assert event.stripe_id in delivery.payload["data"]["summary"]


def test_revoking_a_connection_is_a_sync_problem(connection):
    endpoint(connection.workspace, connection.owner, ["sync.connection_revoked"])
    connection_revoke(connection=connection, actor=connection.owner)
    (delivery,) = Delivery.objects.all()
    assert delivery.payload["data"]["url"].endswith("/w/outbound/settings/stripe/")


def test_every_signal_kind_is_an_event_type():
    types = dict(event_type_choices())
    assert "signal.payment_failed" in types and "task.closed" in types
    assert len([t for t in types if t.startswith("signal.")]) == len(SignalKind.values)
