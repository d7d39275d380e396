"""Helpers for the journeys tests: a workspace with the default journey and placed signals."""

from collections import Counter

import pytest

from journeys.models import SignalPlacement, StepDailyRollup
from journeys.placement import place_signals
from journeys.services import journey_install_default
from tests.factories import RevenueSignalFactory


@pytest.fixture
def journey(workspace):
    return journey_install_default(workspace=workspace)


@pytest.fixture
def place(workspace):
    """place(kind=..., **fields) creates a signal in `workspace` and places it in every journey."""

    def make(**fields):
        signal = RevenueSignalFactory(workspace=workspace, **fields)
        place_signals(signals=[signal])
        return signal

    return make


def step_of(journey, name):
    return journey.steps.get(name=name)


def placed_step(signal, journey):
    placement = SignalPlacement.objects.get(signal=signal, journey=journey)
    return placement.step.name if placement.step_id else None


def rollup_totals(journey) -> Counter:
    """(step, day, kind, currency) → (count, amount, mrr) from the rollups, non-empty rows only."""
    totals = Counter()
    for row in StepDailyRollup.objects.filter(journey=journey, count__gt=0):
        key = (row.step_id, row.day, row.kind, row.currency)
        totals[key + ("count",)] += row.count
        totals[key + ("amount",)] += row.amount
        totals[key + ("mrr",)] += row.mrr_delta
    return +totals


def raw_totals(journey) -> Counter:
    """The same aggregate computed from the raw placements and their signals."""
    totals = Counter()
    for placement in SignalPlacement.objects.filter(journey=journey).select_related("signal"):
        signal = placement.signal
        key = (placement.step_id, signal.occurred_at.date(), signal.kind, signal.currency or "")
        totals[key + ("count",)] += 1
        totals[key + ("amount",)] += signal.amount or 0
        totals[key + ("mrr",)] += signal.mrr_delta
    return +totals
