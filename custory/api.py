"""The JSON API (Django REST framework); every endpoint is scoped to the caller's workspaces."""

from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from custory.models import Membership


@api_view(["GET"])
def workspace_list(request: Request) -> Response:
    memberships = Membership.objects.filter(user=request.user).select_related("workspace")
    return Response(
        [{"slug": m.workspace.slug, "name": m.workspace.name, "role": m.role} for m in memberships]
    )
