"""The hand-built SQL statements of the webhook's hot paths (and the history import's insert),
built once per process.

Each webhook request runs exactly these: find the endpoint with its secrets, insert the event
(ON CONFLICT DO NOTHING: the unique constraint decides what is a duplicate), and flip the drain
flag. They are written by hand because the ORM rebuilds and compiles a query on every call, which
cost more than the database work itself at hundreds of requests a second. Only identifiers taken
from the models' metadata are interpolated; every value is a parameter.
"""

from functools import cache

from django.db import connection

from billing.models import (
    ConnectionStatus,
    EventDrainState,
    EventStatus,
    StripeConnection,
    StripeEvent,
    WebhookSecret,
)
from billing.pipeline import shards
from custory.bulk_sql import array_type


@cache
def endpoint_sql() -> str:
    """An endpoint's connection, workspace, status, mode and signing secrets, in one query."""
    quote = connection.ops.quote_name
    c_meta, s_meta = StripeConnection._meta, WebhookSecret._meta

    def col(meta, name):
        return quote(meta.get_field(name).column)

    conn, secret = quote(c_meta.db_table), quote(s_meta.db_table)
    return f"SELECT {conn}.{quote(c_meta.pk.column)}, {conn}.{col(c_meta, 'workspace')}, {conn}.{col(c_meta, 'status')}, {conn}.{col(c_meta, 'livemode')}, {secret}.{col(s_meta, 'secret_encrypted')}, {secret}.{col(s_meta, 'retired_at')} FROM {conn} LEFT OUTER JOIN {secret} ON {secret}.{col(s_meta, 'connection')} = {conn}.{quote(c_meta.pk.column)} WHERE {conn}.{col(c_meta, 'uuid')} = %s"  # noqa: E501, S608


_INSERT_FIELDS = (
    "workspace",
    "connection",
    "stripe_id",
    "type",
    "api_version",
    "created",
    "livemode",
    "payload",
    "source",
    "status",
    "attempts",
    "last_error",
    "received_at",
    "next_attempt_at",
)


@cache
def event_insert_sql() -> tuple[str, tuple]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id, built once from the model's metadata."""
    meta = StripeEvent._meta
    fields = tuple(meta.get_field(name) for name in _INSERT_FIELDS)
    quote = connection.ops.quote_name
    unique = next(c for c in meta.constraints if c.name == "billing_event_unique_per_workspace")
    conflict = ", ".join(quote(meta.get_field(name).column) for name in unique.fields)
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) ON CONFLICT ({conflict}) DO NOTHING RETURNING {pk}"  # noqa: E501, S608
    return sql, fields


# The columns the history import sends per event, as parallel arrays (payload as JSON text).
_IMPORT_FIELDS = ("stripe_id", "type", "api_version", "created", "livemode", "payload")


@cache
def events_import_sql() -> str:
    """PostgreSQL, the history import's events of one connection in one INSERT … ON CONFLICT
    DO NOTHING, from parallel arrays in binary: the ORM's bulk insert sends them as text
    arrays, whose quoting of every JSON payload cost more than the insert itself. Parameters:
    workspace, connection, source, status, attempts, last_error, received_at, next_attempt_at,
    processed_at, then one array per field of _IMPORT_FIELDS. Returns the stripe_id and id of
    each row it inserted."""
    meta = StripeEvent._meta
    quote = connection.ops.quote_name
    constant = (*(name for name in _INSERT_FIELDS if name not in _IMPORT_FIELDS), "processed_at")
    columns = ", ".join(_col(meta, name) for name in (*constant, *_IMPORT_FIELDS))
    casts = ", ".join(f"%b::{array_type(meta.get_field(name))}[]" for name in _IMPORT_FIELDS)
    unique = next(c for c in meta.constraints if c.name == "billing_event_unique_per_workspace")
    conflict = ", ".join(_col(meta, name) for name in unique.fields)
    return (
        f"INSERT INTO {quote(meta.db_table)} ({columns})"  # noqa: S608
        f" SELECT {', '.join(['%s'] * len(constant))}, {', '.join(_IMPORT_FIELDS)}"
        f" FROM unnest({casts}) AS r({', '.join(_IMPORT_FIELDS)})"
        f" ON CONFLICT ({conflict}) DO NOTHING"
        f" RETURNING {_col(meta, 'stripe_id')}, {quote(meta.pk.column)}"
    )


@cache
def drain_flip_sql():
    """Set the drain-requested flag only when it flips (or is stale), so it rarely locks."""
    meta = EventDrainState._meta
    quote = connection.ops.quote_name
    table, requested = quote(meta.db_table), quote(meta.get_field("requested").column)
    requested_at = quote(meta.get_field("requested_at").column)
    sql = f"UPDATE {table} SET {requested} = true, {requested_at} = %s WHERE {quote(meta.pk.column)} = 1 AND ({requested} = false OR {requested_at} < %s)"  # noqa: E501, S608
    return sql, meta.get_field("requested_at")


