"""The group-commit batcher of the webhook fast path (billing.pipeline.group_commit), in threads
without a database: callers that arrive during a write share the next one, each gets its own
outcome, and no failure leaves a caller waiting."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from billing.pipeline.group_commit import GroupCommit


class Writes:
    """A write_many that records its batches and can hold the first write until released."""

    def __init__(self, outcome=lambda item: item * 10):
        self.batches: list[list] = []
        self.outcome = outcome
        self.writing = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, items):
        self.batches.append(list(items))
        self.writing.set()
        assert self.release.wait(10)
        return [self.outcome(item) for item in items]


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def queued(group) -> int:
    return len(group._queue)


def submit_during_a_held_write(pool, group, writes, first, rest):
    """Submit `first`, hold its write until every item of `rest` is queued, then let it go."""
    writes.release.clear()
    futures = [pool.submit(group.submit, first)]
    assert writes.writing.wait(10)
    futures += [pool.submit(group.submit, item) for item in rest]
    wait_until(lambda: queued(group) == len(rest))
    writes.release.set()
    return futures


def test_a_lone_caller_writes_at_once():
    writes = Writes()
    group = GroupCommit(writes, max_batch=8)
    assert group.submit(4) == 40
    assert writes.batches == [[4]]


def test_callers_that_arrive_during_a_write_share_the_next_one():
    writes = Writes()
    group = GroupCommit(writes, max_batch=64)
    with ThreadPoolExecutor(8) as pool:
        futures = submit_during_a_held_write(pool, group, writes, 1, range(2, 9))
        assert [future.result(10) for future in futures] == [10, 20, 30, 40, 50, 60, 70, 80]
    assert writes.batches[0] == [1]
    assert sorted(writes.batches[1]) == [2, 3, 4, 5, 6, 7, 8]
    assert len(writes.batches) == 2


def test_a_batch_is_at_most_max_batch_and_the_rest_follows():
    writes = Writes()
    group = GroupCommit(writes, max_batch=3)
    with ThreadPoolExecutor(8) as pool:
        futures = submit_during_a_held_write(pool, group, writes, 0, range(1, 8))
        assert sorted(future.result(10) for future in futures) == [0, 10, 20, 30, 40, 50, 60, 70]
    assert [len(batch) for batch in writes.batches] == [1, 3, 3, 1]


def test_each_caller_gets_its_own_outcome_even_an_error():
    writes = Writes(outcome=lambda item: ValueError(item) if item == 3 else item)
    group = GroupCommit(writes, max_batch=64)
    with ThreadPoolExecutor(6) as pool:
        futures = submit_during_a_held_write(pool, group, writes, 0, range(1, 6))
        with pytest.raises(ValueError, match="3"):
            futures[3].result(10)
        assert [futures[i].result(10) for i in (0, 1, 2, 4, 5)] == [0, 1, 2, 4, 5]
    assert len(writes.batches) == 2


def test_a_write_that_raises_fails_its_batch_and_the_next_caller_is_served():
    calls = []

    def write_many(items):
        calls.append(list(items))
        if len(calls) == 1:
            raise ConnectionError("database is down")
        return list(items)

    group = GroupCommit(write_many, max_batch=8)
    with pytest.raises(ConnectionError):
        group.submit("a")
    assert group.submit("b") == "b"


def test_a_write_that_answers_for_the_wrong_number_of_items_fails_them_all():
    group = GroupCommit(lambda items: [], max_batch=8)
    with pytest.raises(RuntimeError, match="0 outcomes for 1 items"):
        group.submit("a")
    assert queued(group) == 0


def test_many_threads_each_get_their_own_result():
    group = GroupCommit(lambda items: [item * 2 for item in items], max_batch=16)
    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(group.submit, range(2000)))
    assert results == [item * 2 for item in range(2000)]
