"""Changing rules re-places existing signals in a background job, consistently."""

import pytest

from billing.models import RevenueSignal
from journeys import jobs, rule_services, services
from journeys.models import RemapRun, RemapStatus, SignalPlacement
from tests.journeys.conftest import placed_step, raw_totals, rollup_totals, step_of


@pytest.fixture
def signals(journey, place):
    """Failed payments: two big ones in EUR, a small one in EUR and one in USD; and a refund."""
    return {
        "big1": place(kind="payment_failed", amount=50_000, currency="eur"),
        "big2": place(kind="payment_failed", amount=90_000, currency="eur", mrr_delta=-900),
        "small": place(kind="payment_failed", amount=900, currency="eur"),
        "usd": place(kind="payment_failed", amount=80_000, currency="usd"),
        "refund": place(kind="refund", amount=50_000, currency="eur"),
    }


def test_a_new_rule_moves_exactly_the_signals_it_claims(
    journey, signals, admin, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        rule_services.rule_create(
            journey=journey,
            actor=admin,
            kinds=["payment_failed"],
            step=step_of(journey, "Payment recovery"),
            conditions={"amount_min": 10_000, "currency": "eur"},
            priority=1,
        )
    steps = {name: placed_step(signal, journey) for name, signal in signals.items()}
    assert steps == {
        "big1": "Payment recovery",
        "big2": "Payment recovery",
        "small": "Recurring payment",
        "usd": "Recurring payment",
        "refund": "Refund request",
    }
    run = RemapRun.objects.get(journey=journey)
    # Only failed payments can have moved, so only they are re-placed.
    assert run.kinds == ["payment_failed"]
    assert (run.status, run.done, run.total, run.moved) == (RemapStatus.DONE, 4, 4, 2)
    assert rollup_totals(journey) == raw_totals(journey)


def test_disabling_the_only_rule_for_a_kind_sends_its_signals_to_unmapped_and_back(
    journey, signals, member, django_capture_on_commit_callbacks
):
    rule = next(r for r in journey.mapping_rules.all() if "refund" in r.kinds)
    with django_capture_on_commit_callbacks(execute=True):
        rule_services.rule_toggle(rule=rule, actor=member)
    assert placed_step(signals["refund"], journey) is None
    assert rollup_totals(journey) == raw_totals(journey)
    with django_capture_on_commit_callbacks(execute=True):
        rule_services.rule_toggle(rule=rule, actor=member)
    assert placed_step(signals["refund"], journey) == "Refund request"
    assert rollup_totals(journey) == raw_totals(journey)


def test_remap_in_small_chunks_loses_and_doubles_nothing(journey, signals, admin):
    other = services.journey_create(
        workspace=journey.workspace, actor=admin, name="Sales-led", from_template=True
    )
    run = RemapRun.objects.get(journey=other)
    RemapRun.objects.filter(pk=run.pk).update(status=RemapStatus.RUNNING, total=5)
    chunks = 0
    while jobs.remap_chunk(run_id=run.pk, size=2):
        chunks += 1
    assert chunks == 3
    assert SignalPlacement.objects.filter(journey=other).count() == len(signals)
    assert SignalPlacement.objects.filter(journey=journey).count() == len(signals)
    assert rollup_totals(other) == raw_totals(other)
    assert placed_step(signals["refund"], other) == "Refund request"


def test_a_newer_remap_supersedes_the_one_still_running(journey, signals, admin):
    first = services.remap_request(journey=journey, actor=admin, reason="first")
    RemapRun.objects.filter(pk=first.pk).update(status=RemapStatus.RUNNING)
    assert jobs.remap_chunk(run_id=first.pk, size=2)
    second = services.remap_request(journey=journey, actor=admin, reason="second")
    first.refresh_from_db()
    assert first.status == RemapStatus.SUPERSEDED
    assert not jobs.remap_chunk(run_id=first.pk, size=2)  # stops at its next chunk
    first.refresh_from_db()
    assert first.done == 2
    jobs.journey_remap_run(second.pk)
    second.refresh_from_db()
    assert (second.status, second.done) == (RemapStatus.DONE, 5)
    assert rollup_totals(journey) == raw_totals(journey)


def test_a_run_that_is_not_queued_is_not_run_twice(journey, signals, admin):
    run = services.remap_request(journey=journey, actor=admin)
    jobs.journey_remap_run(run.pk)
    jobs.journey_remap_run(run.pk)
    run.refresh_from_db()
    assert run.done == 5


def test_a_long_run_hands_over_to_a_fresh_job(journey, signals, admin, monkeypatch):
    monkeypatch.setattr(jobs, "CHUNK_SIZE", 2)
    monkeypatch.setattr(jobs, "JOB_SECONDS", -1)
    queued = []
    monkeypatch.setattr("journeys.services.remap_enqueue", lambda run_id: queued.append(run_id))
    run = services.remap_request(journey=journey, actor=admin)
    jobs.journey_remap_run(run.pk)
    run.refresh_from_db()
    assert (run.status, run.done, queued) == (RemapStatus.QUEUED, 2, [run.pk])


def test_rule_changes_queue_the_remap_job_on_commit(
    journey, signals, admin, django_capture_on_commit_callbacks, monkeypatch
):
    calls = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kw: calls.append(args))
    rule = journey.mapping_rules.first()
    with django_capture_on_commit_callbacks(execute=True):
        rule_services.rule_move(rule=rule, actor=admin, direction="down")
    run = RemapRun.objects.get(journey=journey)
    assert calls == [("journeys.jobs.journey_remap_run", run.pk)]


