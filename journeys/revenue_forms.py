"""The form of Settings › Revenue: reporting currency and how trials count."""

from django import forms

from billing.exchange import ECB_CURRENCIES


class RevenueSettingsForm(forms.Form):
    reporting_currency = forms.ChoiceField(
        required=False,
        label="Reporting currency",
        choices=[("", "The Stripe account's default currency (else USD)")]
        + [(c, c.upper()) for c in ECB_CURRENCIES],
        help_text="Totals are converted to it; each currency's own amount stays one click away.",
    )
    count_trials_from_start = forms.BooleanField(
        required=False,
        label="Count trials in MRR from their start",
        help_text="Off: a trial adds MRR at its first paid invoice (what most revenue tools do).",
    )
