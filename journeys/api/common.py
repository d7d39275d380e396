"""What the journeys layer's endpoints share: filter forms read as API parameters."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from billing.filters import PERIOD_CHOICES, BoardFilterForm
from journeys.board_selectors import RollupFilter

TIME_SORTS = [("-occurred_at", "Newest first"), ("occurred_at", "Oldest first")]


def form_valid(form):
    """The bound filter form, or a 400 naming each wrong parameter."""
    if form.is_bound and not form.is_valid():
        raise ValidationError(
            {key: [str(e) for e in errors] for key, errors in form.errors.items()}
        )
    return form


def rollup_filter(form: BoardFilterForm) -> RollupFilter:
    connection = form.selected_connection
    return RollupFilter(
        period=form.selected_period,
        kinds=form.selected_kinds,
        livemode=form.selected_livemode,
        connection_id=connection.pk if connection else None,
    )


def period_data(period) -> dict:
    return {"start": period.start, "end": period.end, "days": period.days}


def _param(name, description, type_=OpenApiTypes.STR, **kwargs):
    return OpenApiParameter(name, type_, OpenApiParameter.QUERY, description=description, **kwargs)


PERIOD_PARAMETERS = [
    _param(
        "period",
        "Days up to today (7, 30, 90, 365) or `custom` with start and end.",
        enum=[value for value, _ in PERIOD_CHOICES],
    ),
    _param("start", "First day of a custom period (YYYY-MM-DD).", OpenApiTypes.DATE),
    _param("end", "Last day of a custom period (YYYY-MM-DD).", OpenApiTypes.DATE),
    _param("mode", "`live` or `test` Stripe data only.", enum=["", "live", "test"]),
    _param("connection", "One Stripe connection's id.", OpenApiTypes.UUID),
]
SIGNAL_PARAMETERS = [
    *PERIOD_PARAMETERS,
    _param("kind", "Signal kind; repeat for several.", many=True),
    _param("step", "Only signals placed on this journey step (its id).", OpenApiTypes.UUID),
    _param("customer", "Email, name (contains) or Stripe customer id."),
    _param("amount_min", "Amount at least, in major units.", OpenApiTypes.NUMBER),
    _param("amount_max", "Amount at most, in major units.", OpenApiTypes.NUMBER),
    _param("decline_code", "Card decline code of failed payments, e.g. insufficient_funds."),
    _param("sort", "Newest or oldest first.", enum=[v for v, _ in TIME_SORTS]),
    _param("limit", "Page size, 1–200 (default 50).", OpenApiTypes.INT),
]
