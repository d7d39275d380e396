"""event_apply: state by the newest event, signals once per event, placement and task rules."""

import copy
import itertools

import pytest
from django.db import transaction

from billing.models import (
    Customer,
    EventSource,
    PaymentFailure,
    RevenueSignal,
    StripeEvent,
    Subscription,
)
from billing.pipeline.apply import event_apply, events_apply_batch
from billing.pipeline.ingest import events_store
from billing.signal_details import details_clean
from custory import services
from journeys.models import SignalPlacement
from tests.billing.apply_support import apply_payloads, load
from tests.factories import StripeConnectionFactory, UserFactory


@pytest.fixture
def connection(db):
    owner = UserFactory(email="owner@apply.test")
    workspace = services.workspace_create(name="Apply", owner=owner, slug="apply")
    return StripeConnectionFactory(workspace=workspace)


def test_applying_an_event_twice_creates_nothing_new(connection):
    (event,) = apply_payloads(connection, [load("synthetic_basil_subscription_upgraded.json")])
    assert event.signals.count() == 1
    assert event_apply(event=event) == []
    assert event_apply(event=event) == []
    assert RevenueSignal.objects.count() == 1


def test_new_signals_come_back_with_their_pks_and_are_placed(connection):
    events_store(
        connection=connection, payloads=[load("synthetic_basil_subscription_upgraded.json")]
    )
    event = connection.events.get()
    (signal,) = event_apply(event=event)
    assert signal.pk and signal.kind == "plan_upgraded"
    assert signal.customer.stripe_id == "cus_SynBasil0001"
    assert signal.subscription_stripe_id == "sub_SynBasil0001"
    assert signal.connection == connection
    assert SignalPlacement.objects.filter(signal=signal).exists()


BASIL_STREAM = [
    "synthetic_basil_subscription_created.json",
    "synthetic_basil_subscription_renewed.json",
    "synthetic_basil_subscription_upgraded.json",
    "synthetic_basil_subscription_quantity_down.json",
    "synthetic_basil_subscription_cancel_scheduled.json",
]


def _state():
    sub = Subscription.objects.get(stripe_id="sub_SynBasil0001")
    customer = Customer.objects.get(stripe_id="cus_SynBasil0001")
    return (sub.price_id, sub.quantity, sub.mrr, sub.cancel_at_period_end, customer.mrr)


def test_the_newest_event_wins_whatever_the_order(connection):
    apply_payloads(connection, [load(n) for n in reversed(BASIL_STREAM)])
    assert _state() == ("price_SynTeam", 1, 5000, True, 5000)
    # The older events still gave their own signals.
    assert sorted(RevenueSignal.objects.values_list("kind", flat=True)) == [
        "cancellation_scheduled",
        "plan_downgraded",
        "plan_upgraded",
        "subscription_started",
    ]


def test_in_order_gives_the_same_state(connection):
    apply_payloads(connection, [load(n) for n in BASIL_STREAM])
    assert _state() == ("price_SynTeam", 1, 5000, True, 5000)


def test_events_of_the_same_second_are_ordered_by_event_id(connection):
    a = load("synthetic_basil_subscription_upgraded.json")
    b = copy.deepcopy(load("synthetic_basil_subscription_quantity_down.json"))
    b["created"] = a["created"]
    # evt_SynBasil0004 > evt_SynBasil0003: b's state wins in either order.
    apply_payloads(connection, [b, a])
    assert Subscription.objects.get().quantity == 1


def test_deleted_subscription_leaves_the_customer_without_mrr(connection):
    apply_payloads(
        connection,
        [
            load("synthetic_basil_subscription_quantity_down.json"),
            load("synthetic_basil_subscription_deleted_payment_failed.json"),
        ],
    )
    customer = Customer.objects.get(stripe_id="cus_SynBasil0001")
    assert (customer.mrr, customer.status) == (0, "canceled")


def test_a_paid_invoice_after_failures_is_a_recovery_with_its_time(connection):
    apply_payloads(
        connection,
        [
            load("synthetic_basil_invoice_payment_failed.json"),
            load("synthetic_basil_invoice_paid_after_retries.json"),
        ],
    )
    recovered = RevenueSignal.objects.get(kind="payment_recovered")
    assert recovered.amount == 5000
    assert recovered.details["recovery_seconds"] == 6 * 86400
    assert recovered.details["attempt_count"] == 3
    assert recovered.object_id == "in_SynBasil0002"


