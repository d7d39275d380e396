"""PostgreSQL: due events by customer shard, in claim order (billing.pipeline.shards).

A partial expression index, created on PostgreSQL only: SQLite's single writer needs no shards.
Only pending and failed events are in it, so it stays as small as the queue. Built CONCURRENTLY
(outside a transaction), so webhooks keep storing events while a large table is scanned.
"""

from django.db import migrations

INDEX = "billing_event_due_shard"
# billing.pipeline.shards.SHARD_SQL as of this migration (a test checks that they agree): the
# claim's WHERE must repeat the indexed expression exactly for PostgreSQL to use the index.
SHARD_SQL = (
    "coalesce(hashtext(CASE WHEN payload #>> '{data,object,object}' = 'customer'"
    " THEN payload #>> '{data,object,id}'"
    " ELSE coalesce(payload #>> '{data,object,customer,id}', payload #>> '{data,object,customer}')"
    " END) & 7, 0)"
)


def index_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("billing", "StripeEvent")._meta.db_table)
    schema_editor.execute(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON {table} (({SHARD_SQL}), next_attempt_at, id)"
        " WHERE status IN ('pending', 'failed')"
    )


def index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("billing", "0018_stripeevent_payload_lz4")]

    operations = [migrations.RunPython(index_create, index_drop)]
