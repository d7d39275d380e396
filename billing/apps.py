from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BillingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "billing"

    def ready(self):
        from billing.exchange_jobs import exchange_rates_schedule_ensure

        # After every migrate (and flush): the daily exchange-rate Schedule exists.
        post_migrate.connect(exchange_rates_schedule_ensure, sender=self)
