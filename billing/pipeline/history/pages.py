"""One listed page made into rows: rebuilt (or real) events stored, claimed and applied here,
and the import's cursor and counts moved, all only while this process still owns the import."""

import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection as db
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from billing.models import (
    ConnectionStatus,
    EventSource,
    EventStatus,
    HistoryImport,
    HistoryPlanPoint,
    ImportStatus,
    RevenueSignal,
    StripeConnection,
    StripeEvent,
)
from billing.pipeline.apply import events_apply_batch
from billing.pipeline.history import rebuild
from billing.pipeline.history.client import RateBudget
from billing.pipeline.history.rebuild_subscriptions import subscription_events
from billing.pipeline.ingest import events_insert
from billing.pipeline.jobs import LEASE, events_process
from custory.batching import batch_scope


@dataclass
class Run:
    """What one run of an import works with."""

    import_id: int
    owner: str
    connection_id: int
    workspace_id: int
    api_key: str
    budget: RateBudget
    now: int
    prices: dict[str, dict] = field(default_factory=dict)
    last_beat: float = field(default_factory=time.monotonic)


def _owned(run: Run):
    return HistoryImport.objects.filter(
        pk=run.import_id, status=ImportStatus.RUNNING, owner=run.owner
    )


def rebuilt_payloads(run: Run, name: str, objects: list[dict]) -> tuple[list[dict], list]:
    """The events a page of `name` objects stands for, and its invoices' plan points."""
    now, payloads, points = run.now, [], []
    if name == "events":
        return objects, []
    for obj in objects:
        if not obj.get("id"):
            continue
        if name == "customers":
            payloads += rebuild.customer_events(obj)
        elif name == "invoices":
            payloads += rebuild.invoice_events(obj, now=now)
            plan = rebuild.invoice_plan(obj, run.prices)
            if plan:
                points.append(plan)
        elif name == "charges":
            payloads += rebuild.charge_events(obj)
        elif name == "refunds":
            payloads += rebuild.refund_events(obj)
        elif name == "disputes":
            payloads += rebuild.dispute_events(obj, now=now)
        elif name == "checkout_sessions":
            payloads += rebuild.checkout_events(obj)
    if name == "subscriptions":
        payloads = _subscriptions_payloads(run, objects)
    return payloads, points


def _subscriptions_payloads(run: Run, subs: list[dict]) -> list[dict]:
    points = defaultdict(list)
    rows = HistoryPlanPoint.objects.filter(
        history_import_id=run.import_id, subscription_id__in=[s["id"] for s in subs]
    ).values("subscription_id", "invoice_id", "at", "exact", "items")
    for row in rows:
        points[row["subscription_id"]].append(row)
    payloads = []
    for sub in subs:
        payloads += subscription_events(
            sub, points[sub["id"]], now=run.now, import_key=str(run.import_id)
        )
    return payloads


def page_store(
    run: Run, *, name: str, unit_key: str, objects: list[dict], cursor: dict, fraction: float
) -> list[int] | None:
    """Store a page's events and move the cursor in one transaction; the ids to apply, or None
    when the import is no longer this run's (canceled, revoked, taken over)."""
    payloads, points = rebuilt_payloads(run, name, objects)
    source = EventSource.IMPORT if name == "events" else EventSource.REBUILT
    beat = time.monotonic()
    with transaction.atomic():
        _relaxed_commit()
        # The row lock connection_revoke takes: a page is stored before a revoke or not at all.
        connection = StripeConnection.objects.select_for_update().get(pk=run.connection_id)
        history_import = _owned(run).select_for_update().first()
        if connection.status != ConnectionStatus.ACTIVE or history_import is None:
            return None
        events_insert(connection=connection, payloads=payloads, source=source)
        HistoryPlanPoint.objects.bulk_create(
            [HistoryPlanPoint(history_import_id=run.import_id, **point) for point in points],
            ignore_conflicts=True,
        )
        counts = dict(history_import.counts)
        counts[name] = counts.get(name, 0) + len(objects)
        cursors = {**history_import.cursors, unit_key: cursor}
        _owned(run).update(
            cursors=cursors,
            counts=counts,
            heartbeat_at=timezone.now(),
            elapsed_seconds=F("elapsed_seconds") + (beat - run.last_beat),
            done_fraction=fraction,
            events_seen=F("events_seen") + len(payloads),
        )
    run.last_beat = beat
    return _pending_ids(run, [p["id"] for p in payloads])


def _pending_ids(run: Run, stripe_ids: list[str]) -> list[int]:
    return list(
        StripeEvent.objects.filter(
            workspace_id=run.workspace_id, stripe_id__in=stripe_ids, status=EventStatus.PENDING
        ).values_list("pk", flat=True)
    )


def _relaxed_commit() -> None:
    """PostgreSQL: this transaction's commit need not wait for its WAL flush. A crash may lose
    the last pages, never half of one: events, cursor and counts commit together, so the next
    run reads those pages again."""
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _batch_apply(ids: list[int]) -> int | None:
    """Apply the claimed events in one transaction; their count, or None if one failed (then
    each is applied on its own, as the drain does, so a bad one fails alone)."""
    events = list(
        StripeEvent.objects.filter(pk__in=ids, status=EventStatus.PROCESSING)
        .select_related("workspace", "connection")
        .order_by("created", "pk")
    )
    try:
        with transaction.atomic(), batch_scope():
            _relaxed_commit()
            events_apply_batch(events=events)
            StripeEvent.objects.filter(
                pk__in=[e.pk for e in events], status=EventStatus.PROCESSING
            ).update(
                status=EventStatus.PROCESSED,
                processed_at=timezone.now(),
                last_error="",
                next_attempt_at=None,
            )
    except Exception:
        return None
    return len(events)


def events_apply(run: Run, ids: list[int]) -> None:
    """Claim the events (a drain may be at them too) and apply them in this process."""
    if not ids:
        return
    now = timezone.now()
    with transaction.atomic():
        due = StripeEvent.objects.filter(pk__in=ids, status=EventStatus.PENDING)
        if db.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        claimed = list(due.values_list("pk", flat=True))
        StripeEvent.objects.filter(pk__in=claimed, status=EventStatus.PENDING).update(
            status=EventStatus.PROCESSING, attempts=F("attempts") + 1, next_attempt_at=now + LEASE
        )
    if not claimed:
        return
    started = timezone.now()
    done, failed = _batch_apply(claimed), 0
    if done is None:
        done, failed = events_process(ids=claimed)
    # New signals only: a real event refining a rebuilt signal takes it over, it makes none.
    made = RevenueSignal.objects.filter(event_id__in=claimed, created_at__gte=started).count()
    HistoryImport.objects.filter(pk=run.import_id).update(
        signals_made=F("signals_made") + made,
        errors=F("errors") + failed,
        events_stored=F("events_stored") + done,
    )


def leftovers_apply(run: Run) -> None:
    """Events a killed run stored but did not apply: apply them now, a page at a time."""
    while True:
        ids = list(
            StripeEvent.objects.filter(
                workspace_id=run.workspace_id,
                connection_id=run.connection_id,
                status=EventStatus.PENDING,
                source__in=[EventSource.REBUILT, EventSource.IMPORT],
            ).values_list("pk", flat=True)[:500]
        )
        if not ids:
            return
        events_apply(run, ids)
