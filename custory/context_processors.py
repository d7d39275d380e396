from custory.models import Workspace


def workspace(request):
    """The current workspace, the user's role in it and the workspaces to switch to."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "workspace": getattr(request, "workspace", None),
        "membership": getattr(request, "membership", None),
        "my_workspaces": Workspace.objects.for_user(user).only("slug", "name"),
    }
