"""The drain-state row and the every-minute sweep Schedule that re-queues stuck events.

A data migration rather than AppConfig.ready(): it runs once per database, in the same place
as the tables it needs, and never queries the database while the app registry loads.
"""

from django.db import migrations

SWEEP_NAME = "billing-events-sweep"


def create(apps, schema_editor):
    EventDrainState = apps.get_model("billing", "EventDrainState")
    Schedule = apps.get_model("django_q", "Schedule")
    EventDrainState.objects.get_or_create(pk=1)
    Schedule.objects.update_or_create(
        name=SWEEP_NAME,
        defaults={
            "func": "billing.jobs.events_sweep",
            "schedule_type": "I",  # Schedule.MINUTES
            "minutes": 1,
            "repeats": -1,
        },
    )


def remove(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=SWEEP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_pipeline_drain_state"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create, remove)]
