"""Forms of the Stripe settings pages; the rules themselves live in billing.pipeline.connections.

Secret fields are password inputs that never render their value back, so a secret typed into a
form that fails validation is not echoed into the HTML.
"""

from django import forms

from billing.pipeline import connections


def _secret_input(placeholder: str) -> forms.PasswordInput:
    return forms.PasswordInput(
        render_value=False,
        attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": placeholder},
    )


class WebhookSecretField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Webhook signing secret")
        super().__init__(required=False, widget=_secret_input("whsec_…"), **kwargs)

    def clean(self, value):
        return connections.clean_webhook_secret(super().clean(value))


class ApiKeyField(forms.CharField):
    def __init__(self, *, key_required: bool = False, **kwargs):
        self.key_required = key_required
        kwargs.setdefault("label", "Restricted API key")
        super().__init__(required=False, widget=_secret_input("rk_test_… or rk_live_…"), **kwargs)

    def clean(self, value):
        return connections.clean_api_key(super().clean(value), required=self.key_required)


MODE_CHOICES = [("test", "Test mode"), ("live", "Live mode")]


class ConnectForm(forms.Form):
    label = forms.CharField(
        required=False,
        help_text="A name to tell connections apart, e.g. “EU account”. Optional.",
    )
    mode = forms.ChoiceField(
        choices=MODE_CHOICES,
        initial="test",
        widget=forms.RadioSelect,
        label="Stripe mode",
        help_text="Test and live data are kept apart and labeled everywhere.",
    )
    webhook_secret = WebhookSecretField(
        help_text="From the endpoint's page in Stripe (Developers → Webhooks), "
        "or printed by <code>stripe listen</code>."
    )
    api_key = ApiKeyField(
        label="Restricted API key (optional)",
        help_text="Needed to import history and to create the endpoint for you. "
        "Never a full secret key (sk_…).",
    )

    def clean_label(self):
        return connections.clean_label(self.cleaned_data.get("label"))

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            connections.check_mode(
                livemode=cleaned["mode"] == "live",
                api_key=cleaned.get("api_key", ""),
                label=cleaned.get("label", ""),
            )
        return cleaned


class SecretAddForm(forms.Form):
    webhook_secret = WebhookSecretField(label="New webhook signing secret")


class KeyReplaceForm(forms.Form):
    api_key = ApiKeyField(key_required=True, label="New restricted API key")


class RevokeForm(forms.Form):
    KEEP = "keep"
    DELETE = "delete"

    data = forms.ChoiceField(
        label="What happens to the data that came from this connection?",
        choices=[
            (
                KEEP,
                "Keep it: the events, customers and signals already received stay on the "
                "journey board, in reports and on tasks. Nothing new arrives.",
            ),
            (
                DELETE,
                "Delete it: remove this connection's events, customers, subscriptions and "
                "signals for good. Tasks stay, without their link to the deleted signal.",
            ),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose whether to keep or to delete the data."},
    )


class ImportForm(forms.Form):
    since = forms.DateField(
        required=False,
        label="Objects created from",
        help_text="Leave empty to import the whole history.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
