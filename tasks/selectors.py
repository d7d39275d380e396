"""Reads the task pages and automation share: a signal's journey context and task defaults, the
list's filters and board, timelines, histories.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from billing.models import Customer, RevenueSignal, SignalKind
from billing.selectors import TimelineEntry, customer_timeline
from custory.formatting import when_text
from custory.models import AuditEvent, Role, User, Workspace
from custory.money import money_format
from journeys.models import SignalPlacement, Step
from tasks.models import (
    OPEN_STATUSES,
    FollowUpTask,
    TaskComment,
    TaskPriority,
    TaskRule,
    TaskStatus,
)

# How a signal kind reads inside a sentence: "Follow up: failed payment — Acme Inc (€49.00)".
KIND_PHRASES: dict[str, str] = {
    SignalKind.CHECKOUT_COMPLETED: "completed checkout",
    SignalKind.CHECKOUT_ABANDONED: "abandoned checkout",
    SignalKind.SUBSCRIPTION_STARTED: "new subscription",
    SignalKind.TRIAL_ENDING: "trial ending",
    SignalKind.TRIAL_CONVERTED: "converted trial",
    SignalKind.PAYMENT_SUCCEEDED: "payment",
    SignalKind.PAYMENT_FAILED: "failed payment",
    SignalKind.PAYMENT_RECOVERED: "recovered payment",
    SignalKind.REFUND: "refund",
    SignalKind.DISPUTE_OPENED: "dispute",
    SignalKind.DISPUTE_CLOSED: "closed dispute",
    SignalKind.PLAN_UPGRADED: "plan upgrade",
    SignalKind.PLAN_DOWNGRADED: "plan downgrade",
    SignalKind.CANCELLATION_SCHEDULED: "scheduled cancellation",
    SignalKind.CANCELLATION_WITHDRAWN: "withdrawn cancellation",
    SignalKind.SUBSCRIPTION_CANCELED: "canceled subscription",
}


def kind_phrase(kind: str) -> str:
    return KIND_PHRASES.get(kind, kind.replace("_", " "))


def step_label(step: Step | None) -> str:
    """ "Journey › Stage › Step" for a step loaded with its stage and journey."""
    if step is None:
        return ""
    return f"{step.journey.name} › {step.stage.name} › {step.name}"


def default_steps_for_signals(signals: list[RevenueSignal]) -> dict[int, Step]:
    """Each signal's step in its workspace's default journey, in one query."""
    placements = SignalPlacement.objects.filter(
        signal__in=signals, journey__is_default=True, step__isnull=False
    ).select_related("step__stage", "step__journey")
    return {placement.signal_id: placement.step for placement in placements}


def signal_step(signal: RevenueSignal) -> Step | None:
    return default_steps_for_signals([signal]).get(signal.id)


def customer_label(customer: Customer | None) -> str:
    if customer is None:
        return "unknown customer"
    return customer.name or customer.email or customer.stripe_id


def absolute_url(path: str) -> str:
    return settings.SITE_URL + path


def signal_placeholders(
    signal: RevenueSignal, *, step: Step | None, count: int | None = None, rule_name: str = ""
) -> dict[str, str]:
    """The values a task template's placeholders take for this signal."""
    details = signal.details or {}
    customer = signal.customer
    mrr = ""
    if customer is not None and customer.mrr:
        mrr = money_format(customer.mrr, customer.currency or signal.currency)
    return {
        "customer": customer_label(customer),
        "customer_email": customer.email if customer else "",
        "amount": money_format(signal.amount, signal.currency),
        "kind": kind_phrase(signal.kind),
        "step": f"{step.stage.name} › {step.name}" if step else "",
        "count": str(count if count is not None else 1),
        "attempt": str(details.get("attempt_count") or ""),
        "mrr": mrr,
        "rule": rule_name,
        "link": absolute_url(signal.get_absolute_url()),
    }


def signal_task_title(signal: RevenueSignal) -> str:
    """ "Follow up: failed payment — Acme Inc (€49.00)"."""
    title = f"Follow up: {kind_phrase(signal.kind)} — {customer_label(signal.customer)}"
    if signal.amount is not None:
        title += f" ({money_format(signal.amount, signal.currency)})"
    return title[:200]


