"""Running an import: claim it, list each wave's units in parallel threads under the rate
budget, store and apply every page in this thread, finish, fail or hand over.

Threads only talk HTTP; every database write happens here, one page at a time, so the saved
cursors always describe what is stored, and a run killed at any point is resumed by the next.
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
from billing.pipeline.history.pages import Run, events_apply, leftovers_apply, page_store
from billing.pipeline.jobs import drain_request
from billing.pipeline.stripe_api import StripeAPIError
from custory import crypto

logger = logging.getLogger(__name__)

HANDOVER = "handover"
STOPPED = "stopped"


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
    pages: queue.Queue = queue.Queue(maxsize=workers * 2)
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stripe-import")
    futures = [
        pool.submit(_fetch, run, unit, (cursors.get(unit.key) or {}).get("after"), pages, stop)
        for unit in todo
    ]
    try:
        while True:
            try:
                item = pages.get(timeout=0.1)
            except queue.Empty:
                if all(f.done() for f in futures) and pages.empty():
                    return None
                continue
            unit, payload, ack = item
            if isinstance(payload, Exception):
                # A revoke or cancel meanwhile explains the error (a key Stripe now refuses).
                return payload if _still_ours(run) else STOPPED
            objects, after, done = payload
            cursor = {
                "after": after,
                "done": done,
                "oldest": _oldest(objects, cursors.get(unit.key)),
            }
            cursors[unit.key] = cursor
            ids = page_store(
                run,
                name=unit.listing.name,
                unit_key=unit.key,
                objects=objects,
                cursor=cursor,
                fraction=_fraction(cursors, units),
            )
            if ids is None:
                return STOPPED
            events_apply(run, ids)
            ack.set()
            if progress:
                progress(HistoryImport.objects.get(pk=run.import_id))
            if deadline and time.monotonic() > deadline:
                return HANDOVER
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


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


def _handed(pages: queue.Queue, unit: Unit, payload, stop: threading.Event) -> bool:
    """Hand a page over and wait until it is stored: the next request starts from there."""
    ack = threading.Event()
    if not _put(pages, (unit, payload, ack), stop):
        return False
    while not ack.wait(0.1):
        if stop.is_set():
            return False
    return True


def _fetch(run: Run, unit: Unit, after: str | None, pages: queue.Queue, stop: threading.Event):
    """A listing thread: page through one unit from `after`, handing each page over."""
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
            if not _handed(pages, unit, (page.data, after, done), stop) or done:
                return
    except Exception as error:  # handed to the main thread, which stops the import
        _put(pages, (unit, error, threading.Event()), stop)
