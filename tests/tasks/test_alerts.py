"""Threshold alerts fire once when breached and clear once, by email and/or webhook."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from billing.models import SignalKind
from billing.revenue_models import FailedInvoice
from custory.models import Delivery
from custory.outbound import outbound_webhook_create
from tasks.alert_services import alert_rule_create
from tasks.alerts import alerts_evaluate
from tasks.models import AlertMetric, AlertRule, AlertState
from tests.factories import (
    StripeConnectionFactory,
    StripeEventFactory,
    SubscriptionFactory,
)


@pytest.fixture(autouse=True)
def _allow_local(settings):
    settings.CUSTORY_OUTBOUND_ALLOW_PRIVATE = True


@pytest.fixture
def webhook(workspace, admin):
    hook, _ = outbound_webhook_create(
        workspace=workspace,
        actor=admin,
        url="http://127.0.0.1:9/alerts",
        event_types=["task.created"],
    )
    return hook


def step_named(journey, name):
    return next(s for stage in journey.stages.all() for s in stage.steps.all() if s.name == name)


def run(captured):
    with captured(execute=True):
        return alerts_evaluate()


def test_failed_payments_on_a_step_fire_once_and_clear_once(
    journey, process, member, webhook, django_capture_on_commit_callbacks
):
    workspace = journey.workspace
    signal = process(SignalKind.PAYMENT_FAILED)
    step = signal.placements.get().step
    rule = alert_rule_create(
        workspace=workspace,
        actor=member,
        metric=AlertMetric.FAILED_PAYMENTS,
        threshold=2,
        step=step,
        webhook=webhook,
    )
    assert run(django_capture_on_commit_callbacks)["fired"] == 0

    process(SignalKind.PAYMENT_FAILED)
    assert run(django_capture_on_commit_callbacks)["fired"] == 1
    assert run(django_capture_on_commit_callbacks)["fired"] == 0
    (message,) = mail.outbox
    assert message.to == ["member@acme.test"]
    assert "Alert fired" in message.subject and "2 failed payments" in message.body
    (delivery,) = Delivery.objects.all()
    assert delivery.event_type == "alert.fired"
    assert delivery.webhook == webhook  # sent although the endpoint subscribes to other events

    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        assert run(django_capture_on_commit_callbacks)["cleared"] == 1
        assert run(django_capture_on_commit_callbacks)["cleared"] == 0
    rule.refresh_from_db()
    assert rule.state == AlertState.OK
    assert len(mail.outbox) == 2 and "Alert cleared" in mail.outbox[1].subject
    assert Delivery.objects.filter(event_type="alert.cleared").count() == 1


def test_recovery_rate_below_threshold_fires(
    journey, process, admin, django_capture_on_commit_callbacks
):
    # Per invoice: one of 8,000 still in dunning, one of 2,000 paid after failing.
    now = timezone.now()
    for invoice, amount, paid in (("in_a", 8000, None), ("in_b", 2000, now)):
        FailedInvoice.objects.create(
            workspace=journey.workspace,
            invoice_id=invoice,
            currency="eur",
            amount=amount,
            amount_paid=amount if paid else 0,
            attempts=2,
            first_failed_at=now - timedelta(days=2),
            paid_at=paid,
        )
    alert_rule_create(
        workspace=journey.workspace,
        actor=admin,
        metric=AlertMetric.RECOVERY_RATE,
        threshold=50,
        currency="eur",
    )
    assert run(django_capture_on_commit_callbacks)["fired"] == 1
    assert AlertRule.objects.get().last_value == "20% recovered over 7 days"


def test_mrr_at_risk_above_an_amount_fires(workspace, admin, django_capture_on_commit_callbacks):
    SubscriptionFactory(workspace=workspace, status="past_due", mrr=60000, currency="usd")
    alert_rule_create(
        workspace=workspace,
        actor=admin,
        metric=AlertMetric.MRR_AT_RISK,
        threshold=50000,
        currency="usd",
    )
    assert run(django_capture_on_commit_callbacks)["fired"] == 1
    assert "$600.00" in mail.outbox[0].body


def test_no_events_while_connected_fires_and_clears_when_one_arrives(
    workspace, admin, django_capture_on_commit_callbacks
):
    connection = StripeConnectionFactory(
        workspace=workspace, connected_at=timezone.now() - timedelta(days=2)
    )
    StripeEventFactory(
        workspace=workspace,
        connection=connection,
        received_at=timezone.now() - timedelta(hours=30),
    )
    alert_rule_create(workspace=workspace, actor=admin, metric=AlertMetric.NO_EVENTS, threshold=24)
    assert run(django_capture_on_commit_callbacks)["fired"] == 1

    StripeEventFactory(workspace=workspace, connection=connection)
    assert run(django_capture_on_commit_callbacks)["cleared"] == 1


def test_a_revoked_connection_does_not_count_as_quiet(
    workspace, admin, django_capture_on_commit_callbacks
):
    StripeConnectionFactory(
        workspace=workspace, status="revoked", connected_at=timezone.now() - timedelta(days=9)
    )
    alert_rule_create(workspace=workspace, actor=admin, metric=AlertMetric.NO_EVENTS, threshold=1)
    assert run(django_capture_on_commit_callbacks)["fired"] == 0


def test_alerts_page_works_for_members(client_for, member, workspace):
    response = client_for(member).get(reverse("tasks:alert_list", args=[workspace.slug]))
    assert response.status_code == 200


def test_alerts_page_checks_role(client_for, support, workspace):
    response = client_for(support).get(reverse("tasks:alert_list", args=[workspace.slug]))
    assert response.status_code == 404


def test_an_email_alert_is_added_in_one_post(client_for, admin, workspace):
    response = client_for(admin).post(
        reverse("tasks:alert_list", args=[workspace.slug]),
        {"metric": "mrr_at_risk", "threshold": "1,500.00", "currency": "eur", "email": "on"},
    )
    assert response.status_code == 302
    rule = AlertRule.objects.get()
    assert (rule.threshold, rule.currency, rule.email) == (150000, "eur", True)


def test_an_alert_needs_a_channel(client_for, admin, workspace):
    response = client_for(admin).post(
        reverse("tasks:alert_list", args=[workspace.slug]),
        {"metric": "failed_payments", "threshold": "3"},
    )
    assert response.status_code == 400
    assert not AlertRule.objects.exists()


def test_another_workspaces_webhook_cannot_be_chosen(client_for, admin, workspace, outsider):
    other, _ = outbound_webhook_create(
        workspace=outsider.memberships.get().workspace,
        actor=outsider,
        url="http://127.0.0.1:9/x",
        event_types=[],
    )
    response = client_for(admin).post(
        reverse("tasks:alert_list", args=[workspace.slug]),
        {"metric": "failed_payments", "threshold": "3", "webhook": other.pk},
    )
    assert response.status_code == 400
