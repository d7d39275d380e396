"""Import a connection's Stripe history in this process, with a progress bar; running it again
after a crash, a cancel or a restart continues the same import from its cursors."""

import time
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from billing.models import HistoryImport, ImportStatus
from billing.pipeline import connections
from billing.pipeline.history.cli import connection_pick, progress_line
from billing.pipeline.history.runner import import_claim, import_run, new_owner

ACTOR = "manage.py stripe_import"


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise CommandError(f"--since must be a date as YYYY-MM-DD, not “{value}”.") from None


class Command(BaseCommand):
    help = "Import a Stripe account's history from its objects, then its last 30 days of events."

    def add_arguments(self, parser):
        parser.add_argument("workspace", help="The workspace's slug.")
        parser.add_argument("--since", help="Only objects created from this date (YYYY-MM-DD).")
        parser.add_argument("--label", default="", help="Which connection, when there are several.")

    def handle(self, *args, **options):
        connection = connection_pick(options["workspace"], options["label"])
        history_import = self._import_for(connection, _since(options["since"]))
        owner = new_owner()
        if not import_claim(import_id=history_import.pk, owner=owner):
            raise CommandError(
                f"Import {history_import.pk} is running in another process "
                f"({history_import.owner}); cancel it from the connection page or wait for it."
            )
        self.stdout.write(
            f"Import {history_import.pk} of “{connection.label}” ({connection.mode_label})."
        )
        self._last = 0.0
        outcome = import_run(import_id=history_import.pk, owner=owner, progress=self._progress)
        history_import.refresh_from_db()
        self._progress(history_import, force=True)
        self.stdout.write("")
        if outcome != ImportStatus.DONE:
            reason = history_import.last_error or "it was stopped"
            raise CommandError(f"The import did not complete ({history_import.status}): {reason}")
        self.stdout.write(self.style.SUCCESS("Import complete."))

    def _import_for(self, connection, since) -> HistoryImport:
        """The unfinished import to continue, else a new one."""
        latest = connection.imports.order_by("-created_at").first()
        if latest is not None and latest.is_running:
            return latest
        try:
            if (
                latest is not None
                and latest.status in (ImportStatus.CANCELED, ImportStatus.FAILED)
                and (since is None or since == latest.since)
            ):
                connections.history_import_resume(history_import=latest, actor=ACTOR, enqueue=False)
                latest.refresh_from_db()
                return latest
            return connections.history_import_start(
                connection=connection, actor=ACTOR, since=since, enqueue=False
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None

    def _progress(self, history_import: HistoryImport, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.5:
            return
        self._last = now
        line = progress_line(history_import)
        if self.stdout.isatty():
            self.stdout.write(f"\r{line}", ending="")
        else:
            self.stdout.write(line)
