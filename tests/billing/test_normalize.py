"""Pure normalization: one Stripe event dict in, its facts out; no database."""

import copy

import pytest

from billing.normalize import is_basil, normalize_event
from custory.money import currency_exponent, monthly, round_minor, to_major
from tests.billing.apply_support import load


def kinds(payload):
    return [s.kind for s in normalize_event(payload).signals]


def only(payload):
    (signal,) = normalize_event(payload).signals
    return signal


# Money --------------------------------------------------------------------------------------


def test_zero_and_three_decimal_currencies_have_their_exponent():
    assert currency_exponent("JPY") == 0
    assert currency_exponent("krw") == 0
    assert currency_exponent("kwd") == 3
    assert currency_exponent("usd") == 2
    assert str(to_major(5000, "jpy")) == "5000"
    assert str(to_major(4900, "usd")) == "49.00"


@pytest.mark.parametrize(
    ("amount", "interval", "count", "expected"),
    [
        (4900, "month", 1, 4900),
        (49000, "year", 1, 4083),
        (12000, "month", 3, 4000),
        (1000, "week", 1, 4333),
        (100, "day", 1, 3042),
        (120000, "year", 1, 10000),
    ],
)
def test_prices_are_normalized_to_a_month(amount, interval, count, expected):
    assert round_minor(monthly(amount, interval=interval, interval_count=count)) == expected


def test_basil_is_chosen_by_the_events_api_version():
    assert is_basil("2025-03-31.basil")
    assert is_basil("2025-09-30.clover")
    assert not is_basil("2024-06-20")
    assert not is_basil(None)


# Subscriptions ------------------------------------------------------------------------------


def test_a_basil_renewal_that_only_moves_item_periods_is_no_plan_change():
    assert kinds(load("synthetic_basil_subscription_renewed.json")) == []


def test_a_basil_upgrade_compares_monthly_mrr_of_prices_and_quantities():
    signal = only(load("synthetic_basil_subscription_upgraded.json"))
    assert signal.kind == "plan_upgraded"
    assert signal.mrr_delta == 10000 - 2000
    assert signal.details["previous_mrr"] == 2000
    assert signal.details["new_mrr"] == 10000
    assert signal.details["previous_price_id"] == "price_SynPro"
    assert signal.details["price_id"] == "price_SynTeam"


def test_a_lower_quantity_is_a_downgrade():
    signal = only(load("synthetic_basil_subscription_quantity_down.json"))
    assert (signal.kind, signal.mrr_delta, signal.details["previous_quantity"]) == (
        "plan_downgraded",
        -5000,
        2,
    )


def test_basil_subscription_reads_its_period_from_the_items():
    facts = normalize_event(load("synthetic_basil_subscription_created.json"))
    assert facts.subscription.current_period_end is not None
    assert facts.subscription.mrr == 2000
    assert only(load("synthetic_basil_subscription_created.json")).mrr_delta == 2000


def test_jpy_yearly_quantity_and_discount_give_monthly_yen():
    facts = normalize_event(load("synthetic_basil_jpy_yearly_subscription_created.json"))
    assert facts.subscription.currency == "jpy"
    assert facts.subscription.mrr == 27000
    assert facts.signals[0].amount == 27000


def test_cancellation_scheduled_keeps_reason_and_feedback():
    signal = only(load("synthetic_basil_subscription_cancel_scheduled.json"))
    assert signal.kind == "cancellation_scheduled"
    assert signal.details["cancellation_feedback"] == "too_expensive"
    assert signal.details["cancellation_comment"] == "We are moving to a cheaper tool"
    assert signal.details["cancel_at"].startswith("2025-12")


def test_withdrawing_the_cancellation_is_its_own_signal():
    payload = load("synthetic_basil_subscription_cancel_scheduled.json")
    obj = payload["data"]["object"]
    payload["data"]["previous_attributes"] = {
        "cancel_at": obj["cancel_at"],
        "cancel_at_period_end": True,
    }
    obj.update(cancel_at=None, cancel_at_period_end=False)
    assert kinds(payload) == ["cancellation_withdrawn"]


def test_churn_after_failed_payments_is_involuntary():
    signal = only(load("synthetic_basil_subscription_deleted_payment_failed.json"))
    assert signal.kind == "subscription_canceled"
    assert signal.details["churn_type"] == "involuntary"
    assert signal.mrr_delta == -5000


def test_churn_requested_through_the_api_is_voluntary():
    payload = load("synthetic_basil_subscription_deleted_payment_failed.json")
    payload["data"]["object"]["cancellation_details"] = {"reason": None}
    payload["request"] = {"id": "req_123"}
    assert only(payload).details["churn_type"] == "voluntary"


