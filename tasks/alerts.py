"""Threshold alerts: a scheduled job measures each rule's figure and tells its channels once when
the threshold is breached and once when it clears.

The rule's `state` column makes this exactly-once: a transition is a conditional update
(ok → firing, firing → ok), and only the job that changed the row notifies.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Max, Sum
from django.urls import reverse
from django.utils import timezone

from billing.metrics import at_risk_subscriptions
from billing.models import (
    ConnectionStatus,
    RevenueSignal,
    SignalKind,
    StripeConnection,
    StripeEvent,
)
from billing.recovery import failed_invoices_between, recovery_cohort
from custory.audit import audit_record
from custory.models import Membership, Role
from custory.money import money_format
from custory.outbound import absolute_url, outbound_emit
from tasks.models import AlertMetric, AlertRule, AlertState

logger = logging.getLogger(__name__)

EVALUATE_JOB = "tasks.alerts.alerts_evaluate"
EVALUATE_SCHEDULE_NAME = "tasks-alerts-evaluate"


@dataclass(frozen=True)
class Measure:
    breached: bool
    value: str


def _failed_payments(rule: AlertRule, now) -> Measure:
    signals = RevenueSignal.objects.filter(
        workspace_id=rule.workspace_id,
        kind=SignalKind.PAYMENT_FAILED,
        occurred_at__gte=now - timedelta(hours=24),
    )
    if rule.step_id:
        signals = signals.filter(placements__step_id=rule.step_id)
    count = signals.distinct().count()
    return Measure(count >= rule.threshold, f"{count} failed payments in 24 h")


def _currency(rule: AlertRule) -> str:
    return rule.currency or rule.workspace.main_currency


def _recovery_rate(rule: AlertRule, now) -> Measure:
    """Per invoice, as the board counts: invoices first failed in the last 7 days, recovered
    amount over failed amount."""
    currency = _currency(rule)
    rows = failed_invoices_between(rule.workspace, now - timedelta(days=7), now)
    cohort = recovery_cohort(rows.filter(currency=currency)).by_currency.get(currency)
    if cohort is None or not cohort.amount:
        return Measure(False, "no failed payments in 7 days")
    rate = 100 * cohort.rate_amount
    return Measure(rate < rule.threshold, f"{rate:.0f}% recovered over 7 days")


def _mrr_at_risk(rule: AlertRule, now) -> Measure:
    currency = _currency(rule)
    total = (
        at_risk_subscriptions(rule.workspace)
        .filter(currency=currency)
        .aggregate(mrr=Sum("mrr"))["mrr"]
        or 0
    )
    return Measure(total > rule.threshold, f"{money_format(total, currency)} MRR at risk")


def _no_events(rule: AlertRule, now) -> Measure:
    quiet_since = now - timedelta(hours=rule.threshold)
    connections = StripeConnection.objects.filter(
        workspace_id=rule.workspace_id, status=ConnectionStatus.ACTIVE
    )
    if not connections.filter(connected_at__lte=quiet_since).exists():
        return Measure(False, "no connection active for that long")
    last = StripeEvent.objects.filter(
        workspace_id=rule.workspace_id, connection__in=connections
    ).aggregate(last=Max("received_at"))["last"]
    if last is not None and last > quiet_since:
        return Measure(False, f"last event {timezone.localtime(last):%d %b %H:%M} UTC")
    hours = int((now - last).total_seconds() // 3600) if last else None
    return Measure(True, f"no events for {hours} hours" if hours else "no events received yet")


MEASURES = {
    AlertMetric.FAILED_PAYMENTS: _failed_payments,
    AlertMetric.RECOVERY_RATE: _recovery_rate,
    AlertMetric.MRR_AT_RISK: _mrr_at_risk,
    AlertMetric.NO_EVENTS: _no_events,
}


def alert_describe(rule: AlertRule) -> str:
    """E.g. "Failed payments on Pay & retain › Renewal in 24 hours ≥ 5"."""
    if rule.metric == AlertMetric.FAILED_PAYMENTS:
        where = f" on {rule.step.name}" if rule.step_id else ""
        return f"Failed payments{where} in 24 hours ≥ {rule.threshold}"
    if rule.metric == AlertMetric.RECOVERY_RATE:
        return f"Recovery rate over 7 days ({_currency(rule).upper()}) < {rule.threshold}%"
    if rule.metric == AlertMetric.MRR_AT_RISK:
        return f"MRR at risk > {money_format(rule.threshold, _currency(rule))}"
    return f"No Stripe events for {rule.threshold} hours while connected"


def alert_evaluate(*, rule: AlertRule, now=None) -> str | None:
    """Measure one rule; return "fired", "cleared" or None when its state did not change."""
    now = now or timezone.now()
    measure = MEASURES[rule.metric](rule, now)
    AlertRule.objects.filter(pk=rule.pk).update(last_value=measure.value, last_evaluated_at=now)
    old, new = (
        (AlertState.OK, AlertState.FIRING)
        if measure.breached
        else (AlertState.FIRING, AlertState.OK)
    )
    with transaction.atomic():
        changed = AlertRule.objects.filter(pk=rule.pk, state=old, enabled=True).update(
            state=new, state_changed_at=now
        )
        if not changed:
            return None
        transition = "fired" if measure.breached else "cleared"
        _notify(rule, transition, measure)
    return transition


def _notify(rule: AlertRule, transition: str, measure: Measure) -> None:
    description = alert_describe(rule)
    url = absolute_url(reverse("tasks:alert_list", kwargs={"slug": rule.workspace.slug}))
    title = f"Alert {transition}: {description}"
    audit_record(
        workspace=rule.workspace,
        actor="Alerts",
        action=f"alert.{transition}",
        target=rule,
        target_label=description,
        data={"value": measure.value},
    )
    if rule.webhook_id:
        outbound_emit(
            workspace=rule.workspace,
            type=f"alert.{transition}",
            webhook=rule.webhook,
            data={
                "title": title,
                "summary": f"Now: {measure.value}.",
                "url": url,
                "alert": {"id": str(rule.uuid), "metric": rule.metric, "threshold": rule.threshold},
                "fields": {"Rule": description, "Now": measure.value},
            },
        )
    if rule.email:
        transaction.on_commit(partial(_email, rule.pk, title, measure.value, url))


def _recipients(rule: AlertRule) -> list[str]:
    """Whoever set the alert up; the workspace's admins when that person has left."""
    members = Membership.objects.filter(workspace_id=rule.workspace_id)
    if rule.created_by_id and members.filter(user_id=rule.created_by_id).exists():
        return [rule.created_by.email]
    return list(members.filter(role=Role.ADMIN).values_list("user__email", flat=True))


