from django.db.models import Count, Sum

from billing.models import SignalKind
from custory.services import workspace_create
from journeys.models import SignalPlacement, StepDailyRollup
from journeys.placement import place_signals
from tests.factories import RevenueSignalFactory


def test_every_signal_kind_is_placed_by_the_default_rules(admin):
    workspace = workspace_create(name="Placed", owner=admin)
    signals = [RevenueSignalFactory(workspace=workspace, kind=kind) for kind in SignalKind.values]
    place_signals(signals=signals)
    placements = SignalPlacement.objects.filter(workspace=workspace)
    assert placements.count() == len(SignalKind.values)
    assert not placements.filter(step__isnull=True).exists()


def test_placing_twice_changes_nothing_and_rollups_equal_the_raw_aggregate(admin):
    workspace = workspace_create(name="Rolled", owner=admin)
    signals = [RevenueSignalFactory(workspace=workspace, amount=1000 + i) for i in range(5)]
    place_signals(signals=signals)
    place_signals(signals=signals)
    assert SignalPlacement.objects.filter(workspace=workspace).count() == 5
    rollup = StepDailyRollup.objects.filter(workspace=workspace).aggregate(
        n=Sum("count"), amount=Sum("amount")
    )
    raw = workspace.revenue_signals.aggregate(n=Count("id"), amount=Sum("amount"))
    assert rollup == raw
