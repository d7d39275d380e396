"""Django-Q2 entry points of ingestion: drain the stored events in batches, and sweep stuck ones.

Webhooks and the history import store events as `pending` and ask for a drain
(`drain_request`). A drain job claims batches of due events (FOR UPDATE SKIP LOCKED on
PostgreSQL; a conditional update inside SQLite's serialized write transaction), then applies
each in its own transaction that also marks it processed, so an event's effects and its
`processed` status commit together. Jobs are at-least-once: the sweep, scheduled every minute,
puts back events whose worker died and wakes a drain for anything due, which is also what
makes the Redis broker (no delivery receipts) lose nothing.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from billing.models import EventDrainState, EventStatus, StripeConnection, StripeEvent
from billing.pipeline import hot_sql, shards
from billing.pipeline.apply import event_apply, events_batch
from custory.batching import batch_memo, batch_scope, bulk_gc, deferred_writes
from custory.models import Workspace
from tasks.outbound_events import sync_problem_announce

logger = logging.getLogger(__name__)

DRAIN_JOB = "billing.pipeline.jobs.events_drain"
SWEEP_JOB = "billing.pipeline.jobs.events_sweep"

# Events claimed per batch, and applied per transaction (a group; see events_process).
BATCH_SIZE = getattr(settings, "CUSTORY_EVENT_BATCH_SIZE", 800)
GROUP_SIZE = max(getattr(settings, "CUSTORY_EVENT_GROUP_SIZE", 400), 1)
# A claimed event not finished by then belongs to a dead worker; the sweep puts it back.
LEASE = timedelta(seconds=getattr(settings, "CUSTORY_EVENT_LEASE_SECONDS", 300))
# Tries before an event is left `failed` for good (retry it from the event log).
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
# A drain request older than this is re-armed: its job was lost (Redis) or is stuck in a queue.
REARM_AFTER = timedelta(seconds=30)
# One drain job works at most this long, then hands over to a fresh job (under Q's timeout).
DRAIN_SECONDS = 60
# After the queue looks empty, one more look this much later catches events whose webhook saw
# the request flag still set just before this job cleared it (their commit was in flight).
DRAIN_GRACE_SECONDS = 0.5

DUE_STATUSES = (EventStatus.PENDING, EventStatus.FAILED)


def _q_sync() -> bool:
    from django_q.conf import Conf

    return bool(Conf.SYNC)


def _enqueue(func: str, *args) -> None:
    from django_q.conf import Conf
    from django_q.tasks import async_task

    name = func.rsplit(".", 1)[-1]
    if Conf.ORM and not Conf.SYNC:
        # ORM broker on the same database: the job row commits (or rolls back) with the caller.
        async_task(func, *args, task_name=name)
    else:
        # Redis has no part in our transaction, and inline (`sync`, tests) jobs must not run
        # inside it either: enqueue only once the events are committed.
        transaction.on_commit(lambda: async_task(func, *args, task_name=name))


def drain_job_enqueue() -> None:
    """Enqueue a drain job now, for a caller that flipped the drain flag itself and committed
    (the webhook fast path, billing.pipeline.webhook_fast)."""
    _enqueue(DRAIN_JOB)


def drain_request(*, force: bool = False) -> bool:
    """Make sure a drain job will run after the current transaction; True if one was enqueued.

    Call it in the transaction that stored the events. Only the caller that flips the shared
    request flag enqueues, so a burst of webhooks makes a handful of jobs, not one per event.
    """
    now = timezone.now()
    if force:
        EventDrainState.objects.filter(pk=1).update(requested=True, requested_at=now)
        flipped = 1
    else:
        # On every webhook: a statement built once; it matches (and locks) the row only when
        # it flips the flag, so concurrent webhooks do not queue behind each other.
        sql, field = hot_sql.drain_flip_sql()
        with connection.cursor() as cursor:
            cursor.execute(
                sql,
                [
                    field.get_db_prep_save(now, connection),
                    field.get_db_prep_save(now - REARM_AFTER, connection),
                ],
            )
            flipped = cursor.rowcount
    if flipped:
        _enqueue(DRAIN_JOB)
        return True
    return False


def backoff(attempts: int) -> timedelta:
    """Wait before try number attempts+1: 30 s, 1 min, 2 min, … capped at 6 h."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def _short_error(error: Exception) -> str:
    """The exception's class and first line, cut short: never a payload dump."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {message}"[:300]


def events_claim(*, limit: int = BATCH_SIZE) -> list[int]:
    """Mark up to `limit` due events `processing` for this worker; return their ids."""
    now = timezone.now()
    with transaction.atomic():
        due = StripeEvent.objects.filter(
            status__in=DUE_STATUSES, next_attempt_at__lte=now
        ).order_by("next_attempt_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        # Conditional: on SQLite (no row locks) this is what makes the claim exclusive.
        StripeEvent.objects.filter(pk__in=ids, status__in=DUE_STATUSES).update(
            status=EventStatus.PROCESSING,
            attempts=F("attempts") + 1,
            next_attempt_at=now + LEASE,
        )
    return ids


def events_process(*, ids: list[int]) -> tuple[int, int]:
    """Apply claimed events, a group per transaction with their status; return (ok, failed).

    A group of GROUP_SIZE events commits once (one WAL flush, one status update) instead of
    once per event. If any event of a group fails, the whole group is rolled back and applied
    again one event per transaction, so the failing event is retried alone and never blocks
    the others; each event's effects and its `processed` status always commit together.
    """
    done = failed = 0
    # In Stripe order across the whole batch, as before groups.
    ids = list(
        StripeEvent.objects.filter(pk__in=ids, status=EventStatus.PROCESSING)
        .order_by("created", "pk")
        .values_list("pk", flat=True)
    )
    # One batch loads each workspace's journeys and rules once, not once per event.
    with batch_scope(), bulk_gc():
        for start in range(0, len(ids), GROUP_SIZE):
            group = ids[start : start + GROUP_SIZE]
            if len(group) > 1 and _group_apply(group):
                done += len(group)
                continue
            ok, bad = _each_apply(group)
            done, failed = done + ok, failed + bad
    return done, failed


def _claimed(ids: list[int]) -> list[StripeEvent]:
    events = list(
        StripeEvent.objects.filter(pk__in=ids, status=EventStatus.PROCESSING).order_by(
            "created", "pk"
        )
    )
    # A batch's events share a workspace or two: one instance each, read once per batch
    # (not joined into every event's row and built again for each).
    workspaces = batch_memo(
        ("jobs.workspaces", *sorted({e.workspace_id for e in events})),
        lambda: {
            workspace.pk: workspace
            for workspace in Workspace.objects.filter(pk__in={e.workspace_id for e in events})
        },
    )
    connections = batch_memo(
        ("jobs.connections", *sorted({e.connection_id for e in events} - {None})),
        lambda: StripeConnection.objects.in_bulk({e.connection_id for e in events} - {None}),
    )
    for event in events:
        event.workspace = workspaces[event.workspace_id]
        event.connection = connections.get(event.connection_id)
    return events


def _processed_mark(ids: list[int]) -> None:
    # Only if still ours: a revoke meanwhile turned it `ignored`.
    StripeEvent.objects.filter(pk__in=ids, status=EventStatus.PROCESSING).update(
        status=EventStatus.PROCESSED,
        processed_at=timezone.now(),
        last_error="",
        next_attempt_at=None,
    )


def _group_apply(ids: list[int]) -> bool:
    """Apply a group in one transaction; False (and nothing kept) if any event failed."""
    try:
        with transaction.atomic():
            # By customer, then in Stripe order: each customer's events stay in order, and every
            # worker locks customers in one order, so two groups wait for, not deadlock with,
            # each other.
            events = sorted(_claimed(ids), key=lambda event: (_customer_key(event), event.created))
            # The group's rows are read and written set-based (events_batch), and its rollup
            # increments summed, at the end.
            with deferred_writes(), events_batch(events):
                for event in events:
                    event_apply(event=event)
            _processed_mark([event.pk for event in events])
    except Exception as error:
        logger.info("Group of %s rolled back (%s): one by one", len(ids), type(error).__name__)
        return False
    return True


def _customer_key(event: StripeEvent) -> str:
    """The Stripe customer an event is about, from its payload (cheap: no normalizing)."""
    data = event.payload.get("data") if isinstance(event.payload, dict) else None
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        return ""
    if obj.get("object") == "customer":
        return str(obj.get("id") or "")
    customer = obj.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return customer if isinstance(customer, str) else ""


def _each_apply(ids: list[int]) -> tuple[int, int]:
    """One transaction per event: row locks held for one event only, failures isolated."""
    done = failed = 0
    for event in _claimed(ids):
        try:
            try:
                _one_apply(event)
            except OperationalError as error:
                if getattr(error.__cause__, "sqlstate", None) not in ("40P01", "40001"):
                    raise
                _one_apply(event)  # a deadlock or serialization failure: once more, now
        except Exception as error:
            failed += 1
            _failure_record(event, error)
        else:
            done += 1
    return done, failed


def _one_apply(event: StripeEvent) -> None:
    with transaction.atomic():
        with deferred_writes():
            event_apply(event=event)
        _processed_mark([event.pk])


def _failure_record(event: StripeEvent, error: Exception) -> None:
    gave_up = event.attempts >= MAX_ATTEMPTS
    logger.warning(
        "Stripe event %s (%s) failed on attempt %s%s: %s",
        event.pk,
        event.type,
        event.attempts,
        " (giving up)" if gave_up else "",
        type(error).__name__,
    )
    StripeEvent.objects.filter(pk=event.pk, status=EventStatus.PROCESSING).update(
        status=EventStatus.FAILED,
        last_error=_short_error(error),
        next_attempt_at=None if gave_up else timezone.now() + backoff(event.attempts),
    )
    if gave_up:
        sync_problem_announce(
            workspace=event.workspace,
            type="sync.event_failed",
            summary=f"Stripe event {event.stripe_id} ({event.type}) failed "
            f"{event.attempts} times and is left failed: {_short_error(error)}",
            url=settings.SITE_URL + event.get_absolute_url(),
            details={"event": {"stripe_id": event.stripe_id, "type": event.type}},
        )


def events_process_batch(*, limit: int = BATCH_SIZE, share: int = shards.SHARDS) -> int:
    """Claim and apply one batch; return how many events were claimed. On PostgreSQL the batch
    comes from at most `share` customer shards, held until it is applied (billing.pipeline.
    shards): workers sharing the queue take different shards instead of waiting on each other's
    customers."""
    with shards.shards_taken() as held:
        if shards.sharded():
            ids = _shards_claim(limit=limit, share=share, held=held)
        else:
            ids = events_claim(limit=limit)
        if ids:
            events_process(ids=ids)
    return len(ids)


def _shards_claim(*, limit: int, share: int, held: list[int]) -> list[int]:
    """Take shards and claim up to `limit` due events from them; the shards taken are added to
    `held` (let go by the caller). A worker that can take every shard (nobody else is working)
    claims in global order, as without shards: a dispute or refund, which names no customer,
    then still comes after the charge it is about. Otherwise it takes up to `share` free shards
    that have due events and claims from them shard by shard, each in index order."""
    now = timezone.now()
    with connection.cursor() as cursor:
        if share >= shards.SHARDS:
            cursor.execute(hot_sql.shards_take_all_sql())
            held += [shard for (shard,) in cursor.fetchall()]
            if len(held) == shards.SHARDS:
                return events_claim(limit=limit)
        else:
            cursor.execute(hot_sql.shards_take_sql(), [shards.shard_order(), now, share])
            held += [shard for (shard,) in cursor.fetchall()]
        ids: list[int] = []
        for shard in held:
            if len(ids) < limit:
                cursor.execute(
                    hot_sql.event_claim_shard_sql(), [shard, now, limit - len(ids), now + LEASE]
                )
                ids += [pk for (pk,) in cursor.fetchall()]
    return ids


def events_drain(helper: bool = False) -> int:
    """The drain job: process batches until nothing is due; return how many were claimed."""
    from django_q.conf import Conf

    if not helper:
        # Cleared before looking, so a webhook committing from now on asks for a new job.
        EventDrainState.objects.filter(pk=1).update(requested=False)
    sync = _q_sync()
    # Hand over well before Django-Q's timeout kills this worker mid-batch.
    budget = min(DRAIN_SECONDS, (Conf.TIMEOUT or DRAIN_SECONDS * 2) / 2)
    deadline = time.monotonic() + budget
    workers = max(int(Conf.WORKERS or 1), 1)
    helpers_left = 0 if helper or sync else max(min(workers - 1, 3), 0)
    # A fair share of the customer shards per batch, so that every worker of the cluster gets
    # some, taken afresh in turn; when its share finds nothing due, any free shard (between
    # the other workers' batches, every shard: then it claims in global order).
    share = shards.SHARDS if sync else max(shards.SHARDS // workers, 1)
    graced = helper or sync
    total = 0
    while True:
        claimed = events_process_batch(share=share) or events_process_batch()
        total += claimed
        if claimed == BATCH_SIZE and helpers_left:
            # A backlog: let the other workers help until it is gone.
            for _ in range(helpers_left):
                _enqueue(DRAIN_JOB, True)
            helpers_left = 0
        if claimed == 0:
            if graced:
                break
            graced = True
            time.sleep(DRAIN_GRACE_SECONDS)
            continue
        if time.monotonic() > deadline:
            drain_request(force=True)
            break
    return total


def events_sweep() -> dict[str, int]:
    """Put back events whose worker died, and wake a drain for anything due (every minute)."""
    now = timezone.now()
    EventDrainState.objects.get_or_create(pk=1)
    with transaction.atomic():
        stale = StripeEvent.objects.filter(status=EventStatus.PROCESSING, next_attempt_at__lt=now)
        gave_up = stale.filter(attempts__gte=MAX_ATTEMPTS).update(
            status=EventStatus.FAILED,
            last_error="Processing never finished (worker killed or timed out) "
            f"in {MAX_ATTEMPTS} attempts.",
            next_attempt_at=None,
        )
        requeued = stale.update(status=EventStatus.PENDING, next_attempt_at=now)
        StripeEvent.objects.filter(status=EventStatus.PENDING, next_attempt_at=None).update(
            next_attempt_at=now
        )
        due = StripeEvent.objects.filter(status__in=DUE_STATUSES, next_attempt_at__lte=now)
        woke = due.exists() and drain_request(force=True)
    if requeued or gave_up:
        logger.warning("Sweep: %s stuck events requeued, %s given up", requeued, gave_up)
    return {"requeued": requeued, "gave_up": gave_up, "woke": int(bool(woke))}


SWEEP_SCHEDULE_NAME = "billing-events-sweep"


def pipeline_rows_ensure(*, using: str = "default", **kwargs) -> None:
    """Create the drain-state row and the every-minute sweep Schedule if they are missing."""
    from django_q.models import Schedule

    EventDrainState.objects.using(using).get_or_create(pk=1)
    if not Schedule.objects.using(using).filter(name=SWEEP_SCHEDULE_NAME).exists():
        Schedule.objects.using(using).create(
            name=SWEEP_SCHEDULE_NAME,
            func=SWEEP_JOB,
            schedule_type=Schedule.MINUTES,
            minutes=1,
            repeats=-1,
        )
