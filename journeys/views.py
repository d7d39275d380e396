"""Settings › Journeys: the journey list, the journey editor, mapping rules and the Unmapped lane.

Reads are open to every role; writes need at least a member (support gets the same 404 as a
stranger). Changes answer htmx with the fragment that changed and plain posts with a redirect, so
every control works without JavaScript too.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from billing.models import SignalKind
from custory.access import ROLES_AT_LEAST, get_object_for_member, workspace_view
from custory.models import Role
from journeys import selectors, services
from journeys.forms import (
    JourneyCreateForm,
    JourneyForm,
    RuleForm,
    StageForm,
    StepForm,
    TargetForm,
)
from journeys.models import Journey, MappingRule, Stage, Step


def _can_edit(request: HttpRequest) -> bool:
    return request.membership.role in ROLES_AT_LEAST[Role.MEMBER]


def _journey(request: HttpRequest, uuid) -> Journey:
    return get_object_for_member(request, Journey.objects.select_related("workspace"), uuid=uuid)


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


def _form_errors(form) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


# Journeys ----------------------------------------------------------------------------------------


@workspace_view
def journey_list(request: HttpRequest) -> HttpResponse:
    journeys = selectors.journeys_for_list(request.workspace)
    return render(
        request,
        "journeys/journey_list.html",
        {
            "journeys": journeys,
            "form": JourneyCreateForm(),
            "can_edit": _can_edit(request),
            "nav": "settings",
        },
    )


@workspace_view(role=Role.MEMBER)
@require_POST
def journey_create(request: HttpRequest) -> HttpResponse:
    form = JourneyCreateForm(request.POST)
    if form.is_valid():
        try:
            journey = services.journey_create(
                workspace=request.workspace, actor=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Journey “{journey.name}” created.")
            return redirect(_detail_url(journey))
    journeys = selectors.journeys_for_list(request.workspace)
    context = {"journeys": journeys, "form": form, "can_edit": True, "nav": "settings"}
    return render(request, "journeys/journey_list.html", context, status=400)


def _detail_url(journey: Journey) -> str:
    return reverse(
        "journeys:journey_detail", kwargs={"slug": journey.workspace.slug, "journey": journey.uuid}
    )


def _detail_context(request: HttpRequest, journey: Journey, **extra) -> dict:
    return {
        "journey": journey,
        "stages": selectors.journey_structure(journey),
        "remap": selectors.remap_latest(journey),
        "rule_count": journey.mapping_rules.count(),
        "can_edit": _can_edit(request),
        "nav": "settings",
        **extra,
    }


@workspace_view
@vary_on_headers("HX-Request")
def journey_detail(request: HttpRequest, journey) -> HttpResponse:
    """The journey editor: stages and steps, in place."""
    journey = _journey(request, journey)
    return render(request, "journeys/journey_detail.html", _detail_context(request, journey))


def _structure_response(request: HttpRequest, journey: Journey, error: str = "") -> HttpResponse:
    """htmx gets the structure fragment; a plain post goes back to the editor."""
    if request.htmx:
        context = _detail_context(request, journey, structure_error=error)
        return render(request, "journeys/journey_detail.html#structure", context)
    if error:
        messages.error(request, error)
    return redirect(_detail_url(journey))


@workspace_view(role=Role.MEMBER)
@require_POST
def journey_update(request: HttpRequest, journey) -> HttpResponse:
    journey = _journey(request, journey)
    form = JourneyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(_detail_url(journey))
    try:
        services.journey_update(journey=journey, actor=request.user, **form.cleaned_data)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, "Journey saved.")
    return redirect(_detail_url(journey))


@workspace_view(role=Role.MEMBER)
@require_POST
def journey_make_default(request: HttpRequest, journey) -> HttpResponse:
    journey = _journey(request, journey)
    services.journey_make_default(journey=journey, actor=request.user)
    messages.success(request, f"“{journey.name}” is now the default journey.")
    return redirect("journeys:journey_list", slug=request.workspace.slug)


@workspace_view(role=Role.MEMBER)
@require_http_methods(["GET", "POST"])
def journey_delete(request: HttpRequest, journey) -> HttpResponse:
    journey = _journey(request, journey)
    error = ""
    if request.method == "POST":
        try:
            services.journey_delete(journey=journey, actor=request.user)
        except ValidationError as e:
            error = _error_text(e)
        else:
            messages.success(request, f"Journey “{journey.name}” deleted.")
            return redirect("journeys:journey_list", slug=request.workspace.slug)
    context = {
        "journey": journey,
        "object": journey,
        "what": "journey",
        "signal_count": journey.placements.count(),
        "error": error,
        "nav": "settings",
    }
    return render(request, "journeys/delete_confirm.html", context, status=400 if error else 200)


# Stages and steps -------------------------------------------------------------------------------


def _stage(request: HttpRequest, uuid) -> Stage:
    return get_object_for_member(
        request, Stage.objects.select_related("journey__workspace"), uuid=uuid
    )


def _step(request: HttpRequest, uuid) -> Step:
    return get_object_for_member(
        request, Step.objects.select_related("journey__workspace", "stage"), uuid=uuid
    )


@workspace_view(role=Role.MEMBER)
@require_POST
def stage_create(request: HttpRequest, journey) -> HttpResponse:
    journey = _journey(request, journey)
    form = StageForm(request.POST)
    if not form.is_valid():
        return _structure_response(request, journey, _form_errors(form))
    services.stage_create(journey=journey, actor=request.user, **form.cleaned_data)
    return _structure_response(request, journey)


@workspace_view(role=Role.MEMBER)
@require_POST
def stage_update(request: HttpRequest, uuid) -> HttpResponse:
    stage = _stage(request, uuid)
    form = StageForm(request.POST)
    if not form.is_valid():
        return _structure_response(request, stage.journey, _form_errors(form))
    services.stage_update(stage=stage, actor=request.user, **form.cleaned_data)
    return _structure_response(request, stage.journey)


@workspace_view(role=Role.MEMBER)
@require_POST
def stage_move(request: HttpRequest, uuid) -> HttpResponse:
    stage = _stage(request, uuid)
    direction = request.POST.get("direction")
    if direction in (services.UP, services.DOWN):
        services.stage_move(stage=stage, actor=request.user, direction=direction)
    return _structure_response(request, stage.journey)


@workspace_view(role=Role.MEMBER)
@require_POST
def step_create(request: HttpRequest, uuid) -> HttpResponse:
    stage = _stage(request, uuid)
    form = StepForm(request.POST)
    if not form.is_valid():
        return _structure_response(request, stage.journey, _form_errors(form))
    services.step_create(stage=stage, actor=request.user, **form.cleaned_data)
    return _structure_response(request, stage.journey)


@workspace_view(role=Role.MEMBER)
@require_POST
def step_update(request: HttpRequest, uuid) -> HttpResponse:
    step = _step(request, uuid)
    form = StepForm(request.POST)
    if not form.is_valid():
        return _structure_response(request, step.journey, _form_errors(form))
    services.step_update(step=step, actor=request.user, **form.cleaned_data)
    return _structure_response(request, step.journey)


@workspace_view(role=Role.MEMBER)
@require_POST
def step_move(request: HttpRequest, uuid) -> HttpResponse:
    step = _step(request, uuid)
    direction = request.POST.get("direction")
    if direction in (services.UP, services.DOWN):
        services.step_move(step=step, actor=request.user, direction=direction)
    return _structure_response(request, step.journey)


def _delete_with_target(request: HttpRequest, obj, what: str, steps: list[Step]) -> HttpResponse:
    """Confirm page for deleting a stage or step: where should its signals go?"""
    journey = obj.journey
    form = TargetForm(request.POST or None, journey=journey, exclude=steps)
    signal_count = sum(step.placements.count() for step in steps)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            target = form.cleaned_data["target"]
            delete = services.stage_delete if what == "stage" else services.step_delete
            try:
                moved = delete(**{what: obj}, actor=request.user, target=target)
            except ValidationError as error:
                form.add_error(None, _error_text(error))
            else:
                where = target.name if target else "Unmapped"
                text = f"{what.capitalize()} “{obj.name}” deleted; {moved} signals went to {where}."
                messages.success(request, text)
                return redirect(_detail_url(journey))
        status = 400
    context = {
        "journey": journey,
        "object": obj,
        "what": what,
        "form": form,
        "steps": steps,
        "signal_count": signal_count,
        "rule_count": MappingRule.objects.filter(step__in=steps).count(),
        "nav": "settings",
    }
    return render(request, "journeys/delete_confirm.html", context, status=status)


@workspace_view(role=Role.MEMBER)
@require_http_methods(["GET", "POST"])
def stage_delete(request: HttpRequest, uuid) -> HttpResponse:
    stage = _stage(request, uuid)
    return _delete_with_target(request, stage, "stage", list(stage.steps.all()))


@workspace_view(role=Role.MEMBER)
@require_http_methods(["GET", "POST"])
def step_delete(request: HttpRequest, uuid) -> HttpResponse:
    step = _step(request, uuid)
    return _delete_with_target(request, step, "step", [step])


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
        "can_edit": _can_edit(request),
        "nav": "settings",
    }


@workspace_view
@vary_on_headers("HX-Request")
def rule_list(request: HttpRequest, journey) -> HttpResponse:
    journey = _journey(request, journey)
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
        "preview": _preview_for(journey, form, rule) if form.is_bound else None,
        "nav": "settings",
    }
    return render(request, "journeys/rule_form.html", context, status=status)


@workspace_view(role=Role.MEMBER)
@require_http_methods(["GET", "POST"])
def rule_create(request: HttpRequest, journey) -> HttpResponse:
    """A new rule; ?kind=… and ?step=… prefill it (the Unmapped lane links here)."""
    journey = _journey(request, journey)
    if request.method == "POST":
        form = RuleForm(request.POST, journey=journey)
        if form.is_valid():
            try:
                rule = services.rule_create(
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
                services.rule_update(rule=rule, actor=request.user, **form.rule_kwargs())
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


def _preview_for(journey: Journey, form: RuleForm, rule: MappingRule | None):
    """The preview of a bound form, or None when its kinds or conditions are not valid yet."""
    form.is_valid()
    condition_errors = set(form.errors) & set(RuleForm.CONDITION_FIELDS + ["kinds", "priority"])
    if condition_errors or not form.cleaned_data.get("kinds"):
        return None
    return selectors.rule_preview(
        journey=journey,
        kinds=list(form.cleaned_data["kinds"]),
        conditions=form.cleaned_data.get("conditions", {}),
        priority=form.cleaned_data.get("priority"),
        rule=rule,
    )


@workspace_view(role=Role.MEMBER)
@require_POST
def rule_preview(request: HttpRequest, journey) -> HttpResponse:
    """The live preview while a rule is edited (htmx posts the form here on every change)."""
    journey = _journey(request, journey)
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
        "preview": _preview_for(journey, form, rule),
    }
    return render(request, "journeys/rule_form.html#preview", context)


@workspace_view(role=Role.MEMBER)
@require_POST
def rule_toggle(request: HttpRequest, uuid) -> HttpResponse:
    rule = _rule(request, uuid)
    services.rule_toggle(rule=rule, actor=request.user)
    return _rules_response(request, rule.journey)


@workspace_view(role=Role.MEMBER)
@require_POST
def rule_move(request: HttpRequest, uuid) -> HttpResponse:
    rule = _rule(request, uuid)
    direction = request.POST.get("direction")
    if direction in (services.UP, services.DOWN):
        services.rule_move(rule=rule, actor=request.user, direction=direction)
    return _rules_response(request, rule.journey)


@workspace_view(role=Role.MEMBER)
@require_http_methods(["GET", "POST"])
def rule_delete(request: HttpRequest, uuid) -> HttpResponse:
    rule = _rule(request, uuid)
    if request.method == "POST":
        services.rule_delete(rule=rule, actor=request.user)
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
    journey = _journey(request, journey)
    context = {"journey": journey, "remap": selectors.remap_latest(journey)}
    return render(request, "journeys/_remap.html", context)


@workspace_view
def unmapped(request: HttpRequest, journey) -> HttpResponse:
    """A journey's Unmapped lane: signals no rule claims, by kind, with 'create a rule'."""
    journey = _journey(request, journey)
    context = {
        "journey": journey,
        "groups": selectors.unmapped_groups(journey),
        "can_edit": _can_edit(request),
        "nav": "settings",
    }
    return render(request, "journeys/unmapped.html", context)
