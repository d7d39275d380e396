"""Email digests: per journey step what changed against the period before, the customers most at
risk and the tasks due, in the reader's time zone.

An hourly job sends each digest once its period has ended locally (daily at 07:00, weekly on
Monday at 07:00). A digest is recorded in the same transaction that sends it, under a named unique
constraint on (user, workspace, period), so a second run, or two at once, send nothing new.
"""

import logging
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from billing.metrics import at_risk_subscriptions
from billing.models import SignalKind as K
from custory.models import Membership, Role, User, Workspace
from custory.money import money_format
from journeys.models import Journey, SignalPlacement, Step
from tasks.models import DigestFrequency, DigestPreference, DigestSend, FollowUpTask

logger = logging.getLogger(__name__)

SEND_JOB = "tasks.digests.digests_send"
SEND_SCHEDULE_NAME = "tasks-digests-send"
SEND_HOUR = 7
UNSUBSCRIBE_SALT = "custory.digest.unsubscribe"
# What the digest counts per step, in this order, with the word it uses.
DIGEST_KINDS = {
    K.PAYMENT_FAILED: "failed",
    K.PAYMENT_RECOVERED: "recovered",
    K.REFUND: "refunded",
    K.SUBSCRIPTION_CANCELED: "churned",
}
AT_RISK_SHOWN = 5
TASKS_SHOWN = 10
DEFAULT_ROLES = (Role.ADMIN, Role.MEMBER)


@dataclass(frozen=True)
class Period:
    frequency: str
    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        return f"{self.frequency}:{self.start.date().isoformat()}"

    @property
    def previous_start(self) -> datetime:
        return self.start - (self.end - self.start)

    @property
    def label(self) -> str:
        last = self.end - timedelta(days=1)
        if self.frequency == DigestFrequency.DAILY:
            return f"{last:%a %-d %b %Y}"
        return f"{self.start:%-d %b} – {last:%-d %b %Y}"


def digest_period(frequency: str, now_local: datetime) -> Period | None:
    """The period whose digest is due at this local time, or None (too early, not Monday)."""
    if frequency == DigestFrequency.OFF or now_local.hour < SEND_HOUR:
        return None
    midnight = now_local.replace(hour=0, minute=0, second=0, microsecond=0)
    if frequency == DigestFrequency.DAILY:
        return Period(frequency, _local_midnight(midnight, -1), midnight)
    if now_local.weekday() != 0:
        return None
    return Period(frequency, _local_midnight(midnight, -7), midnight)


def _local_midnight(midnight: datetime, days: int) -> datetime:
    # Day arithmetic on the wall clock, so a DST change inside the week keeps local midnights.
    shifted = (midnight.replace(tzinfo=None) + timedelta(days=days)).replace(tzinfo=midnight.tzinfo)
    return shifted


@dataclass
class KindChange:
    word: str
    count: int = 0
    previous: int = 0
    amounts: dict[str, int] = field(default_factory=dict)

    @property
    def money(self) -> str:
        return ", ".join(money_format(amount, cur) for cur, amount in self.amounts.items())


@dataclass
class StepChange:
    label: str
    kinds: list[KindChange]


def _totals(journey: Journey, start: datetime, end: datetime) -> dict:
    rows = (
        SignalPlacement.objects.filter(
            journey=journey,
            signal__kind__in=list(DIGEST_KINDS),
            signal__occurred_at__gte=start,
            signal__occurred_at__lt=end,
        )
        .values("step_id", "signal__kind", "signal__currency")
        .order_by()
        .annotate(n=Count("id"), amount=Sum("signal__amount"))
    )
    totals: dict = {}
    for row in rows:
        key = (row["step_id"], row["signal__kind"])
        count, amounts = totals.get(key, (0, {}))
        if row["amount"]:
            amounts[row["signal__currency"]] = row["amount"]
        totals[key] = (count + row["n"], amounts)
    return totals


def step_changes(journey: Journey, period: Period) -> list[StepChange]:
    """Per step (in journey order; Unmapped last), the digest kinds now and the period before."""
    current = _totals(journey, period.start, period.end)
    previous = _totals(journey, period.previous_start, period.start)
    steps = Step.objects.filter(stage__journey=journey).select_related("stage")
    ordered = [
        (s.pk, f"{s.stage.name} › {s.name}") for s in steps.order_by("stage__position", "position")
    ]
    changes = []
    for step_id, label in [*ordered, (None, "Unmapped")]:
        kinds = []
        for kind, word in DIGEST_KINDS.items():
            count, amounts = current.get((step_id, kind), (0, {}))
            before = previous.get((step_id, kind), (0, {}))[0]
            if count or before:
                kinds.append(KindChange(word, count, before, amounts))
        if kinds:
            changes.append(StepChange(label, kinds))
    return changes


HEADLINE_WORDS = {
    K.PAYMENT_FAILED: "failed payments",
    K.PAYMENT_RECOVERED: "recovered",
    K.REFUND: "refunds",
    K.SUBSCRIPTION_CANCELED: "churned",
}


