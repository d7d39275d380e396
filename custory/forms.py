from django import forms
from django.conf import settings
from django.utils.module_loading import import_string

from custory.models import OutboundFormat, Role, TokenScope


class WorkspaceForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)

    def clean_name(self):
        name = self.cleaned_data["name"]
        if not name:
            raise forms.ValidationError("Give the workspace a name.")
        return name


class InvitationForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)

    def clean_email(self):
        return self.cleaned_data["email"].lower()


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


# The audit filter's value for events no person caused (jobs, webhooks).
SYSTEM_ACTOR = "system"


class AuditFilterForm(forms.Form):
    """The audit page's filters; choices come from what the workspace's log holds."""

    action = forms.ChoiceField(required=False)
    actor = forms.ChoiceField(required=False)
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, actions: list[str], actors: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Any action"), *[(a, a) for a in actions]]
        self.fields["actor"].choices = [
            ("", "Anyone"),
            *[(a, a) for a in actors if a],
            *([(SYSTEM_ACTOR, "system")] if "" in actors else []),
        ]

    def clean(self):
        cleaned = super().clean()
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", "“To” must be on or after “From”.")
        return cleaned


def outbound_event_choices() -> list[tuple[str, str]]:
    """The event types endpoints can take, from the app settings name (core knows no domain)."""
    return import_string(settings.CUSTORY_OUTBOUND_EVENT_TYPES)()


class WebhookForm(forms.Form):
    url = forms.URLField(
        label="Endpoint URL",
        max_length=500,
        assume_scheme="https",
        help_text="A Slack incoming-webhook URL, or your own endpoint. Private and loopback "
        "addresses are refused.",
    )
    format = forms.ChoiceField(
        choices=OutboundFormat.choices,
        initial=OutboundFormat.JSON,
        help_text="Slack posts Block Kit messages; JSON sends the signed envelope.",
    )
    event_types = forms.MultipleChoiceField(
        label="Events",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked means every event.",
    )

    def __init__(self, *args, with_url: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event_types"].choices = outbound_event_choices()
        if not with_url:
            del self.fields["url"]


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, strip=True, help_text="What uses it, e.g. “nightly export”."
    )
    scope = forms.ChoiceField(
        choices=TokenScope.choices,
        initial=TokenScope.READ,
        help_text="Read is enough for reports; write also creates tasks and posts evidence.",
    )
