"""What the journeys layer's endpoints answer: signals, customers, journeys, evidence."""

from rest_framework import serializers

from billing.evidence import MAX_BATCH
from billing.models import Customer, Evidence, RevenueSignal, SignalKind, Subscription
from journeys.models import EvidenceRule, Journey, MappingRule, Stage, Step


class CustomerRefSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = Customer
        fields = ["id", "stripe_id", "email", "name"]


class SignalSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    customer = CustomerRefSerializer(read_only=True, allow_null=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = RevenueSignal
        fields = [
            "id",
            "kind",
            "occurred_at",
            "amount",
            "currency",
            "mrr_delta",
            "livemode",
            "object_id",
            "subscription_stripe_id",
            "details",
            "customer",
            "url",
        ]

    def get_url(self, signal) -> str:
        return signal.get_absolute_url()


class PlacementSerializer(serializers.Serializer):
    journey_id = serializers.UUIDField(source="journey.uuid")
    journey = serializers.CharField(source="journey.name")
    step_id = serializers.UUIDField(source="step.uuid", allow_null=True, default=None)
    step = serializers.CharField(source="step.name", allow_null=True, default=None)
    stage = serializers.CharField(source="step.stage.name", allow_null=True, default=None)


class EvidenceSummarySerializer(serializers.Serializer):
    source = serializers.CharField()
    kind = serializers.CharField()
    count = serializers.IntegerField()
    last_at = serializers.DateTimeField()


class SignalDetailSerializer(SignalSerializer):
    placements = PlacementSerializer(source="journey_placements", many=True, read_only=True)
    evidence_before = EvidenceSummarySerializer(many=True, read_only=True)
    evidence_before_text = serializers.CharField(read_only=True)

    class Meta(SignalSerializer.Meta):
        fields = [
            *SignalSerializer.Meta.fields,
            "placements",
            "evidence_before",
            "evidence_before_text",
        ]


class EvidenceSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    customer = CustomerRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Evidence
        fields = [
            "id",
            "source",
            "kind",
            "title",
            "url",
            "occurred_at",
            "properties",
            "client_id",
            "customer_stripe_id",
            "customer_email",
            "customer",
            "received_at",
        ]


class EvidenceItemSerializer(serializers.Serializer):
    customer = serializers.CharField(
        max_length=254, help_text="The Stripe customer id (cus_…) or the customer's email."
    )
    source = serializers.SlugField(max_length=32, help_text="posthog, intercom, zendesk, app…")
    kind = serializers.RegexField(
        r"^[$\w.:-]{1,64}$", help_text="feature_used, ticket_opened, nps, login…"
    )
    title = serializers.CharField(max_length=300)
    url = serializers.URLField(max_length=1000, required=False, allow_blank=True, default="")
    occurred_at = serializers.DateTimeField()
    properties = serializers.DictField(required=False, default=dict)
    client_id = serializers.CharField(
        max_length=255, help_text="Your id of the item; a resent client id is ignored."
    )


class EvidenceBatchSerializer(serializers.Serializer):
    items = EvidenceItemSerializer(many=True, allow_empty=False, max_length=MAX_BATCH)


class EvidenceBatchResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()


class SubscriptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Subscription
        fields = [
            "stripe_id",
            "status",
            "plan_name",
            "price_id",
            "quantity",
            "mrr",
            "currency",
            "cancel_at_period_end",
            "current_period_end",
            "trial_end",
        ]


class CustomerSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    at_risk = serializers.BooleanField(read_only=True, default=False)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = [
            "id",
            "stripe_id",
            "email",
            "name",
            "status",
            "mrr",
            "currency",
            "livemode",
            "first_seen_at",
            "at_risk",
            "url",
        ]

    def get_url(self, customer) -> str:
        return customer.get_absolute_url()


class TimelineEntrySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["signal", "evidence"])
    occurred_at = serializers.DateTimeField()
    signal = SignalSerializer(required=False, allow_null=True)
    evidence = EvidenceSerializer(required=False, allow_null=True)


class CustomerStepSerializer(serializers.Serializer):
    journey = serializers.CharField(source="journey__name")
    step_id = serializers.UUIDField(source="step__uuid")
    step = serializers.CharField(source="step__name")
    stage = serializers.CharField(source="step__stage__name")
    signals = serializers.IntegerField()
    first = serializers.DateTimeField()
    last = serializers.DateTimeField()


