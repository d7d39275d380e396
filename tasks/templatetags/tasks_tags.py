"""Task panels other apps' pages include: {% signal_tasks_panel signal %} and friends."""

from django import template

from tasks import selectors
from tasks.forms import TaskForm

register = template.Library()


@register.inclusion_tag("tasks/_signal_panel.html", takes_context=True)
def signal_tasks_panel(context, signal):
    """The signal page's tasks: related tasks and the create-follow-up form."""
    request = context.get("request")
    user = getattr(request, "user", None)
    initial = selectors.signal_task_initial(signal, assignee_id=getattr(user, "pk", None))
    form = TaskForm(workspace=signal.workspace, initial=initial)
    return selectors.signal_panel_context(request, signal, form)


@register.inclusion_tag("tasks/_task_list_compact.html")
def step_open_tasks(step):
    """A step's open tasks, as a compact list."""
    tasks = selectors.step_open_tasks(step)
    return {"tasks": tasks, "empty_text": "No open tasks on this step."}


@register.inclusion_tag("tasks/_task_list_compact.html")
def customer_tasks(customer):
    """A customer's tasks, as a compact list."""
    tasks = selectors.customer_tasks(customer)
    return {"tasks": tasks, "empty_text": "No tasks for this customer."}
