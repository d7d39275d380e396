"""Task panels other apps' pages include: {% signal_tasks_panel signal %} and friends."""

from django import template

from tasks.models import FollowUpTask

register = template.Library()


@register.inclusion_tag("tasks/_signal_panel.html", takes_context=True)
def signal_tasks_panel(context, signal):
    """The signal page's tasks: related tasks and the create-follow-up form."""
    from tasks.views import signal_panel_context

    return signal_panel_context(context.get("request"), signal)


@register.inclusion_tag("tasks/_task_list_compact.html")
def step_open_tasks(step):
    tasks = (
        FollowUpTask.objects.filter(workspace_id=step.workspace_id, step=step)
        .open()
        .select_related("assignee")[:20]
    )
    return {"tasks": tasks, "empty_text": "No open tasks on this step."}


@register.inclusion_tag("tasks/_task_list_compact.html")
def customer_tasks(customer):
    tasks = FollowUpTask.objects.filter(
        workspace_id=customer.workspace_id, customer=customer
    ).select_related("assignee")[:50]
    return {"tasks": tasks, "empty_text": "No tasks for this customer."}
