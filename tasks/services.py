"""Writes to follow-up tasks and task rules: each one transaction that writes its AuditEvent."""

from datetime import date
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import Customer, RevenueSignal, SignalKind
from custory.audit import audit_record
from custory.models import Membership, Role, User, Workspace
from custory.money import currency_exponent
from journeys.models import Step
from tasks import emails
from tasks.conditions import conditions_validate
from tasks.models import (
    FollowUpTask,
    TaskComment,
    TaskPriority,
    TaskRule,
    TaskSignal,
    TaskSignalReason,
    TaskStatus,
)
from tasks.selectors import signal_step, step_label
from tasks.templating import template_errors

CLOSED_STATUSES = (TaskStatus.DONE, TaskStatus.DISMISSED)


class TaskError(Exception):
    """A write refused, with a message meant for the person who tried it."""


# An actor is a signed-in user, or a label such as "Rule “Save the account”" for automation.
Actor = User | str


def _check_assignee(workspace: Workspace, assignee: User | None) -> None:
    if assignee is None:
        return
    if not Membership.objects.filter(workspace=workspace, user=assignee).exists():
        raise TaskError(f"{assignee.email} is not a member of this workspace.")


def _notify_assignee(task: FollowUpTask, actor: Actor) -> None:
    """Email the assignee after commit, unless they assigned the task to themselves."""
    if task.assignee_id is None or (isinstance(actor, User) and actor.pk == task.assignee_id):
        return
    transaction.on_commit(partial(emails.send_task_assigned, task_id=task.pk))


def _label(value: str, choices) -> str:
    return dict(choices.choices).get(value, value)


@transaction.atomic
def task_create(
    *,
    workspace: Workspace,
    actor: Actor,
    title: str,
    description: str = "",
    priority: str = TaskPriority.NORMAL,
    assignee: User | None = None,
    due_date: date | None = None,
    signal: RevenueSignal | None = None,
    customer: Customer | None = None,
    step: Step | None = None,
    context_label: str = "",
    rule: TaskRule | None = None,
) -> FollowUpTask:
    """Open a task; with a signal it is linked to it (and, for a rule, counts as its firing)."""
    if priority not in TaskPriority.values:
        raise TaskError("Choose a priority from the list.")
    _check_assignee(workspace, assignee)
    now = timezone.now()
    task = FollowUpTask.objects.create(
        workspace=workspace,
        title=title,
        description=description,
        priority=priority,
        assignee=assignee,
        due_date=due_date,
        created_by=actor if isinstance(actor, User) else None,
        rule=rule,
        signal=signal,
        customer=customer,
        step=step,
        context_label=context_label[:300],
        created_at=now,
        updated_at=now,
    )
    if signal is not None:
        TaskSignal.objects.create(
            task=task, signal=signal, rule=rule, reason=TaskSignalReason.OPENED, attached_at=now
        )
    audit_record(
        workspace=workspace,
        actor=actor,
        action="task.create",
        target=task,
        data={
            "priority": priority,
            "signal": str(signal.uuid) if signal else "",
            "rule": rule.name if rule else "",
        },
    )
    if assignee is not None:
        audit_record(
            workspace=workspace,
            actor=actor,
            action="task.assign",
            target=task,
            data={"from": "", "to": assignee.email},
        )
        _notify_assignee(task, actor)
    return task


def task_create_from_signal(
    *,
    signal: RevenueSignal,
    actor: User,
    title: str,
    description: str = "",
    priority: str = TaskPriority.NORMAL,
    assignee: User | None = None,
    due_date: date | None = None,
) -> FollowUpTask:
    """Open a task from a signal's page, keeping its customer and journey step."""
    step = signal_step(signal)
    return task_create(
        workspace=signal.workspace,
        actor=actor,
        title=title,
        description=description,
        priority=priority,
        assignee=assignee,
        due_date=due_date,
        signal=signal,
        customer=signal.customer,
        step=step,
        context_label=step_label(step),
    )


