"""Writes to the workspace core: workspaces, memberships and invitations, each audited."""

from uuid import uuid4

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.text import slugify

from custory.api_auth import token_generate
from custory.audit import audit_record
from custory.models import (
    INVITATION_LIFETIME,
    ApiToken,
    AuditPurge,
    Invitation,
    InvitationState,
    Membership,
    Role,
    TokenScope,
    User,
    Workspace,
)


def _unique_slug(name: str) -> str:
    base = slugify(name)[:40] or "workspace"
    slug, n = base, 1
    while Workspace.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def workspace_delete(*, workspace: Workspace) -> None:
    """Delete a workspace and everything in it, its append-only audit trail included.

    The audit table's trigger refuses every DELETE except for a workspace listed in AuditPurge,
    which only this transaction does.
    """
    AuditPurge.objects.create(workspace_id=workspace.pk)
    workspace_id = workspace.pk
    workspace.delete()
    AuditPurge.objects.filter(workspace_id=workspace_id).delete()


@transaction.atomic
def workspace_create(*, name: str, owner, slug: str | None = None) -> Workspace:
    """Create a workspace with its defaults (settings.WORKSPACE_DEFAULTS); the owner is admin."""
    workspace = Workspace.objects.create(name=name, slug=slug or _unique_slug(name))
    Membership.objects.create(workspace=workspace, user=owner, role=Role.ADMIN)
    # The core knows no domain app: each app installs its defaults through a dotted path here,
    # the way Django resolves MIDDLEWARE.
    for path in settings.WORKSPACE_DEFAULTS:
        import_string(path)(workspace=workspace)
    audit_record(workspace=workspace, actor=owner, action="workspace.create", target=workspace)
    return workspace


def _check_not_last_admin(membership: Membership, message: str) -> None:
    """Refuse a change that would leave the workspace without an admin.

    The workspace's admin rows are locked first (PostgreSQL), so two admins demoting each other at
    the same moment cannot both succeed.
    """
    admins = list(
        Membership.objects.select_for_update()
        .filter(workspace_id=membership.workspace_id, role=Role.ADMIN)
        .values_list("pk", flat=True)
    )
    if membership.pk in admins and len(admins) == 1:
        raise ValidationError(message, code="last_admin")


@transaction.atomic
def membership_change_role(*, membership: Membership, role: str, actor) -> Membership:
    """Give a member another role; the last admin cannot be demoted."""
    if role not in Role.values:
        raise ValidationError("Choose admin, member or support.", code="invalid_role")
    old_role = membership.role
    if role == old_role:
        return membership
    if old_role == Role.ADMIN:
        _check_not_last_admin(
            membership, "A workspace needs an admin: make someone else admin first."
        )
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        workspace=membership.workspace,
        actor=actor,
        action="membership.role_change",
        target=membership.user,
        target_label=membership.user.email,
        data={"from": old_role, "to": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor) -> None:
    """Remove someone from a workspace (or let them leave); the last admin stays."""
    leaving = getattr(actor, "pk", None) == membership.user_id
    _check_not_last_admin(
        membership,
        "You are the last admin: make someone else admin before you leave."
        if leaving
        else "A workspace needs an admin: make someone else admin first.",
    )
    audit_record(
        workspace=membership.workspace,
        actor=actor,
        action="membership.leave" if leaving else "membership.remove",
        target=membership.user,
        target_label=membership.user.email,
        data={"role": membership.role},
    )
    membership.delete()


def invitation_url(invitation: Invitation) -> str:
    return settings.SITE_URL + invitation.get_absolute_url()


def _invitation_send(invitation: Invitation) -> None:
    context = {
        "invitation": invitation,
        "workspace": invitation.workspace,
        "inviter": invitation.invited_by,
        "url": invitation_url(invitation),
    }
    subject = render_to_string("custory/email/invitation_subject.txt", context).strip()
    body = render_to_string("custory/email/invitation_body.txt", context)
    send_mail(subject, body, None, [invitation.email])


def invitation_create(*, workspace: Workspace, email: str, role: str, actor) -> Invitation:
    """Invite an email address with a role and send the link once the row is committed."""
    email = email.strip().lower()
    if role not in Role.values:
        raise ValidationError({"role": "Choose admin, member or support."})
    if workspace.memberships.filter(user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a member of this workspace."})
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                workspace=workspace, email=email, role=role, invited_by=actor
            )
            audit_record(
                workspace=workspace,
                actor=actor,
                action="invitation.create",
                target=invitation,
                target_label=email,
                data={"email": email, "role": role},
            )
            transaction.on_commit(lambda: _invitation_send(invitation))
    except IntegrityError:
        # The named constraint custory_invitation_one_open_per_email: one open invite per address.
        raise ValidationError(
            {"email": f"{email} already has an open invitation; resend it instead."}
        ) from None
    return invitation


