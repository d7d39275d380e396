"""Task rules: opening, deduplicating and auto-closing follow-up tasks from new signals.

Called by billing.pipeline.apply right after placement, inside the processing transaction
(never in the webhook request). A rule acts on a signal at most once: every action leaves a
TaskSignal row and
the constraint tasks_rule_fires_once_per_signal refuses a second one, however often an event is
reprocessed. The constraint tasks_one_open_task_per_rule_and_customer keeps one open task per
rule and customer, so repeated signals attach to it instead of opening another.

Only signals from the last OPENS_WITHIN open tasks: an imported history (Stripe keeps 30 days of
events) becomes a short list of things still worth doing, not a backlog of stale ones. Older
signals still close and annotate open tasks.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.models import RevenueSignal
from custory.batching import batch_defer, batch_memo
from custory.models import Membership, User
from custory.money import money_format
from journeys.models import SignalPlacement, Step
from tasks import emails
from tasks.conditions import conditions_met
from tasks.models import FollowUpTask, TaskComment, TaskRule, TaskSignal, TaskSignalReason
from tasks.selectors import default_steps_for_signals, kind_phrase, signal_placeholders, step_label
from tasks.services import TaskOpening, task_status_set, tasks_create
from tasks.templating import template_render

OPENS_WITHIN = timedelta(days=30)


def task_rules_apply(*, signals: list[RevenueSignal]) -> None:
    """Run the workspace's task rules over newly created signals, once per signal.

    In a processing group (custory.batching.deferred_writes) the signals of all its events are
    collected and the rules run once over them at the group's end, in the same transaction and
    in the same (occurred_at, id) order, so the lookups are made once per group, not per event.
    """
    pending = batch_defer("tasks.rules", _rules_flush)
    if pending is not None:
        pending.setdefault("signals", []).extend(signals)
        return
    _rules_apply(signals)


def _rules_flush(pending: dict) -> None:
    _rules_apply(pending.get("signals", []))


def _rules_apply(signals: list[RevenueSignal]) -> None:
    by_workspace: dict[int, list[RevenueSignal]] = defaultdict(list)
    for signal in signals:
        by_workspace[signal.workspace_id].append(signal)
    for workspace_id, workspace_signals in by_workspace.items():
        _apply_workspace(workspace_id, workspace_signals)


def _enabled_rules(workspace_id: int) -> list[TaskRule]:
    return batch_memo(
        ("tasks.automation", workspace_id),
        lambda: list(
            TaskRule.objects.filter(workspace_id=workspace_id, enabled=True)
            .select_related("workspace")
            .order_by("id")
        ),
    )


def _acting_pairs(
    rules: list[TaskRule], signals: list[RevenueSignal]
) -> list[tuple[RevenueSignal, TaskRule]]:
    """The (signal, rule) pairs that can do something, in (occurred_at, id) order: only they
    cost queries and a savepoint."""
    opens_after = timezone.now() - OPENS_WITHIN
    return [
        (signal, rule)
        for signal in sorted(signals, key=lambda signal: (signal.occurred_at, signal.id))
        for rule in rules
        if _acts_on(rule, signal, opens_after=opens_after)
    ]


def _opening_signals(pairs: list[tuple[RevenueSignal, TaskRule]]) -> list[RevenueSignal]:
    """The signals a rule may open a task for. Steps matter to those only (the conditions and
    the task's text): an imported history's old signals mostly close or annotate."""
    return list(
        {signal.id: signal for signal, rule in pairs if not _closes_or_notes(rule, signal)}.values()
    )


def _apply_workspace(workspace_id: int, signals: list[RevenueSignal]) -> None:
    rules = _enabled_rules(workspace_id)
    pairs = _acting_pairs(rules, signals)
    if not pairs:
        return
    acting = list({signal.id: signal for signal, _ in pairs}.values())
    already = set(
        TaskSignal.objects.filter(rule__in=rules, signal__in=acting).values_list(
            "rule_id", "signal_id"
        )
    )
    opening = _opening_signals(pairs)
    default_steps = default_steps_for_signals(opening)
    placed_on = _placed_step_uuids(opening)
    # Closing and noting act only on an open task: one query says which (rule, customer) pairs
    # may have one, instead of a query and a savepoint per pair.
    maybe_open = set(
        FollowUpTask.objects.filter(
            rule__in=rules, customer_id__in={signal.customer_id for signal in acting}
        )
        .open()
        .values_list("rule_id", "customer_id")
    )
    repeats = _RepeatCounts.of_pairs(pairs)
    for signal in acting:
        # Every rule here is this workspace's: its link reads the slug without a query.
        signal.workspace = rules[0].workspace
    openings: list[_Pair] = []
    for signal, rule in pairs:
        if (rule.id, signal.id) in already:
            continue
        needs_task = _closes_or_notes(rule, signal)
        task_may_exist = (rule.id, signal.customer_id) in maybe_open
        if needs_task and not task_may_exist:
            continue
        pair = _Pair(rule, signal, default_steps.get(signal.id), repeats.counter(signal))
        if not needs_task:
            # Checked before the savepoint: most signals meet no rule's conditions.
            met = conditions_met(
                rule.conditions or {},
                signal,
                step_uuids=placed_on[signal.id],
                repeat_count=pair.repeat_count,
            )
            if not met:
                continue
            maybe_open.add((rule.id, signal.customer_id))
            if not task_may_exist:
                openings.append(pair)
                continue
        # The tasks opened so far come first: this pair may act on one of them.
        _tasks_open(openings)
        _pair_apply(pair, task_may_exist=task_may_exist)
    _tasks_open(openings)


class _Pair(NamedTuple):
    """A rule acting on a signal, with what it needs to know of the signal's journey."""

    rule: TaskRule
    signal: RevenueSignal
    step: Step | None
    repeat_count: Callable[[int], int]


def _pair_apply(pair: _Pair, *, task_may_exist: bool) -> None:
    try:
        with transaction.atomic():
            _apply_rule(
                pair.rule,
                pair.signal,
                step=pair.step,
                repeat_count=pair.repeat_count,
                task_may_exist=task_may_exist,
            )
    except IntegrityError:
        # Another worker acted on this (rule, signal) first; its result stands.
        pass


def _tasks_open(openings: list[_Pair]) -> None:
    """Open the tasks of pairs that know of no open task of their rule for their customer, in
    one insert each for tasks, links and audit entries; then forget them. When another worker
    opened one of those tasks meanwhile, each pair opens or joins its task alone instead."""
    if not openings:
        return
    try:
        with transaction.atomic():
            # One workspace's pairs (_apply_workspace).
            workspace = openings[0].rule.workspace
            tasks_create(workspace=workspace, openings=[_task_opening(pair) for pair in openings])
    except IntegrityError:
        for pair in openings:
            _pair_apply(pair, task_may_exist=False)
    openings.clear()


def _placed_step_uuids(signals: list[RevenueSignal]) -> dict[int, set[str]]:
    """The steps (uuids) each signal is placed on, in any journey."""
    placed_on: dict[int, set[str]] = defaultdict(set)
    for signal_id, step_uuid in SignalPlacement.objects.filter(
        signal__in=signals, step__isnull=False
    ).values_list("signal_id", "step__uuid"):
        placed_on[signal_id].add(str(step_uuid))
    return placed_on


class _RepeatCounts:
    """When these signals' customers had signals of their kinds (in the `days` before each),
    read in one query, so repeat conditions count in memory instead of a query per signal."""

    def __init__(self, signals: list[RevenueSignal], *, days: int):
        self.covered = {signal.id for signal in signals if signal.customer_id}
        self.times: dict[tuple[int, str], list] = defaultdict(list)
        signals = [signal for signal in signals if signal.customer_id]
        if not signals:
            return
        window = timedelta(days=days)
        for customer_id, kind, occurred_at in RevenueSignal.objects.filter(
            customer_id__in={signal.customer_id for signal in signals},
            kind__in={signal.kind for signal in signals},
            occurred_at__gt=min(signal.occurred_at for signal in signals) - window,
            occurred_at__lte=max(signal.occurred_at for signal in signals),
        ).values_list("customer_id", "kind", "occurred_at"):
            self.times[customer_id, kind].append(occurred_at)
        for times in self.times.values():
            times.sort()

    @classmethod
    def of_pairs(cls, pairs: list[tuple[RevenueSignal, TaskRule]]) -> "_RepeatCounts":
        """For the signals of (signal, rule) pairs whose rule counts repeats."""
        repeating = [
            (signal, rule)
            for signal, rule in pairs
            if (rule.conditions or {}).get("repeat_days") and signal.kind in rule.kinds
        ]
        days = max((rule.conditions["repeat_days"] for _, rule in repeating), default=0)
        return cls([signal for signal, _ in repeating], days=days)

    def counter(self, signal: RevenueSignal) -> Callable[[int], int]:
        """count(days): the customer's signals of this kind in the days up to this one's."""
        if signal.id not in self.covered:
            return _repeat_counter(signal)
        times = self.times[signal.customer_id, signal.kind]

        def count(days: int) -> int:
            after = signal.occurred_at - timedelta(days=days)
            return bisect_right(times, signal.occurred_at) - bisect_right(times, after)

        return count


def _closes_or_notes(rule: TaskRule, signal: RevenueSignal) -> bool:
    return signal.kind in rule.resolve_kinds or signal.kind in rule.annotate_kinds


def _acts_on(rule: TaskRule, signal: RevenueSignal, *, opens_after) -> bool:
    if _closes_or_notes(rule, signal):
        return True
    return signal.kind in rule.kinds and signal.occurred_at >= opens_after


def _apply_rule(
    rule: TaskRule,
    signal: RevenueSignal,
    *,
    step: Step | None,
    repeat_count: Callable[[int], int],
    task_may_exist: bool = True,
) -> None:
    if signal.kind in rule.resolve_kinds:
        _resolve(rule, signal)
    elif signal.kind in rule.annotate_kinds:
        _annotate(rule, signal)
    elif signal.kind in rule.kinds and signal.occurred_at >= timezone.now() - OPENS_WITHIN:
        _open_or_attach(
            rule, signal, step=step, repeat_count=repeat_count, task_may_exist=task_may_exist
        )


def _open_task(rule: TaskRule, signal: RevenueSignal) -> FollowUpTask | None:
    if signal.customer_id is None:
        return None
    return (
        FollowUpTask.objects.filter(rule=rule, customer_id=signal.customer_id)
        .open()
        .select_related("signal")
        .first()
    )


def _signal_sentence(signal: RevenueSignal) -> str:
    text = f"{signal.get_kind_display()} on {signal.occurred_at:%d %b %Y %H:%M} UTC"
    if signal.amount is not None:
        text += f" ({money_format(signal.amount, signal.currency)})"
    return text


def _link(task: FollowUpTask, rule: TaskRule, signal: RevenueSignal, reason: str) -> None:
    TaskSignal.objects.create(task=task, signal=signal, rule=rule, reason=reason)


def _comment(task: FollowUpTask, body: str) -> None:
    TaskComment.objects.create(task=task, body=body, is_system=True)
    FollowUpTask.objects.filter(pk=task.pk).update(updated_at=timezone.now())


def _repeat_counter(signal: RevenueSignal):
    def count(days: int) -> int:
        return RevenueSignal.objects.filter(
            customer_id=signal.customer_id,
            kind=signal.kind,
            occurred_at__gt=signal.occurred_at - timedelta(days=days),
            occurred_at__lte=signal.occurred_at,
        ).count()

    return count


def _members(workspace_id: int, **match) -> list[Membership]:
    """The workspace's memberships matching `match` (a role or a user), by when they joined:
    read once per processing batch, not once per task."""
    return batch_memo(
        ("tasks.members", workspace_id, *sorted(match.items())),
        lambda: list(
            Membership.objects.filter(workspace_id=workspace_id, **match)
            .select_related("user")
            .order_by("created_at", "id")
        ),
    )


def _next_assignee(rule: TaskRule) -> User | None:
    """The rule's member, or the next member of its role in turn (by when they joined)."""
    if rule.assignment == TaskRule.Assignment.MEMBER and rule.assignee_id:
        members = _members(rule.workspace_id, user_id=rule.assignee_id)
        return members[0].user if members else None
    if rule.assignment != TaskRule.Assignment.ROUND_ROBIN or not rule.assign_role:
        return None
    members = _members(rule.workspace_id, role=rule.assign_role)
    if not members:
        return None
    # The update takes the rule's row lock, so concurrent workers take distinct turns.
    TaskRule.objects.filter(pk=rule.pk).update(round_robin_cursor=F("round_robin_cursor") + 1)
    rule.refresh_from_db(fields=["round_robin_cursor"])
    return members[(rule.round_robin_cursor - 1) % len(members)].user


def _open_or_attach(
    rule: TaskRule,
    signal: RevenueSignal,
    *,
    step: Step | None,
    repeat_count: Callable[[int], int],
    task_may_exist: bool = True,
):
    """Attach the signal to the rule's open task for its customer, or open one (the caller
    checked the rule's conditions). `task_may_exist` False: the caller knows of no open task,
    so none is looked up; one another worker opened meanwhile is joined on the conflict."""
    task = _open_task(rule, signal) if task_may_exist else None
    if task is not None:
        _link(task, rule, signal, TaskSignalReason.ATTACHED)
        _comment(task, f"Another signal attached: {_signal_sentence(signal)}.")
        return
    try:
        with transaction.atomic():
            opening = _task_opening(_Pair(rule, signal, step, repeat_count))
            tasks_create(workspace=rule.workspace, openings=[opening])
    except IntegrityError:
        # Another worker opened this rule's task for the customer a moment ago: join it.
        task = _open_task(rule, signal)
        if task is None:
            raise
        _link(task, rule, signal, TaskSignalReason.ATTACHED)
        _comment(task, f"Another signal attached: {_signal_sentence(signal)}.")


def _task_opening(pair: _Pair) -> TaskOpening:
    """The task a rule opens for a signal: its text from the rule's templates."""
    rule, signal, step = pair.rule, pair.signal, pair.step
    repeat_days = (rule.conditions or {}).get("repeat_days")
    count = pair.repeat_count(repeat_days) if repeat_days else None
    values = signal_placeholders(signal, step=step, count=count, rule_name=rule.name)
    due = None
    if rule.due_in_days is not None:
        due = (timezone.now() + timedelta(days=rule.due_in_days)).date()
    return TaskOpening(
        actor=f"Rule “{rule.name}”",
        title=template_render(rule.title_template, values)[:200] or rule.name,
        description=template_render(rule.description_template, values),
        priority=rule.priority,
        assignee=_next_assignee(rule),
        due_date=due,
        signal=signal,
        customer=signal.customer,
        step=step,
        context_label=step_label(step),
        rule=rule,
    )


def _resolve(rule: TaskRule, signal: RevenueSignal) -> None:
    task = _open_task(rule, signal)
    # A resolving signal older than what opened the task (late delivery) does not close it.
    if task is None or (task.signal and signal.occurred_at < task.signal.occurred_at):
        return
    reason = (
        f"Closed automatically: {kind_phrase(signal.kind)} — {_signal_sentence(signal)}. "
        f"The rule “{rule.name}” closes its task when this happens."
    )
    _link(task, rule, signal, TaskSignalReason.RESOLVED)
    _comment(task, reason)
    task_status_set(
        task=task,
        actor=f"Rule “{rule.name}”",
        status="done",
        data={"signal": str(signal.uuid), "automatic": True},
    )
    if task.assignee_id:
        transaction.on_commit(partial(emails.send_task_closed, task_id=task.pk, reason=reason))


def _annotate(rule: TaskRule, signal: RevenueSignal) -> None:
    task = _open_task(rule, signal)
    if task is None:
        return
    _link(task, rule, signal, TaskSignalReason.NOTED)
    _comment(
        task,
        f"{_signal_sentence(signal)}. The rule “{rule.name}” does not close its task on this; "
        "it is left for a person to decide.",
    )
