from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from custory import selectors, services
from custory.access import get_object_for_member, workspace_view
from custory.formatting import audit_detail_text, audit_sentence
from custory.forms import ApiTokenForm, AuditFilterForm, InvitationForm, RoleForm, WorkspaceForm
from custory.models import Invitation, InvitationState, Membership, Role, Workspace

AUDIT_PAGE_SIZE = 50


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send a signed-in user to their first workspace, or ask them to create one."""
    workspace = Workspace.objects.for_user(request.user).first()
    if workspace is not None:
        return redirect(workspace)
    return redirect("workspace_create")


@login_required
@require_http_methods(["GET", "POST"])
def workspace_create(request: HttpRequest) -> HttpResponse:
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        workspace = services.workspace_create(name=form.cleaned_data["name"], owner=request.user)
        messages.success(request, f"Workspace “{workspace.name}” is ready. You are its admin.")
        return redirect(workspace)
    return render(request, "custory/workspace_create.html", {"form": form})


@workspace_view
def settings_index(request: HttpRequest) -> HttpResponse:
    is_last_admin = (
        request.membership.is_admin
        and not request.workspace.memberships.admins().exclude(pk=request.membership.pk).exists()
    )
    return render(
        request, "custory/settings_index.html", {"nav": "settings", "is_last_admin": is_last_admin}
    )


# Members ---------------------------------------------------------------------------------------


def _members_page(
    request: HttpRequest,
    *,
    invite_form: InvitationForm | None = None,
    role_errors: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    workspace = request.workspace
    memberships = list(workspace.memberships.select_related("user").order_by("user__email"))
    for membership in memberships:
        membership.role_errors = (role_errors or {}).get(membership.pk, [])
    context = {
        "nav": "settings",
        "memberships": memberships,
        "admin_count": sum(1 for m in memberships if m.role == Role.ADMIN),
        "invitations": workspace.invitations.open().select_related("invited_by"),
        "invite_form": invite_form or InvitationForm(),
        "role_choices": Role.choices,
    }
    return render(request, "custory/members.html", context, status=status)


def _members_url(request: HttpRequest) -> str:
    return reverse("workspace:members", kwargs={"slug": request.workspace.slug})


@workspace_view(role=Role.ADMIN)
def members(request: HttpRequest) -> HttpResponse:
    return _members_page(request)


@workspace_view(role=Role.ADMIN)
@require_POST
def member_invite(request: HttpRequest) -> HttpResponse:
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.invitation_create(
                workspace=request.workspace,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=request.user,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect(_members_url(request))
    return _members_page(request, invite_form=form, status=400)


@workspace_view(role=Role.ADMIN)
@require_POST
def member_role(request: HttpRequest, membership: str) -> HttpResponse:
    target = get_object_for_member(
        request, Membership.objects.select_related("user", "workspace"), uuid=membership
    )
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_change_role(
                membership=target, role=form.cleaned_data["role"], actor=request.user
            )
        except ValidationError as error:
            return _members_page(request, role_errors={target.pk: error.messages}, status=400)
        messages.success(request, f"{target.user.email} is now {target.get_role_display()}.")
        if target.pk == request.membership.pk and not target.is_admin:
            # Admins who step down can no longer see the members page.
            return redirect("workspace:settings", slug=request.workspace.slug)
        return redirect(_members_url(request))
    return _members_page(request, role_errors={target.pk: form.errors["role"]}, status=400)


@workspace_view(role=Role.ADMIN)
@require_POST
def member_remove(request: HttpRequest, membership: str) -> HttpResponse:
    target = get_object_for_member(
        request, Membership.objects.select_related("user", "workspace"), uuid=membership
    )
    try:
        services.membership_remove(membership=target, actor=request.user)
    except ValidationError as error:
        return _members_page(request, role_errors={target.pk: error.messages}, status=400)
    if target.user_id == request.user.pk:
        messages.success(request, f"You left {request.workspace.name}.")
        return redirect("home")
    messages.success(request, f"{target.user.email} was removed from the workspace.")
    return redirect(_members_url(request))


@workspace_view
@require_POST
def workspace_leave(request: HttpRequest) -> HttpResponse:
    """Any member may leave a workspace, except its last admin."""
    try:
        services.membership_remove(membership=request.membership, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("workspace:settings", slug=request.workspace.slug)
    messages.success(request, f"You left {request.workspace.name}.")
    return redirect("home")


@workspace_view(role=Role.ADMIN)
@require_POST
def invitation_resend(request: HttpRequest, invitation: str) -> HttpResponse:
    target = get_object_for_member(
        request, Invitation.objects.select_related("workspace", "invited_by"), uuid=invitation
    )
    try:
        services.invitation_resend(invitation=target, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Invitation sent again to {target.email}.")
    return redirect(_members_url(request))


@workspace_view(role=Role.ADMIN)
@require_POST
def invitation_cancel(request: HttpRequest, invitation: str) -> HttpResponse:
    target = get_object_for_member(request, Invitation, uuid=invitation)
    try:
        services.invitation_cancel(invitation=target, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"The invitation for {target.email} was canceled.")
    return redirect(_members_url(request))


# Accepting an invitation ---------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token) -> HttpResponse:
    """The invitation link: explain it to anyone holding it; join on POST when the email matches."""
    invitation = get_object_or_404(
        Invitation.objects.select_related("workspace", "invited_by"), token=token
    )
    context = {"invitation": invitation, "state": invitation.state}
    if invitation.state != InvitationState.PENDING:
        return render(request, "custory/invitation.html", context, status=410)

    if not request.user.is_authenticated:
        here = invitation.get_absolute_url()
        context["signup_url"] = (
            reverse("account_signup") + "?" + urlencode({"next": here, "email": invitation.email})
        )
        context["login_url"] = reverse("account_login") + "?" + urlencode({"next": here})
        return render(request, "custory/invitation.html", context)

    workspace = invitation.workspace
    if workspace.memberships.filter(user=request.user).exists():
        messages.info(request, f"You are already a member of {workspace.name}.")
        return redirect(workspace)
    if request.user.email.lower() != invitation.email.lower():
        context["mismatch"] = True
        return render(request, "custory/invitation.html", context, status=403)
    if not services.email_is_verified(user=request.user, email=invitation.email):
        # Holding the link is not proof of the address: it may have been forwarded.
        context["unverified"] = True
        return render(request, "custory/invitation.html", context, status=403)

    if request.method == "POST":
        try:
            membership = services.invitation_accept(invitation=invitation, user=request.user)
        except ValidationError:
            invitation.refresh_from_db()
            context["state"] = invitation.state
            return render(request, "custory/invitation.html", context, status=410)
        messages.success(
            request, f"Welcome to {workspace.name}. You joined as {membership.get_role_display()}."
        )
        return redirect(workspace)
    return render(request, "custory/invitation.html", context)


# Audit log ------------------------------------------------------------------------------------


@workspace_view(role=Role.ADMIN)
@vary_on_headers("HX-Request")
def audit_log(request: HttpRequest) -> HttpResponse:
    actions, actors = selectors.audit_filter_choices(request.workspace)
    form = AuditFilterForm(request.GET or None, actions=actions, actors=actors)
    filters = {}
    if form.is_bound:
        form.is_valid()
        # Valid filters apply even when another one is wrong; the wrong one is shown as an error.
        filters = {k: v for k, v in form.cleaned_data.items() if v}
    events = selectors.audit_events(request.workspace, **filters)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        (
            event,
            audit_sentence(actor=event.actor_label, action=event.action, target=event.target_label),
            [audit_detail_text(k, v) for k, v in selectors.audit_data_for_display(event.data)],
        )
        for event in page
    ]
    query = request.GET.copy()
    query.pop("page", None)
    template_name = "custory/audit.html"
    if request.htmx:
        template_name += "#table"
    context = {
        "nav": "settings",
        "form": form,
        "page": page,
        "rows": rows,
        "filter_query": query.urlencode(),
        "filtered": bool(filters),
    }
    return render(request, template_name, context)


# Error pages ------------------------------------------------------------------------------------


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "No such API endpoint; see /api/docs/."}, status=404)
    return render(request, "404.html", status=404)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "403.html", status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403.html", {"csrf_failure": True}, status=403)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "400.html", status=400)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Server error; it was logged."}, status=500)
    return render(request, "500.html", status=500)


# API tokens ------------------------------------------------------------------------------------


def _tokens_page(request, *, form=None, new_key: str = "", status: int = 200) -> HttpResponse:
    tokens = selectors.api_tokens_visible(request.workspace, request.membership)
    context = {
        "nav": "settings",
        "form": form or ApiTokenForm(),
        "tokens": tokens,
        "new_key": new_key,
        "api_base": request.build_absolute_uri(f"/api/v1/workspaces/{request.workspace.slug}/"),
    }
    return render(request, "custory/tokens.html", context, status=status)


@workspace_view
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    """Everyone manages their own tokens; admins also see (and may revoke) everyone's."""
    if request.method == "GET":
        return _tokens_page(request)
    form = ApiTokenForm(request.POST)
    if not form.is_valid():
        return _tokens_page(request, form=form, status=400)
    _, key = services.api_token_create(
        workspace=request.workspace, user=request.user, **form.cleaned_data
    )
    # Rendered, not redirected: the key is shown in this response and never again.
    return _tokens_page(request, new_key=key)


@workspace_view
@require_POST
def api_token_revoke(request: HttpRequest, token: str) -> HttpResponse:
    visible = selectors.api_tokens_visible(request.workspace, request.membership)
    api_token = get_object_or_404(visible, uuid=token)
    services.api_token_revoke(token=api_token, actor=request.user)
    messages.success(request, f"Token “{api_token.name}” is revoked; it stops working at once.")
    return redirect("workspace:api_tokens", slug=request.workspace.slug)
