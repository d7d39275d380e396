from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PipelineConfig(AppConfig):
    name = "billing.pipeline"
    label = "billing_pipeline"
    verbose_name = "Stripe pipeline"

    def ready(self):
        from billing.pipeline.jobs import pipeline_rows_ensure

        # After every migrate (and every flush, which tests do): the drain-state row and the
        # sweep Schedule exist, whoever deleted them. Like contenttypes, not domain logic.
        post_migrate.connect(pipeline_rows_ensure, sender=self.apps.get_app_config("billing"))