def test_trial_converted_when_trialing_becomes_active():
    payload = load("synthetic_basil_subscription_renewed.json")
    payload["data"]["previous_attributes"] = {"status": "trialing"}
    assert kinds(payload) == ["trial_converted"]


def test_pre_basil_plan_in_previous_attributes_is_a_plan_change():
    payload = load("mozilla-fxa__event_customer_subscription_updated.json")
    assert kinds(payload) == ["plan_downgraded"]


# Invoices -----------------------------------------------------------------------------------


def test_basil_failed_invoice_names_its_subscription_and_retry():
    signal = only(load("synthetic_basil_invoice_payment_failed.json"))
    assert signal.kind == "payment_failed"
    assert signal.amount == 5000
    assert signal.details["subscription_id"] == "sub_SynBasil0001"
    assert signal.details["payment_intent_id"] == "pi_SynBasil0001"
    assert signal.details["attempt_count"] == 1
    assert signal.details["next_payment_attempt"].startswith("2025-11-")
    assert signal.details["price_id"] == "price_SynTeam"


def test_basil_paid_invoice_after_retries_reports_the_paid_invoice():
    facts = normalize_event(load("synthetic_basil_invoice_paid_after_retries.json"))
    assert [s.kind for s in facts.signals] == ["payment_succeeded"]
    assert facts.paid_invoice.attempt_count == 3
    assert facts.paid_invoice.first_attempt_at < facts.paid_invoice.paid_at


def test_invoice_payment_succeeded_leaves_the_signal_to_invoice_paid():
    assert kinds(load("mozilla-fxa__event_invoice_payment_succeeded.json")) == []


# Checkout, charges, refunds, disputes ----------------------------------------------------------


def test_expired_checkout_keeps_the_recovery_url_and_email():
    signal = only(load("synthetic_basil_checkout_expired.json"))
    assert signal.kind == "checkout_abandoned"
    assert signal.details["recovery_url"] == "https://buy.stripe.com/r/test_SynRecovery"
    assert signal.details["customer_email"] == "lee@synthetic.example"


def test_a_partial_refund_is_the_growth_of_amount_refunded():
    payload = load("supabase-stripe-sync-engine__charge_refunded.json")
    charge = payload["data"]["object"]
    charge.update(amount_refunded=1000, refunded=False)
    signal = only(payload)
    assert (signal.amount, signal.details["refund_full"]) == (1000, False)


def test_a_standalone_charge_failure_gives_decline_facts():
    payload = load("supabase-stripe-sync-engine__charge_failed.json")
    charge = payload["data"]["object"]
    charge.update(invoice=None, payment_intent=None, description="One-off")
    signal = only(payload)
    assert signal.kind == "payment_failed"
    assert signal.details["failure_code"]


def test_payment_intent_failure_reads_last_payment_error():
    payload = load("supabase-stripe-sync-engine__payment_intent_payment_failed.json")
    payload["data"]["object"]["last_payment_error"] = {
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
        "type": "card_error",
    }
    details = only(payload).details
    assert (details["failure_code"], details["decline_code"]) == (
        "card_declined",
        "insufficient_funds",
    )
    assert details["failure_message"] == "Your card has insufficient funds."


# Robustness ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "synthetic_basil_subscription_upgraded.json",
        "synthetic_basil_invoice_paid_after_retries.json",
        "synthetic_basil_checkout_expired.json",
        "supabase-stripe-sync-engine__charge_refunded.json",
        "supabase-stripe-sync-engine__charge_dispute_created.json",
    ],
)
def test_missing_or_odd_fields_never_crash(name):
    payload = load(name)
    obj = payload["data"]["object"]
    for key in list(obj):
        if key in ("id", "object"):
            continue
        for value in (None, "", [], {}, 0, -5, 1.5, True, "weird", {"data": None}, [1, "a"]):
            mutated = copy.deepcopy(payload)
            mutated["data"]["object"][key] = value
            normalize_event(mutated)
        mutated = copy.deepcopy(payload)
        del mutated["data"]["object"][key]
        normalize_event(mutated)
    normalize_event({**payload, "data": {"object": None}})
    normalize_event({"type": payload["type"]})
    normalize_event({})


def _two_item_subscription():
    payload = load("synthetic_basil_subscription_created.json")
    sub = payload["data"]["object"]
    seats = copy.deepcopy(sub["items"]["data"][0])
    seats["id"] = "si_SynSeats"
    seats["price"].update(
        id="price_SynSeatsYear",
        unit_amount=12000,
        unit_amount_decimal="12000",
        recurring={"interval": "year", "interval_count": 1, "usage_type": "licensed"},
    )
    seats["quantity"] = 5
    metered = copy.deepcopy(seats)
    metered["id"] = "si_SynMetered"
    metered["price"].update(
        id="price_SynApiCalls",
        recurring={"interval": "month", "interval_count": 1, "usage_type": "metered"},
    )
    sub["items"]["data"] += [seats, metered]
    return payload


