"""Settings › Journeys: the journey list and the journey editor with its stages and steps.

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

from custory.access import get_object_for_member, has_role, workspace_view
from custory.models import Role
from journeys import selectors, services
from journeys.forms import JourneyCreateForm, JourneyForm, StageForm, StepForm, TargetForm
from journeys.models import Journey, MappingRule, Stage, Step
from journeys.selectors import journey_for_member


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
            "can_edit": has_role(request, Role.MEMBER),
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
        "can_edit": has_role(request, Role.MEMBER),
        "nav": "settings",
        **extra,
    }


@workspace_view
@vary_on_headers("HX-Request")
def journey_detail(request: HttpRequest, journey) -> HttpResponse:
    """The journey editor: stages and steps, in place."""
    journey = journey_for_member(request, journey)
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
    journey = journey_for_member(request, journey)
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
    journey = journey_for_member(request, journey)
    services.journey_make_default(journey=journey, actor=request.user)
    messages.success(request, f"“{journey.name}” is now the default journey.")
    return redirect("journeys:journey_list", slug=request.workspace.slug)


@workspace_view(role=Role.MEMBER)
@require_http_methods(["GET", "POST"])
def journey_delete(request: HttpRequest, journey) -> HttpResponse:
    journey = journey_for_member(request, journey)
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
    journey = journey_for_member(request, journey)
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


def _drop_index(request: HttpRequest) -> int | None:
    try:
        return int(request.POST.get("index", ""))
    except ValueError:
        return None


@workspace_view(role=Role.MEMBER)
@require_POST
def stage_place(request: HttpRequest, uuid) -> HttpResponse:
    """A stage dropped at a new place (drag and drop; the move buttons are the keyboard path)."""
    stage = _stage(request, uuid)
    index = _drop_index(request)
    if index is None:
        return _structure_response(request, stage.journey, "Choose where to put the stage.")
    services.stage_place(stage=stage, actor=request.user, index=index)
    return _structure_response(request, stage.journey)


@workspace_view(role=Role.MEMBER)
@require_POST
def step_place(request: HttpRequest, uuid) -> HttpResponse:
    """A step dropped at a place in a stage, perhaps another one of its journey."""
    step = _step(request, uuid)
    index = _drop_index(request)
    try:
        stage = Stage.objects.filter(journey=step.journey, uuid=request.POST.get("stage")).first()
    except ValidationError:
        stage = None
    if index is None or stage is None:
        return _structure_response(request, step.journey, "Choose where to put the step.")
    services.step_place(step=step, actor=request.user, stage=stage, index=index)
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
