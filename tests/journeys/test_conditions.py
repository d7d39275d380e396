import pytest
from django.core.exceptions import ValidationError

from journeys.conditions import conditions_validate, signal_matches
from journeys.models import MappingRule
from journeys.placement import choose_rule
from tests.factories import CustomerFactory, RevenueSignalFactory


@pytest.fixture
def signal(workspace):
    return RevenueSignalFactory(
        workspace=workspace,
        kind="payment_failed",
        amount=5000,
        currency="eur",
        livemode=True,
        customer=CustomerFactory(workspace=workspace, metadata={"plan": "pro"}),
        details={
            "price_id": "price_1",
            "product_id": "prod_1",
            "billing_reason": "subscription_cycle",
            "subscription_status": "past_due",
            "attempt_count": 3,
            "decline_code": "insufficient_funds",
        },
    )


@pytest.mark.parametrize(
    ("conditions", "matches"),
    [
        ({}, True),
        ({"amount_min": 5000, "currency": "eur"}, True),  # the bounds are inclusive
        ({"amount_min": 5001, "currency": "eur"}, False),
        ({"amount_max": 5000, "currency": "eur"}, True),
        ({"amount_max": 4999, "currency": "eur"}, False),
        ({"currency": "EUR"}, True),
        ({"currency": "usd"}, False),
        ({"price_id": "price_1"}, True),
        ({"price_id": "price_2"}, False),
        ({"product_id": "prod_1"}, True),
        ({"billing_reason": "manual"}, False),
        ({"subscription_status": "past_due"}, True),
        ({"subscription_status": "active"}, False),
        ({"attempt_count_min": 3}, True),
        ({"attempt_count_min": 4}, False),
        ({"decline_code": "insufficient_funds"}, True),
        ({"decline_code": "expired_card"}, False),
        ({"customer_metadata": {"plan": "pro"}}, True),
        ({"customer_metadata": {"plan": "free"}}, False),
        ({"customer_metadata": {"tier": "pro"}}, False),
        ({"livemode": True}, True),
        ({"livemode": False}, False),
        ({"price_id": "price_1", "attempt_count_min": 4}, False),  # every condition must hold
    ],
)
def test_conditions_match_as_specified(signal, conditions, matches):
    assert signal_matches(conditions_validate(conditions), signal) is matches


def test_an_amount_condition_never_matches_a_signal_without_amount(workspace):
    signal = RevenueSignalFactory(workspace=workspace, amount=None)
    assert not signal_matches({"amount_min": 0, "currency": "usd"}, signal)


def test_a_missing_attempt_count_counts_as_zero(workspace):
    signal = RevenueSignalFactory(workspace=workspace, details={})
    assert signal_matches({"attempt_count_min": 0}, signal)
    assert not signal_matches({"attempt_count_min": 1}, signal)


def test_valid_conditions_are_normalized():
    assert conditions_validate(
        {"currency": " EUR ", "price_id": " price_1 ", "decline_code": "", "customer_metadata": {}}
    ) == {"currency": "eur", "price_id": "price_1"}
    assert conditions_validate(None) == {}


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ([], "must be an object"),
        ({"colour": "red"}, "Unknown condition"),
        ({"amount_min": "10", "currency": "eur"}, "whole number"),
        ({"amount_min": 10.5, "currency": "eur"}, "whole number"),
        ({"amount_min": True, "currency": "eur"}, "whole number"),
        ({"amount_min": 10}, "needs a currency"),
        ({"amount_min": 10, "amount_max": 9, "currency": "eur"}, "above the maximum"),
        ({"amount_min": -1, "currency": "eur"}, "cannot be negative"),
        ({"currency": "euro"}, "3-letter"),
        ({"livemode": "yes"}, "true or false"),
        ({"attempt_count_min": "3"}, "whole number"),
        ({"subscription_status": "sleeping"}, "not a Stripe subscription status"),
        ({"customer_metadata": {"plan": 1}}, "text keys to text values"),
        ({"customer_metadata": "plan=pro"}, "an object"),
    ],
)
def test_malformed_conditions_are_refused_with_a_clear_message(conditions, message):
    with pytest.raises(ValidationError) as error:
        conditions_validate(conditions)
    assert message in " ".join(error.value.messages)


def _rule(pk, priority, kinds, conditions=None, step_id=1):
    return MappingRule(
        pk=pk, priority=priority, kinds=kinds, conditions=conditions or {}, step_id=step_id
    )


def test_the_first_matching_rule_by_priority_wins(signal):
    general = _rule(1, 20, ["payment_failed"])
    specific = _rule(2, 10, ["payment_failed"], {"attempt_count_min": 3})
    other_kind = _rule(3, 5, ["refund"])
    rules = sorted([general, specific, other_kind], key=lambda r: r.priority)
    assert choose_rule(rules, signal) is specific
    specific.conditions = {"attempt_count_min": 4}
    assert choose_rule(rules, signal) is general
    assert choose_rule([other_kind], signal) is None
