"""Helpers for the normalization tests: events stored and applied as the pipeline does."""

import json
from pathlib import Path

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.models import EventSource, EventStatus, StripeConnection, StripeEvent
from billing.pipeline.apply import event_apply
from billing.pipeline.ingest import events_store
from tests.stripe_corpus import CORPUS

SYNTHETIC = Path(__file__).parent / "synthetic"


def load(name: str) -> dict:
    folder = SYNTHETIC if name.startswith("synthetic") else CORPUS
    return json.loads((folder / name).read_text())


def apply_payloads(connection, payloads: list[dict]) -> list[StripeEvent]:
    """Store the payloads (as the webhook does) and apply them in the order given; a payload
    seen before is applied again, as an at-least-once job would."""
    events_store(connection=connection, payloads=payloads, source=EventSource.WEBHOOK, wake=False)
    ids = [p["id"] for p in payloads]
    seen = set()
    for stripe_id in ids:
        if stripe_id in seen:
            with transaction.atomic():
                event_apply(
                    event=StripeEvent.objects.get(connection=connection, stripe_id=stripe_id)
                )
        else:
            stored_events_process(connection=connection, stripe_ids=[stripe_id])
            seen.add(stripe_id)
    by_id = {e.stripe_id: e for e in StripeEvent.objects.filter(connection=connection)}
    return [by_id[i] for i in ids]


def signals_of(event: StripeEvent) -> list[tuple]:
    return sorted(
        (s.kind, s.amount, s.currency, s.mrr_delta, s.object_id) for s in event.signals.all()
    )


def stored_events_process(
    *, connection: StripeConnection, stripe_ids: list[str] | None = None
) -> int:
    """Apply a connection's pending events synchronously, oldest first, one transaction each;
    return how many were processed. (The pipeline's jobs do this in production.)"""
    pending = StripeEvent.objects.filter(connection=connection, status=EventStatus.PENDING)
    if stripe_ids is not None:
        pending = pending.filter(stripe_id__in=stripe_ids)
    done = 0
    for event in pending.select_related("workspace").order_by("created", "id").iterator():
        with transaction.atomic():
            event_apply(event=event)
            StripeEvent.objects.filter(pk=event.pk).update(
                status=EventStatus.PROCESSED,
                processed_at=timezone.now(),
                attempts=F("attempts") + 1,
            )
        done += 1
    return done
