"""The "My tasks" count in the navigation."""

from django.utils.functional import SimpleLazyObject

from tasks.models import FollowUpTask


def my_open_tasks(request):
    """One COUNT of the user's open tasks, on workspace pages only, and only if a page shows it."""
    workspace = getattr(request, "workspace", None)
    if workspace is None or not request.user.is_authenticated:
        return {}
    return {
        "my_open_task_count": SimpleLazyObject(
            lambda: (
                FollowUpTask.objects.for_workspace(workspace)
                .open()
                .filter(assignee=request.user)
                .count()
            )
        )
    }
