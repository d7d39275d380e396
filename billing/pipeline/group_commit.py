"""Group commit: callers that arrive together share one write (one statement, one commit).

A caller queues its item and waits. When no write is running, the first caller in the queue
leads: it takes everything queued, writes it in one call on its own thread (its own database
connection) and hands each caller its own outcome, then passes the lead to the next caller
queued meanwhile. No timer and no extra thread: a lone caller writes at once, and under load a
batch is whatever arrived while the previous write waited on its commit.
"""

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# What write_many returns per item: a result, or the exception that caller is to raise.
Outcome = R | BaseException


class _Waiter(Generic[T, R]):
    __slots__ = ("item", "ready", "leads", "outcome")

    def __init__(self, item: T):
        self.item = item
        # Released once the caller may go on (cheaper than an Event: no condition variable).
        self.ready = threading.Lock()
        self.ready.acquire()
        self.leads = False
        self.outcome: Outcome | None = None


class GroupCommit(Generic[T, R]):
    """Run write_many(items) -> one outcome per item, for many threads at once, in batches."""

    def __init__(self, write_many: Callable[[Sequence[T]], Sequence[Outcome]], *, max_batch: int):
        self._write_many = write_many
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: deque[_Waiter[T, R]] = deque()
        self._leading = False

    def submit(self, item: T) -> R:
        """Write item with whatever else is queued; its result once committed, or its error."""
        waiter = _Waiter(item)
        with self._lock:
            self._queue.append(waiter)
            waiter.leads = not self._leading
            self._leading = True
        if not waiter.leads:
            waiter.ready.acquire()
        if waiter.leads:  # first in the queue (by arrival, or handed the lead)
            self._lead()
        if isinstance(waiter.outcome, BaseException):
            raise waiter.outcome
        return waiter.outcome

    def _lead(self) -> None:
        with self._lock:
            batch = [self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))]
        try:
            outcomes = self._write_many([waiter.item for waiter in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"{len(outcomes)} outcomes for {len(batch)} items")
        except BaseException as error:  # never leave a caller waiting
            outcomes = [error] * len(batch)
        for waiter, outcome in zip(batch, outcomes, strict=True):
            waiter.outcome = outcome
            if waiter is not batch[0]:
                waiter.ready.release()
        with self._lock:
            if self._queue:
                successor = self._queue[0]
                successor.leads = True
                successor.ready.release()
            else:
                self._leading = False
