"""Set-based writes for many rows at once, in one statement each.

Django's bulk_update builds a CASE WHEN per row and field: building it cost more Python than
the write itself, and PostgreSQL evaluates every branch for every row. These helpers send the
rows as parameters of one plain statement instead. Only identifiers taken from the models'
metadata (and a conflict target written by the caller) are formatted in; values are parameters.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from django.db import connection
from django.db.models import Model

# Rows per statement: well under SQLite's limit on parameters for the widest rows we write.
ROWS_PER_STATEMENT = 500


def rows_update(model: type[Model], rows: Sequence[Model], fields: Sequence[str]) -> None:
    """Save `fields` of `rows` (instances of `model`): bulk_update, as one
    UPDATE … FROM unnest(…) on PostgreSQL."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(rows, fields)
        return
    meta = model._meta
    quote = connection.ops.quote_name
    changed = [meta.get_field(name) for name in fields]
    columns = [meta.pk, *changed]
    arrays = ", ".join(f"%b::{array_type(field)}[]" for field in columns)
    names = ", ".join(quote(field.column) for field in columns)
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    sets = ", ".join(f"{quote(field.column)} = v.{quote(field.column)}" for field in changed)
    sql = (
        f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS v({names})"  # noqa: S608
        f" WHERE {table}.{pk} = v.{pk}"
    )
    with _binding_cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            cursor.execute(sql, [_column(field, chunk, adding=False) for field in columns])


def rows_insert(
    model: type[Model], rows: Sequence[Model], *, ignore_conflicts: bool = False
) -> None:
    """bulk_create for the hot path: on PostgreSQL, one INSERT … SELECT FROM unnest of a binary
    array per column for each ROWS_PER_STATEMENT rows, their pks set from RETURNING (not with
    ignore_conflicts, as bulk_create). The ORM's bulk insert sends the same statement, but its
    per-value compiling and its text arrays cost more Python than the write itself."""
    if not rows:
        return
    if not _unnest_fits(model):
        model.objects.bulk_create(rows, ignore_conflicts=ignore_conflicts)
        return
    if ignore_conflicts:
        _unnest_insert(model, rows, " ON CONFLICT DO NOTHING", fetch=False)
        return
    pk = connection.ops.quote_name(model._meta.pk.column)
    for row, (row_pk,) in zip(
        rows, _unnest_insert(model, rows, f" RETURNING {pk}", fetch=True), strict=True
    ):
        _saved(row, row_pk)


def rows_insert_new(model: type[Model], rows: Sequence[Model], *, key: Sequence[str]) -> list:
    """Insert the rows whose unique `key` (attribute names) is not stored yet, skipping the
    others (ON CONFLICT DO NOTHING); return those inserted, their pks set. On databases other
    than PostgreSQL none are returned: the caller reads its rows back."""
    if not rows:
        return []
    if not _unnest_fits(model):
        model.objects.bulk_create(rows, ignore_conflicts=True)
        return []
    meta, quote = model._meta, connection.ops.quote_name
    returned = ", ".join(quote(meta.get_field(name).column) for name in [meta.pk.name, *key])
    by_key = {tuple(getattr(row, name) for name in key): row for row in rows}
    inserted = []
    for row_pk, *row_key in _unnest_insert(
        model, rows, f" ON CONFLICT DO NOTHING RETURNING {returned}", fetch=True
    ):
        row = by_key[tuple(row_key)]
        _saved(row, row_pk)
        inserted.append(row)
    return inserted


def _unnest_fits(model: type[Model]) -> bool:
    """Whether rows of `model` can be inserted from unnest: on PostgreSQL, without columns the
    database fills (db_default, generated), which need the ORM's handling."""
    fields = model._meta.concrete_fields
    database_filled = any(field.has_db_default() or field.generated for field in fields)
    return connection.vendor == "postgresql" and not database_filled


