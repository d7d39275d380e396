"""Follow-up tasks for people, and the rules that open them from revenue signals."""

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from billing.models import Customer, RevenueSignal
from custory.models import Role, Workspace
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
