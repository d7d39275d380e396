import pytest

from billing.models import SignalKind
from journeys.defaults import DEFAULT_RULES
from tests.journeys.conftest import placed_step

EXPECTED_STEP = {
    "checkout_completed": "Checkout",
    "checkout_abandoned": "Checkout",
    "subscription_started": "Activation",
    "trial_ending": "Trial",
    "trial_converted": "Trial",
    "payment_succeeded": "Recurring payment",
    "payment_failed": "Recurring payment",
    "payment_action_required": "Recurring payment",
    "payment_recovered": "Payment recovery",
    "refund": "Refund request",
    "dispute_opened": "Dispute",
    "dispute_closed": "Dispute",
    "plan_upgraded": "Plan change",
    "plan_downgraded": "Plan change",
    "cancellation_scheduled": "Cancellation intent",
    "cancellation_withdrawn": "Cancellation intent",
    "subscription_canceled": "Churn",
}


def test_the_expectations_cover_every_signal_kind():
    assert set(EXPECTED_STEP) == set(SignalKind.values)


def test_every_kind_has_a_default_rule_without_conditions():
    unconditional = {
        k for kinds, _, conditions, _ in DEFAULT_RULES if not conditions for k in kinds
    }
    assert unconditional == set(SignalKind.values)


@pytest.mark.parametrize("kind", SignalKind.values)
def test_every_signal_kind_lands_on_its_natural_step(journey, place, kind):
    signal = place(kind=kind)
    assert placed_step(signal, journey) == EXPECTED_STEP[kind]


def test_a_subscription_that_starts_in_a_trial_lands_on_trial(journey, place):
    trialing = place(kind="subscription_started", details={"subscription_status": "trialing"})
    active = place(kind="subscription_started", details={"subscription_status": "active"})
    assert placed_step(trialing, journey) == "Trial"
    assert placed_step(active, journey) == "Activation"


def test_default_rules_have_readable_names(journey):
    names = set(journey.mapping_rules.values_list("name", flat=True))
    assert "Refund → Refund request" in names
