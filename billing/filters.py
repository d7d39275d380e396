"""The dashboard's filter forms: period, kinds, mode, connection (board) and signal-list filters.

Plain GET forms: the same querystring drives the full page, its htmx fragments and the CSV export,
so a filtered view can be shared by URL.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django import forms
from django.db.models import Q
from django.utils import timezone

from billing.exchange import converted_amount
from billing.models import SignalKind, StripeConnection
from custory.money import THREE_DECIMAL_CURRENCIES, ZERO_DECIMAL_CURRENCIES

PERIOD_CHOICES = [
    ("7", "7 days"),
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "365 days"),
    ("custom", "Custom"),
]
MODE_CHOICES = [("", "Test and live"), ("live", "Live"), ("test", "Test")]
MAX_CUSTOM_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    """Whole UTC days from `start` to `end`, both included, and the period just before it."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> "Period":
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        """Exclusive upper bound: midnight after the last day."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def label(self) -> str:
        return f"{self.start:%-d %b %Y} – {self.end:%-d %b %Y}"


def today() -> date:
    return timezone.now().astimezone(UTC).date()


class BoardFilterForm(forms.Form):
    period = forms.ChoiceField(choices=PERIOD_CHOICES, required=False, initial="30")
    start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    kind = forms.MultipleChoiceField(
        choices=SignalKind.choices, required=False, label="Signal kinds"
    )
    mode = forms.ChoiceField(choices=MODE_CHOICES, required=False, label="Mode")
    connection = forms.ModelChoiceField(
        queryset=StripeConnection.objects.none(),
        required=False,
        to_field_name="uuid",
        empty_label="All connections",
        label="Connection",
    )

    def __init__(self, data=None, *, workspace, **kwargs):
        super().__init__(data, **kwargs)
        self.workspace = workspace
        self.fields["connection"].queryset = StripeConnection.objects.for_workspace(workspace)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("period") == "custom":
            start, end = cleaned.get("start"), cleaned.get("end")
            if not start or not end:
                raise forms.ValidationError("A custom period needs both dates.")
            if end < start:
                raise forms.ValidationError("The period ends before it starts.")
            if (end - start).days > MAX_CUSTOM_DAYS:
                raise forms.ValidationError("A period can be at most three years.")
        return cleaned

    # Readers of the cleaned form: invalid input falls back to the defaults.

    def value(self, name, default=None):
        if self.is_bound and self.is_valid():
            return self.cleaned_data.get(name) or default
        return default

    @property
    def selected_period(self) -> Period:
        choice = self.value("period", "30")
        if choice == "custom":
            return Period(self.cleaned_data["start"], self.cleaned_data["end"])
        days = int(choice)
        end = today()
        return Period(end - timedelta(days=days - 1), end)

    @property
    def selected_kinds(self) -> list[str]:
        return list(self.value("kind", []))

    @property
    def selected_livemode(self) -> bool | None:
        mode = self.value("mode", "")
        return {"live": True, "test": False}.get(mode)

    @property
    def selected_connection(self) -> StripeConnection | None:
        return self.value("connection")


SORT_CHOICES = [
    ("-occurred_at", "Newest first"),
    ("occurred_at", "Oldest first"),
    ("-amount", "Largest amount"),
    ("amount", "Smallest amount"),
]
SIGNAL_PERIOD_CHOICES = [("", "Any time"), *PERIOD_CHOICES]


class SignalFilterForm(BoardFilterForm):
    """The signals list, a step's signal list and the CSV export share these filters."""

    period = forms.ChoiceField(choices=SIGNAL_PERIOD_CHOICES, required=False, initial="")
    customer = forms.CharField(
        required=False, label="Customer", help_text="Email, name or cus_… id"
    )
    amount_min = forms.DecimalField(required=False, label="Amount at least", min_value=0)
    amount_max = forms.DecimalField(required=False, label="Amount at most", min_value=0)
    decline_code = forms.CharField(required=False, label="Decline code", max_length=64)
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False, label="Sort")

    def without_any_time(self) -> "SignalFilterForm":
        """For pages that always chart a period (a step page): no "Any time" choice."""
        self.fields["period"].choices = PERIOD_CHOICES
        return self

    @property
    def selected_period_or_none(self) -> Period | None:
        if not self.value("period", ""):
            return None
        return self.selected_period

    @property
    def ordering(self) -> list[str]:
        sort = self.value("sort", "-occurred_at")
        if sort.lstrip("-") == "amount":
            # By converted amount (the reporting currency): ¥50,000 is not more than $495.
            return [sort + "_converted", "-occurred_at", "-id"]
        return [sort, "-id" if sort.startswith("-") else "id"]

    def filter_signals(self, queryset):
        """Apply every filter to a RevenueSignal queryset (already scoped to the workspace)."""
        period = self.selected_period_or_none
        if period:
            queryset = queryset.in_period(period.start_at, period.end_at)
        if self.selected_kinds:
            queryset = queryset.of_kinds(self.selected_kinds)
        if self.selected_livemode is not None:
            queryset = queryset.filter(livemode=self.selected_livemode)
        if self.selected_connection:
            queryset = queryset.filter(connection=self.selected_connection)
        customer = (self.value("customer", "") or "").strip()
        if customer:
            queryset = queryset.filter(
                Q(customer__email__icontains=customer)
                | Q(customer__name__icontains=customer)
                | Q(customer__stripe_id=customer)
            )
        for name, lookup in (("amount_min", "gte"), ("amount_max", "lte")):
            value = self.value(name)
            if value is not None:
                queryset = queryset.filter(amount_q(lookup, value))
        decline_code = (self.value("decline_code", "") or "").strip()
        if decline_code:
            queryset = queryset.filter(details__decline_code=decline_code)
        ordering = self.ordering
        if ordering[0].lstrip("-") == "amount_converted":
            queryset = queryset.annotate(amount_converted=converted_amount(self.workspace))
        return queryset.order_by(*ordering)


def amount_q(lookup: str, value: Decimal) -> Q:
    """An amount in major units compared in each currency's own minor units (no conversion)."""

    def minor(exponent: int) -> int:
        try:
            return int(Decimal(value).scaleb(exponent))
        except InvalidOperation:
            return 0

    zero, three = sorted(ZERO_DECIMAL_CURRENCIES), sorted(THREE_DECIMAL_CURRENCIES)
    return (
        Q(currency__in=zero, **{f"amount__{lookup}": minor(0)})
        | Q(currency__in=three, **{f"amount__{lookup}": minor(3)})
        | (~Q(currency__in=zero + three) & Q(**{f"amount__{lookup}": minor(2)}))
    )
