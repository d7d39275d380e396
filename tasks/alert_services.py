"""Writes for threshold alerts and digest preferences, each audited."""

import zoneinfo

from django.core.exceptions import ValidationError
from django.db import transaction

from custory.audit import audit_record
from custory.models import OutboundWebhook, User, Workspace
from journeys.models import Step
from tasks.alerts import alert_describe
from tasks.models import AlertMetric, AlertRule, AlertState, DigestFrequency, DigestPreference

MONEY_METRICS = (AlertMetric.MRR_AT_RISK, AlertMetric.RECOVERY_RATE)


@transaction.atomic
def alert_rule_create(
    *,
    workspace: Workspace,
    actor: User,
    metric: str,
    threshold: int,
    step: Step | None = None,
    currency: str = "",
    email: bool = True,
    webhook: OutboundWebhook | None = None,
) -> AlertRule:
    """Add a threshold alert; it needs at least one channel, and its step and webhook must be
    the workspace's own."""
    if metric not in AlertMetric.values:
        raise ValidationError("Choose what to watch.", code="invalid_metric")
    if not email and webhook is None:
        raise ValidationError("Choose email, a webhook, or both.", code="no_channel")
    if step is not None and step.stage.journey.workspace_id != workspace.pk:
        raise ValidationError("Choose a step of this workspace.", code="foreign_step")
    if webhook is not None and webhook.workspace_id != workspace.pk:
        raise ValidationError("Choose a webhook of this workspace.", code="foreign_webhook")
    if metric == AlertMetric.RECOVERY_RATE and threshold > 100:
        raise ValidationError("A recovery rate is at most 100 %.", code="invalid_threshold")
    rule = AlertRule.objects.create(
        workspace=workspace,
        metric=metric,
        threshold=threshold,
        step=step if metric == AlertMetric.FAILED_PAYMENTS else None,
        currency=(currency or workspace.main_currency).lower() if metric in MONEY_METRICS else "",
        email=email,
        webhook=webhook,
        created_by=actor,
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="alert.create",
        target=rule,
        target_label=alert_describe(rule),
        data={"email": email, "webhook": webhook.url if webhook else ""},
    )
    return rule


@transaction.atomic
def alert_rule_set_enabled(*, rule: AlertRule, actor: User, enabled: bool) -> None:
    """Switch a rule on or off; switched off, it forgets a breach so it can fire again later."""
    rule.enabled = enabled
    rule.state = AlertState.OK
    rule.save(update_fields=["enabled", "state"])
    audit_record(
        workspace=rule.workspace,
        actor=actor,
        action="alert.enable" if enabled else "alert.disable",
        target=rule,
        target_label=alert_describe(rule),
    )


@transaction.atomic
def alert_rule_delete(*, rule: AlertRule, actor: User) -> None:
    audit_record(
        workspace=rule.workspace,
        actor=actor,
        action="alert.delete",
        target=rule,
        target_label=alert_describe(rule),
    )
    rule.delete()


@transaction.atomic
def digest_preference_set(
    *, workspace: Workspace, user: User, frequency: str, time_zone: str | None = None
) -> DigestPreference:
    """Choose daily, weekly or no digest (and the time zone it is written in)."""
    if frequency not in DigestFrequency.values:
        raise ValidationError("Choose daily, weekly or off.", code="invalid_frequency")
    if time_zone is not None and time_zone not in zoneinfo.available_timezones():
        raise ValidationError("Choose a time zone from the list.", code="invalid_time_zone")
    preference, _ = DigestPreference.objects.select_for_update().get_or_create(
        workspace=workspace, user=user
    )
    preference.frequency = frequency
    if time_zone is not None:
        preference.time_zone = time_zone
    preference.save(update_fields=["frequency", "time_zone"])
    audit_record(
        workspace=workspace,
        actor=user,
        action="digest.preference",
        target_label=user.email,
        data={"frequency": frequency, "time_zone": preference.time_zone},
    )
    return preference
