"""Storing raw Stripe events (from the webhook or the history import) and queueing their processing.

(Owned by the ingestion pipeline work.)
"""

from datetime import UTC, datetime

from billing.models import EventSource, EventStatus, StripeConnection, StripeEvent


def events_store(
    *, connection: StripeConnection, payloads: list[dict], source: str = EventSource.IMPORT
) -> int:
    """Insert events not stored yet (idempotent by constraint); return how many were new."""
    rows = [
        StripeEvent(
            workspace_id=connection.workspace_id,
            connection=connection,
            stripe_id=payload["id"],
            type=payload.get("type", ""),
            api_version=payload.get("api_version") or "",
            created=datetime.fromtimestamp(int(payload.get("created") or 0), tz=UTC),
            livemode=bool(payload.get("livemode")),
            payload=payload,
            source=source,
            status=EventStatus.PENDING,
        )
        for payload in payloads
    ]
    before = StripeEvent.objects.filter(workspace_id=connection.workspace_id).count()
    StripeEvent.objects.bulk_create(rows, ignore_conflicts=True)
    return StripeEvent.objects.filter(workspace_id=connection.workspace_id).count() - before