def _email(rule_id: int, title: str, value: str, url: str) -> None:
    rule = AlertRule.objects.select_related("workspace", "created_by").get(pk=rule_id)
    body = f"{title}\n\nNow: {value}.\n\nIn {rule.workspace.name}: {url}\n\n— Custory"
    try:
        send_mail(f"[{rule.workspace.name}] {title}"[:200], body, None, _recipients(rule))
    except Exception:
        logger.warning("Could not email alert %s", rule.uuid)


def alerts_evaluate() -> dict[str, int]:
    """The scheduled job: evaluate every enabled rule; count transitions."""
    counts = {"fired": 0, "cleared": 0, "rules": 0}
    rules = AlertRule.objects.filter(enabled=True).select_related(
        "workspace", "step", "webhook", "created_by"
    )
    for rule in rules.iterator():
        counts["rules"] += 1
        try:
            transition = alert_evaluate(rule=rule)
        except Exception:
            logger.exception("Alert rule %s could not be evaluated", rule.uuid)
            continue
        if transition:
            counts[transition] += 1
    return counts


def alerts_schedule_ensure(*, using: str = "default", **kwargs) -> None:
    """Create the every-five-minutes evaluation Schedule if it is missing."""
    from django_q.models import Schedule

    if not Schedule.objects.using(using).filter(name=EVALUATE_SCHEDULE_NAME).exists():
        Schedule.objects.using(using).create(
            name=EVALUATE_SCHEDULE_NAME,
            func=EVALUATE_JOB,
            schedule_type=Schedule.MINUTES,
            minutes=5,
            repeats=-1,
        )