def headline(steps: list[StepChange]) -> str:
    """ "3 failed payments (was 1), 1 recovered (was 0), …": the whole journey in one line."""
    totals = {word: [0, 0] for word in DIGEST_KINDS.values()}
    for step in steps:
        for change in step.kinds:
            totals[change.word][0] += change.count
            totals[change.word][1] += change.previous
    parts = [
        f"{totals[word][0]} {HEADLINE_WORDS[kind]} (was {totals[word][1]})"
        for kind, word in DIGEST_KINDS.items()
        if any(totals[word])
    ]
    return ", ".join(parts)


def unsubscribe_token(*, workspace: Workspace, user: User) -> str:
    return signing.dumps({"w": workspace.pk, "u": user.pk}, salt=UNSUBSCRIBE_SALT)


def unsubscribe_url(*, workspace: Workspace, user: User) -> str:
    token = unsubscribe_token(workspace=workspace, user=user)
    return settings.SITE_URL + reverse("digest_unsubscribe", kwargs={"token": token})


def digest_context(*, workspace: Workspace, user: User, period: Period) -> dict:
    journey = (
        Journey.objects.filter(workspace=workspace).order_by("-is_default", "position").first()
    )
    today = timezone.localdate(timezone.now(), period.start.tzinfo)
    tasks = (
        FollowUpTask.objects.for_workspace(workspace)
        .open()
        .filter(Q(assignee=user) | Q(assignee__isnull=True))
        .filter(due_date__lte=today + timedelta(days=7))
        .select_related("assignee")
        .order_by("due_date", "pk")
    )
    at_risk = (
        at_risk_subscriptions(workspace).select_related("customer").order_by("-mrr")[:AT_RISK_SHOWN]
    )
    steps = step_changes(journey, period) if journey else []
    return {
        "workspace": workspace,
        "user": user,
        "period": period,
        "journey": journey,
        "steps": steps,
        "headline": headline(steps),
        "at_risk": [
            {
                "name": s.customer.name or s.customer.email or s.customer.stripe_id,
                "mrr": money_format(s.mrr, s.currency),
                "status": s.status.replace("_", " "),
                "url": settings.SITE_URL + s.customer.get_absolute_url(),
            }
            for s in at_risk
            if s.customer_id
        ],
        "overdue": [t for t in tasks[:TASKS_SHOWN] if t.due_date < today],
        "due": [t for t in tasks[:TASKS_SHOWN] if t.due_date >= today],
        "site_url": settings.SITE_URL,
        "board_url": settings.SITE_URL + workspace.get_absolute_url(),
        "unsubscribe_url": unsubscribe_url(workspace=workspace, user=user),
    }


def digest_message(*, workspace: Workspace, user: User, period: Period) -> EmailMultiAlternatives:
    context = digest_context(workspace=workspace, user=user, period=period)
    word = "Daily" if period.frequency == DigestFrequency.DAILY else "Weekly"
    subject = f"{word} revenue digest — {workspace.name}, {period.label}"
    text = render_to_string("tasks/email/digest.txt", context)
    html = render_to_string("tasks/email/digest.html", context)
    message = EmailMultiAlternatives(
        subject[:200],
        text,
        None,
        [user.email],
        headers={
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(html, "text/html")
    return message


def digest_send(
    *, workspace: Workspace, user: User, frequency: str, time_zone: str, now: datetime
) -> bool:
    """Send this user's digest if one is due and not yet sent; True when it was sent."""
    period = digest_period(frequency, now.astimezone(_zone(time_zone)))
    if period is None:
        return False
    try:
        with transaction.atomic():
            DigestSend.objects.create(workspace=workspace, user=user, period=period.key)
            digest_message(workspace=workspace, user=user, period=period).send()
    except IntegrityError:
        return False
    except Exception:
        # Not recorded, so the next hourly run tries again.
        logger.exception("Digest %s for user %s could not be sent", period.key, user.pk)
        return False
    return True


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def digests_send(now: datetime | None = None) -> int:
    """The hourly job: send every digest that is due; return how many were sent."""
    now = now or timezone.now()
    preferences = {
        (p.workspace_id, p.user_id): p for p in DigestPreference.objects.all().iterator()
    }
    sent = 0
    memberships = Membership.objects.select_related("workspace", "user").filter(
        user__is_active=True
    )
    for membership in memberships.iterator():
        preference = preferences.get((membership.workspace_id, membership.user_id))
        if preference is None and membership.role not in DEFAULT_ROLES:
            continue
        sent += digest_send(
            workspace=membership.workspace,
            user=membership.user,
            frequency=preference.frequency if preference else DigestFrequency.WEEKLY,
            time_zone=preference.time_zone if preference else "UTC",
            now=now,
        )
    return sent


def digests_schedule_ensure(*, using: str = "default", **kwargs) -> None:
    """Create the hourly digest Schedule if it is missing."""
    from django_q.models import Schedule

    if not Schedule.objects.using(using).filter(name=SEND_SCHEDULE_NAME).exists():
        Schedule.objects.using(using).create(
            name=SEND_SCHEDULE_NAME,
            func=SEND_JOB,
            schedule_type=Schedule.HOURLY,
            repeats=-1,
        )
