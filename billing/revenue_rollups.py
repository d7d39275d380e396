"""Daily rollups of the revenue figures, kept equal to the rows they add up.

MrrDailyRollup adds up MrrMovement per day, kind and currency; RecoveryDailyRollup adds up
FailedInvoice per day of first failure and currency, by outcome. Whoever rewrites those rows
passes what they were and what they are now; the difference is added to the rollups in the same
transaction (at the end of a processing batch when one is open: custory.batching), with
commutative increments, so concurrent workers never lose each other's changes.
`revenue_rollups_rebuild` recomputes a workspace's rollups from scratch.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime

from django.db import IntegrityError, models, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate

from billing.revenue_models import (
    FailedInvoice,
    MrrDailyRollup,
    MrrMovement,
    RecoveryDailyRollup,
)
from custory.batching import batch_defer
from custory.bulk_sql import rows_add

RECOVERED = Q(paid_at__isnull=False)
LOST = Q(paid_at__isnull=True, lost_at__isnull=False)
IN_DUNNING = Q(paid_at__isnull=True, lost_at__isnull=True)
RECOVERY_FIELDS = (
    "invoices",
    "attempts",
    "amount",
    "recovered",
    "amount_recovered",
    "in_dunning",
    "amount_in_dunning",
    "lost",
    "amount_lost",
)


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


# MRR movements ----------------------------------------------------------------------------


def _mrr_key(movement: MrrMovement) -> tuple:
    return (
        ("workspace_id", movement.workspace_id),
        ("connection_id", movement.connection_id),
        ("livemode", movement.livemode),
        ("day", utc_day(movement.at)),
        ("kind", movement.kind),
        ("currency", movement.currency),
    )


def mrr_rollups_change(*, removed: Iterable[MrrMovement], added: Iterable[MrrMovement]) -> None:
    """Take `removed` movements out of the daily rollups and count `added` ones in; a
    customer's rebuild that only appends a movement changes one row."""
    deltas: dict[tuple, list[int]] = {}
    for sign, movements in ((-1, removed), (1, added)):
        for movement in movements:
            delta = deltas.setdefault(_mrr_key(movement), [0, 0])
            delta[0] += sign
            delta[1] += sign * movement.amount
    changes = {key: {"count": c, "amount": a} for key, (c, a) in deltas.items() if c or a}
    _rollups_change(MrrDailyRollup, changes, emptied="count")


# Failed invoices --------------------------------------------------------------------------


def recovery_snapshot(row: FailedInvoice) -> tuple[tuple, dict[str, int]] | None:
    """The rollup key and figures one failed invoice adds (None before its first failure)."""
    if row.first_failed_at is None:
        return None
    key = (
        ("workspace_id", row.workspace_id),
        ("connection_id", row.connection_id),
        ("livemode", row.livemode),
        ("day", utc_day(row.first_failed_at)),
        ("currency", row.currency or ""),
    )
    figures = dict.fromkeys(RECOVERY_FIELDS, 0)
    figures.update(invoices=1, attempts=row.attempts, amount=row.amount)
    if row.paid_at is not None:
        figures.update(recovered=1, amount_recovered=row.amount_paid)
    elif row.lost_at is not None:
        figures.update(lost=1, amount_lost=row.amount)
    else:
        figures.update(in_dunning=1, amount_in_dunning=row.amount)
    return key, figures


def recovery_rollups_change(*, before, after) -> None:
    """Count a failed invoice's change (two recovery_snapshot results) in the rollups."""
    changes: dict[tuple, dict[str, int]] = {}
    for sign, snapshot in ((-1, before), (1, after)):
        if snapshot is None:
            continue
        key, figures = snapshot
        delta = changes.setdefault(key, dict.fromkeys(RECOVERY_FIELDS, 0))
        for name, value in figures.items():
            delta[name] += sign * value
    changes = {k: d for k, d in changes.items() if any(d.values())}
    _rollups_change(RecoveryDailyRollup, changes, emptied="invoices")


# Writing ----------------------------------------------------------------------------------


def _rollups_change(model, changes: dict[tuple, dict[str, int]], *, emptied: str) -> None:
    """Add each change to its row: at once, or summed per row until the processing batch ends."""
    if not changes:
        return
    pending = batch_defer(f"billing.rollups.{model._meta.model_name}", _flusher(model, emptied))
    if pending is None:
        _rollups_write(model, changes, emptied)
        return
    for key, delta in changes.items():
        total = pending.setdefault(key, dict.fromkeys(delta, 0))
        for name, value in delta.items():
            total[name] += value


def _flusher(model, emptied: str):
    return lambda pending: _rollups_write(model, pending, emptied)


