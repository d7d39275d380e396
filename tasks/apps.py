from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TasksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tasks"

    def ready(self):
        from tasks.alerts import alerts_schedule_ensure
        from tasks.digests import digests_schedule_ensure

        # After every migrate (and flush): the alert and digest Schedules exist.
        post_migrate.connect(alerts_schedule_ensure, sender=self)
        post_migrate.connect(digests_schedule_ensure, sender=self)
