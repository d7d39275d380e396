"""Discounts in MRR, in both API shapes: percent and amount off, once, repeating and forever,
and basil discounts given only as ids, valued from the invoice's discount amounts."""

from datetime import UTC, datetime

import pytest

from billing.models import Customer, Subscription
from billing.revenue import mrr_at
from billing.revenue_models import MrrMovement
from tests.billing.apply_support import apply_payloads
from tests.billing.scenario_events import DAY, T0, Plan, Stripe
from tests.billing.test_mrr_movements import ORDERS, ordered
from tests.factories import StripeConnectionFactory

PLAN = [Plan("price_90", 9000)]
SHAPES = pytest.mark.parametrize("basil", [False, True], ids=["pre-basil", "basil"])


def coupon(basil, duration="forever", *, percent=None, amount=None, end=None):
    c = {
        "id": "co_1",
        "object": "coupon",
        "duration": duration,
        "percent_off": percent,
        "amount_off": amount,
        "currency": "usd" if amount else None,
    }
    discount = {"id": "di_1", "object": "discount", "end": end}
    if basil:
        discount["source"] = {"type": "coupon", "coupon": c}
    else:
        discount["coupon"] = c
    return discount


def mrr_of(events, order="in order"):
    connection = StripeConnectionFactory()
    apply_payloads(connection, ordered(events, order))
    workspace = connection.workspace
    ledger = mrr_at(workspace, datetime(2100, 1, 1, tzinfo=UTC))
    return ledger.get("usd", 0), Subscription.objects.get(workspace=workspace).mrr


@SHAPES
@pytest.mark.parametrize(
    ("discount", "expected"),
    [
        ({"percent": 20}, 7200),
        ({"amount": 1000}, 8000),
        ({"percent": 20, "duration": "once"}, 9000),
        ({"percent": 20, "duration": "repeating", "end": T0 + 90 * DAY}, 7200),
        ({"percent": 20, "duration": "repeating", "end": T0 - DAY}, 9000),  # already over
    ],
)
def test_expanded_coupons_count_while_they_last(db, basil, discount, expected):
    s = Stripe(basil=basil)
    sub = s.subscription("sub_1", "cus_1", PLAN, discount=coupon(basil, **discount))
    s.event("customer.subscription.created", sub, T0)
    assert mrr_of(s.events) == (expected, expected)


@ORDERS
def test_a_basil_discount_given_only_as_an_id_is_valued_from_the_invoice(db, order):
    s = Stripe(basil=True)
    sub = s.subscription("sub_1", "cus_1", PLAN)
    sub["discounts"] = ["di_only_id"]
    s.event("customer.subscription.created", sub, T0)
    paid = s.invoice(
        "in_1",
        "cus_1",
        "sub_1",
        7200,
        paid_at=T0,
        subtotal=9000,
        billing_reason="subscription_create",
        discount_amounts=[{"amount": 1800, "discount": "di_only_id"}],
    )
    s.event("invoice.paid", paid, T0 + 5)
    ledger, _ = mrr_of(s.events, order)
    assert ledger == 7200  # 20 % off $90, not $90
    amounts = sorted(MrrMovement.objects.values_list("kind", "amount"))
    assert amounts == [("new", 7200)]


def test_a_known_share_values_a_later_subscription_at_once(db):
    s = Stripe(basil=True)
    paid = s.invoice(
        "in_1",
        "cus_1",
        "sub_1",
        7200,
        paid_at=T0,
        subtotal=9000,
        discount_amounts=[{"amount": 1800, "discount": "di_x"}],
    )
    s.event("invoice.paid", paid, T0)
    sub = s.subscription("sub_1", "cus_1", PLAN)
    sub["discounts"] = ["di_x"]
    s.event("customer.subscription.updated", sub, T0 + DAY, previous={"metadata": {}})
    assert mrr_of(s.events) == (7200, 7200)
    assert Customer.objects.get().mrr == 7200
