"""Listed pages made into rows: their rebuilt (or real) events stored and applied, and the
import's cursors and counts moved, in one transaction and only while this process still owns
the import."""

import logging
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
from billing.pipeline.ingest import events_insert, events_unapplied
from billing.pipeline.jobs import LEASE, events_process
from custory.batching import batch_scope, deferred_writes
from custory.bulk_sql import rows_insert

logger = logging.getLogger(__name__)


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


def prebuilt(run: Run, name: str, objects: list[dict]) -> tuple[list[dict], list] | None:
    """rebuilt_payloads of a page that needs nothing stored (not subscriptions, which read the
    plan points), for a listing thread to make ahead; None for the main thread to make."""
    if name == "subscriptions":
        return None
    try:
        return rebuilt_payloads(run, name, objects)
    except Exception:  # an object it cannot read fails the import where it always did
        return None


@dataclass(frozen=True)
class ListedPage:
    """A page one listing read, its unit's cursor once the page is stored, and its events and
    plan points if they were rebuilt ahead (prebuilt)."""

    name: str
    unit_key: str
    objects: list[dict]
    cursor: dict
    built: tuple[list[dict], list] | None = None


def pages_import(run: Run, pages: list[ListedPage], *, fraction: float) -> bool:
    """Store a group of pages' events, apply them and move the pages' cursors and counts, in
    one transaction; False when the import is no longer this run's (canceled, revoked, taken
    over). If applying fails, the events are kept pending and applied one at a time after."""
    built = [
        (page, *(page.built or rebuilt_payloads(run, page.name, page.objects))) for page in pages
    ]
    beat = time.monotonic()
    with transaction.atomic():
        _relaxed_commit()
        # The row lock connection_revoke takes (a group is stored before a revoke or not at
        # all); NO KEY, so webhooks of this connection still insert their events meanwhile.
        connection = (
            StripeConnection.objects.select_related("workspace")
            .select_for_update(no_key=True, of=("self",))
            .get(pk=run.connection_id)
        )
        history_import = _owned(run).select_for_update().first()
        if connection.status != ConnectionStatus.ACTIVE or history_import is None:
            return False
        rows: list[StripeEvent] = []
        for page, payloads, points in built:
            source = EventSource.IMPORT if page.name == "events" else EventSource.REBUILT
            rows += events_insert(connection=connection, payloads=payloads, source=source)
            rows_insert(
                HistoryPlanPoint,
                [HistoryPlanPoint(history_import_id=run.import_id, **point) for point in points],
                ignore_conflicts=True,
            )
        events = _pending_in_place(connection, rows)
        signals = _apply_together(events, status=EventStatus.PENDING)
        if signals is None:
            events_unapplied(
                ids=[event.pk for event in events if event.status == EventStatus.PROCESSED]
            )
        counts, cursors = dict(history_import.counts), dict(history_import.cursors)
        for page in pages:
            counts[page.name] = counts.get(page.name, 0) + len(page.objects)
            cursors[page.unit_key] = page.cursor
        _owned(run).update(
            cursors=cursors,
            counts=counts,
            heartbeat_at=timezone.now(),
            elapsed_seconds=F("elapsed_seconds") + (beat - run.last_beat),
            done_fraction=fraction,
            events_seen=F("events_seen") + len(rows),
            events_stored=F("events_stored") + (len(events) if signals is not None else 0),
            signals_made=F("signals_made") + len(signals or ()),
        )
    run.last_beat = beat
    if signals is None:
        events_apply(run, [event.pk for event in events])
    return True


def _pending_in_place(connection: StripeConnection, rows: list[StripeEvent]) -> list[StripeEvent]:
    """The rows to apply, locked, with their ids set: applied from memory, their JSON is not
    read back. Those just inserted (their ids came back from the insert), and of the others
    those still pending (a webhook stored it and no drain took it), looked up."""
    ids = {row.stripe_id: row.pk for row in reversed(rows) if row.pk is not None}
    others = sorted({row.stripe_id for row in rows} - set(ids))
    for row in rows:
        if row.pk is None:
            row.status = EventStatus.PENDING  # as those looked up are stored
    if others:
        due = StripeEvent.objects.filter(
            workspace_id=connection.workspace_id,
            stripe_id__in=others,
            status=EventStatus.PENDING,
        )
        if db.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids.update(due.values_list("stripe_id", "pk"))
    events = []
    for row in rows:
        pk = ids.pop(row.stripe_id, None)  # popped: an id listed twice is applied once
        if pk is None:
            continue
        row.pk, row._state.adding, row._state.db = pk, False, db.alias
        row.workspace, row.connection = connection.workspace, connection
        events.append(row)
    return sorted(events, key=lambda event: (event.created, event.pk))


def _relaxed_commit() -> None:
    """PostgreSQL: this transaction's commit need not wait for its WAL flush. A crash may lose
    the last pages, never half of one: events, cursor and counts commit together, so the next
    run reads those pages again."""
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _apply_together(events: list[StripeEvent], *, status: str) -> list[RevenueSignal] | None:
    """Apply events (in `status`) together and mark them processed, in a savepoint; their new
    signals, or None if one failed (then nothing of it is kept)."""
    if not events:
        return []
    try:
        with transaction.atomic(), batch_scope(), deferred_writes():
            signals = events_apply_batch(events=events)
            _processed_mark(events, status=status)
    except Exception:
        logger.info("Import group of %s events rolled back: one by one", len(events))
        return None
    return signals


def _processed_mark(events: list[StripeEvent], *, status: str) -> None:
    # Events applied straight from `pending` were never claimed: this was their attempt. Those
    # events_insert stored just now are `processed` already.
    ids = [event.pk for event in events if event.status != EventStatus.PROCESSED]
    if not ids:
        return
    attempt = {"attempts": F("attempts") + 1} if status == EventStatus.PENDING else {}
    StripeEvent.objects.filter(pk__in=ids, status=status).update(
        status=EventStatus.PROCESSED,
        processed_at=timezone.now(),
        last_error="",
        next_attempt_at=None,
        **attempt,
    )


def events_apply(run: Run, ids: list[int]) -> None:
    """Claim stored events (a drain may be at them too) and apply them in this process."""
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
    events = list(
        StripeEvent.objects.filter(pk__in=claimed, status=EventStatus.PROCESSING)
        .select_related("workspace", "connection")
        .order_by("created", "pk")
    )
    with transaction.atomic():
        _relaxed_commit()
        signals = _apply_together(events, status=EventStatus.PROCESSING)
    if signals is None:
        started = timezone.now()
        done, failed = events_process(ids=claimed)
        # New signals only: a real event refining a rebuilt signal takes it over, makes none.
        made = RevenueSignal.objects.filter(event_id__in=claimed, created_at__gte=started).count()
    else:
        done, failed, made = len(events), 0, len(signals)
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
