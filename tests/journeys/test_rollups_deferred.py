"""Rollup increments of a processing group are summed and written when the group ends."""

import pytest
from django.db.models import Count, Sum

from custory.batching import deferred_writes
from custory.services import workspace_create
from journeys.models import StepDailyRollup
from journeys.placement import place_signals
from tests.factories import RevenueSignalFactory

pytestmark = pytest.mark.django_db


def test_a_group_writes_its_rollups_once_at_the_end_equal_to_the_raw_aggregate(admin):
    workspace = workspace_create(name="Grouped", owner=admin)
    signals = [RevenueSignalFactory(workspace=workspace, amount=1000 + i) for i in range(6)]
    with deferred_writes():
        place_signals(signals=signals[:3])
        place_signals(signals=signals[3:])
        assert not StepDailyRollup.objects.filter(workspace=workspace).exists()
    rollup = StepDailyRollup.objects.filter(workspace=workspace).aggregate(
        n=Sum("count"), amount=Sum("amount")
    )
    raw = workspace.revenue_signals.aggregate(n=Count("id"), amount=Sum("amount"))
    assert rollup == raw


def test_a_group_that_fails_writes_no_rollups(admin):
    workspace = workspace_create(name="Failed", owner=admin)
    signal = RevenueSignalFactory(workspace=workspace)
    with pytest.raises(RuntimeError), deferred_writes():
        place_signals(signals=[signal])
        raise RuntimeError("an event of the group failed")
    assert not StepDailyRollup.objects.filter(workspace=workspace).exists()
