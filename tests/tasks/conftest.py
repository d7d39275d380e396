"""Fixtures for the follow-up task tests: a workspace with its default journey, and signals that
go through placement and the task rules the way billing.pipeline.apply sends them."""

import pytest

from billing.models import SignalKind
from journeys.placement import place_signals
from journeys.services import journey_install_default
from tasks.automation import task_rules_apply
from tests.factories import CustomerFactory, RevenueSignalFactory


@pytest.fixture
def journey(workspace):
    return journey_install_default(workspace=workspace)


@pytest.fixture
def customer(workspace):
    return CustomerFactory(workspace=workspace, name="Acme Inc", mrr=4900, currency="eur")


@pytest.fixture
def process(journey):
    """process(kind, customer, **fields): a new signal, placed and run through the task rules."""

    def make(kind=SignalKind.PAYMENT_FAILED, customer=None, **fields):
        fields.setdefault("currency", "eur")
        signal = RevenueSignalFactory(
            workspace=journey.workspace, kind=kind, customer=customer, **fields
        )
        place_signals(signals=[signal])
        task_rules_apply(signals=[signal])
        return signal

    return make
