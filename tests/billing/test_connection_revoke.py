"""Revoking a connection: it takes effect at once, erases secrets, and purges only on request."""

import json
from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import connection as db

from billing.models import (
    ConnectionStatus,
    Customer,
    EventStatus,
    HistoryImport,
    ImportStatus,
    RevenueSignal,
    StripeConnection,
    StripeEvent,
    Subscription,
    WebhookSecret,
)
from billing.pipeline import connections
from custory.models import AuditEvent
from journeys.models import SignalPlacement, StepDailyRollup
from tasks.models import FollowUpTask
from tests.factories import (
    CustomerFactory,
    FollowUpTaskFactory,
    RevenueSignalFactory,
    StepFactory,
    StripeEventFactory,
    SubscriptionFactory,
)
from tests.stripe_fake import RK_TEST, WHSEC_NEW, WHSEC_OLD, serve_fake_stripe
from tests.stripe_signing import sign_payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_stripe(settings):
    yield from serve_fake_stripe(settings)


def _connect(workspace, actor, secret=WHSEC_OLD, **kwargs):
    return connections.connection_create(
        workspace=workspace, actor=actor, webhook_secret=secret, **kwargs
    )


def _data_of(connection, step):
    """One of everything that hangs off a connection: event, signal, customer, subscription..."""
    workspace = connection.workspace
    customer = CustomerFactory(workspace=workspace, connection=connection)
    subscription = SubscriptionFactory(workspace=workspace, customer=customer)
    event = StripeEventFactory(workspace=workspace, connection=connection)
    pending = StripeEventFactory(
        workspace=workspace, connection=connection, status=EventStatus.PENDING
    )
    signal = RevenueSignalFactory(workspace=workspace, event=event, customer=customer)
    SignalPlacement.objects.create(
        workspace=workspace, signal=signal, journey=step.journey, step=step
    )
    rollup = StepDailyRollup.objects.create(
        workspace=workspace,
        journey=step.journey,
        step=step,
        connection=connection,
        day=date(2026, 11, 25),
        kind=signal.kind,
        currency="usd",
        count=1,
        amount=4900,
    )
    task = FollowUpTaskFactory(workspace=workspace, signal=signal, customer=customer)
    return {
        "customer": customer,
        "subscription": subscription,
        "event": event,
        "pending": pending,
        "signal": signal,
        "rollup": rollup,
        "task": task,
    }


def _webhook(client, connection, secret):
    body = json.dumps(
        {"id": "evt_after_revoke", "object": "event", "type": "invoice.payment_failed"}
    ).encode()
    return client.post(
        connection.webhook_path(),
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign_payload(body, secret),
    )


def test_a_revoked_endpoint_answers_410_and_stores_nothing(client, workspace, admin):
    connection = _connect(workspace, admin)
    connections.connection_revoke(connection=connection, actor=admin, delete_data=False)
    response = _webhook(client, connection, WHSEC_OLD)
    assert response.status_code == 410
    assert not StripeEvent.objects.filter(stripe_id="evt_after_revoke").exists()


def test_revoking_erases_the_secrets_from_the_database(workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST)
    connection = _connect(workspace, admin, api_key=RK_TEST)
    connections.webhook_secret_add(connection=connection, actor=admin, webhook_secret=WHSEC_NEW)
    result = connections.connection_revoke(connection=connection, actor=admin)
    assert result.secrets_erased == 2
    assert not WebhookSecret.objects.filter(connection=connection).exists()
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT api_key_encrypted, status FROM billing_stripeconnection WHERE id = %s",
            [connection.pk],
        )
        assert cursor.fetchone() == ("", ConnectionStatus.REVOKED)
    connection.refresh_from_db()
    assert connection.revoked_by == admin and connection.revoked_at is not None
    assert connections.webhook_secrets_active(connection=connection) == []
    assert connections.api_key_for(connection) == ""


def test_revoking_stops_queued_work_and_running_imports(workspace, admin):
    connection = _connect(workspace, admin)
    pending = StripeEventFactory(
        workspace=workspace, connection=connection, status=EventStatus.PENDING
    )
    failed = StripeEventFactory(
        workspace=workspace, connection=connection, status=EventStatus.FAILED
    )
    processed = StripeEventFactory(workspace=workspace, connection=connection)
    running = HistoryImport.objects.create(
        workspace=workspace, connection=connection, status=ImportStatus.RUNNING
    )
    connections.connection_revoke(connection=connection, actor=admin)
    for event in (pending, failed):
        event.refresh_from_db()
        assert (event.status, event.last_error) == (EventStatus.IGNORED, "connection revoked")
    processed.refresh_from_db()
    assert processed.status == EventStatus.PROCESSED
    running.refresh_from_db()
    assert running.status == ImportStatus.CANCELED