@pytest.mark.parametrize("failure_first", [True, False])
def test_a_known_failure_makes_a_first_attempt_payment_a_recovery_in_any_order(
    connection, failure_first
):
    paid = load("synthetic_basil_invoice_paid_after_retries.json")
    paid["data"]["object"]["attempt_count"] = 1
    failed = load("synthetic_basil_invoice_payment_failed.json")
    apply_payloads(connection, [failed, paid] if failure_first else [paid, failed])
    recovered = RevenueSignal.objects.get(kind="payment_recovered")
    assert recovered.event.stripe_id == paid["id"]
    assert recovered.details["recovery_seconds"] == 6 * 86400
    assert recovered.customer.stripe_id == "cus_SynBasil0001"
    assert SignalPlacement.objects.filter(signal=recovered).exists()


def test_a_paid_invoice_that_never_failed_is_no_recovery(connection):
    paid = load("synthetic_basil_invoice_paid_after_retries.json")
    paid["data"]["object"]["attempt_count"] = 1
    apply_payloads(connection, [paid])
    assert list(RevenueSignal.objects.values_list("kind", flat=True)) == ["payment_succeeded"]


def test_jpy_amounts_stay_in_yen(connection):
    apply_payloads(connection, [load("synthetic_basil_jpy_yearly_subscription_created.json")])
    customer = Customer.objects.get(stripe_id="cus_SynYen0001")
    signal = RevenueSignal.objects.get()
    assert (customer.mrr, customer.currency) == (27000, "jpy")
    assert (signal.amount, signal.currency, signal.mrr_delta) == (27000, "jpy", 27000)


def test_an_unseen_customer_becomes_a_stub_filled_by_later_customer_events(connection):
    apply_payloads(connection, [load("synthetic_basil_invoice_payment_failed.json")])
    stub = Customer.objects.get(stripe_id="cus_SynBasil0001")
    assert stub.email == "jo@synthetic.example"  # from the invoice, while nothing better is known
    created = {
        "id": "evt_SynCustomer01",
        "type": "customer.created",
        "api_version": "2025-03-31.basil",
        "created": 1764000000 - 86400,
        "data": {
            "object": {
                "id": "cus_SynBasil0001",
                "object": "customer",
                "email": "jo@new.example",
                "name": "Jo",
            }
        },
    }
    older = copy.deepcopy(created)
    older.update(id="evt_SynCustomer00", created=created["created"] - 60)
    older["data"]["object"]["email"] = "jo@old.example"
    apply_payloads(connection, [created, older])
    assert Customer.objects.get(stripe_id="cus_SynBasil0001").email == "jo@new.example"


def test_a_dispute_finds_its_customer_through_the_charge(connection):
    refund = load("supabase-stripe-sync-engine__charge_refunded.json")
    dispute = load("supabase-stripe-sync-engine__charge_dispute_created.json")
    dispute["data"]["object"]["charge"] = refund["data"]["object"]["id"]
    dispute["id"] = "evt_dispute_of_the_refunded_charge"
    apply_payloads(connection, [refund, dispute])
    signal = RevenueSignal.objects.get(kind="dispute_opened")
    assert signal.customer.stripe_id == "cus_J7Mkgr8mvbl1eK"


def test_unknown_detail_keys_are_refused_on_write():
    with pytest.raises(ValueError, match="unknown"):
        details_clean({"not_a_key": 1})
    with pytest.raises(ValueError):
        details_clean({"attempt_count": "3"})
    with pytest.raises(ValueError, match="not a bool"):
        details_clean({"attempt_count": True})
    assert details_clean({"attempt_count": 3, "next_payment_attempt": None}) == {
        "attempt_count": 3,
        "next_payment_attempt": None,
    }
    # An int is a fine float; a bool is fine where the detail is one.
    assert details_clean({"hours_to_recover": 2, "refund_full": True}) == {
        "hours_to_recover": 2,
        "refund_full": True,
    }