def _rollups_write(model, changes: dict[tuple, dict[str, int]], emptied: str) -> None:
    """Additions go in together (one INSERT … ON CONFLICT DO UPDATE per run of them); a change
    that takes anything away goes row by row, and a row it empties is deleted."""
    counts = [f.name for f in model._meta.fields if isinstance(f, models.PositiveIntegerField)]
    # One order for every worker, so two transactions never wait on each other's rows.
    additions: list[tuple[tuple, dict[str, int]]] = []
    for key in sorted(changes, key=repr):
        figures = changes[key]
        # An upsert's new row must pass the counts' checks even when it adds to a stored one.
        if figures.get(emptied, 0) > 0 and all(figures.get(name, 0) >= 0 for name in counts):
            additions.append((key, figures))
            continue
        _rollups_add(model, additions)
        additions = []
        delta = {name: value for name, value in figures.items() if value}
        if delta:
            _rollup_add(model, dict(key), delta, emptied)
    _rollups_add(model, additions)


# Each rollup's unique constraint, as the conflict target of its upsert.
ROLLUP_CONFLICTS = {
    MrrDailyRollup: "(workspace_id, COALESCE(connection_id, 0), livemode, day, kind, currency)",
    RecoveryDailyRollup: "(workspace_id, COALESCE(connection_id, 0), livemode, day, currency)",
}


def _rollups_add(model, additions: list[tuple[tuple, dict[str, int]]]) -> None:
    """Add (key, figures) pairs to their rollup rows, creating the missing ones."""
    if additions:
        rows = [{**dict(key), **figures} for key, figures in additions]
        rows_add(model, rows, conflict=ROLLUP_CONFLICTS[model], added=list(additions[0][1]))


def _rollup_key_filter(key: dict) -> dict:
    # NULL never equals NULL in SQL: a row without a connection is matched with isnull.
    lookup = dict(key)
    if lookup.get("connection_id") is None:
        lookup.pop("connection_id", None)
        lookup["connection__isnull"] = True
    return lookup


def _rollup_add(model, key: dict, delta: dict[str, int], emptied: str) -> None:
    rows = model.objects.filter(**_rollup_key_filter(key))
    if rows.update(**{name: F(name) + value for name, value in delta.items()}):
        if delta.get(emptied, 0) < 0:
            rows.filter(**{emptied: 0}).delete()
        return
    if delta.get(emptied, 0) <= 0:
        return  # nothing counted there yet: a removal of what was never added
    try:
        with transaction.atomic():
            model.objects.create(**key, **delta)
    except IntegrityError:
        # Another worker created the row between our update and insert.
        rows.update(**{name: F(name) + value for name, value in delta.items()})


# Rebuilding -------------------------------------------------------------------------------


def revenue_rollups_rebuild(*, workspace) -> None:
    """Recompute the workspace's revenue rollups from its movements and failed invoices."""
    MrrDailyRollup.objects.filter(workspace=workspace).delete()
    RecoveryDailyRollup.objects.filter(workspace=workspace).delete()
    day = TruncDate("at", tzinfo=UTC)
    movements = (
        MrrMovement.objects.filter(workspace=workspace)
        .annotate(day=day)
        .values("connection_id", "livemode", "day", "kind", "currency")
        .order_by()
        .annotate(n=Count("id"), total=Sum("amount"))
    )
    MrrDailyRollup.objects.bulk_create(
        [
            MrrDailyRollup(
                workspace=workspace,
                connection_id=row["connection_id"],
                livemode=row["livemode"],
                day=row["day"],
                kind=row["kind"],
                currency=row["currency"],
                count=row["n"],
                amount=row["total"] or 0,
            )
            for row in movements
        ],
        batch_size=2000,
    )
    RecoveryDailyRollup.objects.bulk_create(
        [
            RecoveryDailyRollup(workspace=workspace, **row)
            for row in recovery_aggregates(
                FailedInvoice.objects.filter(workspace=workspace, first_failed_at__isnull=False)
            )
        ],
        batch_size=2000,
    )


def cohort_aggregates() -> dict:
    """The recovery figures (RECOVERY_FIELDS) of a set of failed invoices, as SQL aggregates."""
    return {
        "invoices": Count("id"),
        "attempts": Sum("attempts"),
        "amount": Sum("amount"),
        "recovered": Count("id", filter=RECOVERED),
        "amount_recovered": Sum("amount_paid", filter=RECOVERED),
        "in_dunning": Count("id", filter=IN_DUNNING),
        "amount_in_dunning": Sum("amount", filter=IN_DUNNING),
        "lost": Count("id", filter=LOST),
        "amount_lost": Sum("amount", filter=LOST),
    }


def recovery_aggregates(rows: models.QuerySet) -> list[dict]:
    """Failed invoices added up per connection, mode, day of first failure and currency."""
    aggregates = cohort_aggregates()
    # Aliased: an aggregate may not share its name with a field it sums.
    grouped = (
        rows.annotate(first_day=TruncDate("first_failed_at", tzinfo=UTC))
        .values("connection_id", "livemode", "first_day", "currency")
        .order_by()
        .annotate(**{f"n_{name}": aggregate for name, aggregate in aggregates.items()})
    )
    return [
        {
            "connection_id": row["connection_id"],
            "livemode": row["livemode"],
            "day": row["first_day"],
            "currency": row["currency"],
            **{name: row[f"n_{name}"] or 0 for name in aggregates},
        }
        for row in grouped
    ]