@transaction.atomic
def task_update(
    *,
    task: FollowUpTask,
    actor: User,
    title: str,
    description: str,
    priority: str,
    due_date: date | None,
) -> FollowUpTask:
    """Change what a task says; records which fields changed."""
    if priority not in TaskPriority.values:
        raise TaskError("Choose a priority from the list.")
    new = {"title": title, "description": description, "priority": priority, "due_date": due_date}
    changed = [field for field, value in new.items() if getattr(task, field) != value]
    if not changed:
        return task
    for field in changed:
        setattr(task, field, new[field])
    task.updated_at = timezone.now()
    task.save(update_fields=[*changed, "updated_at"])
    audit_record(
        workspace=task.workspace,
        actor=actor,
        action="task.update",
        target=task,
        data={"fields": [field.replace("_", " ") for field in changed]},
    )
    return task


@transaction.atomic
def task_assign(*, task: FollowUpTask, actor: Actor, assignee: User | None) -> FollowUpTask:
    """Give the task to a member of its workspace (or to nobody) and tell them by email."""
    if assignee is not None and assignee.pk == task.assignee_id:
        return task
    if assignee is None and task.assignee_id is None:
        return task
    _check_assignee(task.workspace, assignee)
    previous = task.assignee
    task.assignee = assignee
    task.updated_at = timezone.now()
    task.save(update_fields=["assignee", "updated_at"])
    audit_record(
        workspace=task.workspace,
        actor=actor,
        action="task.assign",
        target=task,
        data={"from": previous.email if previous else "", "to": assignee.email if assignee else ""},
    )
    _notify_assignee(task, actor)
    return task


@transaction.atomic
def task_status_set(
    *, task: FollowUpTask, actor: Actor, status: str, data: dict[str, Any] | None = None
) -> FollowUpTask:
    """Move a task to another status; reopening is refused while its rule has another open task
    for the same customer."""
    if status not in TaskStatus.values:
        raise TaskError("Choose a status from the list.")
    if status == task.status:
        return task
    previous = task.status
    now = timezone.now()
    task.status = status
    task.closed_at = now if status in CLOSED_STATUSES else None
    task.updated_at = now
    try:
        with transaction.atomic():
            task.save(update_fields=["status", "closed_at", "updated_at"])
    except IntegrityError as error:
        task.status = previous
        raise TaskError(
            "This rule already has an open task for this customer; "
            "add to that one instead of reopening this."
        ) from error
    audit_record(
        workspace=task.workspace,
        actor=actor,
        action="task.status",
        target=task,
        data={
            "from": previous,
            "to": status,
            "from_label": _label(previous, TaskStatus),
            "to_label": _label(status, TaskStatus),
            **(data or {}),
        },
    )
    return task


@transaction.atomic
def task_comment_add(*, task: FollowUpTask, actor: User, body: str) -> TaskComment:
    body = body.strip()
    if not body:
        raise TaskError("Write something before adding a comment.")
    comment = TaskComment.objects.create(task=task, author=actor, body=body)
    FollowUpTask.objects.filter(pk=task.pk).update(updated_at=comment.created_at)
    return comment


def tasks_bulk_update(
    *,
    tasks: list[FollowUpTask],
    actor: User,
    status: str | None = None,
    assign: bool = False,
    assignee: User | None = None,
) -> tuple[int, list[str]]:
    """Apply one status and/or assignee to many tasks; returns how many changed and why others
    did not."""
    changed, errors = 0, []
    with transaction.atomic():
        for task in tasks:
            before = (task.status, task.assignee_id)
            try:
                if status:
                    task_status_set(task=task, actor=actor, status=status)
                if assign:
                    task_assign(task=task, actor=actor, assignee=assignee)
            except TaskError as error:
                errors.append(f"“{task.title}”: {error}")
                continue
            changed += (task.status, task.assignee_id) != before
    return changed, errors


# Task rules ------------------------------------------------------------------------------------

