"""Settings → Alerts (admins and members): threshold alerts and one's own email digest; and the
signed one-click unsubscribe link of the digest."""

from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from custory.access import get_object_for_member, workspace_view
from custory.models import Membership, Role
from tasks import alert_services
from tasks.alert_forms import AlertRuleForm, DigestPreferenceForm
from tasks.alerts import alert_describe
from tasks.digests import UNSUBSCRIBE_SALT
from tasks.models import AlertRule, DigestFrequency, DigestPreference


def _digest_initial(request) -> dict:
    preference = DigestPreference.objects.filter(
        workspace=request.workspace, user=request.user
    ).first()
    if preference is not None:
        return {"frequency": preference.frequency, "time_zone": preference.time_zone}
    default = (
        DigestFrequency.WEEKLY
        if request.membership.role in (Role.ADMIN, Role.MEMBER)
        else DigestFrequency.OFF
    )
    return {"frequency": default, "time_zone": "UTC"}


def _page(request, *, form=None, digest_form=None, status=200):
    rules = list(
        AlertRule.objects.filter(workspace=request.workspace).select_related(
            "step", "webhook", "workspace"
        )
    )
    for rule in rules:
        rule.description = alert_describe(rule)
    context = {
        "rules": rules,
        "form": form or AlertRuleForm(workspace=request.workspace),
        "digest_form": digest_form or DigestPreferenceForm(initial=_digest_initial(request)),
    }
    return render(request, "tasks/alert_list.html", context, status=status)


@workspace_view(role=Role.MEMBER)
def alert_list(request: HttpRequest) -> HttpResponse:
    """The alerts and the reader's digest; POST adds an alert."""
    if request.method != "POST":
        return _page(request)
    form = AlertRuleForm(request.POST, workspace=request.workspace)
    if form.is_valid():
        try:
            alert_services.alert_rule_create(
                workspace=request.workspace, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Alert added. It is checked every five minutes.")
            return redirect("tasks:alert_list", slug=request.workspace.slug)
    return _page(request, form=form, status=400)


@workspace_view(role=Role.MEMBER)
@require_POST
def alert_toggle(request: HttpRequest, uuid) -> HttpResponse:
    rule = get_object_for_member(request, AlertRule, uuid=uuid)
    enabled = request.POST.get("enabled") == "1"
    alert_services.alert_rule_set_enabled(rule=rule, actor=request.user, enabled=enabled)
    return redirect("tasks:alert_list", slug=request.workspace.slug)


@workspace_view(role=Role.MEMBER)
@require_POST
def alert_delete(request: HttpRequest, uuid) -> HttpResponse:
    rule = get_object_for_member(request, AlertRule, uuid=uuid)
    alert_services.alert_rule_delete(rule=rule, actor=request.user)
    messages.success(request, "Alert deleted.")
    return redirect("tasks:alert_list", slug=request.workspace.slug)


@workspace_view(role=Role.SUPPORT)
def digest_preference(request: HttpRequest) -> HttpResponse:
    """Everyone in the workspace chooses their own digest (support staff opt in here)."""
    if request.method != "POST":
        form = DigestPreferenceForm(initial=_digest_initial(request))
        return render(request, "tasks/digest_preference.html", {"digest_form": form})
    form = DigestPreferenceForm(request.POST)
    if not form.is_valid():
        context = {"digest_form": form}
        return render(request, "tasks/digest_preference.html", context, status=400)
    alert_services.digest_preference_set(
        workspace=request.workspace, user=request.user, **form.cleaned_data
    )
    messages.success(request, "Digest preference saved.")
    return redirect("tasks:digest_preference", slug=request.workspace.slug)


@csrf_exempt  # The signed token is the credential; mail clients POST it (RFC 8058 one-click).
def digest_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks to confirm (link scanners must not unsubscribe anyone); POST unsubscribes."""
    try:
        ids = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature as error:
        raise Http404("This unsubscribe link is not valid.") from error
    membership = get_object_or_404(
        Membership.objects.select_related("workspace", "user"), workspace=ids["w"], user=ids["u"]
    )
    done = request.method == "POST"
    if done:
        alert_services.digest_preference_set(
            workspace=membership.workspace, user=membership.user, frequency=DigestFrequency.OFF
        )
    context = {"target": membership.workspace, "email": membership.user.email, "done": done}
    return render(request, "tasks/digest_unsubscribe.html", context)
