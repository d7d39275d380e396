"""Connect Stripe to a workspace from the command line; prints the webhook URL to give Stripe."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from billing.pipeline import connections
from custory import crypto
from custory.models import Workspace


class Command(BaseCommand):
    help = "Connect a Stripe account to a workspace and print its webhook URL."

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="The workspace's slug.")
        parser.add_argument("--webhook-secret", required=True, help="The whsec_… signing secret.")
        parser.add_argument("--api-key", default="", help="An optional restricted key (rk_…).")
        parser.add_argument("--label", default="", help="A name for the connection.")

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with the slug “{options['workspace']}”.")
        try:
            connection = connections.connection_create(
                workspace=workspace,
                actor="manage.py stripe_connect",
                webhook_secret=options["webhook_secret"],
                api_key=options["api_key"],
                label=options["label"],
            )
        except crypto.EncryptionNotConfigured as error:
            raise CommandError(str(error)) from None
        except ValidationError as error:
            raise CommandError(_describe(error)) from None
        self.stdout.write(connection.webhook_url())


def _describe(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "\n".join(
            f"--{field.replace('_', '-')}: {message}" if field != "__all__" else message
            for field, messages in error.message_dict.items()
            for message in messages
        )
    return "\n".join(error.messages)
