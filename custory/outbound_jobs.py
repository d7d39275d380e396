"""Django-Q2 jobs that deliver outbound webhooks, retry them and give up on dead endpoints.

A delivery is claimed with a conditional update (pending/retrying → sending, with a lease), so two
jobs never send it together. Failures retry with exponential backoff for up to three days; an
endpoint failing for three days is disabled and the workspace's admins are told by email.
"""

import http.client
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from custory.models import Delivery, DeliveryStatus, Membership, OutboundFormat, OutboundWebhook
from custory.outbound_http import OutboundRefused, post
from custory.outbound_signing import SIGNATURE_HEADER, active_secrets, signature_header
from custory.outbound_slack import slack_message

logger = logging.getLogger(__name__)

ATTEMPT_JOB = "custory.outbound_jobs.deliveries_attempt"
SWEEP_JOB = "custory.outbound_jobs.deliveries_sweep"
SWEEP_SCHEDULE_NAME = "custory-outbound-sweep"

GIVE_UP_AFTER = timedelta(days=3)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
# A claimed delivery not finished by then belongs to a dead worker; the sweep retries it.
LEASE = timedelta(minutes=2)
SWEEP_LIMIT = 200
# Finished deliveries are kept this long for the delivery log, then pruned by the sweep.
KEEP_FINISHED = timedelta(days=30)
DUE = Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING, DeliveryStatus.SENDING])


def backoff(attempts: int) -> timedelta:
    """Wait before try attempts+1: 30 s, 1 min, 2 min, … capped at 6 h."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def deliveries_enqueue(*, ids: list[int]) -> None:
    """Queue a job per delivery (call after commit): a slow endpoint delays no other."""
    from django_q.tasks import async_task

    for delivery_id in ids:
        async_task(ATTEMPT_JOB, [delivery_id], task_name="outbound_deliver")


def deliveries_attempt(ids: list[int]) -> int:
    """The delivery job: try each due delivery once; return how many were delivered."""
    return sum(delivery_attempt(delivery_id=delivery_id) for delivery_id in ids)


def deliveries_sweep() -> int:
    """Queue the deliveries whose retry is due, prune old finished ones (every minute); return
    how many were queued."""
    now = timezone.now()
    ids = list(
        Delivery.objects.filter(DUE, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_LIMIT]
    )
    deliveries_enqueue(ids=ids)
    old = Delivery.objects.filter(
        status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.FAILED],
        created_at__lt=now - KEEP_FINISHED,
    ).values_list("pk", flat=True)[:SWEEP_LIMIT]
    Delivery.objects.filter(pk__in=list(old)).delete()
    return len(ids)


def _claim(delivery_id: int) -> Delivery | None:
    now = timezone.now()
    claimed = Delivery.objects.filter(DUE, pk=delivery_id, next_attempt_at__lte=now).update(
        status=DeliveryStatus.SENDING,
        attempts=F("attempts") + 1,
        last_attempt_at=now,
        next_attempt_at=now + LEASE,
    )
    if not claimed:
        return None
    return Delivery.objects.select_related("webhook__workspace").get(pk=delivery_id)


def request_parts(delivery: Delivery) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers of a delivery, signed now with every active secret."""
    webhook = delivery.webhook
    message = slack_message(delivery.payload) if webhook.format == OutboundFormat.SLACK else None
    body = json.dumps(message or delivery.payload, separators=(",", ":")).encode()
    now = timezone.now()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Custory-Webhooks/1",
        SIGNATURE_HEADER: signature_header(
            body, active_secrets(webhook, now=now), timestamp=int(now.timestamp())
        ),
        "Custory-Event-Id": str(delivery.event_id),
    }
    return body, headers


