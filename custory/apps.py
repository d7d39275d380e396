from django.apps import AppConfig


class CustoryConfig(AppConfig):
    name = "custory"
    verbose_name = "Custory workspaces"
