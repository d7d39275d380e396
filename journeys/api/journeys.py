"""Journeys with stages and steps, each step's figures for a period, metrics, mapping rules."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from billing.filters import BoardFilterForm, SignalFilterForm
from custory.api import WorkspaceAPIView
from custory.models import Role
from journeys import rule_services as services
from journeys.api import serializers as s
from journeys.api.common import PERIOD_PARAMETERS, form_valid, period_data, rollup_filter
from journeys.board_selectors import KindTotal, board_build
from journeys.evidence import (
    EvidenceRuleError,
    evidence_rule_create,
    evidence_rule_delete,
    evidence_rules_for,
    step_evidence,
)
from journeys.models import EvidenceRule, Journey, MappingRule, Step
from journeys.step_selectors import step_stats

JOURNEY_FIGURES_EXAMPLE = {
    "id": "a0c1f2e3-4b5c-6d7e-8f90-1a2b3c4d5e6f",
    "name": "Customer journey",
    "period": {"start": "2026-11-27", "end": "2026-12-03", "days": 7},
    "stages": [
        {
            "id": "5b6c7d8e-9f00-4a1b-8c2d-3e4f5a6b7c8d",
            "name": "Retention",
            "steps": [
                {
                    "id": "7d3f9a10-2b4c-4d5e-8f60-718293a4b5c6",
                    "name": "Recurring payment",
                    "description": "",
                    "position": 0,
                    "count": 3,
                    "previous_count": 1,
                    "kinds": [
                        {
                            "kind": "payment_failed",
                            "count": 3,
                            "previous_count": 1,
                            "amounts": {"eur": 14800},
                        }
                    ],
                }
            ],
        }
    ],
    "unmapped": [],
}


def kind_data(total: KindTotal) -> dict:
    return {
        "kind": total.kind,
        "count": total.count,
        "previous_count": total.previous_count,
        "amounts": dict(total.amounts),
    }


def _journeys(request):
    return Journey.objects.for_workspace(request.workspace).select_related("workspace")


class JourneyList(ListModelMixin, WorkspaceAPIView):
    serializer_class = s.JourneySerializer
    pagination_class = None

    def get_queryset(self):
        if self.is_schema:
            return Journey.objects.none()
        return _journeys(self.request).prefetch_related("stages__steps")

    @extend_schema(summary="Journeys with their stages and steps", tags=["journeys"])
    def get(self, request, slug):
        return self.list(request)


class JourneyDetail(WorkspaceAPIView):
    serializer_class = s.JourneyFiguresSerializer

    def get_queryset(self):
        return Journey.objects.none() if self.is_schema else _journeys(self.request)

    @extend_schema(
        summary="A journey's steps with their figures for a period",
        description=(
            "Per stage and step: signals by kind with counts, the previous period's counts and "
            "amounts (minor units by currency) — the board's cards. `Unmapped` holds signals no "
            "mapping rule claimed."
        ),
        parameters=PERIOD_PARAMETERS,
        examples=[OpenApiExample("Seven days", value=JOURNEY_FIGURES_EXAMPLE, response_only=True)],
        tags=["journeys"],
    )
    def get(self, request, slug, uuid):
        journey = self.get_object()
        form = form_valid(BoardFilterForm(request.GET or None, workspace=request.workspace))
        board = board_build(journey=journey, filters=rollup_filter(form))

        def step_data(card):
            return {
                "id": card.step.uuid,
                "name": card.step.name,
                "description": card.step.description,
                "position": card.step.position,
                "count": card.count,
                "previous_count": card.previous_count,
                "kinds": [kind_data(k) for k in card.kinds],
            }

        return Response(
            {
                "id": journey.uuid,
                "name": journey.name,
                "period": period_data(form.selected_period),
                "stages": [
                    {"id": stage.uuid, "name": stage.name, "steps": [step_data(c) for c in cards]}
                    for stage, cards in board.stages
                ],
                "unmapped": [kind_data(k) for k in board.unmapped.kinds],
            }
        )


class StepDetail(WorkspaceAPIView):
    serializer_class = s.StepDetailSerializer

    def get_queryset(self):
        if self.is_schema:
            return Step.objects.none()
        return Step.objects.for_workspace(self.request.workspace).select_related(
            "stage", "journey", "workspace"
        )

    @extend_schema(
        summary="One step's figures and evidence for a period",
        description=(
            "Signals by kind, conversion, recovery and refund rates, median hours to recover, "
            "and the evidence kinds mapped onto the step (counts over the period, latest items). "
            "The step's signals themselves: `signals/?step=<id>`."
        ),
        parameters=PERIOD_PARAMETERS,
        tags=["journeys"],
    )
    def get(self, request, slug, uuid):
        step = self.get_object()
        data = request.GET.copy()
        data.setdefault("period", "30")
        form = form_valid(SignalFilterForm(data, workspace=request.workspace).without_any_time())
        filters = rollup_filter(form)
        stats = step_stats(step=step, filters=filters)
        evidence = step_evidence(
            step=step, start=filters.period.start_at, end=filters.period.end_at
        )
        return Response(
            {
                "id": step.uuid,
                "name": step.name,
                "stage": step.stage.name,
                "journey_id": step.journey.uuid,
                "period": period_data(filters.period),
                "kinds": [kind_data(k) for k in stats.kinds],
                "checkout_conversion": stats.checkout_conversion,
                "recovery_rate": stats.recovery_rate,
                "refund_rate": stats.refund_rate,
                "median_hours_to_recover": stats.median_hours_to_recover,
                "evidence": evidence.counts,
                "latest_evidence": s.EvidenceSerializer(evidence.latest, many=True).data,
            }
        )


class Metrics(WorkspaceAPIView):
    serializer_class = s.MetricsSerializer

    @extend_schema(
        summary="The board's figures",
        description=(
            "For one journey (the default one unless `journey` is given) and period: totals by "
            "kind against the previous period, revenue and customers at risk, recovery rate by "
            "currency and MRR movements — the same figures as the board."
        ),
        parameters=[
            OpenApiParameter("journey", str, description="A journey's id (default journey)."),
            *PERIOD_PARAMETERS,
        ],
        examples=[
            OpenApiExample(
                "Thirty days",
                value={
                    "journey_id": "a0c1f2e3-4b5c-6d7e-8f90-1a2b3c4d5e6f",
                    "period": {"start": "2026-11-04", "end": "2026-12-03", "days": 30},
                    "currencies": ["usd"],
                    "kinds": [
                        {
                            "kind": "payment_failed",
                            "count": 12,
                            "previous_count": 9,
                            "amounts": {"usd": 58800},
                        }
                    ],
                    "revenue_at_risk": {"usd": 14700},
                    "customers_at_risk": 3,
                    "recovery_rate": {"usd": 0.42},
                    "mrr": {"new": {"usd": 9800}, "churn_voluntary": {"usd": -4900}},
                },
                response_only=True,
            )
        ],
        tags=["metrics"],
    )
    def get(self, request, slug):
        journeys = _journeys(request)
        wanted = request.GET.get("journey")
        journey = (
            journeys.filter(uuid=wanted).first()
            if wanted and _is_uuid(wanted)
            else journeys.first()
        )
        if journey is None:
            raise ValidationError({"journey": ["No such journey in this workspace."]})
        form = form_valid(BoardFilterForm(request.GET or None, workspace=request.workspace))
        board = board_build(journey=journey, filters=rollup_filter(form))
        return Response(
            {
                "journey_id": journey.uuid,
                "period": period_data(form.selected_period),
                "currencies": board.currencies,
                "kinds": [kind_data(t) for t in board.totals.values()],
                "revenue_at_risk": board.at_risk,
                "customers_at_risk": board.at_risk_customers,
                "recovery_rate": board.recovery_rate,
                "mrr": board.mrr,
            }
        )


def _is_uuid(value: str) -> bool:
    try:
        Journey._meta.get_field("uuid").to_python(value)
    except DjangoValidationError:
        return False
    return True


class _JourneyChild(WorkspaceAPIView):
    """Endpoints under journeys/<journey>/: read by all roles, written by admins and members."""

    write_role = Role.MEMBER
    pagination_class = None

    @property
    def journey(self) -> Journey:
        if not hasattr(self, "_journey"):
            self._journey = get_object_or_404(_journeys(self.request), uuid=self.kwargs["journey"])
        return self._journey

    def get_serializer(self, *args, **kwargs):
        if not self.is_schema:
            kwargs["journey"] = self.journey
        return super().get_serializer(*args, **kwargs)


def _django_errors(error: DjangoValidationError) -> ValidationError:
    return ValidationError(error.message_dict if hasattr(error, "error_dict") else error.messages)


class MappingRuleList(ListModelMixin, _JourneyChild):
    serializer_class = s.MappingRuleSerializer

    def get_queryset(self):
        if self.is_schema:
            return MappingRule.objects.none()
        return self.journey.mapping_rules.select_related("step")

    @extend_schema(summary="A journey's mapping rules, first match first", tags=["mapping"])
    def get(self, request, slug, journey):
        return self.list(request)

    @extend_schema(
        summary="Add a mapping rule",
        description="Admins and members. The journey's signals are re-placed in the background.",
        responses={201: s.MappingRuleSerializer},
        examples=[
            OpenApiExample(
                "Failed card payments over $100",
                value={
                    "name": "Big failed payments",
                    "kinds": ["payment_failed"],
                    "step": "7d3f9a10-2b4c-4d5e-8f60-718293a4b5c6",
                    "conditions": {"amount_min": 10000, "currency": "usd"},
                },
                request_only=True,
            )
        ],
        tags=["mapping"],
    )
    def post(self, request, slug, journey):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            rule = services.rule_create(
                journey=self.journey, actor=request.user, **data.validated_data
            )
        except DjangoValidationError as error:
            raise _django_errors(error) from error
        return Response(self.get_serializer(rule).data, status=status.HTTP_201_CREATED)


class MappingRuleDetail(_JourneyChild):
    serializer_class = s.MappingRuleSerializer

    def rule(self) -> MappingRule:
        return get_object_or_404(
            self.journey.mapping_rules.select_related("step", "workspace"), uuid=self.kwargs["uuid"]
        )

    @extend_schema(summary="One mapping rule", tags=["mapping"])
    def get(self, request, slug, journey, uuid):
        return Response(self.get_serializer(self.rule()).data)

    @extend_schema(summary="Change a mapping rule", tags=["mapping"])
    def patch(self, request, slug, journey, uuid):
        rule = self.rule()
        data = self.get_serializer(rule, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = {
            "name": rule.name,
            "kinds": rule.kinds,
            "step": rule.step,
            "conditions": rule.conditions,
            "priority": rule.priority,
            "enabled": rule.enabled,
            **data.validated_data,
        }
        try:
            rule = services.rule_update(rule=rule, actor=request.user, **fields)
        except DjangoValidationError as error:
            raise _django_errors(error) from error
        return Response(self.get_serializer(rule).data)

    @extend_schema(summary="Delete a mapping rule", responses={204: None}, tags=["mapping"])
    def delete(self, request, slug, journey, uuid):
        services.rule_delete(rule=self.rule(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EvidenceRuleList(ListModelMixin, _JourneyChild):
    serializer_class = s.EvidenceRuleSerializer

    def get_queryset(self):
        return EvidenceRule.objects.none() if self.is_schema else evidence_rules_for(self.journey)

    @extend_schema(summary="Evidence kinds placed on the journey's steps", tags=["mapping"])
    def get(self, request, slug, journey):
        return self.list(request)

    @extend_schema(
        summary="Show an evidence kind on a step",
        description="E.g. PostHog's `feature_used` on an onboarding step; blank source: any.",
        responses={201: s.EvidenceRuleSerializer},
        examples=[
            OpenApiExample(
                "Support tickets on the payment step",
                value={
                    "step": "7d3f9a10-2b4c-4d5e-8f60-718293a4b5c6",
                    "kind": "ticket_opened",
                    "source": "zendesk",
                },
                request_only=True,
            )
        ],
        tags=["mapping"],
    )
    def post(self, request, slug, journey):
        data = self.get_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            rule = evidence_rule_create(actor=request.user, **data.validated_data)
        except EvidenceRuleError as error:
            raise ValidationError({"kind": [str(error)]}) from error
        return Response(self.get_serializer(rule).data, status=status.HTTP_201_CREATED)


class EvidenceRuleDetail(_JourneyChild):
    serializer_class = s.EvidenceRuleSerializer

    @extend_schema(
        summary="Stop showing an evidence kind on a step", responses={204: None}, tags=["mapping"]
    )
    def delete(self, request, slug, journey, uuid):
        rule = get_object_or_404(
            EvidenceRule.objects.filter(journey=self.journey).select_related("step", "workspace"),
            uuid=uuid,
        )
        evidence_rule_delete(rule=rule, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
