"""Writes to follow-up tasks: each one transaction that writes its AuditEvent.

Task rules are edited in tasks.rule_services; a new workspace's default rules are installed here.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import Customer, RevenueSignal
from custory.audit import audit_entry, audit_record, audit_record_many
from custory.bulk_sql import rows_insert
from custory.models import AuditEvent, Membership, User, Workspace
from journeys.models import Step
from tasks import emails
from tasks.defaults import default_rules
from tasks.models import (
    FollowUpTask,
    TaskComment,
    TaskPriority,
    TaskRule,
    TaskSignal,
    TaskSignalReason,
    TaskStatus,
)
from tasks.outbound_events import task_announce
from tasks.selectors import signal_step, step_label

CLOSED_STATUSES = (TaskStatus.DONE, TaskStatus.DISMISSED)


class TaskError(Exception):
    """A write refused, with a message meant for the person who tried it."""


# An actor is a signed-in user, or a label such as "Rule “Save the account”" for automation.
Actor = User | str


def assignee_check(*, workspace: Workspace, assignee: User | None) -> None:
    """Refuse an assignee who is not a member of the workspace (nobody is fine)."""
    _assignees_check(workspace, [assignee])


def _assignees_check(workspace: Workspace, assignees: Sequence[User | None]) -> None:
    wanted = {assignee.pk: assignee for assignee in assignees if assignee is not None}
    if not wanted:
        return
    members = set(
        Membership.objects.filter(workspace=workspace, user_id__in=wanted).values_list(
            "user_id", flat=True
        )
    )
    for pk, assignee in wanted.items():
        if pk not in members:
            raise TaskError(f"{assignee.email} is not a member of this workspace.")


def _notify_assignee(task: FollowUpTask, actor: Actor) -> None:
    """Email the assignee after commit, unless they assigned the task to themselves."""
    if task.assignee_id is None or (isinstance(actor, User) and actor.pk == task.assignee_id):
        return
    transaction.on_commit(partial(emails.send_task_assigned, task_id=task.pk))


def _label(value: str, choices) -> str:
    return dict(choices.choices).get(value, value)


@dataclass(frozen=True, kw_only=True)
class TaskOpening:
    """A task to open (task_create's arguments but the workspace) and who opens it."""

    actor: Actor
    title: str
    description: str = ""
    priority: str = TaskPriority.NORMAL
    assignee: User | None = None
    due_date: date | None = None
    signal: RevenueSignal | None = None
    customer: Customer | None = None
    step: Step | None = None
    context_label: str = ""
    rule: TaskRule | None = None


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
    opening = TaskOpening(
        actor=actor,
        title=title,
        description=description,
        priority=priority,
        assignee=assignee,
        due_date=due_date,
        signal=signal,
        customer=customer,
        step=step,
        context_label=context_label,
        rule=rule,
    )
    return tasks_create(workspace=workspace, openings=[opening])[0]


@transaction.atomic
def tasks_create(*, workspace: Workspace, openings: Sequence[TaskOpening]) -> list[FollowUpTask]:
    """Open tasks as task_create does, many at once (a processing batch's rules): one insert
    each for the tasks, their signal links and their audit entries. A task its constraints
    refuse (its rule already has an open task for the customer) refuses them all."""
    if any(opening.priority not in TaskPriority.values for opening in openings):
        raise TaskError("Choose a priority from the list.")
    _assignees_check(workspace, [opening.assignee for opening in openings])
    now = timezone.now()
    tasks = [
        FollowUpTask(
            workspace=workspace,
            title=opening.title,
            description=opening.description,
            priority=opening.priority,
            assignee=opening.assignee,
            due_date=opening.due_date,
            created_by=opening.actor if isinstance(opening.actor, User) else None,
            rule=opening.rule,
            signal=opening.signal,
            customer=opening.customer,
            step=opening.step,
            context_label=opening.context_label[:300],
            created_at=now,
            updated_at=now,
        )
        for opening in openings
    ]
    rows_insert(FollowUpTask, tasks)
    links = [
        TaskSignal(
            task=task,
            signal=task.signal,
            rule=task.rule,
            reason=TaskSignalReason.OPENED,
            attached_at=now,
        )
        for task in tasks
        if task.signal is not None
    ]
    rows_insert(TaskSignal, links)
    audit_record_many(
        [
            entry
            for task, opening in zip(tasks, openings, strict=True)
            for entry in _task_created_entries(task, opening.actor)
        ]
    )
    for task, opening in zip(tasks, openings, strict=True):
        _notify_assignee(task, opening.actor)
        task_announce(task=task, type="task.created")
    return tasks


def _task_created_entries(task: FollowUpTask, actor: Actor) -> list[AuditEvent]:
    """A new task's audit entries: its creation, and its first assignee when it has one."""
    changes = [
        (
            "task.create",
            {
                "priority": task.priority,
                "signal": str(task.signal.uuid) if task.signal else "",
                "rule": task.rule.name if task.rule else "",
            },
        )
    ]
    if task.assignee is not None:
        changes.append(("task.assign", {"from": "", "to": task.assignee.email}))
    return [
        audit_entry(workspace=task.workspace, actor=actor, action=action, target=task, data=data)
        for action, data in changes
    ]


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
    assignee_check(workspace=task.workspace, assignee=assignee)
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
    task_announce(task=task, type="task.assigned")
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
    if status in CLOSED_STATUSES and previous not in CLOSED_STATUSES:
        task_announce(task=task, type="task.closed")
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


# Defaults --------------------------------------------------------------------------------------


@transaction.atomic
def task_rules_install_default(*, workspace: Workspace) -> None:
    """Give a new workspace the default task rules (once; a workspace with rules keeps its own)."""
    if TaskRule.objects.filter(workspace=workspace).exists():
        return
    # Their tasks go round-robin to the role that usually handles them; while nobody has that
    # role (a new workspace has only its admin) they stay unassigned.
    for fields in default_rules(workspace):
        kinds = {
            key: [str(kind) for kind in fields[key]] for key in fields if key.endswith("kinds")
        }
        TaskRule.objects.create(
            workspace=workspace,
            assignment=TaskRule.Assignment.ROUND_ROBIN,
            **{**fields, **kinds, "assign_role": str(fields["assign_role"])},
        )
