"""What the stripe_import and stripe_reconcile commands share: picking the connection, and the
import's progress as one line of text."""

from django.core.management.base import CommandError

from billing.models import HistoryImport, StripeConnection
from custory.models import Workspace

BAR_WIDTH = 24


def connection_pick(slug: str, label: str) -> StripeConnection:
    """The workspace's one active connection (or the one with `label`), else a CommandError."""
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise CommandError(f"No workspace with the slug “{slug}”.")
    active = StripeConnection.objects.for_workspace(workspace).active()
    if label:
        active = active.filter(label=label.strip())
    candidates = list(active)
    if not candidates:
        which = f" labeled “{label}”" if label else ""
        raise CommandError(f"Workspace “{workspace.slug}” has no active connection{which}.")
    if len(candidates) > 1:
        labels = ", ".join(f"“{c.label}” ({c.mode_label})" for c in candidates)
        raise CommandError(f"Several active connections; choose one with --label: {labels}.")
    return candidates[0]


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--:--"
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def progress_line(history_import: HistoryImport) -> str:
    """[#####-----]  42% customers 120 · invoices 900 · … signals 300 · errors 0 · time."""
    share = min(max(history_import.done_fraction, 0.0), 1.0)
    filled = int(share * BAR_WIDTH)
    counts = " · ".join(f"{name} {count:,}" for name, count in history_import.counts.items())
    return (
        f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {share:4.0%} "
        f"{counts or 'starting'} | signals {history_import.signals_made:,} · "
        f"errors {history_import.errors} | {duration(history_import.elapsed_seconds)} elapsed, "
        f"~{duration(history_import.remaining_seconds)} left"
    )
