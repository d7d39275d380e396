"""Current-workspace resolution and role checks.

Every workspace page is decorated with ``workspace_view``: it resolves ``/w/<slug>/`` once, answers
the login page to anonymous users and 404 to anyone who is not a member (or lacks the role), so a
forbidden object and a missing one look the same.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.db import models
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from custory.models import Membership, Role

# Which roles may use a view, by the least role it needs.
ROLES_AT_LEAST = {
    Role.SUPPORT: {Role.ADMIN, Role.MEMBER, Role.SUPPORT},
    Role.MEMBER: {Role.ADMIN, Role.MEMBER},
    Role.ADMIN: {Role.ADMIN},
}


def workspace_view(view: Callable | None = None, *, role: str = Role.SUPPORT) -> Callable:
    """Resolve request.workspace and request.membership from the URL's slug; check the role."""

    def decorator(view_func: Callable) -> Callable:
        @wraps(view_func)
        def wrapped(request: HttpRequest, slug: str, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = (
                Membership.objects.select_related("workspace")
                .filter(workspace__slug=slug, user=request.user)
                .first()
            )
            if membership is None or membership.role not in ROLES_AT_LEAST[role]:
                raise Http404("No such workspace page.")
            request.workspace = membership.workspace
            request.membership = membership
            return view_func(request, *args, **kwargs)

        wrapped.workspace_role = role
        return wrapped

    if view is not None:
        return decorator(view)
    return decorator


def get_object_for_member(
    request: HttpRequest, model_or_queryset: type[models.Model] | models.QuerySet, **lookup
):
    """Fetch an object of the current workspace, or 404 whether it is missing or foreign."""
    queryset = (
        model_or_queryset
        if isinstance(model_or_queryset, models.QuerySet)
        else model_or_queryset._default_manager.all()
    )
    return get_object_or_404(queryset.filter(workspace=request.workspace), **lookup)


def has_role(request: HttpRequest, role: str) -> bool:
    """Whether the current member's role is `role` or above (admin > member > support)."""
    membership = getattr(request, "membership", None)
    return membership is not None and membership.role in ROLES_AT_LEAST[role]