class CustomerDetailSerializer(CustomerSerializer):
    subscriptions = SubscriptionSerializer(many=True, read_only=True)
    timeline = TimelineEntrySerializer(many=True, read_only=True)
    steps = CustomerStepSerializer(many=True, read_only=True)

    class Meta(CustomerSerializer.Meta):
        fields = [*CustomerSerializer.Meta.fields, "subscriptions", "timeline", "steps"]


class KindFigureSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SignalKind.choices)
    count = serializers.IntegerField()
    previous_count = serializers.IntegerField()
    amounts = serializers.DictField(
        child=serializers.IntegerField(), help_text="Minor units by currency."
    )


class StepSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = Step
        fields = ["id", "name", "description", "position"]


class StepFiguresSerializer(StepSerializer):
    count = serializers.IntegerField()
    previous_count = serializers.IntegerField()
    kinds = KindFigureSerializer(many=True)

    class Meta(StepSerializer.Meta):
        fields = [*StepSerializer.Meta.fields, "count", "previous_count", "kinds"]


class StageSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    steps = StepSerializer(many=True, read_only=True)

    class Meta:
        model = Stage
        fields = ["id", "name", "description", "position", "steps"]


class JourneySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    stages = StageSerializer(many=True, read_only=True)

    class Meta:
        model = Journey
        fields = ["id", "name", "description", "is_default", "stages"]


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    days = serializers.IntegerField()


class StageFiguresSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    steps = StepFiguresSerializer(many=True)


class JourneyFiguresSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    period = PeriodSerializer()
    stages = StageFiguresSerializer(many=True)
    unmapped = KindFigureSerializer(many=True)


class StepEvidenceCountSerializer(serializers.Serializer):
    source = serializers.CharField()
    kind = serializers.CharField()
    count = serializers.IntegerField()


class StepDetailSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    stage = serializers.CharField()
    journey_id = serializers.UUIDField()
    period = PeriodSerializer()
    kinds = KindFigureSerializer(many=True)
    checkout_conversion = serializers.FloatField(allow_null=True)
    recovery_rate = serializers.DictField(child=serializers.FloatField())
    refund_rate = serializers.FloatField(allow_null=True)
    median_hours_to_recover = serializers.FloatField(allow_null=True)
    evidence = StepEvidenceCountSerializer(many=True)
    latest_evidence = EvidenceSerializer(many=True)


class MetricsSerializer(serializers.Serializer):
    journey_id = serializers.UUIDField()
    period = PeriodSerializer()
    currencies = serializers.ListField(child=serializers.CharField())
    kinds = KindFigureSerializer(many=True)
    revenue_at_risk = serializers.DictField(child=serializers.IntegerField())
    customers_at_risk = serializers.IntegerField()
    recovery_rate = serializers.DictField(child=serializers.FloatField())
    mrr = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        allow_null=True,
        help_text=(
            "MRR movements (new, expansion, contraction, churn_voluntary, churn_involuntary, "
            "reactivation), minor units by currency."
        ),
    )


class MappingRuleSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    step = serializers.SlugRelatedField(slug_field="uuid", queryset=Step.objects.none())
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=SignalKind.choices), allow_empty=False
    )
    conditions = serializers.DictField(required=False, default=dict)
    priority = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=-100_000, max_value=100_000
    )

    class Meta:
        model = MappingRule
        fields = ["id", "name", "kinds", "step", "conditions", "priority", "enabled"]
        extra_kwargs = {"name": {"required": False}, "enabled": {"required": False}}

    def __init__(self, *args, journey: Journey | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if journey is not None:
            self.fields["step"].queryset = Step.objects.filter(journey=journey)


class EvidenceRuleSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    step = serializers.SlugRelatedField(slug_field="uuid", queryset=Step.objects.none())

    class Meta:
        model = EvidenceRule
        fields = ["id", "step", "kind", "source"]
        extra_kwargs = {"source": {"required": False}}

    def __init__(self, *args, journey: Journey | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if journey is not None:
            self.fields["step"].queryset = Step.objects.filter(journey=journey)
