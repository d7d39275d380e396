"""Customer shards of the processing queue (PostgreSQL): two workers never apply events of the
same customer at once.

Each due event falls in one of SHARDS shards by a hash of its Stripe customer, computed by the
database from the payload (the partial expression index billing_event_due_shard, migration
billing 0019). A worker holds the shards it claims from with session-level advisory locks until
its batch is applied, so the other workers claim from other shards: they no longer queue on each
other's customer row locks, and each customer's events are applied by one worker at a time, in
order. SQLite has a single writer and no shards.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count

from django.db import DatabaseError, connection

SHARDS = 8
# The advisory lock namespace of the shards (pg_try_advisory_lock(namespace, shard)).
LOCK_NAMESPACE = 0x43555354  # "CUST"

# The Stripe customer an event is about: the object itself, or its customer (an id, or an
# expanded customer). Events about no customer (products, prices, …) fall in shard 0.
CUSTOMER_SQL = (
    "CASE WHEN payload #>> '{data,object,object}' = 'customer'"
    " THEN payload #>> '{data,object,id}'"
    " ELSE coalesce(payload #>> '{data,object,customer,id}', payload #>> '{data,object,customer}')"
    " END"
)
# Immutable, as an index expression must be; `& (SHARDS - 1)` is never negative.
SHARD_SQL = f"coalesce(hashtext({CUSTOMER_SQL}) & {SHARDS - 1}, 0)"

_turns = count()


def sharded() -> bool:
    return connection.vendor == "postgresql"


def shards_unlock(shards: list[int]) -> None:
    if not shards:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_unlock(%s, s) FROM unnest(%s::integer[]) AS s",
            [LOCK_NAMESPACE, shards],
        )


@contextmanager
def shards_taken() -> Iterator[list[int]]:
    """A list for the shards this worker takes as it claims (hot_sql.shards_take_sql), all let
    go at the end of the block, whatever happens."""
    held: list[int] = []
    try:
        yield held
    finally:
        if held and connection.connection is not None and not connection.connection.closed:
            try:
                shards_unlock(held)
            except DatabaseError:
                # Session locks outlive transactions: a lock this session kept would keep the
                # shard from every other worker. Ending the session lets go of all of them.
                connection.close()


def shard_order() -> list[int]:
    """Every shard, starting from the next one in turn, so that every shard is served."""
    start = next(_turns) % SHARDS
    return [(start + step) % SHARDS for step in range(SHARDS)]
