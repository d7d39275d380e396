"""Create (or refresh) the demo workspace with its three users; safe to run again and again."""

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test import override_settings

from billing.pipeline.demo import demo_seed
from custory import services
from custory.models import Membership, Role, User, Workspace

DEMO_USERS = [
    ("demo@custory.local", "Dana Demo", Role.ADMIN),
    ("member@custory.local", "Milo Member", Role.MEMBER),
    ("support@custory.local", "Sam Support", Role.SUPPORT),
]


class Command(BaseCommand):
    help = "Create the demo workspace 'demo' with an admin, a member and a support user."

    def add_arguments(self, parser):
        parser.add_argument("--password", default="custory-demo", help="password for all three")
        parser.add_argument(
            "--quiet",
            action="store_true",
            help="one progress line, no sign-in lines and no demo emails (bin/run prints its own)",
        )

    def handle(self, *args, password: str, quiet: bool = False, **options):
        with transaction.atomic():
            users = {}
            for email, name, role in DEMO_USERS:
                user, _ = User.objects.get_or_create(email=email, defaults={"name": name})
                user.set_password(password)
                user.save()
                self._verify_email(user)
                users[role] = user
            workspace = Workspace.objects.filter(slug="demo").first()
            if workspace is None:
                workspace = services.workspace_create(
                    name="Demo SaaS", owner=users[Role.ADMIN], slug="demo"
                )
            for role, user in users.items():
                Membership.objects.update_or_create(
                    workspace=workspace, user=user, defaults={"role": role}
                )
        if quiet:
            # The demo's task-assignment emails would bury bin/run's own lines.
            with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
                self.seed_billing(workspace, progress=self._progress)
            return
        self.seed_billing(workspace)
        self.stdout.write(
            self.style.SUCCESS(f"Demo workspace ready: {settings.SITE_URL}/w/{workspace.slug}/")
        )
        for email, _, role in DEMO_USERS:
            self.stdout.write(f"  {role:8} {email} / {password}")

    def _verify_email(self, user):
        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )

    def _progress(self, done: int, total: int) -> None:
        """One line, rewritten in place: "Seeding the demo: 1,200 of 5,400 events (22%)"."""
        share = f" ({done * 100 // total}%)" if total else ""
        self.stdout.write(f"\r==> Seeding the demo: {done:,} of {total:,} events{share}", ending="")
        self.stdout.flush()

    def seed_billing(self, workspace, progress=None):
        """Six months of demo Stripe history, stored and processed as webhooks would be."""
        admin = Membership.objects.filter(workspace=workspace, role=Role.ADMIN).first()
        if progress is not None:
            self.stdout.write("==> Seeding the demo: storing six months of events", ending="")
            self.stdout.flush()
        stored, processed = demo_seed(
            workspace=workspace, actor=admin.user if admin else None, progress=progress
        )
        if progress is not None:
            self.stdout.write(f"\r==> Demo seeded: {stored:,} new events, {processed:,} processed.")
            return
        self.stdout.write(f"  Stripe demo history: {stored} new events, {processed} processed")
