"""Emails to a task's assignee, sent from transaction.on_commit: only committed work is told."""

import logging

from django.conf import settings
from django.core.mail import send_mail

from tasks.models import FollowUpTask

logger = logging.getLogger(__name__)


def _send(task: FollowUpTask, subject: str, lines: list[str]) -> None:
    link = settings.SITE_URL + task.get_absolute_url()
    body = "\n".join([*lines, "", f"Open the task: {link}", "", "— Custory"])
    try:
        send_mail(subject[:200], body, None, [task.assignee.email])
    except Exception:
        # A mail server that is down must not undo or fail the work already committed.
        logger.warning("Could not email %s about task %s", task.assignee.email, task.uuid)


def _load(task_id: int) -> FollowUpTask | None:
    task = FollowUpTask.objects.select_related("assignee", "workspace").filter(pk=task_id).first()
    if task is None or task.assignee is None:
        return None
    return task


def send_task_assigned(*, task_id: int) -> None:
    task = _load(task_id)
    if task is None:
        return
    lines = [f"You have been assigned a follow-up task in {task.workspace.name}:", "", task.title]
    if task.context_label:
        lines.append(f"Journey step: {task.context_label}")
    lines.append(f"Priority: {task.get_priority_display()}")
    if task.due_date:
        lines.append(f"Due: {task.due_date:%d %b %Y}")
    _send(task, f"Task assigned to you: {task.title}", lines)


def send_task_closed(*, task_id: int, reason: str) -> None:
    task = _load(task_id)
    if task is None:
        return
    lines = [f"A task assigned to you in {task.workspace.name} was closed automatically:", ""]
    lines += [task.title, "", reason]
    _send(task, f"Task closed: {task.title}", lines)