@cache
def endpoint_secrets_sql() -> str:
    """The fast path's endpoint lookup: connection, workspace, status, mode, each secret by id."""
    quote = connection.ops.quote_name
    c_meta, s_meta = StripeConnection._meta, WebhookSecret._meta

    def col(meta, name):
        return quote(meta.get_field(name).column)

    conn, secret = quote(c_meta.db_table), quote(s_meta.db_table)
    c_pk, s_pk = quote(c_meta.pk.column), quote(s_meta.pk.column)
    return f"SELECT {conn}.{c_pk}, {conn}.{col(c_meta, 'workspace')}, {conn}.{col(c_meta, 'status')}, {conn}.{col(c_meta, 'livemode')}, {secret}.{s_pk}, {secret}.{col(s_meta, 'secret_encrypted')}, {secret}.{col(s_meta, 'retired_at')} FROM {conn} LEFT OUTER JOIN {secret} ON {secret}.{col(s_meta, 'connection')} = {conn}.{c_pk} WHERE {conn}.{col(c_meta, 'uuid')} = %s ORDER BY {secret}.{s_pk}"  # noqa: E501, S608


@cache
def event_store_many_sql() -> str:
    """PostgreSQL, one statement for a batch of webhook events (autocommit: one commit for all).

    Per event it re-checks that the endpoint is active and the secret that verified it is not
    retired, inserts the event (ON CONFLICT DO NOTHING; the first of equal ids in one batch wins)
    and, if any due event is new, flips the drain flag. Events come as parallel arrays, so one
    prepared statement serves every batch size. Parameters: uuids, secret ids, stripe ids,
    types, api versions, created, livemode, payloads (JSON text), received_at, due (one array
    each, in that order), then source, pending, ignored, now, pending, now - re-arm. Returns one
    row per event in input order: (endpoint ok, inserted, flipped), booleans.

    A revoke or a retire is therefore refused by the very statement that would have stored the
    event, whatever a process cached. Rows are inserted in key order, so two batches that share
    ids cannot deadlock.
    """
    return f"WITH {_batch_endpoints_sql()}, {_batch_insert_sql()}"


def _col(meta, name: str) -> str:
    return connection.ops.quote_name(meta.get_field(name).column)


def _batch_endpoints_sql() -> str:
    """CTEs r (the events, numbered) and ep (those whose endpoint and secret are still active,
    with their connection, workspace and rank among equal ids)."""
    quote = connection.ops.quote_name
    c_meta, s_meta, e_meta = StripeConnection._meta, WebhookSecret._meta, StripeEvent._meta
    conn, secret = quote(c_meta.db_table), quote(s_meta.db_table)
    c_pk, s_pk = quote(c_meta.pk.column), quote(s_meta.pk.column)
    arrays = ", ".join(
        [f"%b::{array_type(c_meta.get_field('uuid'))}[]", f"%b::{array_type(s_meta.pk)}[]"]
        + [f"%b::{array_type(e_meta.get_field(name))}[]" for name in _BATCH_FIELDS]
        + ["%b::boolean[]"]
    )
    inputs = ", ".join(["endpoint", "secret_id", *_BATCH_FIELDS, "due"])
    workspace = f"{conn}.{_col(c_meta, 'workspace')}"
    return (
        f"r AS (SELECT * FROM unnest({arrays}) WITH ORDINALITY AS r({inputs}, ord)),"  # noqa: S608
        f" ep AS (SELECT r.ord, {conn}.{c_pk} AS cid, {workspace} AS wid,"
        f" row_number() OVER (PARTITION BY {workspace}, r.stripe_id ORDER BY r.ord) AS nth"
        f" FROM r JOIN {conn} ON {conn}.{_col(c_meta, 'uuid')} = r.endpoint"
        f" AND {conn}.{_col(c_meta, 'status')} = '{ConnectionStatus.ACTIVE.value}'"
        f" JOIN {secret} ON {secret}.{s_pk} = r.secret_id"
        f" AND {secret}.{_col(s_meta, 'connection')} = {conn}.{c_pk}"
        f" AND {secret}.{_col(s_meta, 'retired_at')} IS NULL)"
    )