def test_signals_of_other_workspaces_are_not_touched(
    journey, signals, admin, other_workspace, django_capture_on_commit_callbacks
):
    from journeys.placement import place_signals
    from journeys.services import journey_install_default
    from tests.factories import RevenueSignalFactory

    foreign_journey = journey_install_default(workspace=other_workspace)
    foreign = RevenueSignalFactory(workspace=other_workspace, kind="payment_failed")
    place_signals(signals=[foreign])
    with django_capture_on_commit_callbacks(execute=True):
        rule_services.rule_create(
            journey=journey,
            actor=admin,
            kinds=["payment_failed"],
            step=step_of(journey, "Churn"),
            priority=1,
        )
    assert placed_step(foreign, foreign_journey) == "Recurring payment"
    assert RevenueSignal.objects.filter(placements__journey=journey).count() == 5


def test_a_superseding_run_covers_the_kinds_the_older_one_had_yet_to_cover(journey, admin):
    first = services.remap_request(journey=journey, actor=admin, kinds=["refund"])
    second = services.remap_request(journey=journey, actor=admin, kinds=["payment_failed"])
    assert second.kinds == ["payment_failed", "refund"]
    everything = services.remap_request(journey=journey, actor=admin)
    third = services.remap_request(journey=journey, actor=admin, kinds=["refund"])
    assert (everything.kinds, third.kinds) == ([], [])
    statuses = RemapRun.objects.filter(pk__in=[first.pk, second.pk, everything.pk])
    assert set(statuses.values_list("status", flat=True)) == {RemapStatus.SUPERSEDED}


def test_reordering_rules_re_places_only_the_kinds_of_the_two_rules(
    journey, admin, django_capture_on_commit_callbacks
):
    rules = list(journey.mapping_rules.order_by("priority"))
    with django_capture_on_commit_callbacks(execute=True):
        rule_services.rule_move(rule=rules[0], actor=admin, direction="down")
    run = RemapRun.objects.get(journey=journey)
    assert run.kinds == sorted(set(rules[0].kinds) | set(rules[1].kinds))


def test_a_run_whose_journey_was_deleted_stops_quietly(journey, signals, admin, workspace):
    other = services.journey_create(workspace=workspace, actor=admin, name="Short-lived")
    run = RemapRun.objects.get(journey=other)
    services.journey_delete(journey=other, actor=admin)
    jobs.journey_remap_run(run.pk)
    assert not jobs.remap_chunk(run_id=run.pk)


def test_a_remap_leaves_no_empty_rollup_rows(
    journey, signals, member, django_capture_on_commit_callbacks
):
    from journeys.models import StepDailyRollup

    rule = next(r for r in journey.mapping_rules.all() if "refund" in r.kinds)
    with django_capture_on_commit_callbacks(execute=True):
        rule_services.rule_toggle(rule=rule, actor=member)
    assert not StepDailyRollup.objects.filter(journey=journey, count=0).exists()
    assert not StepDailyRollup.objects.filter(step=rule.step).exists()
