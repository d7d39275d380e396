"""The API's access rules: bearer tokens, the workspace of the URL, roles, scopes and throttling.

Every workspace endpoint resolves ``/api/v1/workspaces/<slug>/`` through ``WorkspacePermission``:
a caller who is not a member (or whose token belongs to another workspace) gets a 404, as in the UI.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions, permissions, throttling
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from custory.access import ROLES_AT_LEAST
from custory.models import ApiToken, Membership, Role

TOKEN_PREFIX = "cst_"  # noqa: S105 (a public marker, not a secret)
VISIBLE_PREFIX_LENGTH = 12
# last_used_at is written at most this often per token: one UPDATE a minute, not one a request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_generate() -> tuple[str, str, str]:
    """A new key, its visible prefix and its SHA-256 (hex); only the last two are stored."""
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return key, key[:VISIBLE_PREFIX_LENGTH], token_hash(key)


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_touch(token: ApiToken) -> None:
    """Record the use, unless it was recorded less than a minute ago (a conditional update)."""
    now = timezone.now()
    if token.last_used_at and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).exclude(
        last_used_at__gt=now - LAST_USED_RESOLUTION
    ).update(last_used_at=now)
    token.last_used_at = now


class BearerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer cst_…`; the key's hash is looked up, never the key itself."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the header as: Authorization: Bearer <token>"
            )
        try:
            key = parts[1].decode()
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed(
                "The token has characters it cannot have."
            ) from error
        digest = token_hash(key)
        token = (
            ApiToken.objects.select_related("user", "workspace")
            .filter(key_hash=digest, revoked_at__isnull=True)
            .first()
        )
        # The lookup is by hash; compare again in constant time so timing says nothing of the key.
        if token is None or not hmac.compare_digest(token.key_hash, digest):
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is deactivated.")
        token_touch(token)
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


def request_token(request: Request) -> ApiToken | None:
    return request.auth if isinstance(request.auth, ApiToken) else None


class WorkspacePermission(permissions.BasePermission):
    """Resolve request.workspace from the URL's slug; check membership, role and token scope.

    Views say which role reads (`read_role`, default support) and which writes (`write_role`,
    default support); a read-only token may only read.
    """

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        slug = view.kwargs.get("slug")
        token = request_token(request)
        membership = (
            Membership.objects.select_related("workspace")
            .filter(workspace__slug=slug, user=request.user)
            .first()
        )
        if membership is None or (
            token is not None and token.workspace_id != membership.workspace_id
        ):
            raise Http404("No such workspace.")
        safe = request.method in permissions.SAFE_METHODS
        role = getattr(view, "read_role" if safe else "write_role", Role.SUPPORT)
        if membership.role not in ROLES_AT_LEAST[role]:
            # Admin-only reads (the event log) look missing to others, as in the UI.
            if safe or role == Role.ADMIN:
                raise Http404("No such workspace page.")
            raise exceptions.PermissionDenied(f"Your role ({membership.role}) cannot change this.")
        if not safe and token is not None and not token.can_write:
            raise exceptions.PermissionDenied("This token is read-only; create a write token.")
        request.workspace = membership.workspace
        request.membership = membership
        return True


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """Requests per token (a browser session counts as one token of its user)."""

    scope = "api"

    def get_cache_key(self, request, view):
        token = request_token(request)
        if token is not None:
            ident = f"token-{token.uuid.hex}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