def test_keeping_the_data_keeps_all_of_it(workspace, admin):
    connection = _connect(workspace, admin)
    data = _data_of(connection, StepFactory(stage__journey__workspace=workspace))
    result = connections.connection_revoke(connection=connection, actor=admin, delete_data=False)
    assert result.purged is None
    assert Customer.objects.filter(pk=data["customer"].pk).exists()
    assert Subscription.objects.filter(pk=data["subscription"].pk).exists()
    assert RevenueSignal.objects.filter(pk=data["signal"].pk).exists()
    assert StripeEvent.objects.filter(connection=connection).count() == 2
    assert StepDailyRollup.objects.filter(pk=data["rollup"].pk).exists()
    assert not AuditEvent.objects.filter(action="stripe.purge").exists()


def test_purging_deletes_that_connections_data_and_nothing_else(
    workspace, other_workspace, admin, outsider
):
    step = StepFactory(stage__journey__workspace=workspace)
    revoked = _connect(workspace, admin, label="Old account")
    kept = _connect(workspace, admin, secret=WHSEC_NEW, label="Other account")
    foreign = _connect(other_workspace, outsider)
    doomed = _data_of(revoked, step)
    survivors = [
        _data_of(kept, step),
        _data_of(foreign, StepFactory(stage__journey__workspace=other_workspace)),
    ]

    result = connections.connection_revoke(connection=revoked, actor=admin, delete_data=True)

    assert result.purged == {
        "events": 2,
        "signals": 1,
        "customers": 1,
        "subscriptions": 1,
        "rollups": 1,
    }
    assert not StripeEvent.objects.filter(connection=revoked).exists()
    assert not RevenueSignal.objects.filter(pk=doomed["signal"].pk).exists()
    assert not SignalPlacement.objects.filter(signal_id=doomed["signal"].pk).exists()
    assert not Customer.objects.filter(pk=doomed["customer"].pk).exists()
    assert not Subscription.objects.filter(pk=doomed["subscription"].pk).exists()
    assert not StepDailyRollup.objects.filter(pk=doomed["rollup"].pk).exists()
    task = FollowUpTask.objects.get(pk=doomed["task"].pk)
    assert (task.signal, task.customer) == (None, None)
    for data in survivors:
        for name in ("customer", "subscription", "event", "pending", "signal", "rollup", "task"):
            obj = data[name]
            assert type(obj).objects.filter(pk=obj.pk).exists(), name
    assert StripeConnection.objects.get(pk=kept.pk).status == ConnectionStatus.ACTIVE
    assert StripeConnection.objects.get(pk=foreign.pk).webhook_secrets.count() == 1


def test_the_audit_trail_outlives_the_purge(workspace, admin):
    connection = _connect(workspace, admin)
    connections.webhook_secret_add(connection=connection, actor=admin, webhook_secret=WHSEC_NEW)
    connections.connection_revoke(connection=connection, actor=admin, delete_data=True)
    trail = AuditEvent.objects.filter(target_id=str(connection.uuid)).order_by("at", "id")
    assert list(trail.values_list("action", flat=True)) == [
        "stripe.connect",
        "stripe.secret_add",
        "stripe.revoke",
        "stripe.purge",
    ]
    assert {event.actor for event in trail} == {admin}


def test_a_revoked_connection_cannot_be_changed_or_revoked_again(workspace, admin):
    connection = _connect(workspace, admin)
    connections.connection_revoke(connection=connection, actor=admin)
    with pytest.raises(ValidationError, match="revoked"):
        connections.webhook_secret_add(connection=connection, actor=admin, webhook_secret=WHSEC_NEW)
    with pytest.raises(ValidationError, match="revoked"):
        connections.connection_revoke(connection=connection, actor=admin)
    assert not WebhookSecret.objects.filter(connection=connection).exists()


def test_reconnecting_gets_a_new_webhook_url(client, workspace, admin):
    first = _connect(workspace, admin)
    connections.connection_revoke(connection=first, actor=admin)
    second = _connect(workspace, admin)
    assert second.uuid != first.uuid
    assert second.webhook_url() != first.webhook_url()
    assert _webhook(client, first, WHSEC_OLD).status_code == 410
