from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self):
        from billing.jobs import pipeline_rows_ensure

        # After every migrate (and every flush, which tests do): the drain-state row and the
        # sweep Schedule exist, whoever deleted them. Like contenttypes, not domain logic.
        post_migrate.connect(pipeline_rows_ensure, sender=self)
