"""The period's revenue figures, as `manage.py metrics <slug> --json` prints them."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from billing.figures import figures_period, period_figures
from custory.api import WorkspaceAPIView
from journeys.board_selectors import RollupFilter, first_attempt_payments


class FiguresQuerySerializer(serializers.Serializer):
    # `from` is a Python keyword: the field is declared under its wire name below.
    to = serializers.DateField(required=False, input_formats=["iso-8601"])

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False, input_formats=["iso-8601"])
        return fields


class MoneySerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="In the reporting currency, minor units.")
    by_currency = serializers.DictField(
        child=serializers.IntegerField(), help_text="Minor units per currency (ISO code)."
    )


class MovementsSerializer(serializers.Serializer):
    new = MoneySerializer()
    expansion = MoneySerializer()
    contraction = MoneySerializer()
    churn_voluntary = MoneySerializer()
    churn_involuntary = MoneySerializer()
    reactivation = MoneySerializer()


class FailedPaymentsSerializer(serializers.Serializer):
    invoices = serializers.IntegerField(help_text="Invoices whose first failure is in the period.")
    attempts = serializers.IntegerField(help_text="Their failed attempts.")
    amount = MoneySerializer()


class RecoverySerializer(serializers.Serializer):
    invoices_recovered = serializers.IntegerField()
    amount_recovered = MoneySerializer()
    in_dunning = serializers.IntegerField()
    lost = serializers.IntegerField()
    rate_amount = serializers.FloatField(allow_null=True, help_text="A fraction, 0–1.")
    rate_count = serializers.FloatField(allow_null=True, help_text="A fraction, 0–1.")


class RefundsSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    amount = MoneySerializer()


class DisputesSerializer(serializers.Serializer):
    opened = serializers.IntegerField()
    amount = MoneySerializer()
    won = serializers.IntegerField(help_text="Closed as won in the period.")
    lost = serializers.IntegerField(help_text="Closed as lost in the period.")


class RevenueFiguresSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The reporting currency (ISO code).")
    to = serializers.DateField(help_text="Last day, UTC, included.")
    mrr = MoneySerializer(help_text="At the end of the period.")
    arr = MoneySerializer()
    paying_customers = serializers.IntegerField()
    arpa = MoneySerializer()
    movements = MovementsSerializer()
    failed_payments = FailedPaymentsSerializer()
    recovery = RecoverySerializer()
    refunds = RefundsSerializer()
    disputes = DisputesSerializer()
    revenue_at_risk = MoneySerializer(help_text="Now, whatever the period.")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(help_text="First day, UTC, included.")
        return fields


MONEY_EXAMPLE = {"total": 9900, "by_currency": {"EUR": 4600, "USD": 4900}}
FIGURES_EXAMPLE = {
    "currency": "USD",
    "from": "2026-11-01",
    "to": "2026-11-30",
    "mrr": MONEY_EXAMPLE,
    "arr": {"total": 118800, "by_currency": {"EUR": 55200, "USD": 58800}},
    "paying_customers": 2,
    "arpa": {"total": 4950, "by_currency": {"EUR": 4600, "USD": 4900}},
    "movements": {
        "new": MONEY_EXAMPLE,
        "expansion": {"total": 0, "by_currency": {}},
        "contraction": {"total": 0, "by_currency": {}},
        "churn_voluntary": {"total": 0, "by_currency": {}},
        "churn_involuntary": {"total": 0, "by_currency": {}},
        "reactivation": {"total": 0, "by_currency": {}},
    },
    "failed_payments": {
        "invoices": 1,
        "attempts": 2,
        "amount": {"total": 4900, "by_currency": {"USD": 4900}},
    },
    "recovery": {
        "invoices_recovered": 1,
        "amount_recovered": {"total": 4900, "by_currency": {"USD": 4900}},
        "in_dunning": 0,
        "lost": 0,
        "rate_amount": 1.0,
        "rate_count": 1.0,
    },
    "refunds": {"count": 0, "amount": {"total": 0, "by_currency": {}}},
    "disputes": {
        "opened": 0,
        "amount": {"total": 0, "by_currency": {}},
        "won": 0,
        "lost": 0,
    },
    "revenue_at_risk": {"total": 0, "by_currency": {}},
}


class RevenueFigures(WorkspaceAPIView):
    serializer_class = RevenueFiguresSerializer
    pagination_class = None

    @extend_schema(
        summary="Revenue figures of a period",
        description=(
            "The figures `python manage.py metrics <slug> --json` prints, with the same keys: "
            "MRR and ARR at the end of the period, paying customers, ARPA, MRR movements, "
            "failed payments per invoice and their recovery, refunds, disputes and revenue at "
            'risk now. Money is in minor units as `{"total": <in the reporting currency>, '
            '"by_currency": {"USD": …}}`; rates are fractions 0–1. Definitions: the '
            "workspace's How we count page."
        ),
        parameters=[
            OpenApiParameter(
                "from",
                OpenApiTypes.DATE,
                description="First day, UTC (default: 30 days before `to`).",
            ),
            OpenApiParameter(
                "to", OpenApiTypes.DATE, description="Last day, UTC (default: today)."
            ),
        ],
        examples=[OpenApiExample("November", value=FIGURES_EXAMPLE, response_only=True)],
        tags=["metrics"],
    )
    def get(self, request, slug):
        query = FiguresQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            period = figures_period(
                query.validated_data.get("from"), query.validated_data.get("to")
            )
        except ValueError as error:
            raise ValidationError({"from": [str(error)]}) from error
        workspace = request.workspace
        figures = period_figures(
            workspace,
            period,
            first_attempt_payments=first_attempt_payments(workspace, RollupFilter(period=period)),
        )
        return Response(figures)
