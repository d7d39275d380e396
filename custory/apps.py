from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CustoryConfig(AppConfig):
    name = "custory"
    verbose_name = "Custory workspaces"

    def ready(self):
        from custory import lookups
        from custory.outbound_jobs import outbound_rows_ensure

        lookups.register()

        # After every migrate (and flush): the outbound retry sweep Schedule exists.
        post_migrate.connect(outbound_rows_ensure, sender=self)