def signal_task_description(signal: RevenueSignal, *, step: Step | None) -> str:
    """The context a person needs: what happened, amount, attempt, step, customer and a link."""
    details = signal.details or {}
    lines = [f"What happened: {signal.get_kind_display()} on {when_text(signal.occurred_at)}."]
    if signal.amount is not None:
        amount = f"Amount: {money_format(signal.amount, signal.currency)}"
        if details.get("attempt_count"):
            amount += f" (attempt {details['attempt_count']})"
        lines.append(amount)
    if details.get("next_payment_attempt"):
        lines.append(f"Next payment attempt: {when_text(details['next_payment_attempt'])}")
    reason = details.get("decline_code") or details.get("failure_code") or details.get("reason")
    message = details.get("failure_message")
    if reason or message:
        lines.append("Reason: " + " — ".join(part for part in (reason, message) if part))
    customer = signal.customer
    if customer is not None:
        who = customer_label(customer)
        if customer.email and customer.email != who:
            who += f" <{customer.email}>"
        if customer.mrr:
            who += f" · MRR {money_format(customer.mrr, customer.currency or signal.currency)}"
        lines.append(f"Customer: {who}")
    if step is not None:
        lines.append(f"Journey step: {step_label(step)}")
    lines.append(f"Signal: {absolute_url(signal.get_absolute_url())}")
    return "\n".join(lines)


# A task opened from one of these signals starts at high priority: revenue is at risk.
URGENT_KINDS = {
    SignalKind.PAYMENT_FAILED,
    SignalKind.DISPUTE_OPENED,
    SignalKind.CANCELLATION_SCHEDULED,
    SignalKind.SUBSCRIPTION_CANCELED,
}
# A task opened from a signal's page is due this many days later.
SIGNAL_TASK_DUE_DAYS = 2


def signal_task_initial(signal: RevenueSignal, *, assignee_id: int | None) -> dict[str, Any]:
    """What a task opened from a signal's page starts with, assigned to the person opening it."""
    step = signal_step(signal)
    return {
        "title": signal_task_title(signal),
        "description": signal_task_description(signal, step=step),
        "assignee": assignee_id,
        "priority": TaskPriority.HIGH if signal.kind in URGENT_KINDS else TaskPriority.NORMAL,
        "due_date": timezone.now().date() + timedelta(days=SIGNAL_TASK_DUE_DAYS),
    }


def signal_tasks(signal: RevenueSignal) -> QuerySet[FollowUpTask]:
    """The tasks opened from a signal or attached to it later."""
    return (
        FollowUpTask.objects.filter(
            Q(signal=signal) | Q(signal_links__signal=signal), workspace=signal.workspace
        )
        .select_related("assignee")
        .distinct()
    )


def signal_panel_context(
    request: HttpRequest | None, signal: RevenueSignal, form: forms.Form, **extra: Any
) -> dict[str, Any]:
    """What templates/tasks/_signal_panel.html needs, for its view and its template tag alike."""
    return {
        "request": request,
        "signal": signal,
        "tasks": signal_tasks(signal),
        "form": form,
        "next": request.get_full_path() if request is not None else "",
        **extra,
    }


def kind_labels(kinds: list[str]) -> str:
    labels = dict(SignalKind.choices)
    return ", ".join(str(labels.get(kind, kind)) for kind in kinds)


def rule_conditions_text(rule, step_labels: dict[str, str]) -> str:
    """ "2 within 14 days · amount ≥ €250.00 · on Pay & retain › Recurring payment"."""
    conditions = rule.conditions or {}
    parts = []
    if conditions.get("repeat_count"):
        parts.append(f"{conditions['repeat_count']} within {conditions['repeat_days']} days")
    currency = conditions.get("currency", "")
    if conditions.get("amount_min") is not None:
        parts.append(f"amount ≥ {money_format(conditions['amount_min'], currency)}")
    if conditions.get("mrr_min") is not None:
        parts.append(f"customer MRR ≥ {money_format(conditions['mrr_min'], currency)}")
    if conditions.get("step"):
        parts.append(f"on {step_labels.get(conditions['step'], 'a deleted step')}")
    return " · ".join(parts)


def rule_currency(workspace: Workspace, rule: TaskRule | None) -> str:
    """The currency of a rule's money conditions: its own, else the workspace's main currency."""
    if rule is not None and (rule.conditions or {}).get("currency"):
        return rule.conditions["currency"]
    return workspace.main_currency


def rules_for_list(workspace: Workspace):
    """The workspace's rules with their open task counts and readable summaries, in two queries."""
    rules = list(
        TaskRule.objects.filter(workspace=workspace)
        .select_related("workspace", "assignee")
        .annotate(open_tasks=Count("tasks", filter=Q(tasks__status__in=OPEN_STATUSES)))
    )
    step_labels = {
        str(step.uuid): f"{step.stage.name} › {step.name}"
        for step in Step.objects.for_workspace(workspace).select_related("stage")
    }
    for rule in rules:
        rule.kinds_text = kind_labels(rule.kinds)
        rule.resolve_text = kind_labels(rule.resolve_kinds)
        rule.annotate_text = kind_labels(rule.annotate_kinds)
        rule.conditions_text = rule_conditions_text(rule, step_labels)
    return rules


