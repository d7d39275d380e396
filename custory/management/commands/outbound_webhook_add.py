"""Add an outbound webhook to a workspace; the last line printed is SECRET=<signing secret>."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from custory import crypto
from custory.forms import outbound_event_choices
from custory.models import OutboundFormat, Workspace
from custory.outbound import outbound_webhook_create


def event_types_parse(text: str) -> list[str]:
    """ "payment_failed,task.created" → ["signal.payment_failed", "task.created"]; bare signal
    kinds are accepted for their `signal.` type."""
    known = {value for value, _ in outbound_event_choices()}
    types = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name = item if item in known else f"signal.{item}"
        if name not in known:
            raise CommandError(f"Unknown event “{item}”. Known: {', '.join(sorted(known))}.")
        types.append(name)
    return types


class Command(BaseCommand):
    help = "Add an outbound webhook (JSON or Slack) and print its signing secret on the last line."

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="The workspace's slug.")
        parser.add_argument("url", help="Where events are posted (http or https).")
        parser.add_argument(
            "--events",
            default="",
            help="Comma-separated event types or signal kinds (payment_failed,task.created); "
            "all events when omitted.",
        )
        parser.add_argument("--format", choices=OutboundFormat.values, default="json")

    def handle(self, *args, **options):
        workspace = Workspace.objects.filter(slug=options["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace with the slug “{options['workspace']}”.")
        try:
            webhook, secret = outbound_webhook_create(
                workspace=workspace,
                actor="manage.py outbound_webhook_add",
                url=options["url"],
                event_types=event_types_parse(options["events"]),
                format=options["format"],
            )
        except crypto.EncryptionNotConfigured as error:
            raise CommandError(str(error)) from None
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        events = ", ".join(webhook.event_types) or "all events"
        self.stdout.write(f"Webhook {webhook.uuid} posts {events} to {webhook.url}.")
        self.stdout.write(f"SECRET={secret}")
