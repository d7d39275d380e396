"""Every real Stripe event of the shared corpus is stored and applied without error, and a
representative set gives exactly the signals we expect."""

import pytest

from billing.models import Customer, EventStatus, RevenueSignal, Subscription
from custory import services
from tests.billing.apply_support import CORPUS, apply_payloads, load, signals_of
from tests.factories import StripeConnectionFactory, UserFactory

CORPUS_FILES = sorted(p.name for p in CORPUS.glob("*.json"))


@pytest.fixture
def connection(db):
    owner = UserFactory(email="owner@corpus.test")
    workspace = services.workspace_create(name="Corpus", owner=owner, slug="corpus")
    return StripeConnectionFactory(workspace=workspace)


def test_the_corpus_is_there():
    assert len(CORPUS_FILES) >= 100


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_every_corpus_event_applies_and_reapplies_without_new_signals(connection, name):
    (event,) = apply_payloads(connection, [load(name)])
    event.refresh_from_db()
    assert event.status == EventStatus.PROCESSED
    first = signals_of(event)
    event.status = EventStatus.PENDING
    event.save(update_fields=["status"])
    apply_payloads(connection, [load(name)])
    assert signals_of(event) == first


EXPECTED = {
    # Pre-basil plan change: previous_attributes.plan carries the old (higher) price.
    "mozilla-fxa__event_customer_subscription_updated.json": [
        ("plan_downgraded", 500000, "usd", -500000, "sub_00000000000000")
    ],
    "mozilla-fxa__event_customer_updated.json": [],
    "mozilla-fxa__event_invoice_paid.json": [
        ("payment_succeeded", 500, "usd", 0, "in_1GQL9sBVqmGyQTMaEl7Oczgm")
    ],
    "mozilla-fxa__event_invoice_payment_failed.json": [
        ("payment_failed", 500, "usd", 0, "in_00000000000000")
    ],
    # invoice.paid is the one signal of a paid invoice.
    "mozilla-fxa__event_invoice_payment_succeeded.json": [],
    # A daily plan of $1.99: 199 × 365 / 12 = 6053 cents a month.
    "mozilla-fxa__subscription_created.json": [
        ("subscription_started", 6053, "usd", 6053, "sub_GiX3TpyO37x5BW")
    ],
    "mozilla-fxa__subscription_deleted.json": [
        ("subscription_canceled", 999, "usd", -999, "sub_GiX3TpyO37x5BW")
    ],
    # A renewal: only the period fields changed.
    "mozilla-fxa__subscription_updated.json": [],
    "mozilla-fxa__subscription_updated_from_incomplete.json": [
        ("subscription_started", 499, "usd", 499, "sub_GiX3TpyO37x5BW")
    ],
    "stripe-dotnet__event_pre_2017-05-25.json": [],
    "stripe-dotnet__event_unknown_object.json": [],
    "supabase-stripe-sync-engine__charge_dispute_closed.json": [
        ("dispute_closed", 1000, "usd", 0, "dp_1MLuxQJDPojXS6LNrukJCBBG")
    ],
    "supabase-stripe-sync-engine__charge_dispute_created.json": [
        ("dispute_opened", 1000, "usd", 0, "dp_1MLuxQJDPojXS6LNrukJCBBG")
    ],
    # Charges of invoices are left to the invoice events.
    "supabase-stripe-sync-engine__charge_failed.json": [],
    "supabase-stripe-sync-engine__charge_refunded.json": [
        ("refund", 2500, "usd", 0, "ch_3Kl36gJDPojXS6LN0DCM4A8l")
    ],
    "supabase-stripe-sync-engine__charge_succeeded.json": [],
    "supabase-stripe-sync-engine__checkout_session_completed.json": [
        (
            "checkout_completed",
            999,
            "eur",
            0,
            "cs_live_9RBjcHiy2i5p99Tf1MYM90c3SHK1grU0E6Ae6pKWR2KPA4ZiuKiB2X1Y3X",
        )
    ],
    # A $0 invoice is no payment.
    "supabase-stripe-sync-engine__invoice_paid.json": [],
    "supabase-stripe-sync-engine__payment_intent_payment_failed.json": [
        ("payment_failed", 1000, "usd", 0, "pi_1IqxJOJDPojXS6LN9uOebAea")
    ],
    # Only metadata changed.
    "supabase-stripe-sync-engine__subscription_updated.json": [],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_representative_events_give_exactly_these_signals(connection, name):
    (event,) = apply_payloads(connection, [load(name)])
    assert signals_of(event) == EXPECTED[name]


def test_a_full_refund_says_so(connection):
    (event,) = apply_payloads(
        connection, [load("supabase-stripe-sync-engine__charge_refunded.json")]
    )
    signal = event.signals.get()
    assert signal.details["refund_full"] is True
    assert signal.details["charge_id"] == "ch_3Kl36gJDPojXS6LN0DCM4A8l"
    assert signal.customer.stripe_id == "cus_J7Mkgr8mvbl1eK"


def test_a_dispute_gives_its_reason_and_status(connection):
    (event,) = apply_payloads(
        connection, [load("supabase-stripe-sync-engine__charge_dispute_created.json")]
    )
    details = event.signals.get().details
    assert details["dispute_status"] and details["reason"]


def test_a_plan_change_records_both_mrrs(connection):
    (event,) = apply_payloads(
        connection, [load("mozilla-fxa__event_customer_subscription_updated.json")]
    )
    details = event.signals.get().details
    assert (details["previous_mrr"], details["new_mrr"]) == (1000000, 500000)
    assert details["previous_price_id"] == "OLD_00000000000000"


def test_subscription_lifecycle_keeps_the_customer_mrr(connection):
    apply_payloads(
        connection,
        [
            load("mozilla-fxa__subscription_updated_from_incomplete.json"),
            load("mozilla-fxa__subscription_deleted.json"),
        ],
    )
    subscription = Subscription.objects.get(stripe_id="sub_GiX3TpyO37x5BW")
    customer = Customer.objects.get(stripe_id="cus_GiX3P6izX4lG5p")
    assert subscription.customer == customer
    assert customer.mrr == (subscription.mrr if subscription.status == "active" else 0)
    assert RevenueSignal.objects.filter(customer=customer).count() == 2
