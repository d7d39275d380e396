"""Sync health read from our own rows: the period covered, counts by type, the last event
received and how late webhooks arrive."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Min

from billing.models import (
    Customer,
    EventSource,
    HistoryImport,
    RevenueSignal,
    StripeConnection,
    StripeEvent,
    Subscription,
)

LAG_SAMPLE = 100


@dataclass
class SyncHealth:
    first_signal_at: datetime | None
    last_signal_at: datetime | None
    customers: int
    subscriptions_by_status: dict[str, int]
    signals_by_kind: dict[str, int]
    events_by_source: dict[str, int]
    last_webhook_at: datetime | None
    median_lag: timedelta | None
    latest_import: HistoryImport | None


def _median_lag(connection: StripeConnection) -> timedelta | None:
    """Median delay from Stripe's `created` to our receipt, over the latest webhook events."""
    pairs = list(
        StripeEvent.objects.filter(connection=connection, source=EventSource.WEBHOOK)
        .order_by("-received_at")
        .values_list("received_at", "created")[:LAG_SAMPLE]
    )
    if not pairs:
        return None
    lags = sorted(max(received - created, timedelta(0)) for received, created in pairs)
    return lags[len(lags) // 2]


def sync_health(*, connection: StripeConnection) -> SyncHealth:
    signals = RevenueSignal.objects.filter(
        workspace_id=connection.workspace_id, connection=connection
    )
    span = signals.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    subscriptions = Subscription.objects.filter(
        workspace_id=connection.workspace_id, customer__connection=connection
    )
    events = StripeEvent.objects.filter(connection=connection)
    return SyncHealth(
        first_signal_at=span["first"],
        last_signal_at=span["last"],
        customers=Customer.objects.filter(connection=connection).count(),
        subscriptions_by_status=dict(
            subscriptions.values_list("status").annotate(n=Count("id")).order_by("status")
        ),
        signals_by_kind=dict(signals.values_list("kind").annotate(n=Count("id")).order_by("kind")),
        events_by_source=dict(
            events.values_list("source").annotate(n=Count("id")).order_by("source")
        ),
        last_webhook_at=events.filter(source=EventSource.WEBHOOK).aggregate(m=Max("received_at"))[
            "m"
        ],
        median_lag=_median_lag(connection),
        latest_import=connection.imports.first(),
    )
