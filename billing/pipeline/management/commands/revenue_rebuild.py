"""Rebuild a workspace's failed invoices and MRR movements from its stored events."""

from django.core.management.base import BaseCommand, CommandError

from billing.pipeline.revenue_rebuild import revenue_rebuild
from custory.models import Workspace


class Command(BaseCommand):
    help = "Replay stored invoice and subscription events into the revenue figures' tables."

    def add_arguments(self, parser):
        parser.add_argument("workspace", nargs="?", help="A slug; all workspaces when left out.")

    def handle(self, *args, **options):
        workspaces = Workspace.objects.all()
        if options["workspace"]:
            workspaces = workspaces.filter(slug=options["workspace"])
            if not workspaces.exists():
                raise CommandError(f"No workspace with the slug “{options['workspace']}”.")
        for workspace in workspaces.order_by("pk"):
            count = revenue_rebuild(workspace=workspace)
            self.stdout.write(f"{workspace.slug}: {count} events replayed")
