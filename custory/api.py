"""The JSON API's core: the caller's workspaces, and what every workspace endpoint shares.

Domain endpoints live in the app that owns their data (journeys/api/, tasks/api.py,
billing/api.py) and build on WorkspaceAPIView: the workspace of the URL, roles, token scope,
throttling per token and cursor pagination.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.decorators import api_view
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from custory.api_auth import WorkspacePermission
from custory.models import Membership, Role


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "custory.api_auth.BearerTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from Settings → API tokens: `Authorization: Bearer cst_…`.",
        }


class CursorPage(CursorPagination):
    """Newest first; follow `next` for more. `limit` takes 1–200 (50 by default)."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
    ordering = ("-id",)

    def get_ordering(self, request, queryset, view):
        return getattr(view, "cursor_ordering", self.ordering)


class WorkspaceAPIView(generics.GenericAPIView):
    """Base of every /api/v1/workspaces/<slug>/ endpoint; sets request.workspace."""

    permission_classes = [WorkspacePermission]
    pagination_class = CursorPage
    read_role = Role.SUPPORT
    write_role = Role.SUPPORT
    lookup_field = "uuid"

    @property
    def is_schema(self) -> bool:
        return getattr(self, "swagger_fake_view", False)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # PostgreSQL cannot store or compare text with NUL: a 400 beats a 500 deep in a query.
        query = dict(request.query_params.lists())
        body = dict(request.data.lists()) if hasattr(request.data, "lists") else request.data
        bad = [k for k, v in query.items() if has_nul(v)]
        if has_nul(body):
            bad.append("body")
        if bad:
            message = ["Null characters are not allowed."]
            raise serializers.ValidationError(dict.fromkeys(bad, message))


def has_nul(value) -> bool:
    """Whether a parsed JSON or form value holds a NUL character anywhere."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


workspace_items = inline_serializer(
    "WorkspaceItem",
    many=True,
    fields={
        "slug": serializers.SlugField(),
        "name": serializers.CharField(),
        "role": serializers.ChoiceField(choices=Role.choices),
    },
)


@extend_schema(
    summary="Your workspaces",
    description="The workspaces you belong to, with your role; with a token, its workspace only.",
    responses={200: workspace_items},
    examples=[
        OpenApiExample(
            "One workspace",
            value=[{"slug": "acme", "name": "Acme SaaS", "role": "admin"}],
            response_only=True,
        )
    ],
    tags=["workspaces"],
)
@api_view(["GET"])
def workspace_list(request: Request) -> Response:
    memberships = Membership.objects.filter(user=request.user).select_related("workspace")
    token = request.auth
    if getattr(token, "workspace_id", None):
        memberships = memberships.filter(workspace_id=token.workspace_id)
    return Response(
        [{"slug": m.workspace.slug, "name": m.workspace.name, "role": m.role} for m in memberships]
    )
