"""Placing revenue signals on journey steps by mapping rules, and keeping per-step rollups.

Runs inside the processing transaction (billing.pipeline.apply), so a signal, its placements and the
rollups that count it commit together.
"""

from collections import defaultdict
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import F

from billing.models import RevenueSignal
from custory.batching import batch_defer, batch_memo
from custory.bulk_sql import rows_add, rows_insert
from journeys.conditions import signal_matches
from journeys.models import Journey, MappingRule, SignalPlacement, StepDailyRollup


def rules_by_journey(workspace_id: int) -> dict[int, list[MappingRule]]:
    rules: dict[int, list[MappingRule]] = defaultdict(list)
    for rule in MappingRule.objects.filter(workspace_id=workspace_id, enabled=True).order_by(
        "priority", "id"
    ):
        rules[rule.journey_id].append(rule)
    return rules


def choose_rule(rules: Iterable[MappingRule], signal: RevenueSignal) -> MappingRule | None:
    """The first rule, by priority, whose kinds and conditions the signal meets."""
    for rule in rules:
        if signal.kind in rule.kinds and signal_matches(rule.conditions or {}, signal):
            return rule
    return None


def rollup_add(*, placement: SignalPlacement, signal: RevenueSignal, sign: int = 1) -> None:
    """Add (sign=1) or remove (sign=-1) one signal to its placement's daily rollup row."""
    key = _rollup_key(placement, signal)
    _rollup_change(key, sign, sign * (signal.amount or 0), sign * signal.mrr_delta, signal.livemode)


def _rollup_key(placement: SignalPlacement, signal: RevenueSignal) -> tuple:
    return (
        ("workspace_id", signal.workspace_id),
        ("journey_id", placement.journey_id),
        ("step_id", placement.step_id),
        ("connection_id", signal.connection_id),
        ("day", signal.occurred_at.date()),
        ("kind", signal.kind),
        ("currency", signal.currency or ""),
    )


def _rollup_change(key: tuple, count: int, amount: int, mrr_delta: int, livemode: bool) -> None:
    key = dict(key)
    changes = {
        "count": F("count") + count,
        "amount": F("amount") + amount,
        "mrr_delta": F("mrr_delta") + mrr_delta,
    }
    if StepDailyRollup.objects.filter(**key).update(**changes):
        if count < 0:
            # An emptied row would show as a zero on the board; a later +1 recreates it.
            StepDailyRollup.objects.filter(**key, count=0).delete()
        return
    if count < 0:
        return
    try:
        with transaction.atomic():
            StepDailyRollup.objects.create(
                **key, livemode=livemode, count=count, amount=amount, mrr_delta=mrr_delta
            )
    except IntegrityError:
        # Another worker created the row between our update and insert.
        StepDailyRollup.objects.filter(**key).update(**changes)


def _rollups_add(placements: list[SignalPlacement]) -> None:
    """Count new placements in the rollups: at once, or summed per row and written at the end
    of the processing group (custory.batching.deferred_writes), in one order for every worker."""
    pending = batch_defer("journeys.rollups", _rollups_flush)
    if pending is None:
        for placement in placements:
            rollup_add(placement=placement, signal=placement.signal)
        return
    for placement in placements:
        signal = placement.signal
        key = _rollup_key(placement, signal)
        count, amount, mrr_delta, livemode = pending.get(key, (0, 0, 0, signal.livemode))
        pending[key] = (
            count + 1,
            amount + (signal.amount or 0),
            mrr_delta + signal.mrr_delta,
            livemode,
        )


def _rollups_flush(pending: dict) -> None:
    """Add a group's summed placements to their rollup rows: one INSERT … ON CONFLICT DO UPDATE
    (rows in one order for every worker, so two groups wait for, not deadlock with, each other)."""
    rows = []
    for key in sorted(pending, key=repr):
        count, amount, mrr_delta, livemode = pending[key]
        rows.append(dict(key, livemode=livemode, count=count, amount=amount, mrr_delta=mrr_delta))
    rows_add(
        StepDailyRollup,
        rows,
        # The unique index journeys_rollup_unique, expressions included.
        conflict="(journey_id, COALESCE(step_id, 0), COALESCE(connection_id, 0), day, kind, "
        "currency)",
        added=("count", "amount", "mrr_delta"),
    )


