"""Forms of the alerts page: a threshold alert, and the reader's own digest choice."""

import zoneinfo
from functools import cache

from django import forms

from custory.models import OutboundWebhook, Workspace
from custory.money import money_parse
from journeys.models import Step
from tasks.models import AlertMetric, DigestFrequency


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class AlertRuleForm(forms.Form):
    metric = forms.ChoiceField(label="Alert when", choices=AlertMetric.choices)
    threshold = forms.CharField(
        max_length=20,
        help_text="A count of failed payments, a percentage, an amount (e.g. 500.00) or hours.",
    )
    step = forms.ModelChoiceField(
        queryset=Step.objects.none(),
        required=False,
        empty_label="Any step",
        help_text="Failed payments only: count those placed on this step.",
    )
    currency = forms.CharField(
        max_length=3,
        required=False,
        help_text="For amounts and recovery rate; the workspace's main currency when empty.",
    )
    email = forms.BooleanField(label="Email me", required=False, initial=True)
    webhook = forms.ModelChoiceField(
        queryset=OutboundWebhook.objects.none(),
        required=False,
        empty_label="No webhook",
        label="Also post to",
    )

    def __init__(self, *args, workspace: Workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.fields["step"].queryset = Step.objects.filter(
            stage__journey__workspace=workspace
        ).select_related("stage__journey")
        self.fields["step"].label_from_instance = lambda s: (
            f"{s.stage.journey.name} › {s.stage.name} › {s.name}"
        )
        self.fields["webhook"].queryset = OutboundWebhook.objects.filter(workspace=workspace)

    def clean(self):
        data = super().clean()
        metric, text = data.get("metric"), data.get("threshold")
        if not metric or text is None:
            return data
        currency = (data.get("currency") or self.workspace.main_currency).lower()
        try:
            if metric == AlertMetric.MRR_AT_RISK:
                data["threshold"] = money_parse(text, currency)
            else:
                data["threshold"] = int(text)
        except ValueError as error:
            message = str(error) if metric == AlertMetric.MRR_AT_RISK else "Enter a whole number."
            self.add_error("threshold", message)
            return data
        if data["threshold"] < 0:
            self.add_error("threshold", "Enter a positive number.")
        return data


class DigestPreferenceForm(forms.Form):
    frequency = forms.ChoiceField(label="Email digest", choices=DigestFrequency.choices)
    time_zone = forms.ChoiceField(label="Your time zone", choices=time_zone_choices)