def test_several_items_add_up_and_metered_ones_are_left_out():
    facts = normalize_event(_two_item_subscription())
    # 2000 a month + 5 × 12000 a year = 2000 + 5000.
    assert facts.subscription.mrr == 7000
    assert facts.subscription.quantity == 6  # licensed seats only
    assert len(facts.subscription.items) == 3


def test_a_lasting_amount_off_coupon_lowers_mrr_but_a_one_off_does_not():
    payload = load("synthetic_basil_subscription_created.json")
    sub = payload["data"]["object"]
    sub["discount"] = {"coupon": {"duration": "forever", "amount_off": 500, "currency": "usd"}}
    assert normalize_event(payload).subscription.mrr == 1500
    sub["discount"]["coupon"]["duration"] = "once"
    assert normalize_event(payload).subscription.mrr == 2000


def test_a_pre_basil_quantity_change_is_an_upgrade():
    payload = load("mozilla-fxa__subscription_updated.json")
    sub = payload["data"]["object"]
    sub["quantity"] = sub["items"]["data"][0]["quantity"] = 3
    payload["data"]["previous_attributes"] = {"quantity": 1}
    signal = only(payload)
    assert signal.kind == "plan_upgraded"
    assert signal.details["previous_quantity"] == 1
    # 3 × 399 a day = 36,408.75 → 36,409 cents a month (rounded once, on the total).
    assert signal.mrr_delta == 36409 - 12136


def _retyped(name, event_type):
    payload = load(name)
    payload["type"] = event_type
    return payload


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("checkout.session.async_payment_succeeded", "payment_succeeded"),
        ("checkout.session.async_payment_failed", "payment_failed"),
        ("checkout.session.completed", "checkout_completed"),
    ],
)
def test_checkout_events_give_their_kind(event_type, kind):
    assert kinds(_retyped("synthetic_basil_checkout_expired.json", event_type)) == [kind]


def test_trial_will_end_is_trial_ending_with_its_date():
    payload = _retyped(
        "synthetic_basil_subscription_created.json", "customer.subscription.trial_will_end"
    )
    payload["data"]["object"].update(status="trialing", trial_end=1765000000)
    signal = only(payload)
    assert (signal.kind, signal.mrr_delta) == ("trial_ending", 0)
    assert signal.details["trial_end"].startswith("2025-12-06")


def test_paused_and_resumed_change_state_only():
    for event_type, status in [
        ("customer.subscription.paused", "paused"),
        ("customer.subscription.resumed", "active"),
    ]:
        payload = _retyped("synthetic_basil_subscription_created.json", event_type)
        payload["data"]["object"]["status"] = status
        facts = normalize_event(payload)
        assert facts.signals == []
        assert facts.subscription.status == status


def test_a_subscription_created_incomplete_has_not_started():
    payload = load("synthetic_basil_subscription_created.json")
    payload["data"]["object"]["status"] = "incomplete"
    assert kinds(payload) == []


def test_customer_deleted_marks_the_customer():
    facts = normalize_event(load("supabase-stripe-sync-engine__customer_deleted.json"))
    assert facts.customer.deleted is True
    assert facts.signals == []


def test_customer_sub_objects_are_not_customers():
    assert (
        normalize_event(load("supabase-stripe-sync-engine__customer_tax_id_created.json")).customer
        is None
    )


def test_payment_action_required_is_its_own_kind():
    payload = _retyped(
        "synthetic_basil_invoice_payment_failed.json", "invoice.payment_action_required"
    )
    signal = only(payload)
    assert signal.kind == "payment_action_required"
    assert normalize_event(payload).invoice_outcome is None  # not a failure of the invoice


def test_marked_uncollectible_closes_the_invoice_and_is_no_failure():
    facts = normalize_event(
        _retyped("synthetic_basil_invoice_payment_failed.json", "invoice.marked_uncollectible")
    )
    assert facts.signals == []
    assert facts.invoice_outcome.lost_reason == "uncollectible"
    assert facts.invoice_outcome.failed_at is None and facts.invoice_outcome.lost_at


def test_charge_failure_of_an_invoice_is_kept_as_decline_facts_not_a_signal():
    payload = load("supabase-stripe-sync-engine__charge_failed.json")
    payload["data"]["object"].update(failure_code="card_declined", failure_message="Declined")
    facts = normalize_event(payload)
    assert facts.signals == []
    assert facts.payment_failure["failure_code"] == "card_declined"
    assert facts.payment_failure["charge_id"] == payload["data"]["object"]["id"]
