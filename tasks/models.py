"""Follow-up tasks for people, and the rules that open them from revenue signals."""

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from billing.models import Customer, RevenueSignal
from custory.models import OutboundWebhook, Role, Workspace
from journeys.models import Step


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    DISMISSED = "dismissed", "Dismissed"


class TaskPriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


OPEN_STATUSES = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)


class TaskRule(models.Model):
    """When signals of these kinds occur (and conditions hold), open a task from the templates."""

    class Assignment(models.TextChoices):
        NOBODY = "nobody", "Unassigned"
        MEMBER = "member", "A member"
        ROUND_ROBIN = "round_robin", "Round-robin within a role"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="task_rules")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    kinds = models.JSONField(default=list)
    # Validated on write; keys: amount_min, customer_mrr_min, step, repeat_count, repeat_days.
    conditions = models.JSONField(default=dict, blank=True)
    title_template = models.CharField(max_length=200)
    description_template = models.TextField(blank=True)
    assignment = models.CharField(
        max_length=12, choices=Assignment.choices, default=Assignment.NOBODY
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    assign_role = models.CharField(max_length=10, choices=Role.choices, blank=True)
    priority = models.CharField(
        max_length=10, choices=TaskPriority.choices, default=TaskPriority.NORMAL
    )
    due_in_days = models.PositiveIntegerField(null=True, blank=True)
    # Signal kinds that close this rule's open task for the customer (e.g. payment_recovered).
    resolve_kinds = models.JSONField(default=list, blank=True)
    # Signal kinds noted on this rule's open task for the customer, leaving it to a person.
    annotate_kinds = models.JSONField(default=list, blank=True)
    round_robin_cursor = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(assignment__in=["nobody", "member", "round_robin"]),
                name="tasks_rule_assignment_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(priority__in=TaskPriority.values),
                name="tasks_rule_priority_valid",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("tasks:rule_edit", kwargs={"slug": self.workspace.slug, "uuid": self.uuid})


class FollowUpTaskQuerySet(models.QuerySet):
    def for_workspace(self, workspace):
        return self.filter(workspace=workspace)

    def open(self):
        return self.filter(status__in=OPEN_STATUSES)

    def overdue(self, today):
        return self.open().filter(due_date__lt=today)


class FollowUpTask(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tasks")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    priority = models.CharField(
        max_length=10, choices=TaskPriority.choices, default=TaskPriority.NORMAL
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tasks",
    )
    due_date = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rule = models.ForeignKey(
        TaskRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    signal = models.ForeignKey(
        RevenueSignal, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    step = models.ForeignKey(
        Step, on_delete=models.SET_NULL, null=True, blank=True, related_name="tasks"
    )
    # Journey context kept as text, so a task still reads right after a step or signal is deleted.
    context_label = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = FollowUpTaskQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=TaskStatus.values), name="tasks_task_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(priority__in=TaskPriority.values),
                name="tasks_task_priority_valid",
            ),
            # The deduplication window: a rule keeps at most one open task per customer.
            models.UniqueConstraint(
                fields=["rule", "customer"],
                condition=models.Q(
                    status__in=OPEN_STATUSES, rule__isnull=False, customer__isnull=False
                ),
                name="tasks_one_open_task_per_rule_and_customer",
            ),
        ]
        indexes = [
            # Task lists: a workspace's tasks by status; "my tasks" by assignee.
            models.Index(fields=["workspace", "status"], name="tasks_task_ws_status"),
            models.Index(fields=["assignee", "status"], name="tasks_task_assignee_status"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("tasks:task_detail", kwargs={"slug": self.workspace.slug, "uuid": self.uuid})

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class TaskSignalReason(models.TextChoices):
    OPENED = "opened", "Opened the task"
    ATTACHED = "attached", "Attached to the open task"
    RESOLVED = "resolved", "Resolved the task"
    NOTED = "noted", "Noted on the task"


class TaskSignal(models.Model):
    """A signal attached to a task; one row per (rule, signal) makes rules fire once per signal."""

    task = models.ForeignKey(FollowUpTask, on_delete=models.CASCADE, related_name="signal_links")
    signal = models.ForeignKey(RevenueSignal, on_delete=models.CASCADE, related_name="task_links")
    rule = models.ForeignKey(
        TaskRule, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(
        max_length=10, choices=TaskSignalReason.choices, default=TaskSignalReason.OPENED
    )
    attached_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["attached_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "signal"], name="tasks_rule_fires_once_per_signal"
            ),
            models.UniqueConstraint(fields=["task", "signal"], name="tasks_signal_once_per_task"),
        ]

    def __str__(self):
        return f"signal {self.signal_id} on task {self.task_id}"


class TaskComment(models.Model):
    task = models.ForeignKey(FollowUpTask, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    body = models.TextField()
    # Written by automation (auto-close, attached signal) rather than a person.
    is_system = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.body[:60]


class AlertMetric(models.TextChoices):
    FAILED_PAYMENTS = "failed_payments", "Failed payments on a step in 24 hours, at least"
    RECOVERY_RATE = "recovery_rate", "Recovery rate over 7 days below (%)"
    MRR_AT_RISK = "mrr_at_risk", "MRR at risk above"
    NO_EVENTS = "no_events", "No Stripe events for (hours) while connected"


class AlertState(models.TextChoices):
    OK = "ok", "OK"
    FIRING = "firing", "Firing"


class AlertRule(models.Model):
    """A threshold on a workspace figure; it fires once when breached and once when it clears."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="alert_rules")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    metric = models.CharField(max_length=20, choices=AlertMetric.choices)
    # Failed payments: only those placed on this step (any step when empty).
    step = models.ForeignKey(
        Step, on_delete=models.CASCADE, null=True, blank=True, related_name="alert_rules"
    )
    # A count, a percentage, an amount in minor units of `currency`, or hours, by metric.
    threshold = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3, blank=True)
    email = models.BooleanField(default=True)
    webhook = models.ForeignKey(
        OutboundWebhook,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alert_rules",
    )
    enabled = models.BooleanField(default=True)
    state = models.CharField(max_length=10, choices=AlertState.choices, default=AlertState.OK)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    last_value = models.CharField(max_length=100, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(metric__in=AlertMetric.values), name="tasks_alert_metric_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=AlertState.values), name="tasks_alert_state_valid"
            ),
        ]

    def __str__(self):
        return f"{self.get_metric_display()} {self.threshold}"


class DigestFrequency(models.TextChoices):
    OFF = "off", "Off"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class DigestPreference(models.Model):
    """A member's digest choice; without a row, admins and members get the weekly digest."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_preferences"
    )
    frequency = models.CharField(
        max_length=10, choices=DigestFrequency.choices, default=DigestFrequency.WEEKLY
    )
    time_zone = models.CharField(max_length=64, default="UTC")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "user"], name="tasks_digest_preference_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(frequency__in=DigestFrequency.values),
                name="tasks_digest_frequency_valid",
            ),
        ]

    def __str__(self):
        return f"{self.frequency} digest for {self.user_id}"


class DigestSend(models.Model):
    """One digest sent: the constraint is what makes a second run of the job send nothing."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # "weekly:2026-11-23" or "daily:2026-11-29": the frequency and the period's first local day.
    period = models.CharField(max_length=32)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "workspace", "period"], name="tasks_digest_once_per_user_period"
            ),
        ]

    def __str__(self):
        return f"{self.period} digest to {self.user_id}"
