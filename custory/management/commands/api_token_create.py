"""Create an API token for a member of a workspace; the token alone is the last line printed."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from custory.models import TokenScope, User, Workspace
from custory.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token: api_token_create <slug> <email> [--scope read|write] [--name NAME]"

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("email")
        parser.add_argument("--scope", choices=TokenScope.values, default=TokenScope.READ)
        parser.add_argument("--name", default="Command line")

    def handle(self, *args, slug, email, scope, name, **options):
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug {slug!r}.")
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No user with email {email!r}.")
        try:
            token, key = api_token_create(workspace=workspace, user=user, name=name, scope=scope)
        except ValidationError as error:
            raise CommandError(error.messages[0]) from error
        self.stderr.write(
            f"Token “{token.name}” ({token.scope}) for {user.email} in {workspace.slug}; "
            "it is shown once:"
        )
        self.stdout.write(key)
