"""Order-proof and idempotent: any permutation, with duplicates, of a generated event stream
gives the same signals and the same final customer and subscription state."""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import Customer, RevenueSignal, Subscription
from billing.pipeline.demo import demo_events
from tests.billing.apply_support import apply_payloads
from tests.factories import StripeConnectionFactory, WorkspaceFactory

_workspaces = itertools.count()


def _outcome(payloads: list[dict]):
    workspace = WorkspaceFactory(slug=f"prop-{next(_workspaces)}")
    connection = StripeConnectionFactory(workspace=workspace)
    apply_payloads(connection, payloads)
    signals = sorted(
        (
            s.event.stripe_id,
            s.kind,
            s.amount,
            s.currency,
            s.mrr_delta,
            s.object_id,
            s.customer.stripe_id if s.customer else None,
            sorted(s.details.items()),
        )
        for s in RevenueSignal.objects.filter(workspace=workspace).select_related(
            "event", "customer"
        )
    )
    customers = sorted(
        Customer.objects.filter(workspace=workspace).values_list(
            "stripe_id", "email", "name", "mrr", "currency", "status", "deleted", "first_seen_at"
        )
    )
    subscriptions = sorted(
        Subscription.objects.filter(workspace=workspace).values_list(
            "stripe_id",
            "customer__stripe_id",
            "status",
            "price_id",
            "quantity",
            "mrr",
            "cancel_at_period_end",
            "current_period_end",
        )
    )
    return signals, customers, subscriptions


@st.composite
def shuffled_with_duplicates(draw):
    seed = draw(st.integers(min_value=0, max_value=10_000))
    events = demo_events(seed=seed, customers=4, months=3)
    order = draw(st.permutations(range(len(events))))
    duplicates = draw(st.lists(st.sampled_from(range(len(events))), max_size=8))
    positions = [draw(st.integers(0, len(events) + i)) for i in range(len(duplicates))]
    stream = [events[i] for i in order]
    for index, position in zip(duplicates, positions, strict=True):
        stream.insert(position, events[index])
    return events, stream


@pytest.mark.django_db
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shuffled_with_duplicates())
def test_any_order_with_duplicates_gives_the_same_signals_and_state(streams):
    in_order, shuffled = streams
    expected = _outcome(in_order)
    assert expected[0], "the generated stream derives signals"
    assert _outcome(shuffled) == expected