def delivery_attempt(*, delivery_id: int) -> bool:
    """Send one due delivery once and record how it went; True when it was delivered."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return False
    webhook = delivery.webhook
    if not webhook.enabled:
        _finish(delivery, status=DeliveryStatus.FAILED, error="The endpoint is disabled.")
        return False
    body, headers = request_parts(delivery)
    try:
        response = post(
            webhook.url, body, headers, timeout=settings.CUSTORY_OUTBOUND_TIMEOUT_SECONDS
        )
    except OutboundRefused as error:
        return _failed(delivery, error=str(error))
    except (OSError, ValueError, http.client.HTTPException) as error:
        return _failed(delivery, error=f"{type(error).__name__}: {error}"[:300])
    fields = {
        "status_code": response.status,
        "duration_ms": response.duration_ms,
        "response_excerpt": response.excerpt,
    }
    if 200 <= response.status < 300:
        _finish(delivery, status=DeliveryStatus.DELIVERED, **fields)
        OutboundWebhook.objects.filter(pk=webhook.pk, failing_since__isnull=False).update(
            failing_since=None
        )
        return True
    return _failed(delivery, error=f"HTTP {response.status}", **fields)


def _finish(delivery: Delivery, **fields) -> None:
    fields.setdefault("error", "")
    fields.setdefault("next_attempt_at", None)
    Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(**fields)


def _failed(delivery: Delivery, *, error: str, **fields) -> bool:
    now = timezone.now()
    gave_up = now - delivery.created_at >= GIVE_UP_AFTER
    retry_at = None if gave_up else now + backoff(delivery.attempts)
    _finish(
        delivery,
        status=DeliveryStatus.FAILED if gave_up else DeliveryStatus.RETRYING,
        error=error[:300],
        next_attempt_at=retry_at,
        **fields,
    )
    logger.info("Delivery %s to endpoint %s failed: %s", delivery.uuid, delivery.webhook_id, error)
    _failing_streak(delivery.webhook, now)
    return False


def _failing_streak(webhook: OutboundWebhook, now) -> None:
    OutboundWebhook.objects.filter(pk=webhook.pk, failing_since__isnull=True).update(
        failing_since=now
    )
    with transaction.atomic():
        disabled = OutboundWebhook.objects.filter(
            pk=webhook.pk, disabled_at__isnull=True, failing_since__lte=now - GIVE_UP_AFTER
        ).update(
            disabled_at=now,
            disabled_reason="Every delivery failed for three days.",
        )
        if disabled:
            Delivery.objects.filter(DUE, webhook=webhook).exclude(
                status=DeliveryStatus.SENDING
            ).update(
                status=DeliveryStatus.FAILED,
                error="The endpoint was disabled.",
                next_attempt_at=None,
            )
            transaction.on_commit(lambda: admins_tell_disabled(webhook_id=webhook.pk))


def admins_tell_disabled(*, webhook_id: int) -> None:
    webhook = OutboundWebhook.objects.select_related("workspace").get(pk=webhook_id)
    emails = list(
        Membership.objects.admins()
        .filter(workspace=webhook.workspace)
        .values_list("user__email", flat=True)
    )
    link = settings.SITE_URL + webhook.get_absolute_url()
    body = "\n".join(
        [
            f"Custory stopped sending events to {webhook.url} in {webhook.workspace.name}:",
            "every delivery to it failed for three days.",
            "",
            f"See its delivery log, fix the endpoint and turn it back on: {link}",
            "",
            "— Custory",
        ]
    )
    try:
        send_mail(f"Webhook disabled: {webhook.url}"[:200], body, None, emails)
    except Exception:
        # A mail server that is down must not fail the job; the page still shows it disabled.
        logger.warning("Could not email the admins of %s about a disabled webhook", webhook_id)


def outbound_rows_ensure(*, using: str = "default", **kwargs) -> None:
    """Create the every-minute retry sweep Schedule if it is missing."""
    from django_q.models import Schedule

    if not Schedule.objects.using(using).filter(name=SWEEP_SCHEDULE_NAME).exists():
        Schedule.objects.using(using).create(
            name=SWEEP_SCHEDULE_NAME,
            func=SWEEP_JOB,
            schedule_type=Schedule.MINUTES,
            minutes=1,
            repeats=-1,
        )
