"""Running an import: claim it, list each wave's units in parallel threads under the rate
budget, store and apply the listed pages in this thread, finish, fail or hand over.

Threads only talk HTTP; every database write happens here, a group of listed pages per
transaction with their cursors, so the saved cursors always describe what is stored and
applied, and a run killed at any point is resumed by the next.
"""

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from billing.models import (
    STRIPE_EVENT_RETENTION,
    ConnectionStatus,
    HistoryImport,
    ImportStatus,
)
from billing.pipeline.connections import api_key_for
from billing.pipeline.history import client
from billing.pipeline.history.listings import PRICES, WAVES, Unit, units_for
from billing.pipeline.history.pages import (
    ListedPage,
    Run,
    leftovers_apply,
    pages_import,
    prebuilt,
)
from billing.pipeline.jobs import drain_request
from billing.pipeline.stripe_api import StripeAPIError
from custory import crypto
from custory.batching import bulk_gc

logger = logging.getLogger(__name__)

HANDOVER = "handover"
STOPPED = "stopped"
# Listed pages the queue holds per listing thread, ahead of the stored ones (read again after
# a kill).
PAGES_AHEAD = 6
# Objects stored and applied per transaction: fewer commits and statements per object, while
# a transaction stays short enough not to hold row locks for long (about 2 s here; 1,000 gave
# 990 objects/s on the 100,930-object benchmark, 2,000 gives 1,028).
GROUP_OBJECTS = 2000


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_gone(owner: str) -> bool:
    """True when the owner was a process of this host that no longer exists (kill -9)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def import_claim(*, import_id: int, owner: str) -> bool:
    """Make `owner` the runner of a queued import, or of a running one whose runner is gone."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CUSTORY_IMPORT_LEASE_SECONDS)
    claimable = Q(status=ImportStatus.QUEUED) | Q(
        status=ImportStatus.RUNNING, heartbeat_at__lt=stale
    )
    current = HistoryImport.objects.filter(pk=import_id).values_list("status", "owner").first()
    if current and current[0] == ImportStatus.RUNNING and _owner_gone(current[1]):
        claimable |= Q(status=ImportStatus.RUNNING, owner=current[1])
    return bool(
        HistoryImport.objects.filter(claimable, pk=import_id).update(
            status=ImportStatus.RUNNING, owner=owner, heartbeat_at=now, last_error=""
        )
    )


def _finish(run: Run, status: str, error: str = "") -> None:
    HistoryImport.objects.filter(
        pk=run.import_id, status=ImportStatus.RUNNING, owner=run.owner
    ).update(
        status=status, last_error=error, finished_at=timezone.now(), heartbeat_at=timezone.now()
    )
    # Anything a worker-side drain should still look at (e.g. failed events' retries).
    drain_request()


def _start(history_import: HistoryImport, owner: str) -> Run | None:
    connection = history_import.connection
    try:
        api_key = api_key_for(connection) if connection.status == ConnectionStatus.ACTIVE else ""
    except crypto.InvalidToken:
        api_key = ""
    rate = settings.CUSTORY_IMPORT_RATE or client.default_rate(connection.livemode)
    run = Run(
        import_id=history_import.pk,
        owner=owner,
        connection_id=connection.pk,
        workspace_id=connection.workspace_id,
        api_key=api_key,
        budget=client.RateBudget(rate),
        now=int(time.time()),
    )
    if not api_key:
        _finish(run, ImportStatus.FAILED, "This connection has no usable API key.")
        return None
    return run


def _meta(history_import: HistoryImport, run: Run) -> dict:
    """The import's fixed bounds, chosen by its first run and kept by every resume."""
    meta = history_import.cursors.get("_meta")
    if not meta:
        meta = {
            "until": run.now,
            "events_since": int((timezone.now() - STRIPE_EVENT_RETENTION).timestamp()),
        }
        HistoryImport.objects.filter(pk=run.import_id).update(
            cursors={**history_import.cursors, "_meta": meta}
        )
    return meta


def _prices(run: Run) -> None:
    """Every price, for invoice lines that name theirs by id only (basil)."""
    after = None
    while True:
        page = client.list_page(
            api_key=run.api_key,
            path=PRICES.path,
            params={"limit": 100, **({"starting_after": after} if after else {})},
            budget=run.budget,
            permission=PRICES.permission,
        )
        run.prices.update({p["id"]: p for p in page.data if p.get("id")})
        if not page.has_more or not page.data:
            return
        after = page.data[-1]["id"]


def import_run(
    *,
    import_id: int,
    owner: str,
    seconds: float | None = None,
    progress: Callable[[HistoryImport], None] | None = None,
) -> str:
    """Run a claimed import until it is done, stopped, failed, or `seconds` ran out (then
    HANDOVER: it is queued again). Return the outcome (an ImportStatus, STOPPED or HANDOVER)."""
    with bulk_gc():
        return _import_run(import_id, owner, seconds, progress)


