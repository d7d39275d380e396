from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from custory import services
from custory.access import workspace_view
from custory.forms import WorkspaceForm
from custory.models import Role, Workspace


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


def invitation_accept(request: HttpRequest, token) -> HttpResponse:
    raise Http404("Invitations are not open yet.")


@workspace_view
def settings_index(request: HttpRequest) -> HttpResponse:
    return render(request, "custory/settings_index.html")


@workspace_view(role=Role.ADMIN)
def members(request: HttpRequest) -> HttpResponse:
    return render(request, "custory/members.html")


@workspace_view(role=Role.ADMIN)
def audit_log(request: HttpRequest) -> HttpResponse:
    events = request.workspace.audit_events.select_related("actor")[:100]
    return render(request, "custory/audit.html", {"events": events})


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "404.html", status=404)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "403.html", status=403)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    return render(request, "400.html", status=400)


def server_error(request: HttpRequest) -> HttpResponse:
    return render(request, "500.html", status=500)
