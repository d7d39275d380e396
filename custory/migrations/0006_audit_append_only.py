# The audit table is append-only in the database: triggers refuse UPDATE and DELETE, on PostgreSQL
# and on SQLite. Two changes stay possible: the actor set to NULL when that user's account is
# deleted (on_delete=SET_NULL; actor_label keeps the name), and deleting the rows of a workspace
# listed in custory_auditpurge (only custory.services.workspace_delete writes it, in its transaction).

from django.db import migrations, models

POSTGRES_CREATE = [
    """
CREATE OR REPLACE FUNCTION custory_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.actor_id IS NULL
           AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'The audit log is append-only: UPDATE of custory_auditevent refused.';
    END IF;
    IF EXISTS (SELECT 1 FROM custory_auditpurge WHERE workspace_id = OLD.workspace_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'The audit log is append-only: DELETE from custory_auditevent refused '
        '(delete the whole workspace with custory.services.workspace_delete).';
END;
$$
""",
    """
CREATE TRIGGER custory_audit_append_only BEFORE UPDATE OR DELETE ON custory_auditevent
    FOR EACH ROW EXECUTE FUNCTION custory_audit_append_only()
""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS custory_audit_append_only ON custory_auditevent",
    "DROP FUNCTION IF EXISTS custory_audit_append_only()",
]

SQLITE_CREATE = [
    """
CREATE TRIGGER custory_audit_no_update BEFORE UPDATE ON custory_auditevent
WHEN NOT (
    NEW.actor_id IS NULL AND NEW.id IS OLD.id AND NEW.workspace_id IS OLD.workspace_id
    AND NEW.actor_label IS OLD.actor_label AND NEW.action IS OLD.action
    AND NEW.target_type IS OLD.target_type AND NEW.target_id IS OLD.target_id
    AND NEW.target_label IS OLD.target_label AND NEW.data IS OLD.data AND NEW.at IS OLD.at
)
BEGIN
    SELECT RAISE(ABORT, 'The audit log is append-only: UPDATE of custory_auditevent refused.');
END
""",
    """
CREATE TRIGGER custory_audit_no_delete BEFORE DELETE ON custory_auditevent
WHEN NOT EXISTS (SELECT 1 FROM custory_auditpurge WHERE workspace_id = OLD.workspace_id)
BEGIN
    SELECT RAISE(ABORT, 'The audit log is append-only: DELETE from custory_auditevent refused (delete the whole workspace with custory.services.workspace_delete).');
END
""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS custory_audit_no_update",
    "DROP TRIGGER IF EXISTS custory_audit_no_delete",
]


STATEMENTS = {
    "postgresql": (POSTGRES_CREATE, POSTGRES_DROP),
    "sqlite": (SQLITE_CREATE, SQLITE_DROP),
}


def create_triggers(apps, schema_editor):
    create, _ = STATEMENTS.get(schema_editor.connection.vendor, ([], []))
    for statement in create:
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    _, drop = STATEMENTS.get(schema_editor.connection.vendor, ([], []))
    for statement in drop:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("custory", "0005_shared_cache_table"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditPurge",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("workspace_id", models.BigIntegerField(unique=True)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