def _import_run(import_id: int, owner: str, seconds: float | None, progress) -> str:
    history_import = HistoryImport.objects.select_related("connection").get(pk=import_id)
    run = _start(history_import, owner)
    if run is None:
        return ImportStatus.FAILED
    deadline = time.monotonic() + seconds if seconds is not None else None
    try:
        leftovers_apply(run)
        _prices(run)
        meta = _meta(history_import, run)
        units = units_for(
            since=history_import.since,
            until=meta["until"],
            events_since=meta["events_since"],
            slices=settings.CUSTORY_IMPORT_SLICES,
        )
        for wave in WAVES:
            outcome = _wave(
                run, [u for u in units if u.listing.wave == wave], units, deadline, progress
            )
            if outcome:
                return _ended(run, outcome)
        leftovers_apply(run)
    except StripeAPIError as error:
        logger.warning("History import %s stopped: %s", import_id, error.kind)
        _finish(run, ImportStatus.FAILED, error.message)
        return ImportStatus.FAILED
    except Exception:
        # Never leave an import "running" forever: that would block the next one.
        _finish(run, ImportStatus.FAILED, "The import stopped on an unexpected error.")
        raise
    _finish(run, ImportStatus.DONE)
    return ImportStatus.DONE


def _ended(run: Run, outcome) -> str:
    if isinstance(outcome, StripeAPIError):
        raise outcome
    if outcome == HANDOVER:
        HistoryImport.objects.filter(
            pk=run.import_id, owner=run.owner, status=ImportStatus.RUNNING
        ).update(status=ImportStatus.QUEUED, owner="")
    return outcome


def _fraction(cursors: dict, units: list[Unit]) -> float:
    """The share of all units done, each weighted by the time it covers already read."""
    total = 0.0
    for unit in units:
        cursor = cursors.get(unit.key) or {}
        if cursor.get("done"):
            total += 1
        elif cursor.get("oldest") and unit.lt > unit.gte:
            total += min(max((unit.lt - cursor["oldest"]) / (unit.lt - unit.gte), 0), 1)
    return total / len(units) if units else 1.0


def _wave(run: Run, wave: list[Unit], units: list[Unit], deadline, progress):
    """List a wave's units side by side; None when all are done, else why it stopped."""
    cursors = dict(HistoryImport.objects.values_list("cursors", flat=True).get(pk=run.import_id))
    todo = [u for u in wave if not (cursors.get(u.key) or {}).get("done")]
    if not todo:
        return None
    workers = max(settings.CUSTORY_IMPORT_WORKERS, 1)
    pages: queue.Queue = queue.Queue(maxsize=workers * PAGES_AHEAD)
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stripe-import")
    futures = [
        pool.submit(_fetch, run, unit, (cursors.get(unit.key) or {}).get("after"), pages, stop)
        for unit in todo
    ]
    try:
        while True:
            group = _next_group(pages, futures)
            if group is None:
                return None
            error = next((payload for _, payload in group if isinstance(payload, Exception)), None)
            if error is not None:
                # A revoke or cancel meanwhile explains the error (a key Stripe now refuses).
                return error if _still_ours(run) else STOPPED
            listed = []
            for unit, (objects, after, done, built) in group:
                oldest = _oldest(objects, cursors.get(unit.key))
                cursors[unit.key] = {"after": after, "done": done, "oldest": oldest}
                listed.append(
                    ListedPage(unit.listing.name, unit.key, objects, cursors[unit.key], built)
                )
            if not pages_import(run, listed, fraction=_fraction(cursors, units)):
                return STOPPED
            if progress:
                progress(HistoryImport.objects.get(pk=run.import_id))
            if deadline and time.monotonic() > deadline:
                return HANDOVER
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


def _next_group(pages: queue.Queue, futures) -> list | None:
    """The listed pages waiting (at least one, up to GROUP_OBJECTS objects), in the order they
    were listed; None when every listing is done."""
    group: list = []
    size = 0
    while size < GROUP_OBJECTS:
        try:
            item = pages.get_nowait() if group else pages.get(timeout=0.1)
        except queue.Empty:
            if group:
                return group
            if all(f.done() for f in futures) and pages.empty():
                return None
            continue
        group.append(item)
        payload = item[1]
        size += 1 if isinstance(payload, Exception) else len(payload[0])
    return group


def _oldest(objects: list[dict], cursor: dict | None) -> int | None:
    created = [o.get("created") for o in objects if isinstance(o.get("created"), int)]
    return min(created) if created else (cursor or {}).get("oldest")


def _put(pages: queue.Queue, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            pages.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _still_ours(run: Run) -> bool:
    return HistoryImport.objects.filter(
        pk=run.import_id,
        status=ImportStatus.RUNNING,
        owner=run.owner,
        connection__status=ConnectionStatus.ACTIVE,
    ).exists()


def _fetch(run: Run, unit: Unit, after: str | None, pages: queue.Queue, stop: threading.Event):
    """A listing thread: page through one unit from `after`, queueing each page for the main
    thread (the bounded queue holds the threads back when storing is slower)."""
    try:
        while not stop.is_set():
            page = client.list_page(
                api_key=run.api_key,
                path=unit.listing.path,
                params=unit.params(after),
                budget=run.budget,
                permission=unit.listing.permission,
            )
            after = page.data[-1]["id"] if page.data else after
            done = not page.has_more or not page.data
            # Rebuilt here, while the main thread waits on the database: a page's events are
            # made from its objects alone (a subscription's also from stored plan points).
            built = prebuilt(run, unit.listing.name, page.data)
            if not _put(pages, (unit, (page.data, after, done, built)), stop) or done:
                return
    except Exception as error:  # handed to the main thread, which stops the import
        _put(pages, (unit, error), stop)
