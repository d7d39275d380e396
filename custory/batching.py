"""A processing batch's memo, so rows every event of a batch would load again (a workspace's
journeys, mapping rules and task rules) are loaded once per batch rather than once per event;
its deferred writes; and the garbage collector's settings for bulk work (bulk_gc)."""

import gc
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_memo: ContextVar[dict | None] = ContextVar("custory_batch_memo", default=None)


@contextmanager
def batch_scope() -> Iterator[None]:
    """Within the block, batch_memo loads each key once; outside it, every call loads."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def batch_memo(key: Hashable, load: Callable[[], T]) -> T:
    memo = _memo.get()
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]


_deferred: ContextVar[dict | None] = ContextVar("custory_batch_deferred", default=None)


@contextmanager
def deferred_writes() -> Iterator[None]:
    """Within the block, batch_defer collects commutative writes (rollup increments); they run
    together when the block ends without an error, inside the caller's transaction, each kind
    once, so hot rows are locked for moments at the end rather than for the whole block."""
    token = _deferred.set({})
    try:
        yield
        pending = _deferred.get() or {}
        _deferred.set(None)  # the flushes write directly
        for flush, collected in pending.values():
            if collected:
                flush(collected)
    finally:
        _deferred.reset(token)


def batch_defer(kind: str, flush: Callable[[dict], None]) -> dict | None:
    """The dict collecting `kind` in the current deferred_writes block, or None outside one."""
    deferred = _deferred.get()
    if deferred is None:
        return None
    if kind not in deferred:
        deferred[kind] = (flush, {})
    return deferred[kind][1]


# Python's cyclic collector runs a young-generation pass every 700 net allocations, and a full
# pass as the heap grows: a batch builds thousands of short-lived rows, dicts and model
# instances, none of them in cycles, and the passes re-walked them for 14 % of the history
# import's CPU (20,000 objects: 14.1 s -> 12.1 s of CPU with these thresholds).
BULK_GC_THRESHOLDS = (50_000, 20, 100)
_bulk_gc_depth = 0
_bulk_gc_saved: tuple[int, ...] = ()
_bulk_gc_lock = threading.Lock()


@contextmanager
def bulk_gc() -> Iterator[None]:
    """Within the block (the outermost one, in any thread), the collector runs rarely and skips
    the objects alive when it began (gc.freeze); the thresholds are restored after it."""
    global _bulk_gc_depth, _bulk_gc_saved
    with _bulk_gc_lock:
        _bulk_gc_depth += 1
        if _bulk_gc_depth == 1:
            _bulk_gc_saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(*BULK_GC_THRESHOLDS)
    try:
        yield
    finally:
        with _bulk_gc_lock:
            _bulk_gc_depth -= 1
            if _bulk_gc_depth == 0:
                gc.set_threshold(*_bulk_gc_saved)
                gc.unfreeze()
