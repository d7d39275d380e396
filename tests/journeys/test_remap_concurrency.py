"""Two remaps re-placing the same signals at the same moment move each signal once."""

import threading

import pytest
from django.db import connection, connections, transaction

from journeys.models import MappingRule
from journeys.placement import journey_rules, place_signals, signals_replace
from journeys.services import journey_install_default
from tests.factories import RevenueSignalFactory
from tests.journeys.conftest import placed_step, raw_totals, rollup_totals

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"
)


@pytest.mark.django_db(transaction=True)
def test_concurrent_remaps_of_the_same_signals_keep_rollups_equal_to_placements(workspace):
    journey = journey_install_default(workspace=workspace)
    signals = [RevenueSignalFactory(workspace=workspace, kind="refund") for _ in range(30)]
    place_signals(signals=signals)
    MappingRule.objects.filter(journey=journey, kinds__contains=["refund"]).update(
        step=journey.steps.get(name="Dispute")
    )
    barrier = threading.Barrier(3)
    errors, moved = [], []

    def work():
        try:
            with transaction.atomic():
                barrier.wait(timeout=10)
                moved.append(
                    signals_replace(journey=journey, signals=signals, rules=journey_rules(journey))
                )
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(moved) == [0, 0, 30]
    assert {placed_step(signal, journey) for signal in signals} == {"Dispute"}
    assert rollup_totals(journey) == raw_totals(journey)
