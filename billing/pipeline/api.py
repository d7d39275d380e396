"""Admin endpoints of the pipeline: the Stripe event log, and inbound evidence webhooks."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.mixins import ListModelMixin
from rest_framework.response import Response

from billing.models import EventStatus, StripeEvent
from billing.pipeline.evidence_hooks import evidence_hook_create, evidence_hooks_active, hook_url
from custory.api import WorkspaceAPIView
from custory.models import InboundWebhook, Role


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = StripeEvent
        fields = [
            "id",
            "stripe_id",
            "type",
            "api_version",
            "created",
            "livemode",
            "source",
            "status",
            "attempts",
            "last_error",
            "received_at",
            "processed_at",
        ]


class EventDetailSerializer(EventSerializer):
    class Meta(EventSerializer.Meta):
        fields = [*EventSerializer.Meta.fields, "payload"]


class _EventBase(WorkspaceAPIView):
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    lookup_field = "pk"
    lookup_url_kwarg = "event_id"

    def get_queryset(self):
        if self.is_schema:
            return StripeEvent.objects.none()
        return StripeEvent.objects.for_workspace(self.request.workspace)


class EventList(ListModelMixin, _EventBase):
    serializer_class = EventSerializer
    cursor_ordering = ("-id",)

    def get_queryset(self):
        events = super().get_queryset().defer("payload")
        status = self.request.GET.get("status")
        if status in EventStatus.values:
            events = events.filter(status=status)
        if self.request.GET.get("type"):
            events = events.filter(type=self.request.GET["type"])
        return events

    @extend_schema(
        summary="The Stripe event log (admins)",
        description="Events as received, newest first, with where their processing stands.",
        parameters=[
            OpenApiParameter("status", str, enum=EventStatus.values),
            OpenApiParameter("type", str, description="e.g. invoice.payment_failed"),
            OpenApiParameter("limit", int, description="Page size, 1–200 (default 50)."),
        ],
        tags=["event log"],
    )
    def get(self, request, slug):
        return self.list(request)


class EventDetail(_EventBase):
    serializer_class = EventDetailSerializer

    @extend_schema(summary="One Stripe event with its raw payload (admins)", tags=["event log"])
    def get(self, request, slug, event_id):
        return Response(self.get_serializer(self.get_object()).data)


class EvidenceHookCreateSerializer(serializers.Serializer):
    source = serializers.SlugField(max_length=32, default="posthog")


class EvidenceHookSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uuid")
    source = serializers.CharField()
    webhook_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    secret = serializers.CharField(required=False, help_text="Shown once, at creation.")

    def get_webhook_url(self, hook) -> str:
        return hook_url(hook)


class EvidenceHookList(ListModelMixin, WorkspaceAPIView):
    """Admins create the signed inbound webhook of a source; its secret is shown once."""

    serializer_class = EvidenceHookSerializer
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    pagination_class = None

    def get_queryset(self):
        if self.is_schema:
            return InboundWebhook.objects.none()
        return evidence_hooks_active(self.request.workspace)

    @extend_schema(summary="Inbound evidence webhooks (admins)", tags=["evidence"])
    def get(self, request, slug):
        return self.list(request)

    @extend_schema(
        summary="Create a source's inbound webhook",
        description=(
            "Answers the webhook URL and its HMAC secret (once). Sign each delivery with header "
            "`X-Custory-Signature: sha256=<hex HMAC-SHA256 of the raw body>`. The body is "
            'PostHog\'s webhook destination body: `{"event": {...}, "person": {...}}`. '
            "Creating a source again replaces its webhook."
        ),
        request=EvidenceHookCreateSerializer,
        examples=[
            OpenApiExample("PostHog", value={"source": "posthog"}, request_only=True),
            OpenApiExample(
                "Created",
                value={
                    "id": "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a",
                    "source": "posthog",
                    "webhook_url": "https://custory.example.com/hooks/evidence/3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a/",
                    "created_at": "2026-12-03T09:00:00Z",
                    "secret": "evsec_…",
                },
                response_only=True,
                status_codes=["201"],
            ),
        ],
        responses={201: EvidenceHookSerializer},
        tags=["evidence"],
    )
    def post(self, request, slug):
        data = EvidenceHookCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        source, secret = evidence_hook_create(
            workspace=request.workspace, source=data.validated_data["source"], actor=request.user
        )
        source.secret = secret
        return Response(self.get_serializer(source).data, status=status.HTTP_201_CREATED)
