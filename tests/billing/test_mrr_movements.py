"""Customer-level MRR movements through the real pipeline, in both API shapes, in order,
reversed and with redeliveries; and the property that they add up to the change in MRR."""

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import Subscription
from billing.pipeline.demo import demo_events
from billing.revenue import mrr_at, paying_customers_at
from billing.revenue_models import MrrMovement, RevenueSettings
from tests.billing.apply_support import apply_payloads
from tests.billing.scenario_events import DAY, T0, Plan, Stripe
from tests.factories import StripeConnectionFactory, WorkspaceFactory

SHAPES = pytest.mark.parametrize("basil", [False, True], ids=["pre-basil", "basil"])
ORDERS = pytest.mark.parametrize("order", ["in order", "reversed", "duplicated"])
BASE, ADDON = Plan("price_base", 5000), Plan("price_addon", 1000)
_workspaces = itertools.count()


def ordered(events, order):
    if order == "reversed":
        return list(reversed(events))
    if order == "duplicated":
        return [events[-1], *events, events[0], *events[::2]]
    return list(events)


def run(events, order="in order", *, from_start=False):
    workspace = WorkspaceFactory(slug=f"mrr-{next(_workspaces)}")
    if from_start:
        RevenueSettings.objects.create(workspace=workspace, count_trials_from_start=True)
    connection = StripeConnectionFactory(workspace=workspace)
    apply_payloads(connection, ordered(events, order))
    return workspace


def movements(workspace):
    return [
        (int(m.at.timestamp()), m.kind, m.amount)
        for m in MrrMovement.objects.filter(workspace=workspace).order_by("at", "kind")
    ]


def sub(stripe, plans, sub_id="sub_1", **kwargs):
    return stripe.subscription(sub_id, "cus_1", plans, **kwargs)


@SHAPES
@ORDERS
def test_removing_and_re_adding_an_add_on_is_contraction_and_expansion(db, basil, order):
    s = Stripe(basil=basil)
    s.event("customer.subscription.created", sub(s, [BASE]), T0)
    s.event("customer.subscription.created", sub(s, [ADDON], "sub_addon"), T0 + DAY)
    gone = sub(s, [ADDON], "sub_addon", status="canceled", cancel_reason="cancellation_requested")
    s.event("customer.subscription.deleted", gone, T0 + 2 * DAY, request="req_1")
    s.event("customer.subscription.created", sub(s, [ADDON], "sub_addon2"), T0 + 3 * DAY)
    workspace = run(s.events, order)
    assert movements(workspace) == [
        (T0, "new", 5000),
        (T0 + DAY, "expansion", 1000),
        (T0 + 2 * DAY, "contraction", -1000),
        (T0 + 3 * DAY, "expansion", 1000),
    ]


@SHAPES
@ORDERS
def test_churn_then_a_new_subscription_is_reactivation(db, basil, order):
    s = Stripe(basil=basil)
    s.event("customer.subscription.created", sub(s, [BASE]), T0)
    gone = sub(s, [BASE], status="canceled", cancel_reason="cancellation_requested")
    s.event("customer.subscription.deleted", gone, T0 + DAY, request="req_1")
    s.event("customer.subscription.created", sub(s, [BASE], "sub_2"), T0 + 5 * DAY)
    workspace = run(s.events, order)
    assert movements(workspace) == [
        (T0, "new", 5000),
        (T0 + DAY, "churn_voluntary", -5000),
        (T0 + 5 * DAY, "reactivation", 5000),
    ]


@SHAPES
@ORDERS
def test_unpaid_is_involuntary_churn_and_movements_add_up_to_mrr(db, basil, order):
    s = Stripe(basil=basil)
    s.event("customer.subscription.created", sub(s, [BASE]), T0)
    s.event(
        "customer.subscription.updated",
        sub(s, [BASE], status="past_due"),
        T0 + DAY,
        previous={"status": "active"},
    )
    s.event(
        "customer.subscription.updated",
        sub(s, [BASE], status="unpaid"),
        T0 + 9 * DAY,
        previous={"status": "past_due"},
    )
    workspace = run(s.events, order)
    assert movements(workspace) == [(T0, "new", 5000), (T0 + 9 * DAY, "churn_involuntary", -5000)]
    assert mrr_at(workspace, datetime.fromtimestamp(T0 + 5 * DAY, tz=UTC)) == {"usd": 5000}
    assert mrr_at(workspace, datetime.fromtimestamp(T0 + 10 * DAY, tz=UTC)) == {}
    assert paying_customers_at(workspace, datetime.fromtimestamp(T0 + 5 * DAY, tz=UTC)) == 1
    assert paying_customers_at(workspace, datetime.fromtimestamp(T0 + 10 * DAY, tz=UTC)) == 0


