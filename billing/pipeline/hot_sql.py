"""The three SQL statements of the webhook's hot path, built once per process.

Each webhook request runs exactly these: find the endpoint with its secrets, insert the event
(ON CONFLICT DO NOTHING: the unique constraint decides what is a duplicate), and flip the drain
flag. They are written by hand because the ORM rebuilds and compiles a query on every call, which
cost more than the database work itself at hundreds of requests a second. Only identifiers taken
from the models' metadata are interpolated; every value is a parameter.
"""

from functools import cache

from django.db import connection

from billing.models import EventDrainState, StripeConnection, StripeEvent, WebhookSecret


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