def _batch_insert_sql() -> str:
    """CTEs ins (the insert) and flip (the drain flag), then one answer row per event."""
    quote = connection.ops.quote_name
    e_meta, d_meta = StripeEvent._meta, EventDrainState._meta
    columns = ", ".join(_col(e_meta, name) for name in (*_ENDPOINT, *_BATCH_FIELDS, *_CONSTANT))
    unique = next(c for c in e_meta.constraints if c.name == "billing_event_unique_per_workspace")
    conflict = ", ".join(_col(e_meta, name) for name in unique.fields)
    workspace, stripe_id = _col(e_meta, "workspace"), _col(e_meta, "stripe_id")
    status = _col(e_meta, "status")
    requested, requested_at = _col(d_meta, "requested"), _col(d_meta, "requested_at")
    return (
        f"ins AS (INSERT INTO {quote(e_meta.db_table)} ({columns})"  # noqa: S608
        f" SELECT ep.wid, ep.cid, {', '.join('r.' + name for name in _BATCH_FIELDS)},"
        " %s, CASE WHEN r.due THEN %s ELSE %s END, 0, '',"
        " CASE WHEN r.due THEN r.received_at END"
        " FROM ep JOIN r ON r.ord = ep.ord WHERE ep.nth = 1 ORDER BY ep.wid, r.stripe_id"
        f" ON CONFLICT ({conflict}) DO NOTHING RETURNING {workspace}, {stripe_id}, {status}),"
        f" flip AS (UPDATE {quote(d_meta.db_table)} SET {requested} = true, {requested_at} = %s"
        f" WHERE {quote(d_meta.pk.column)} = 1"
        f" AND EXISTS (SELECT 1 FROM ins WHERE ins.{status} = %s)"
        f" AND ({requested} = false OR {requested_at} < %s) RETURNING 1)"
        f" SELECT ep.ord IS NOT NULL, ep.nth = 1 AND ins.{stripe_id} IS NOT NULL,"
        " EXISTS (SELECT 1 FROM flip)"
        f" FROM r LEFT JOIN ep ON ep.ord = r.ord LEFT JOIN ins ON ins.{workspace} = ep.wid"
        f" AND ins.{stripe_id} = r.stripe_id ORDER BY r.ord"
    )


_ENDPOINT = ("workspace", "connection")
# Set by the batch statement itself: source, status (pending if due, else ignored), attempts,
# last_error, next_attempt_at (received_at if due).
_CONSTANT = ("source", "status", "attempts", "last_error", "next_attempt_at")
# The event's columns the fast path sends per row (payload as JSON text, cast to jsonb).
_BATCH_FIELDS = tuple(name for name in _INSERT_FIELDS if name not in (*_ENDPOINT, *_CONSTANT))


def _due_sql(meta) -> str:
    status = _col(meta, "status")
    due = ", ".join(f"'{status.value}'" for status in (EventStatus.PENDING, EventStatus.FAILED))
    return f"{status} IN ({due}) AND {_col(meta, 'next_attempt_at')} <= %s"


@cache
def shards_take_sql() -> str:
    """PostgreSQL, in one round trip: lock (session advisory locks) up to N shards that are free
    and have due events, trying them in the given order. Parameters: shards in order, now, N.
    Returns the shards locked. An empty queue costs one index probe per shard, no lock.

    The probe is a scalar subquery with LIMIT 1, not EXISTS: PostgreSQL may run an EXISTS as a
    hashed subplan, which computes the shard of every due event (detoasting each payload) to
    build the hash, 100 ms on a backlog of 10,000 when the table's statistics are stale."""
    meta = StripeEvent._meta
    table = connection.ops.quote_name(meta.db_table)
    shard = shards.SHARD_SQL
    return (
        "SELECT s FROM unnest(%s::integer[]) WITH ORDINALITY AS t(s, n)"  # noqa: S608
        f" WHERE CASE WHEN (SELECT true FROM {table} WHERE {_due_sql(meta)} AND {shard} = s"
        f" LIMIT 1) THEN pg_try_advisory_lock({shards.LOCK_NAMESPACE}, s) ELSE false END"
        " ORDER BY n LIMIT %s"
    )


@cache
def shards_take_all_sql() -> str:
    """PostgreSQL: lock every shard that is free; returns the shards locked."""
    return (
        f"SELECT s FROM generate_series(0, {shards.SHARDS - 1}) AS s"  # noqa: S608
        f" WHERE pg_try_advisory_lock({shards.LOCK_NAMESPACE}, s)"
    )


@cache
def event_claim_shard_sql() -> str:
    """PostgreSQL, the claim of up to N due events of one customer shard, in claim order, marked
    `processing` in the same statement. It repeats the expression of the index
    billing_event_due_shard, so it reads that index in order. Parameters: shard, now, limit,
    lease end. Returns the ids claimed."""
    meta = StripeEvent._meta
    table, pk = connection.ops.quote_name(meta.db_table), connection.ops.quote_name(meta.pk.column)
    status, due_at = _col(meta, "status"), _col(meta, "next_attempt_at")
    attempts = _col(meta, "attempts")
    return (
        f"WITH due AS (SELECT {pk} FROM {table} WHERE {shards.SHARD_SQL} = %s"  # noqa: S608
        f" AND {_due_sql(meta)} ORDER BY {due_at}, {pk} LIMIT %s FOR UPDATE SKIP LOCKED)"
        f" UPDATE {table} SET {status} = '{EventStatus.PROCESSING.value}',"
        f" {attempts} = {table}.{attempts} + 1, {due_at} = %s"
        f" FROM due WHERE {table}.{pk} = due.{pk} RETURNING {table}.{pk}"
    )