def tasks_filter(
    tasks: QuerySet[FollowUpTask], filters: dict[str, Any], *, user: User
) -> QuerySet[FollowUpTask]:
    """The tasks that pass the list's filters; without a status filter, the active ones."""
    status = filters.get("status") or "active"
    if status == "active":
        tasks = tasks.filter(status__in=[TaskStatus.OPEN, TaskStatus.IN_PROGRESS])
    elif status in TaskStatus.values:
        tasks = tasks.filter(status=status)
    assignee = filters.get("assignee")
    if assignee == "me":
        tasks = tasks.filter(assignee=user)
    elif assignee == "none":
        tasks = tasks.filter(assignee__isnull=True)
    elif assignee:
        tasks = tasks.filter(assignee_id=assignee)
    if filters.get("priority"):
        tasks = tasks.filter(priority=filters["priority"])
    if filters.get("step"):
        tasks = tasks.filter(step=filters["step"])
    if filters.get("kind"):
        tasks = tasks.filter(signal__kind=filters["kind"])
    if filters.get("customer"):
        tasks = tasks.filter(customer__uuid=filters["customer"])
    if filters.get("overdue"):
        tasks = tasks.overdue(timezone.now().date())
    return tasks


BOARD_COLUMN_LIMIT = 30


def task_board_columns(tasks: QuerySet[FollowUpTask]) -> list[dict[str, Any]]:
    """The board: a column per status with its count and its first BOARD_COLUMN_LIMIT tasks."""
    counts = dict(tasks.values_list("status").annotate(n=Count("id")).order_by())
    return [
        {
            "status": value,
            "label": label,
            "tasks": list(tasks.filter(status=value)[:BOARD_COLUMN_LIMIT]),
            "count": counts.get(value, 0),
        }
        for value, label in TaskStatus.choices
    ]


def step_open_tasks(step: Step) -> QuerySet[FollowUpTask]:
    """A step's open tasks, for its page."""
    return (
        FollowUpTask.objects.filter(workspace_id=step.workspace_id, step=step)
        .open()
        .select_related("assignee")[:20]
    )


def customer_tasks(customer: Customer) -> QuerySet[FollowUpTask]:
    """A customer's tasks, for their page."""
    return FollowUpTask.objects.filter(
        workspace_id=customer.workspace_id, customer=customer
    ).select_related("assignee")[:50]


def workspace_members(workspace: Workspace) -> QuerySet[User]:
    """People a task of this workspace may be assigned to."""
    return User.objects.filter(memberships__workspace=workspace).order_by("name", "email")


def workspace_members_with_role(workspace: Workspace, role: Role | str) -> list[User]:
    return list(
        User.objects.filter(memberships__workspace=workspace, memberships__role=role).order_by(
            "memberships__created_at", "memberships__id"
        )
    )


def customer_timeline_with_tasks(customer: Customer, *, limit: int = 30) -> list[TimelineEntry]:
    """A customer's signals and tasks, newest first, in two queries."""
    tasks = (
        FollowUpTask.objects.filter(customer=customer)
        .select_related("workspace", "assignee")
        .order_by("-created_at", "-id")[:limit]
    )
    return customer_timeline(
        customer, limit=limit, others=[TimelineEntry(t.created_at, "task", t) for t in tasks]
    )


@dataclass
class HistoryEntry:
    at: datetime
    who: str
    text: str


AUDIT_PHRASES = {
    "task.create": "created the task",
    "task.assign": "changed the assignee",
    "task.status": "changed the status",
    "task.update": "edited the task",
}


def task_history(task: FollowUpTask) -> list[HistoryEntry]:
    """The task's activity: its audit events and the comments automation wrote, oldest first."""
    entries: list[HistoryEntry] = []
    events = AuditEvent.objects.filter(
        workspace_id=task.workspace_id, target_type="tasks.followuptask", target_id=str(task.uuid)
    ).order_by("at", "id")
    for event in events:
        text = AUDIT_PHRASES.get(event.action, event.action)
        data = event.data or {}
        if event.action == "task.status":
            text = f"changed the status from {data.get('from_label', data.get('from'))} to "
            text += f"{data.get('to_label', data.get('to'))}"
        elif event.action == "task.assign":
            text = f"assigned the task to {data.get('to') or 'nobody'}"
        elif event.action == "task.update" and data.get("fields"):
            text = "changed " + ", ".join(data["fields"])
        entries.append(HistoryEntry(event.at, event.actor_label or "Custory", text))
    for comment in TaskComment.objects.filter(task=task, is_system=True):
        entries.append(HistoryEntry(comment.created_at, "Custory", comment.body))
    entries.sort(key=lambda entry: entry.at)
    return entries