RULE_FIELDS = (
    "name",
    "enabled",
    "kinds",
    "conditions",
    "title_template",
    "description_template",
    "assignment",
    "assignee",
    "assign_role",
    "priority",
    "due_in_days",
    "resolve_kinds",
    "annotate_kinds",
)


def _rule_check(workspace: Workspace, fields: dict[str, Any]) -> dict[str, Any]:
    """The rule's fields as stored, or TaskError saying what is wrong."""
    kinds_valid = set(SignalKind.values)
    for key in ("kinds", "resolve_kinds", "annotate_kinds"):
        fields[key] = [str(kind) for kind in fields.get(key) or []]
        if set(fields[key]) - kinds_valid:
            raise TaskError(f"Unknown signal kind in {key.replace('_', ' ')}.")
    if not fields["kinds"]:
        raise TaskError("Choose at least one signal kind that opens a task.")
    if set(fields["kinds"]) & (set(fields["resolve_kinds"]) | set(fields["annotate_kinds"])):
        raise TaskError("A signal kind cannot both open a task and close or annotate it.")
    try:
        fields["conditions"] = conditions_validate(fields.get("conditions") or {})
    except ValueError as error:
        raise TaskError(str(error)) from error
    for key in ("title_template", "description_template"):
        errors = template_errors(fields.get(key) or "")
        if errors:
            raise TaskError(errors[0])
    if fields.get("priority") not in TaskPriority.values:
        raise TaskError("Choose a priority from the list.")
    assignment = fields.get("assignment")
    if assignment == TaskRule.Assignment.MEMBER:
        if fields.get("assignee") is None:
            raise TaskError("Choose the member who gets this rule's tasks.")
        _check_assignee(workspace, fields["assignee"])
        fields["assign_role"] = ""
    elif assignment == TaskRule.Assignment.ROUND_ROBIN:
        if fields.get("assign_role") not in Role.values:
            raise TaskError("Choose the role whose members take turns.")
        fields["assignee"] = None
    elif assignment == TaskRule.Assignment.NOBODY:
        fields["assignee"], fields["assign_role"] = None, ""
    else:
        raise TaskError("Choose how tasks are assigned.")
    return fields


@transaction.atomic
def task_rule_create(*, workspace: Workspace, actor: User, **fields: Any) -> TaskRule:
    fields = _rule_check(workspace, {key: fields.get(key) for key in RULE_FIELDS})
    fields["enabled"] = bool(fields["enabled"])
    rule = TaskRule.objects.create(workspace=workspace, **fields)
    audit_record(
        workspace=workspace,
        actor=actor,
        action="task_rule.create",
        target=rule,
        data={"kinds": rule.kinds, "enabled": rule.enabled},
    )
    return rule


@transaction.atomic
def task_rule_update(*, rule: TaskRule, actor: User, **fields: Any) -> TaskRule:
    fields = _rule_check(rule.workspace, {key: fields.get(key) for key in RULE_FIELDS})
    fields["enabled"] = bool(fields["enabled"])
    changed = [key for key in RULE_FIELDS if getattr(rule, key) != fields[key]]
    if not changed:
        return rule
    for key in changed:
        setattr(rule, key, fields[key])
    rule.save()
    audit_record(
        workspace=rule.workspace,
        actor=actor,
        action="task_rule.update",
        target=rule,
        data={"fields": [key.replace("_", " ") for key in changed]},
    )
    return rule


@transaction.atomic
def task_rule_set_enabled(*, rule: TaskRule, actor: User, enabled: bool) -> TaskRule:
    if rule.enabled == enabled:
        return rule
    rule.enabled = enabled
    rule.save(update_fields=["enabled"])
    audit_record(
        workspace=rule.workspace,
        actor=actor,
        action="task_rule.enable" if enabled else "task_rule.disable",
        target=rule,
    )
    return rule


