"""Settings › Journeys › Rules: a journey's mapping rules with their live preview, the remap
progress and the Unmapped lane.

Reads are open to every role; writes need at least a member (support gets the same 404 as a
stranger). Changes answer htmx with the fragment that changed and plain posts with a redirect.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from billing.models import SignalKind
from custory.access import get_object_for_member, has_role, workspace_view
from custory.models import Role
from journeys import rule_services, selectors
from journeys.forms import RuleForm
from journeys.models import Journey, MappingRule
from journeys.selectors import journey_for_member
from journeys.services import DOWN, UP

# Mapping rules ----------------------------------------------------------------------------------


def _rules_url(journey: Journey) -> str:
    return reverse(
        "journeys:rule_list", kwargs={"slug": journey.workspace.slug, "journey": journey.uuid}
    )


def _rules_context(request: HttpRequest, journey: Journey) -> dict:
    return {
        "journey": journey,
        "rules": selectors.journey_rules_for_list(journey),
        "remap": selectors.remap_latest(journey),
        "can_edit": has_role(request, Role.MEMBER),
        "nav": "settings",
    }


@workspace_view
@vary_on_headers("HX-Request")
def rule_list(request: HttpRequest, journey) -> HttpResponse:
    journey = journey_for_member(request, journey)
    return render(request, "journeys/rule_list.html", _rules_context(request, journey))


def _rules_response(request: HttpRequest, journey: Journey) -> HttpResponse:
    if request.htmx:
        return render(request, "journeys/rule_list.html#rules", _rules_context(request, journey))
    return redirect(_rules_url(journey))


def _rule(request: HttpRequest, uuid) -> MappingRule:
    return get_object_for_member(
        request, MappingRule.objects.select_related("journey__workspace", "step"), uuid=uuid
    )


def _rule_form_page(request, journey, form, rule=None, status=200) -> HttpResponse:
    context = {
        "journey": journey,
        "rule": rule,
        "form": form,
        "nav": "settings",
        **_preview_context(journey, form, rule),
    }
    return render(request, "journeys/rule_form.html", context, status=status)


@workspace_view(role=Role.MEMBER)
@require_http_methods(["GET", "POST"])
def rule_create(request: HttpRequest, journey) -> HttpResponse:
    """A new rule; ?kind=… and ?step=… prefill it (the Unmapped lane links here)."""
    journey = journey_for_member(request, journey)
    if request.method == "POST":
        form = RuleForm(request.POST, journey=journey)
        if form.is_valid():
            try:
                rule = rule_services.rule_create(
                    journey=journey, actor=request.user, **form.rule_kwargs()
                )
            except ValidationError as error:
                _add_service_errors(form, error)
            else:
                messages.success(
                    request, f"Rule “{rule.name}” created; signals are being re-placed."
                )
                return redirect(_rules_url(journey))
        return _rule_form_page(request, journey, form, status=400)
    kinds = [k for k in request.GET.getlist("kind") if k in SignalKind.values]
    form = RuleForm(journey=journey, initial={"kinds": kinds, "enabled": True})
    context = {
        "journey": journey,
        "form": form,
        "preview": selectors.rule_preview(
            journey=journey, kinds=kinds, conditions={}, priority=None
        )
        if kinds
        else None,
        "from_unmapped": bool(kinds),
        "nav": "settings",
    }
    return render(request, "journeys/rule_form.html", context)


def _add_service_errors(form: RuleForm, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


@workspace_view(role=Role.MEMBER)
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, uuid) -> HttpResponse:
    rule = _rule(request, uuid)
    journey = rule.journey
    if request.method == "POST":
        form = RuleForm(request.POST, journey=journey)
        if form.is_valid():
            try:
                rule_services.rule_update(rule=rule, actor=request.user, **form.rule_kwargs())
            except ValidationError as error:
                _add_service_errors(form, error)
            else:
                messages.success(request, f"Rule “{rule.name}” saved; signals are being re-placed.")
                return redirect(_rules_url(journey))
        return _rule_form_page(request, journey, form, rule=rule, status=400)
    form = RuleForm(journey=journey, initial=RuleForm.initial_from(rule))
    context = {
        "journey": journey,
        "rule": rule,
        "form": form,
        "preview": selectors.rule_preview(
            journey=journey,
            kinds=rule.kinds,
            conditions=rule.conditions,
            priority=rule.priority,
            rule=rule,
        ),
        "nav": "settings",
    }
    return render(request, "journeys/rule_form.html", context)


PREVIEW_FIELDS = [*RuleForm.CONDITION_FIELDS, "kinds", "priority"]


def _preview_context(journey: Journey, form: RuleForm, rule: MappingRule | None) -> dict:
    """The preview of a bound form, or the reasons (field label, message) it cannot be made yet."""
    form.is_valid()
    errors = [
        (form.fields[name].label or name.replace("_", " ").capitalize(), message)
        for name in PREVIEW_FIELDS
        if name != "kinds"
        for message in form.errors.get(name, [])
    ]
    if errors or not form.cleaned_data.get("kinds"):
        return {"preview": None, "preview_errors": errors}
    preview = selectors.rule_preview(
        journey=journey,
        kinds=list(form.cleaned_data["kinds"]),
        conditions=form.cleaned_data.get("conditions", {}),
        priority=form.cleaned_data.get("priority"),
        rule=rule,
    )
    return {"preview": preview, "preview_errors": []}


@workspace_view(role=Role.MEMBER)
@require_POST
def rule_preview(request: HttpRequest, journey) -> HttpResponse:
    """The live preview while a rule is edited (htmx posts the form here on every change)."""
    journey = journey_for_member(request, journey)
    rule = None
    if request.POST.get("rule"):
        try:
            rule = MappingRule.objects.filter(journey=journey, uuid=request.POST["rule"]).first()
        except ValidationError:
            rule = None
    form = RuleForm(request.POST, journey=journey)
    context = {
        "journey": journey,
        "rule": rule,
        "form": form,
        **_preview_context(journey, form, rule),
    }
    return render(request, "journeys/rule_form.html#preview", context)


@workspace_view(role=Role.MEMBER)
@require_POST
def rule_toggle(request: HttpRequest, uuid) -> HttpResponse:
    rule = _rule(request, uuid)
    rule_services.rule_toggle(rule=rule, actor=request.user)
    return _rules_response(request, rule.journey)


@workspace_view(role=Role.MEMBER)
@require_POST
def rule_move(request: HttpRequest, uuid) -> HttpResponse:
    rule = _rule(request, uuid)
    direction = request.POST.get("direction")
    if direction in (UP, DOWN):
        rule_services.rule_move(rule=rule, actor=request.user, direction=direction)
    return _rules_response(request, rule.journey)


@workspace_view(role=Role.MEMBER)
@require_http_methods(["GET", "POST"])
def rule_delete(request: HttpRequest, uuid) -> HttpResponse:
    rule = _rule(request, uuid)
    if request.method == "POST":
        rule_services.rule_delete(rule=rule, actor=request.user)
        messages.success(request, f"Rule “{rule.name}” deleted; signals are being re-placed.")
        return redirect(_rules_url(rule.journey))
    context = {
        "journey": rule.journey,
        "object": rule,
        "what": "rule",
        "signal_count": 0,
        "nav": "settings",
    }
    return render(request, "journeys/delete_confirm.html", context)


# Remap progress and the Unmapped lane -----------------------------------------------------------


@workspace_view
def remap_status(request: HttpRequest, journey) -> HttpResponse:
    """The remap progress fragment, polled by htmx while a run is going."""
    journey = journey_for_member(request, journey)
    context = {"journey": journey, "remap": selectors.remap_latest(journey)}
    return render(request, "journeys/_remap.html", context)


@workspace_view
def unmapped(request: HttpRequest, journey) -> HttpResponse:
    """A journey's Unmapped lane: signals no rule claims, by kind, with 'create a rule'."""
    journey = journey_for_member(request, journey)
    context = {
        "journey": journey,
        "groups": selectors.unmapped_groups(journey),
        "can_edit": has_role(request, Role.MEMBER),
        "nav": "settings",
    }
    return render(request, "journeys/unmapped.html", context)
