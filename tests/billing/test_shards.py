"""Customer shards of the processing queue (PostgreSQL): workers hold different shards, so they
never apply the same customer's events at once, and every shard is still served."""

import importlib
import threading
from collections import defaultdict

import pytest
from django.db import DatabaseError, connections
from django.db import connection as db_connection
from django.utils import timezone

from billing.models import EventStatus, StripeEvent
from billing.pipeline import hot_sql, jobs, shards
from tests.billing.pipeline_helpers import connection_with_secret, event_payload
from tests.factories import StripeEventFactory

postgres_only = pytest.mark.skipif(
    db_connection.vendor != "postgresql", reason="shards are PostgreSQL's (advisory locks)"
)


def test_the_migration_indexes_the_expression_the_claim_filters_on():
    migration = importlib.import_module("billing.migrations.0019_event_due_shard_index")
    assert migration.SHARD_SQL == shards.SHARD_SQL
    assert f"& {shards.SHARDS - 1}," in shards.SHARD_SQL  # a power of two: the mask is a modulo


def _payload(customer=None, *, obj="invoice", expanded=False):
    payload = event_payload()
    data = {"id": f"{obj[:2]}_{payload['id'][-10:]}", "object": obj}
    if obj == "customer":
        data["id"] = customer
    elif customer is not None:
        data["customer"] = {"id": customer, "object": "customer"} if expanded else customer
    payload["data"] = {"object": data}
    return payload


def _shard_of(payload) -> int:
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {shards.SHARD_SQL} FROM (SELECT %s::jsonb AS payload) AS e",
            [__import__("json").dumps(payload)],
        )
        return cursor.fetchone()[0]


@postgres_only
@pytest.mark.django_db
def test_a_customer_s_events_share_one_shard_whatever_their_shape():
    customer = "cus_Q8mZ3kLp0aB7"
    shapes = [
        _payload(customer),
        _payload(customer, obj="subscription"),
        _payload(customer, expanded=True),
        _payload(customer, obj="customer"),
    ]
    assert len({_shard_of(payload) for payload in shapes}) == 1
    assert _shard_of(_payload(None, obj="product")) == 0
    # Payloads of no known shape still get a shard, never an error on insert.
    for odd in ([1, 2], "text", {}, {"data": [1]}, {"data": {"object": {"customer": 123}}}):
        assert _shard_of(odd) in range(shards.SHARDS)
    spread = {_shard_of(_payload(f"cus_{n:014d}x{n}")) for n in range(200)}
    assert spread == set(range(shards.SHARDS))


def _pending(workspace, payloads):
    connection = connection_with_secret(workspace)
    now = timezone.now()
    return StripeEvent.objects.bulk_create(
        StripeEventFactory.build(
            workspace=workspace,
            connection=connection,
            stripe_id=payload["id"],
            payload=payload,
            status=EventStatus.PENDING,
            next_attempt_at=now,
        )
        for payload in payloads
    )


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_shard_another_worker_holds_is_left_to_it(workspace, monkeypatch):
    payloads = [_payload(f"cus_{n:06d}") for n in range(40)]
    events = _pending(workspace, payloads)
    shard_of = {event.pk: _shard_of(event.payload) for event in events}
    held = shard_of[events[0].pk]
    applied = []
    monkeypatch.setattr(jobs, "event_apply", lambda *, event: applied.append(event.pk) or [])
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # another worker's session holds one shard
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [shards.LOCK_NAMESPACE, held])
        while jobs.events_process_batch():
            pass
        assert set(applied) == {pk for pk, shard in shard_of.items() if shard != held}
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [shards.LOCK_NAMESPACE, held])
        while jobs.events_process_batch():
            pass
    finally:
        other.close()
    assert sorted(applied) == sorted(shard_of)
    assert StripeEvent.objects.filter(status=EventStatus.PROCESSED).count() == len(events)
    with db_connection.cursor() as cursor:  # every shard let go after its batch
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        assert cursor.fetchone()[0] == 0


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_apply_one_customer_at_once(workspace, monkeypatch):
    customers = [f"cus_{n:06d}" for n in range(12)]
    _pending(workspace, [_payload(customers[n % 12]) for n in range(240)])
    busy: dict[str, int] = defaultdict(int)
    overlaps, applied = [], []
    lock = threading.Lock()

    def record(*, event):
        customer = event.payload["data"]["object"]["customer"]
        with lock:
            busy[customer] += 1
            if busy[customer] > 1:
                overlaps.append(customer)
            applied.append(event.pk)
        threading.Event().wait(0.002)  # long enough for another worker to come in
        with lock:
            busy[customer] -= 1
        return []

    monkeypatch.setattr(jobs, "event_apply", record)
    barrier = threading.Barrier(3)

    def worker():
        barrier.wait()
        try:
            while jobs.events_process_batch(limit=20, share=2):
                pass
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
    assert len(applied) == len(set(applied)) == 240
    assert StripeEvent.objects.filter(status=EventStatus.PROCESSED, attempts=1).count() == 240


def _plan(sql: str, params: list) -> str:
    with db_connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@postgres_only
@pytest.mark.django_db
def test_the_claim_reads_the_shard_index(workspace):
    _pending(workspace, [_payload(f"cus_{n:06d}") for n in range(400)])
    now = timezone.now()
    with db_connection.cursor() as cursor:
        # Statistics of this queue, not of whatever the tests before left in the table.
        cursor.execute(f"ANALYZE {StripeEvent._meta.db_table}")
        cursor.execute("SET LOCAL enable_seqscan = off")
    claim = _plan(hot_sql.event_claim_shard_sql(), [3, now, 10, now])
    assert "billing_event_due_shard" in claim


@postgres_only
@pytest.mark.django_db
def test_taking_shards_probes_the_shard_index_once_per_shard_on_a_backlog(workspace):
    # Statistics taken before the backlog arrived, as after a burst of webhooks or an import:
    # the planner expects few due events.
    with db_connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {StripeEvent._meta.db_table}")
    _pending(workspace, [_payload(f"cus_{n:06d}") for n in range(2000)])
    plan = _plan(hot_sql.shards_take_sql(), [shards.shard_order(), timezone.now(), 4])
    # Never a hashed subplan, which computes the shard of every due event's payload.
    assert "hashed SubPlan" not in plan
    assert "billing_event_due_shard" in plan


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_shard_lock_that_cannot_be_let_go_ends_the_session(monkeypatch):
    def broken(held):
        raise DatabaseError("connection trouble")

    monkeypatch.setattr(shards, "shards_unlock", broken)
    with shards.shards_taken() as held, db_connection.cursor() as cursor:
        cursor.execute(hot_sql.shards_take_all_sql())
        held += [shard for (shard,) in cursor.fetchall()]
    assert len(held) == shards.SHARDS
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # another worker can take every shard again
            cursor.execute(hot_sql.shards_take_all_sql())
            assert len(cursor.fetchall()) == shards.SHARDS
    finally:
        other.close()
