"""The event stream one demo workspace's history is written to."""

import copy
import random
import string
from typing import Any


class EventStream:
    """Builds one workspace's events; every id and choice comes from one seeded Random."""

    def __init__(self, seed: int, start: int, end: int):
        self.rng = random.Random(seed)  # noqa: S311 (demo data, reproducible by seed)
        self.start, self.end = start, end
        self.events: list[dict[str, Any]] = []
        self.counter = 0
        self.names: set[str] = set()  # customer names given so far: the demo repeats none

    def new_id(self, prefix: str) -> str:
        """A Stripe-looking id with `prefix`, unique in this stream."""
        self.counter += 1
        tail = "".join(self.rng.choices(string.ascii_letters + string.digits, k=14))
        return f"{prefix}_1Dm{self.counter:07d}{tail}"

    def emit(self, when: int, type_: str, obj: dict, *, version: str, previous=None, user=True):
        """Add an event about (a copy of) `obj`, unless it would happen after the window."""
        if when > self.end:
            return
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(previous)
        self.events.append(
            {
                "id": self.new_id("evt"),
                "object": "event",
                "api_version": version,
                "created": when,
                "data": data,
                "livemode": False,
                "pending_webhooks": 1,
                # Stripe's own automatic actions (renewals, dunning) have no request id.
                "request": {"id": self.new_id("req") if user else None, "idempotency_key": None},
                "type": type_,
            }
        )
