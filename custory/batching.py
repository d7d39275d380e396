"""A processing batch's memo, so rows every event of a batch would load again (a workspace's
journeys, mapping rules and task rules) are loaded once per batch rather than once per event."""

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
