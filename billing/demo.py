"""Demo Stripe history: a deterministic generator of realistic events, and seeding them.

`demo_events(seed=..., customers=..., months=...)` returns event payloads shaped like Stripe's
(API versions before and after basil mixed), in `created` order. `demo_seed` stores them through
the ingestion path and processes them; `stored_events_process` is the one small function that
turns stored pending events into state and signals synchronously.
"""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.apply import event_apply
from billing.models import EventStatus, StripeConnection, StripeEvent


def stored_events_process(
    *, connection: StripeConnection, stripe_ids: list[str] | None = None
) -> int:
    """Apply a connection's pending events synchronously, oldest first, one transaction each;
    return how many were processed. (Seeding only; the pipeline's jobs do this in production.)"""
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