def default_mrr_threshold(currency: str) -> int:
    """100.00 in the currency's minor units; 10,000 units for zero-decimal currencies."""
    exponent = currency_exponent(currency)
    return 10_000 if exponent == 0 else 100 * 10**exponent


def default_rules(workspace: Workspace) -> list[dict[str, Any]]:
    """A new workspace's rules: few, each about something worth a person's time."""
    K = SignalKind
    return [
        {
            "name": "Repeated failed payments",
            "kinds": [K.PAYMENT_FAILED],
            "conditions": {"repeat_count": 2, "repeat_days": 14},
            "title_template": "Retention: payments failing for {customer} ({amount})",
            "description_template": (
                "{customer} had {count} failed payments in 14 days (latest {amount}, attempt "
                "{attempt}). Reach out before the subscription is canceled.\n"
                "Step: {step}\nSignal: {link}"
            ),
            "priority": TaskPriority.HIGH,
            "due_in_days": 2,
            "resolve_kinds": [K.PAYMENT_RECOVERED, K.SUBSCRIPTION_CANCELED],
            "annotate_kinds": [K.PAYMENT_SUCCEEDED],
            "assign_role": Role.SUPPORT,
        },
        {
            "name": "Save the account",
            "kinds": [K.CANCELLATION_SCHEDULED],
            "conditions": {
                "mrr_min": default_mrr_threshold(workspace.main_currency),
                "currency": workspace.main_currency.lower(),
            },
            "title_template": "Save the account: {customer} scheduled a cancellation ({mrr}/mo)",
            "description_template": (
                "{customer} ({customer_email}) scheduled a cancellation. MRR at stake: {mrr}.\n"
                "Step: {step}\nSignal: {link}"
            ),
            "priority": TaskPriority.HIGH,
            "due_in_days": 3,
            "resolve_kinds": [K.CANCELLATION_WITHDRAWN, K.SUBSCRIPTION_CANCELED],
            "annotate_kinds": [K.PLAN_DOWNGRADED],
            "assign_role": Role.MEMBER,
        },
        {
            "name": "Dispute opened",
            "kinds": [K.DISPUTE_OPENED],
            "conditions": {},
            "title_template": "Dispute: {customer} disputed {amount}",
            "description_template": (
                "{customer} ({customer_email}) opened a dispute for {amount}. Gather evidence "
                "and respond in Stripe before the deadline.\nSignal: {link}"
            ),
            "priority": TaskPriority.URGENT,
            "due_in_days": 3,
            "resolve_kinds": [],
            "annotate_kinds": [K.DISPUTE_CLOSED],
            "assign_role": Role.SUPPORT,
        },
        {
            "name": "Expansion follow-up",
            "kinds": [K.PLAN_UPGRADED],
            "conditions": {},
            "title_template": "Expansion: {customer} upgraded ({mrr}/mo)",
            "description_template": (
                "{customer} upgraded their plan. Check in on how they use it and what else "
                "they need.\nStep: {step}\nSignal: {link}"
            ),
            "priority": TaskPriority.NORMAL,
            "due_in_days": 7,
            "resolve_kinds": [K.SUBSCRIPTION_CANCELED],
            "annotate_kinds": [K.PLAN_DOWNGRADED],
            "assign_role": Role.MEMBER,
        },
    ]


@transaction.atomic
def task_rules_install_default(*, workspace: Workspace) -> None:
    """Give a new workspace the default task rules (once; a workspace with rules keeps its own).

    Their tasks go round-robin to the role that usually handles them; while nobody has that role
    (a new workspace has only its admin) they stay unassigned.
    """
    if TaskRule.objects.filter(workspace=workspace).exists():
        return
    for fields in default_rules(workspace):
        kinds = {
            key: [str(kind) for kind in fields[key]] for key in fields if key.endswith("kinds")
        }
        TaskRule.objects.create(
            workspace=workspace,
            assignment=TaskRule.Assignment.ROUND_ROBIN,
            **{**fields, **kinds, "assign_role": str(fields["assign_role"])},
        )