def _unnest_insert(
    model: type[Model], rows: Sequence[Model], suffix: str, *, fetch: bool
) -> list[tuple]:
    """INSERT … SELECT * FROM unnest(…) + `suffix`, ROWS_PER_STATEMENT rows at a time; with
    `fetch`, the rows its RETURNING clause gave."""
    meta = model._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    arrays = ", ".join(f"%b::{array_type(field)}[]" for field in fields)
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT * FROM unnest({arrays}){suffix}"  # noqa: S608
    returned = []
    with _binding_cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            cursor.execute(sql, [_column(field, chunk, adding=True) for field in fields])
            if fetch:
                returned += cursor.fetchall()
    return returned


def _saved(row: Model, pk) -> None:
    row.pk = pk
    row._state.adding, row._state.db = False, connection.alias


@contextmanager
def _binding_cursor() -> Iterator:
    """A cursor of this connection that sends parameters apart from the statement, in binary
    where the placeholder says %b (PostgreSQL only). Django's cursors bind on the client: they
    write every array out as a text literal, escaping each value with a regular expression,
    and parse each new statement again. Wrapped as Django wraps its own, so query logging and
    execute_wrapper() still see these statements."""
    import psycopg

    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with wrap(raw) as cursor:
        yield cursor


# Fields whose Python values psycopg sends as they are: the ORM's preparing them (a call chain
# per value) changes nothing for values the models' own code set.
_SENT_AS_THEY_ARE = {
    "BigIntegerField",
    "BooleanField",
    "CharField",
    "ForeignKey",
    "IntegerField",
    "PositiveIntegerField",
    "SmallIntegerField",
    "TextField",
    "UUIDField",
}


def _column(field, rows: Sequence[Model], *, adding: bool) -> list:
    """One field's values for rows being inserted (`adding`, with their pre_save values, as
    bulk_create sends them) or updated, as one array parameter sent in binary: text arrays
    cost psycopg a regular-expression escape per value."""
    kind = field.get_internal_type()
    if kind in _SENT_AS_THEY_ARE:
        return [getattr(row, field.attname) for row in rows]
    if kind == "DateTimeField" and not (adding and (field.auto_now or field.auto_now_add)):
        # Aware datetimes are what the ORM would send, unchanged: skip its call chain per value.
        values = [getattr(row, field.attname) for row in rows]
        if all(value is None or _aware(value) for value in values):
            return values
    if adding:
        return [field.get_db_prep_save(field.pre_save(row, True), connection) for row in rows]
    return [field.get_db_prep_save(getattr(row, field.attname), connection) for row in rows]


def _aware(value) -> bool:
    return isinstance(value, datetime) and value.utcoffset() is not None


def array_type(field) -> str:
    """The column's type for an array parameter: text, not varchar(n), which would cut a long
    value silently instead of refusing it."""
    if field.get_internal_type() in ("CharField", "TextField", "SlugField", "EmailField"):
        return "text"
    return field.db_type(connection)


def rows_add(
    model: type[Model], rows: Sequence[dict], *, conflict: str, added: Sequence[str]
) -> None:
    """Insert rows (dicts of the same attribute names); a row whose key is already stored adds
    its `added` columns to the stored row instead (INSERT … ON CONFLICT DO UPDATE). `conflict`
    is the SQL of a unique index's columns or expressions. Rows are written in the given order:
    callers pass one order for every worker, so two transactions wait, never deadlock."""
    if not rows:
        return
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in rows[0]]
    table = quote(meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    sums = ", ".join(
        f"{quote(column)} = {table}.{quote(column)} + EXCLUDED.{quote(column)}"
        for column in (meta.get_field(name).column for name in added)
    )
    upsert = f" ON CONFLICT {conflict} DO UPDATE SET {sums}"
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%b::{array_type(field)}[]" for field in fields)
        sql = f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays}){upsert}"  # noqa: S608
        with _binding_cursor() as cursor:
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                chunk = rows[start : start + ROWS_PER_STATEMENT]
                cursor.execute(
                    sql,
                    [[_prepared(field, row[field.attname]) for row in chunk] for field in fields],
                )
        return
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start : start + ROWS_PER_STATEMENT]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_sql] * len(chunk))}"  # noqa: S608
                + upsert,
                [_prepared(field, row[field.attname]) for row in chunk for field in fields],
            )


def _prepared(field, value):
    return field.get_db_prep_save(value, connection)
