"""Revoke a workspace's Stripe connection from the command line, optionally deleting its data."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from billing.models import StripeConnection
from billing.pipeline import connections
from custory.models import Workspace


class Command(BaseCommand):
    help = "Revoke a Stripe connection: erase its secrets; its webhook URL answers 410 Gone."

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="The workspace's slug.")
        parser.add_argument("--label", default="", help="Which connection, when there are several.")
        parser.add_argument(
            "--delete-data",
            action="store_true",
            help="Also delete the events, customers and signals that came from it.",
        )

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with the slug “{options['workspace']}”.")
        active = StripeConnection.objects.for_workspace(workspace).active()
        if options["label"]:
            active = active.filter(label=options["label"].strip())
        candidates = list(active)
        if not candidates:
            which = f" labeled “{options['label']}”" if options["label"] else ""
            raise CommandError(f"Workspace “{workspace.slug}” has no active connection{which}.")
        if len(candidates) > 1:
            labels = ", ".join(f"“{c.label}” ({c.mode_label})" for c in candidates)
            raise CommandError(f"Several active connections; choose one with --label: {labels}.")
        connection = candidates[0]
        try:
            result = connections.connection_revoke(
                connection=connection,
                actor="manage.py stripe_revoke",
                delete_data=options["delete_data"],
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(
            f"Revoked “{connection.label}” ({connection.mode_label}); "
            f"{connection.webhook_url()} now answers 410 Gone."
        )
        if result.purged is not None:
            counts = ", ".join(f"{n} {what}" for what, n in result.purged.items())
            self.stdout.write(f"Deleted {counts}.")