@transaction.atomic
def invitation_resend(*, invitation: Invitation, actor) -> Invitation:
    """Send a new link with a fresh seven days; the link sent before stops working."""
    if invitation.state not in (InvitationState.PENDING, InvitationState.EXPIRED):
        raise ValidationError("This invitation was already accepted or canceled.")
    invitation.token = uuid4()
    invitation.expires_at = timezone.now() + INVITATION_LIFETIME
    invitation.save(update_fields=["token", "expires_at"])
    audit_record(
        workspace=invitation.workspace,
        actor=actor,
        action="invitation.resend",
        target=invitation,
        target_label=invitation.email,
        data={"email": invitation.email, "role": invitation.role},
    )
    transaction.on_commit(lambda: _invitation_send(invitation))
    return invitation


@transaction.atomic
def invitation_cancel(*, invitation: Invitation, actor) -> Invitation:
    """Withdraw an open invitation; its link stops working."""
    changed = Invitation.objects.open().filter(pk=invitation.pk).update(canceled_at=timezone.now())
    if not changed:
        raise ValidationError("This invitation was already accepted or canceled.")
    invitation.refresh_from_db()
    audit_record(
        workspace=invitation.workspace,
        actor=actor,
        action="invitation.cancel",
        target=invitation,
        target_label=invitation.email,
        data={"email": invitation.email, "role": invitation.role},
    )
    return invitation


def email_is_verified(*, user: User, email: str) -> bool:
    """Whether the user has confirmed they receive mail at this address (allauth's record)."""
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Join the invitation's workspace with its role; the invitation is used up.

    Someone who is already a member keeps their role; the invitation is used up all the same.
    """
    if user.email.lower() != invitation.email.lower():
        raise ValidationError("This invitation was sent to another email address.", code="email")
    if not email_is_verified(user=user, email=invitation.email):
        raise ValidationError("Confirm your email address first.", code="unverified")
    # Claim it with a conditional update, so a link clicked twice at once joins once.
    now = timezone.now()
    claimed = (
        Invitation.objects.pending()
        .filter(pk=invitation.pk)
        .update(accepted_at=now, accepted_by=user)
    )
    if not claimed:
        raise ValidationError("This invitation is no longer valid.", code="not_pending")
    invitation.refresh_from_db()
    membership, created = Membership.objects.get_or_create(
        workspace=invitation.workspace, user=user, defaults={"role": invitation.role}
    )
    audit_record(
        workspace=invitation.workspace,
        actor=user,
        action="invitation.accept",
        target=invitation,
        target_label=invitation.email,
        data={"email": invitation.email, "role": membership.role, "already_member": not created},
    )
    return membership


@transaction.atomic
def api_token_create(
    *, workspace: Workspace, user: User, name: str, scope: str = TokenScope.READ
) -> tuple[ApiToken, str]:
    """A new token for a member of the workspace; the key is returned once and never stored."""
    name = (name or "").strip()[:100]
    if not name:
        raise ValidationError("Give the token a name, e.g. the script that uses it.")
    if scope not in TokenScope.values:
        raise ValidationError("The scope is read or write.")
    if not Membership.objects.filter(workspace=workspace, user=user).exists():
        raise ValidationError(f"{user.email} is not a member of {workspace.name}.")
    key, prefix, key_hash = token_generate()
    token = ApiToken.objects.create(
        workspace=workspace, user=user, name=name, scope=scope, prefix=prefix, key_hash=key_hash
    )
    audit_record(
        workspace=workspace,
        actor=user,
        action="api_token.create",
        target=token,
        data={"name": name, "scope": scope, "prefix": prefix},
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor) -> ApiToken:
    """Revoke a token at once (a conditional update: revoking twice changes nothing)."""
    now = timezone.now()
    if ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now):
        token.revoked_at = now
        audit_record(
            workspace=token.workspace,
            actor=actor,
            action="api_token.revoke",
            target=token,
            data={"name": token.name, "prefix": token.prefix, "owner": token.user.email},
        )
    return token