def _intent_failed():
    return {
        "id": "evt_SynIntentFailed",
        "object": "event",
        "type": "payment_intent.payment_failed",
        "api_version": "2025-03-31.basil",
        "created": 1764003600,
        "data": {
            "object": {
                "id": "pi_SynBasil0001",
                "object": "payment_intent",
                "amount": 5000,
                "currency": "usd",
                "customer": "cus_SynBasil0001",
                "description": "Subscription update",
                "latest_charge": "ch_SynBasil0001",
                "last_payment_error": {
                    "code": "card_declined",
                    "decline_code": "insufficient_funds",
                    "message": "Your card has insufficient funds.",
                    "type": "card_error",
                },
                "status": "requires_payment_method",
            }
        },
    }


@pytest.mark.parametrize("intent_first", [True, False])
def test_an_invoice_failure_gets_the_decline_of_its_payment_whatever_the_order(
    connection, intent_first
):
    invoice = load("synthetic_basil_invoice_payment_failed.json")
    payloads = [_intent_failed(), invoice] if intent_first else [invoice, _intent_failed()]
    apply_payloads(connection, payloads)
    (signal,) = RevenueSignal.objects.all()
    assert signal.object_id == "in_SynBasil0002"
    assert signal.details["decline_code"] == "insufficient_funds"
    assert signal.details["failure_code"] == "card_declined"
    assert signal.details["failure_message"] == "Your card has insufficient funds."
    assert signal.details["attempt_count"] == 1


def _charge_failed():
    return {
        "id": "evt_SynChargeFailed",
        "object": "event",
        "type": "charge.failed",
        "api_version": "2025-03-31.basil",
        "created": 1764003600,
        "data": {
            "object": {
                "id": "ch_SynBasil0001",
                "object": "charge",
                "amount": 5000,
                "currency": "usd",
                "customer": "cus_SynBasil0001",
                "description": "Subscription update",
                "payment_intent": "pi_SynBasil0001",
                "failure_code": "card_declined",
                "failure_message": "Your card was declined.",
                "outcome": {"type": "issuer_declined", "reason": "insufficient_funds"},
                "status": "failed",
            }
        },
    }


def test_charge_and_intent_failures_merge_the_same_in_every_order(db):
    results = set()
    for index, order in enumerate(
        itertools.permutations(
            [
                _charge_failed,
                _intent_failed,
                lambda: load("synthetic_basil_invoice_payment_failed.json"),
            ]
        )
    ):
        connection = StripeConnectionFactory(
            workspace=services.workspace_create(
                name=f"Order {index}", owner=UserFactory(), slug=f"order-{index}"
            )
        )
        apply_payloads(connection, [make() for make in order])
        (signal,) = RevenueSignal.objects.filter(workspace=connection.workspace)
        results.add(tuple(sorted(signal.details.items())))
    (details,) = results
    assert dict(details)["decline_code"] == "insufficient_funds"


def test_failures_applied_in_one_batch_merge_as_applied_one_by_one(db):
    """A batch records its charge failures and merges them into their payment_failed signals
    at its end: in any order within the batch, the signal ends as one-by-one applying leaves
    it, and every failure is kept."""
    makers = [
        _charge_failed,
        _intent_failed,
        lambda: load("synthetic_basil_invoice_payment_failed.json"),
    ]
    one_by_one = StripeConnectionFactory()
    apply_payloads(one_by_one, [make() for make in makers])
    (expected,) = RevenueSignal.objects.filter(workspace=one_by_one.workspace)
    for index, order in enumerate(itertools.permutations(makers)):
        connection = StripeConnectionFactory(
            workspace=services.workspace_create(
                name=f"Batch {index}", owner=UserFactory(), slug=f"batch-{index}"
            )
        )
        payloads = [make() for make in order]
        events_store(
            connection=connection, payloads=payloads, source=EventSource.WEBHOOK, wake=False
        )
        by_id = {e.stripe_id: e for e in StripeEvent.objects.filter(connection=connection)}
        with transaction.atomic():
            events_apply_batch(events=[by_id[payload["id"]] for payload in payloads])
        (signal,) = RevenueSignal.objects.filter(workspace=connection.workspace)
        assert signal.details == expected.details, order
        assert PaymentFailure.objects.filter(workspace=connection.workspace).count() == 2
