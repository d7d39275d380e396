"""The per-customer figures rollup equals what the customer's own rows add up to, whatever
order events come in, after duplicates, an import's rebuild, a revenue rebuild and a purge."""

import importlib
import itertools
import random

import pytest
from django.apps import apps
from hypothesis import HealthCheck, given, settings

from billing.customer_figures import FIGURES
from billing.pipeline.connections import connection_revoke
from billing.pipeline.demo import demo_events
from billing.pipeline.revenue_rebuild import revenue_rebuild
from billing.revenue_models import CustomerFigures
from tests.billing.apply_support import apply_payloads
from tests.billing.figures_support import kept, recomputed
from tests.billing.test_properties import shuffled_with_duplicates
from tests.factories import StripeConnectionFactory, WorkspaceFactory

_workspaces = itertools.count()


def processed(payloads: list[dict]):
    workspace = WorkspaceFactory(slug=f"figures-{next(_workspaces)}")
    connection = StripeConnectionFactory(workspace=workspace)
    apply_payloads(connection, payloads)
    return connection


@pytest.mark.django_db
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shuffled_with_duplicates())
def test_any_order_with_duplicates_keeps_every_customers_figures_exact(streams):
    in_order, shuffled = streams
    expected = kept(processed(in_order).workspace)
    workspace = processed(shuffled).workspace
    assert kept(workspace) == recomputed(workspace)
    assert kept(workspace) == expected


@pytest.fixture(scope="module")
def history():
    """A longer demo history: payments, failures and recoveries, refunds and disputes."""
    return demo_events(seed=2, customers=24, months=6)


def test_the_history_moves_every_figure(db, history):
    figures = kept(processed(history).workspace).values()
    for index, name in enumerate(FIGURES):
        assert any(row[index] for row in figures), f"no customer has {name}"


def test_reversed_delivery_gives_the_figures_of_in_order_delivery(db, history):
    """Refunds and disputes before their charges, recoveries before their failures."""
    expected = kept(processed(history).workspace)
    workspace = processed(list(reversed(history))).workspace
    assert kept(workspace) == recomputed(workspace) == expected


@pytest.mark.parametrize("kind", ["charge.dispute.created", "charge.refunded"])
def test_a_dispute_or_refund_naming_only_its_charge_counts_for_the_charges_customer(
    db, history, kind
):
    last = next(event for event in reversed(history) if event["type"] == kind)
    workspace = processed([e for e in history if e is not last] + [last]).workspace
    assert kept(workspace) == recomputed(workspace) == kept(processed(history).workspace)


def test_a_shuffled_history_with_redeliveries_keeps_the_figures_exact(db, history):
    stream = random.Random(4).sample(history, len(history)) + history[::7]
    workspace = processed(stream).workspace
    assert kept(workspace) == recomputed(workspace) == kept(processed(history).workspace)


def test_a_revenue_rebuild_recomputes_the_figures(db, history):
    connection = processed(history)
    workspace = connection.workspace
    before = kept(workspace)
    CustomerFigures.objects.filter(customer__workspace=workspace).update(paid=1, mrr=-1)
    CustomerFigures.objects.filter(customer__workspace=workspace)[:1].get().delete()
    revenue_rebuild(workspace=workspace)
    assert kept(workspace) == recomputed(workspace) == before


def test_purging_a_connection_leaves_the_other_customers_figures_exact(db, admin, workspace):
    first = StripeConnectionFactory(workspace=workspace)
    second = StripeConnectionFactory(workspace=workspace)
    apply_payloads(first, demo_events(seed=5, customers=6, months=3))
    kept_before = kept(workspace)
    apply_payloads(second, demo_events(seed=6, customers=4, months=3))
    connection_revoke(connection=second, actor=admin, delete_data=True)
    assert kept(workspace) == recomputed(workspace) == kept_before


def test_the_migration_fills_every_existing_customers_figures(db, history):
    workspace = processed(history).workspace
    expected = kept(workspace)
    CustomerFigures.objects.all().delete()
    migration = importlib.import_module("billing.migrations.0016_customer_figures")
    migration.figures_fill(apps, schema_editor=None)
    assert kept(workspace) == expected
