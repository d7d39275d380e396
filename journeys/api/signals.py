"""Signals, customers and evidence, read through the UI's own selectors and filter forms."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from billing import evidence as evidence_services
from billing.evidence_selectors import (
    customer_evidence,
    evidence_before,
    evidence_before_sentence,
)
from billing.filters import SignalFilterForm
from billing.models import Customer, Evidence, RevenueSignal
from billing.selectors import (
    TimelineEntry,
    customer_search,
    customer_subscriptions,
    customer_timeline,
)
from custory.api import WorkspaceAPIView
from journeys.api import serializers as s
from journeys.api.common import SIGNAL_PARAMETERS, TIME_SORTS, form_valid
from journeys.models import SignalPlacement, Step
from journeys.signal_selectors import customer_steps

SIGNAL_EXAMPLE = {
    "id": "6f1c3f9e-8a51-4f8e-9a3c-2b1f0c9d7e21",
    "kind": "payment_failed",
    "occurred_at": "2026-11-30T09:12:44Z",
    "amount": 4900,
    "currency": "usd",
    "mrr_delta": 0,
    "livemode": False,
    "object_id": "in_1QxYz2AbCdEf",
    "subscription_stripe_id": "sub_1QxYz0AbCdEf",
    "details": {"decline_code": "insufficient_funds", "attempt_count": 1},
    "customer": {
        "id": "0b8d2c1a-55e3-4c8f-8f0e-3d2a1b9c8e77",
        "stripe_id": "cus_QxYzAbCdEf",
        "email": "ada@example.com",
        "name": "Ada Lovelace",
    },
    "url": "/w/acme/signals/6f1c3f9e-8a51-4f8e-9a3c-2b1f0c9d7e21/",
}


class SignalList(ListModelMixin, WorkspaceAPIView):
    serializer_class = s.SignalSerializer

    @property
    def cursor_ordering(self):
        return (
            ("occurred_at", "id")
            if self.request.GET.get("sort") == "occurred_at"
            else (
                "-occurred_at",
                "-id",
            )
        )

    def get_queryset(self):
        if self.is_schema:
            return RevenueSignal.objects.none()
        form = SignalFilterForm(self.request.GET or None, workspace=self.request.workspace)
        form.fields["sort"].choices = TIME_SORTS
        signals = RevenueSignal.objects.for_workspace(self.request.workspace).select_related(
            "workspace", "customer"
        )
        step = self.request.GET.get("step")
        if step:
            step = Step.objects.for_workspace(self.request.workspace).filter(uuid=_uuid(step))
            signals = signals.filter(placements__step__in=step)
        return form_valid(form).filter_signals(signals)

    @extend_schema(
        summary="List revenue signals",
        description=(
            "The signals list's filters (period, kinds, mode, connection, customer, amounts, "
            "decline code) and a step filter; newest first, cursor-paginated."
        ),
        parameters=SIGNAL_PARAMETERS,
        examples=[OpenApiExample("A failed payment", value=SIGNAL_EXAMPLE, response_only=True)],
        tags=["signals"],
    )
    def get(self, request, slug):
        return self.list(request)


def _uuid(value: str):
    try:
        return serializers.UUIDField().to_internal_value(value)
    except serializers.ValidationError as error:
        raise ValidationError({"step": ["Must be a valid UUID."]}) from error


class SignalDetail(WorkspaceAPIView):
    serializer_class = s.SignalDetailSerializer

    def get_queryset(self):
        if self.is_schema:
            return RevenueSignal.objects.none()
        return RevenueSignal.objects.for_workspace(self.request.workspace).select_related(
            "workspace", "customer"
        )

    @extend_schema(
        summary="One revenue signal",
        description=(
            "A signal with its customer, where each journey places it, and what the customer did "
            "in the 30 days before it (evidence by source and kind)."
        ),
        tags=["signals"],
    )
    def get(self, request, slug, uuid):
        signal = self.get_object()
        signal.journey_placements = list(
            SignalPlacement.objects.filter(signal=signal).select_related("journey", "step__stage")
        )
        signal.evidence_before = evidence_before(signal)
        signal.evidence_before_text = evidence_before_sentence(signal.evidence_before)
        return Response(self.get_serializer(signal).data)


class CustomerList(ListModelMixin, WorkspaceAPIView):
    serializer_class = s.CustomerSerializer
    cursor_ordering = ("-first_seen_at", "-id")

    def get_queryset(self):
        if self.is_schema:
            return Customer.objects.none()
        return customer_search(
            self.request.workspace,
            q=self.request.GET.get("q", ""),
            at_risk=self.request.GET.get("at_risk") in ("1", "true"),
        )

    @extend_schema(
        summary="Search customers",
        parameters=[
            OpenApiParameter("q", str, description="Email or name (contains), or cus_… id."),
            OpenApiParameter("at_risk", bool, description="Only customers with past-due MRR."),
            OpenApiParameter("limit", int, description="Page size, 1–200 (default 50)."),
        ],
        tags=["customers"],
    )
    def get(self, request, slug):
        return self.list(request)


class CustomerDetail(WorkspaceAPIView):
    serializer_class = s.CustomerDetailSerializer

    def get_queryset(self):
        if self.is_schema:
            return Customer.objects.none()
        return Customer.objects.for_workspace(self.request.workspace).select_related("workspace")

    @extend_schema(
        summary="One customer with their timeline",
        description=(
            "Subscriptions, the journey steps their signals sit on, and one timeline of revenue "
            "signals and evidence, newest first (at most 200 of each)."
        ),
        tags=["customers"],
    )
    def get(self, request, slug, uuid):
        customer = self.get_object()
        evidence = [
            TimelineEntry(e.occurred_at, "evidence", e) for e in customer_evidence(customer)
        ]
        timeline = [
            {"type": entry.kind, "occurred_at": entry.at, entry.kind: entry.obj}
            for entry in customer_timeline(customer, limit=400, others=evidence)
        ]
        customer.subscriptions_list = customer_subscriptions(customer)
        data = s.CustomerSerializer(customer).data
        data.update(
            subscriptions=s.SubscriptionSerializer(customer.subscriptions_list, many=True).data,
            timeline=s.TimelineEntrySerializer(timeline, many=True).data,
            steps=s.CustomerStepSerializer(customer_steps(customer), many=True).data,
        )
        return Response(data)


EVIDENCE_BATCH_EXAMPLE = {
    "items": [
        {
            "customer": "cus_QxYzAbCdEf",
            "source": "zendesk",
            "kind": "ticket_opened",
            "title": "Card declined at renewal, asks for invoice",
            "url": "https://acme.zendesk.com/agent/tickets/4821",
            "occurred_at": "2026-11-28T16:03:00Z",
            "properties": {"priority": "high", "channel": "email"},
            "client_id": "zendesk-ticket-4821",
        },
        {
            "customer": "ada@example.com",
            "source": "app",
            "kind": "login",
            "title": "Signed in",
            "occurred_at": "2026-11-05T08:00:00Z",
            "client_id": "login-8812",
        },
    ]
}


class EvidenceList(ListModelMixin, WorkspaceAPIView):
    serializer_class = s.EvidenceSerializer
    cursor_ordering = ("-occurred_at", "-id")

    def get_queryset(self):
        if self.is_schema:
            return Evidence.objects.none()
        items = Evidence.objects.filter(workspace=self.request.workspace).select_related("customer")
        params = self.request.GET
        for name in ("source", "kind"):
            if params.get(name):
                items = items.filter(**{name: params[name]})
        if params.get("customer"):
            who = params["customer"].strip()
            field = "customer__stripe_id" if who.startswith("cus_") else "customer__email__iexact"
            items = items.filter(**{field: who})
        return items

    @extend_schema(
        summary="List evidence",
        parameters=[
            OpenApiParameter("source", str, description="e.g. posthog, zendesk."),
            OpenApiParameter("kind", str, description="e.g. ticket_opened."),
            OpenApiParameter("customer", str, description="Stripe customer id or email."),
            OpenApiParameter("limit", int, description="Page size, 1–200 (default 50)."),
        ],
        tags=["evidence"],
    )
    def get(self, request, slug):
        return self.list(request)

    @extend_schema(
        summary="Post evidence in a batch",
        description=(
            "Up to 500 items from product analytics and support tools. Idempotent: an item whose "
            "(source, client_id) was stored before is skipped and counted in `duplicates`. "
            "Customers are matched by Stripe id or email; unmatched items are kept and shown "
            "once the customer appears."
        ),
        request=s.EvidenceBatchSerializer,
        responses={201: s.EvidenceBatchResultSerializer, 200: s.EvidenceBatchResultSerializer},
        examples=[
            OpenApiExample("A ticket and a login", value=EVIDENCE_BATCH_EXAMPLE, request_only=True),
            OpenApiExample(
                "Stored",
                value={"received": 2, "created": 2, "duplicates": 0},
                response_only=True,
                status_codes=["201"],
            ),
        ],
        tags=["evidence"],
    )
    def post(self, request, slug):
        batch = s.EvidenceBatchSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        items = []
        for number, item in enumerate(batch.validated_data["items"]):
            try:
                stripe_id, email = evidence_services.customer_identifiers(item.pop("customer"))
                item["properties"] = evidence_services.properties_validate(item["properties"])
            except evidence_services.EvidenceError as error:
                raise ValidationError({"items": {number: [str(error)]}}) from error
            items.append({**item, "customer_stripe_id": stripe_id, "customer_email": email})
        result = evidence_services.evidence_record(workspace=request.workspace, items=items)
        body = {"received": result.received, "created": result.created}
        body["duplicates"] = result.duplicates
        return Response(body, status=status.HTTP_201_CREATED if result.created else 200)