@SHAPES
@ORDERS
def test_an_upgrade_is_expansion_by_the_difference(db, basil, order):
    s = Stripe(basil=basil)
    s.event("customer.subscription.created", sub(s, [BASE]), T0)
    bigger = Plan("price_pro", 9000)
    s.event(
        "customer.subscription.updated",
        sub(s, [bigger]),
        T0 + DAY,
        previous={"items": sub(s, [BASE])["items"]},
    )
    workspace = run(s.events, order)
    assert movements(workspace) == [(T0, "new", 5000), (T0 + DAY, "expansion", 4000)]


def trial(s: Stripe, *, converts: bool):
    end = T0 + 14 * DAY
    s.event("customer.subscription.created", sub(s, [BASE], status="trialing", trial_end=end), T0)
    if converts:
        s.event(
            "customer.subscription.updated",
            sub(s, [BASE], trial_end=end),
            end,
            previous={"status": "trialing"},
        )
        paid = s.invoice("in_1", "cus_1", "sub_1", 5000, finalized_at=end, paid_at=end + 3600)
        s.event("invoice.paid", paid, end + 3600)
    else:
        gone = sub(
            s, [BASE], status="canceled", trial_end=end, cancel_reason="cancellation_requested"
        )
        s.event("customer.subscription.deleted", gone, end, request="req_1")
    return s.events


@SHAPES
@ORDERS
def test_a_trial_adds_mrr_at_its_first_paid_invoice(db, basil, order):
    workspace = run(trial(Stripe(basil=basil), converts=True), order)
    assert movements(workspace) == [(T0 + 14 * DAY + 3600, "new", 5000)]


@SHAPES
def test_a_workspace_may_count_trials_from_their_start(db, basil):
    workspace = run(trial(Stripe(basil=basil), converts=True), from_start=True)
    assert movements(workspace) == [(T0, "new", 5000)]


@SHAPES
@ORDERS
def test_a_trial_canceled_before_paying_is_not_converted_not_churn(db, basil, order):
    workspace = run(trial(Stripe(basil=basil), converts=False), order)
    assert movements(workspace) == [(T0 + 14 * DAY, "trial_not_converted", 0)]


# Any order, any redelivery: the same movements, adding up to the change in MRR.


def _ledger(payloads, from_start):
    workspace = run(payloads, from_start=from_start)
    rows = sorted(
        (m.customer.stripe_id, m.at, m.kind, m.currency, m.amount, m.mrr_after)
        for m in MrrMovement.objects.filter(workspace=workspace).select_related("customer")
    )
    return workspace, rows


@st.composite
def streams(draw):
    seed = draw(st.integers(min_value=0, max_value=10_000))
    events = demo_events(seed=seed, customers=4, months=3)
    order = draw(st.permutations(range(len(events))))
    duplicates = draw(st.lists(st.sampled_from(range(len(events))), max_size=6))
    cut = draw(st.sampled_from(sorted(e["created"] for e in events)))
    return events, [events[i] for i in order] + [events[i] for i in duplicates], cut


@pytest.mark.django_db
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(streams(), st.booleans())
def test_movements_add_up_to_the_change_in_mrr_for_any_event_order(data, from_start):
    in_order, shuffled, cut = data
    workspace, expected = _ledger(in_order, from_start)
    other, actual = _ledger(shuffled, from_start)
    assert actual == expected
    middle = datetime.fromtimestamp(cut, tz=UTC)
    end = datetime(2100, 1, 1, tzinfo=UTC)
    later = {}
    for _, at, _kind, currency, amount, _ in actual:
        if at >= middle:
            later[currency] = later.get(currency, 0) + amount
    start_mrr, end_mrr = mrr_at(other, middle), mrr_at(other, end)
    for currency in set(start_mrr) | set(end_mrr) | set(later):
        assert end_mrr.get(currency, 0) - start_mrr.get(currency, 0) == later.get(currency, 0)
    if from_start:
        # Counting trials from the start, the ledger ends where the subscriptions' state is.
        state = {}
        for s in Subscription.objects.filter(
            workspace=other, status__in=["active", "past_due", "trialing"]
        ):
            state[s.currency] = state.get(s.currency, 0) + s.mrr
        assert end_mrr == {c: v for c, v in state.items() if v}