def _journeys_and_rules(workspace_id: int) -> tuple[list[Journey], dict[int, list[MappingRule]]]:
    return batch_memo(
        ("journeys.placement", workspace_id),
        lambda: (
            list(Journey.objects.filter(workspace_id=workspace_id)),
            rules_by_journey(workspace_id),
        ),
    )


def _placement_save(placement: SignalPlacement) -> bool:
    try:
        with transaction.atomic():
            placement.save()
    except IntegrityError:
        return False  # already placed in this journey
    return True


def place_signals(*, signals: list[RevenueSignal]) -> list[SignalPlacement]:
    """Place each new signal in every journey of its workspace (Unmapped lane when no rule
    claims it), and count it in the rollups."""
    placements: list[SignalPlacement] = []
    for signal in signals:
        journeys, rules = _journeys_and_rules(signal.workspace_id)
        for journey in journeys:
            rule = choose_rule(rules.get(journey.id, []), signal)
            placements.append(
                SignalPlacement(
                    workspace_id=signal.workspace_id,
                    signal=signal,
                    journey=journey,
                    step_id=rule.step_id if rule else None,
                    rule=rule,
                )
            )
    if not placements:
        return []
    try:
        # New signals have no placements yet: one insert for all of them.
        with transaction.atomic():
            rows_insert(SignalPlacement, placements)
    except IntegrityError:
        # Some were placed before (a signal placed again): place one at a time.
        placements = [placement for placement in placements if _placement_save(placement)]
    _rollups_add(placements)
    return placements


def journey_rules(journey: Journey) -> list[MappingRule]:
    """A journey's enabled rules in the order they are tried."""
    return list(journey.mapping_rules.filter(enabled=True).order_by("priority", "id"))


def signals_replace(
    *, journey: Journey, signals: list[RevenueSignal], rules: list[MappingRule]
) -> int:
    """Re-place signals in one journey by its current rules; returns how many moved.

    Call inside a transaction: the placements are locked (PostgreSQL) so two remaps of the same
    signals cannot both move them, and every move takes the signal out of its old rollup row and
    into the new one, so rollups stay equal to the placements.
    """
    placements = {
        placement.signal_id: placement
        for placement in SignalPlacement.objects.select_for_update().filter(
            journey=journey, signal__in=[signal.pk for signal in signals]
        )
    }
    moved = 0
    for signal in signals:
        rule = choose_rule(rules, signal)
        step_id = rule.step_id if rule else None
        placement = placements.get(signal.pk)
        if placement is None:
            placement = SignalPlacement(
                workspace_id=signal.workspace_id,
                signal=signal,
                journey=journey,
                step_id=step_id,
                rule=rule,
            )
            try:
                with transaction.atomic():
                    placement.save()
            except IntegrityError:
                continue  # placed meanwhile by the processing job, with the same rules
            rollup_add(placement=placement, signal=signal)
            moved += 1
            continue
        if placement.step_id == step_id:
            if placement.rule_id != (rule.pk if rule else None):
                placement.rule = rule
                placement.save(update_fields=["rule"])
            continue
        rollup_add(placement=placement, signal=signal, sign=-1)
        placement.step_id = step_id
        placement.rule = rule
        placement.save(update_fields=["step", "rule"])
        rollup_add(placement=placement, signal=signal)
        moved += 1
    return moved


def placements_move(*, journey: Journey, from_step_id: int, to_step_id: int | None) -> int:
    """Move every placement (and its rollup rows) of one step to another step or Unmapped."""
    rows = list(
        StepDailyRollup.objects.select_for_update().filter(journey=journey, step_id=from_step_id)
    )
    for row in rows:
        key = {
            "workspace_id": row.workspace_id,
            "journey_id": row.journey_id,
            "step_id": to_step_id,
            "connection_id": row.connection_id,
            "day": row.day,
            "kind": row.kind,
            "currency": row.currency,
        }
        changes = {
            "count": F("count") + row.count,
            "amount": F("amount") + row.amount,
            "mrr_delta": F("mrr_delta") + row.mrr_delta,
        }
        if not StepDailyRollup.objects.filter(**key).update(**changes):
            StepDailyRollup.objects.create(
                **key,
                livemode=row.livemode,
                count=row.count,
                amount=row.amount,
                mrr_delta=row.mrr_delta,
            )
        row.delete()
    return SignalPlacement.objects.filter(journey=journey, step_id=from_step_id).update(
        step_id=to_step_id, rule=None
    )
