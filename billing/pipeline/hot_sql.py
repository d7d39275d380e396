"""The hand-built SQL statements of the webhook's hot paths, built once per process.

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
    StripeConnection,
    StripeEvent,
    WebhookSecret,
)


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
def event_store_sql() -> str:
    """PostgreSQL, one statement and one round trip (autocommit: its own transaction):
    re-check that the endpoint is active and the secret that verified is not retired, insert the
    event (ON CONFLICT DO NOTHING) and flip the drain flag if this event is due and new.

    Parameters: uuid, secret id, then the _INSERT_FIELDS values except workspace and connection
    (payload as JSON text), then due (bool), now, now - re-arm. Returns one row: (endpoint ok,
    inserted, flipped) as 0/1 counts. A revoke or a retire is therefore refused by the very
    statement that would have stored the event, whatever a process cached.
    """
    quote = connection.ops.quote_name
    c_meta, s_meta, e_meta = StripeConnection._meta, WebhookSecret._meta, StripeEvent._meta
    d_meta = EventDrainState._meta

    def col(meta, name):
        return quote(meta.get_field(name).column)

    conn, secret = quote(c_meta.db_table), quote(s_meta.db_table)
    c_pk, s_pk = quote(c_meta.pk.column), quote(s_meta.pk.column)
    fields = [e_meta.get_field(name) for name in _INSERT_FIELDS]
    columns = ", ".join(quote(f.column) for f in fields)
    # Typed parameters: in INSERT … SELECT an untyped one (a None) would be taken for text.
    values = ", ".join(f"%s::{_cast(f)}" for f in fields if f.name not in _ENDPOINT)
    unique = next(c for c in e_meta.constraints if c.name == "billing_event_unique_per_workspace")
    conflict = ", ".join(col(e_meta, name) for name in unique.fields)
    drain, requested = quote(d_meta.db_table), col(d_meta, "requested")
    requested_at = col(d_meta, "requested_at")
    active = ConnectionStatus.ACTIVE.value
    return (
        f"WITH ep AS (SELECT {conn}.{c_pk} AS cid, {conn}.{col(c_meta, 'workspace')} AS wid"  # noqa: S608
        f" FROM {conn} JOIN {secret} ON {secret}.{col(s_meta, 'connection')} = {conn}.{c_pk}"
        f" WHERE {conn}.{col(c_meta, 'uuid')} = %s AND {conn}.{col(c_meta, 'status')} = '{active}'"
        f" AND {secret}.{s_pk} = %s AND {secret}.{col(s_meta, 'retired_at')} IS NULL),"
        f" ins AS (INSERT INTO {quote(e_meta.db_table)} ({columns}) SELECT ep.wid, ep.cid, {values}"
        f" FROM ep ON CONFLICT ({conflict}) DO NOTHING RETURNING {quote(e_meta.pk.column)}),"
        f" flip AS (UPDATE {drain} SET {requested} = true, {requested_at} = %s"
        f" WHERE {quote(d_meta.pk.column)} = 1 AND %s AND EXISTS (SELECT 1 FROM ins)"
        f" AND ({requested} = false OR {requested_at} < %s) RETURNING 1)"
        " SELECT (SELECT count(*) FROM ep), (SELECT count(*) FROM ins), (SELECT count(*) FROM flip)"
    )


_ENDPOINT = ("workspace", "connection")


def _cast(field) -> str:
    if field.get_internal_type() in ("CharField", "TextField"):
        return "text"  # not varchar(n): an explicit cast would cut a long value silently
    return field.db_type(connection)
