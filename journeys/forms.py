"""Forms of the journey editor; they read and check input, the services decide and write."""

from decimal import Decimal
from typing import Any

from django import forms

from billing.models import SignalKind
from custory.money import currency_exponent, money_parse
from journeys.conditions import SUBSCRIPTION_STATUSES
from journeys.models import Journey, MappingRule, Step


class JourneyForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class JourneyCreateForm(JourneyForm):
    from_template = forms.BooleanField(
        required=False,
        initial=True,
        label="Start from the SaaS template (stages, steps and rules)",
    )


class StageForm(forms.Form):
    name = forms.CharField(max_length=100, label="Stage name")
    description = forms.CharField(max_length=300, required=False, label="Description")


class StepForm(forms.Form):
    name = forms.CharField(max_length=100, label="Step name")
    description = forms.CharField(max_length=300, required=False, label="Description")


class StepChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Step) -> str:
        return f"{obj.stage.name} › {obj.name}"


class TargetForm(forms.Form):
    """Where a deleted step's (or stage's) signals go: another step, or the Unmapped lane."""

    target = StepChoiceField(
        queryset=Step.objects.none(),
        required=False,
        empty_label="Unmapped lane",
        label="Move its signals to",
    )

    def __init__(self, *args, journey: Journey, exclude: list[Step], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = (
            Step.objects.filter(journey=journey)
            .exclude(pk__in=[s.pk for s in exclude])
            .select_related("stage")
        )


LIVEMODE_CHOICES = [("", "Live and test mode"), ("live", "Live mode only"), ("test", "Test only")]


class RuleForm(forms.Form):
    """A mapping rule; amounts are entered in major units of the chosen currency."""

    name = forms.CharField(
        max_length=100, required=False, help_text="Optional; a name is made from the kinds."
    )
    kinds = forms.MultipleChoiceField(
        choices=SignalKind.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Signals of these kinds",
        error_messages={"required": "Choose at least one signal kind."},
    )
    step = forms.ModelChoiceField(
        queryset=Step.objects.none(),
        label="…belong on step",
        error_messages={
            "required": "Choose the step these signals belong on.",
            "invalid_choice": "Choose a step of this journey.",
        },
    )
    priority = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=1_000_000,
        help_text="Lower numbers are tried first; the first matching rule wins. Empty: last.",
    )
    enabled = forms.BooleanField(required=False, initial=True)
    currency = forms.CharField(max_length=3, required=False, help_text="For example EUR.")
    amount_min = forms.DecimalField(required=False, label="Amount at least", min_value=0)
    amount_max = forms.DecimalField(required=False, label="Amount at most", min_value=0)
    price_id = forms.CharField(max_length=255, required=False, label="Stripe price id")
    product_id = forms.CharField(max_length=255, required=False, label="Stripe product id")
    billing_reason = forms.ChoiceField(
        required=False,
        choices=[("", "Any")]
        + [
            (r, r.replace("_", " "))
            for r in [
                "subscription_create",
                "subscription_cycle",
                "subscription_update",
                "subscription_threshold",
                "manual",
                "upcoming",
            ]
        ],
    )
    subscription_status = forms.ChoiceField(
        required=False,
        choices=[("", "Any")] + [(s, s.replace("_", " ")) for s in SUBSCRIPTION_STATUSES],
    )
    attempt_count_min = forms.IntegerField(
        required=False, min_value=1, max_value=100, label="Payment attempt count at least"
    )
    decline_code = forms.CharField(
        max_length=255, required=False, help_text="For example insufficient_funds."
    )
    metadata_key = forms.CharField(max_length=100, required=False, label="Customer metadata key")
    metadata_value = forms.CharField(max_length=255, required=False, label="…equals")
    livemode = forms.ChoiceField(required=False, choices=LIVEMODE_CHOICES, label="Mode")

    CONDITION_FIELDS = [
        "currency",
        "amount_min",
        "amount_max",
        "price_id",
        "product_id",
        "billing_reason",
        "subscription_status",
        "attempt_count_min",
        "decline_code",
        "metadata_key",
        "metadata_value",
        "livemode",
    ]

    def __init__(self, *args, journey: Journey, **kwargs):
        super().__init__(*args, **kwargs)
        self.journey = journey
        self.fields["step"].queryset = Step.objects.filter(journey=journey).select_related("stage")
        self.fields["step"].label_from_instance = lambda s: f"{s.stage.name} › {s.name}"

    @classmethod
    def initial_from(cls, rule: MappingRule) -> dict[str, Any]:
        conditions = rule.conditions or {}
        currency = conditions.get("currency", "")
        exponent = currency_exponent(currency)
        initial: dict[str, Any] = {
            "name": rule.name,
            "kinds": rule.kinds,
            "step": rule.step_id,
            "priority": rule.priority,
            "enabled": rule.enabled,
            "currency": currency.upper(),
        }
        for key in ("amount_min", "amount_max"):
            if conditions.get(key) is not None:
                initial[key] = Decimal(conditions[key]).scaleb(-exponent)
        for key in (
            "price_id",
            "product_id",
            "billing_reason",
            "subscription_status",
            "attempt_count_min",
            "decline_code",
        ):
            if key in conditions:
                initial[key] = conditions[key]
        metadata = conditions.get("customer_metadata") or {}
        if metadata:
            initial["metadata_key"], initial["metadata_value"] = next(iter(metadata.items()))
        if "livemode" in conditions:
            initial["livemode"] = "live" if conditions["livemode"] else "test"
        return initial

    def clean_currency(self) -> str:
        currency = self.cleaned_data["currency"].strip().lower()
        if currency and (len(currency) != 3 or not currency.isalpha()):
            raise forms.ValidationError("Enter a 3-letter currency code such as EUR.")
        return currency

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        currency = data.get("currency") or ""
        conditions: dict[str, Any] = {}
        for key in ("amount_min", "amount_max"):
            value = data.get(key)
            if value is None:
                continue
            if not currency:
                self.add_error("currency", "An amount needs a currency: amounts differ by it.")
                continue
            try:
                conditions[key] = money_parse(value, currency)
            except ValueError as error:
                self.add_error(key, str(error))
        if (
            conditions.get("amount_min") is not None
            and conditions.get("amount_max") is not None
            and conditions["amount_min"] > conditions["amount_max"]
        ):
            self.add_error("amount_max", "The maximum is below the minimum.")
        if currency:
            conditions["currency"] = currency
        for key in ("price_id", "product_id", "billing_reason", "subscription_status"):
            if data.get(key):
                conditions[key] = data[key].strip()
        if data.get("decline_code"):
            conditions["decline_code"] = data["decline_code"].strip()
        if data.get("attempt_count_min") is not None:
            conditions["attempt_count_min"] = data["attempt_count_min"]
        key, value = (data.get("metadata_key") or "").strip(), data.get("metadata_value") or ""
        if key:
            conditions["customer_metadata"] = {key: value.strip()}
        elif value:
            self.add_error("metadata_key", "Enter the metadata key to compare.")
        if data.get("livemode"):
            conditions["livemode"] = data["livemode"] == "live"
        data["conditions"] = conditions
        return data

    def rule_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data.get("name") or "",
            "kinds": list(data["kinds"]),
            "step": data["step"],
            "conditions": data["conditions"],
            "priority": data.get("priority"),
            "enabled": bool(data.get("enabled")),
        }
