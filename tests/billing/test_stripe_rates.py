"""Stripe's own exchange rate: where a balance transaction carries one, the amount counts at
what Stripe settled it as, in preference to the ECB's rate of the day."""

import copy
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.exchange import FixedRates, Part, convert, money_of_parts
from billing.figures import period_figures
from billing.filters import Period
from billing.normalize import normalize_event
from billing.revenue_models import ExchangeRate, RevenueSettings
from tests.billing.apply_support import apply_payloads, load
from tests.factories import StripeConnectionFactory

REFUNDED = "supabase-stripe-sync-engine__charge_refunded.json"
DISPUTED = "supabase-stripe-sync-engine__charge_dispute_created.json"
APRIL_2021 = Period(date(2021, 4, 1), date(2021, 4, 30))


def expanded(txn_id: str, amount: int, currency: str, rate) -> dict:
    """A balance transaction as an expanded object (history import, `expand[]`)."""
    return {
        "id": txn_id,
        "object": "balance_transaction",
        "amount": amount,
        "currency": currency,
        "exchange_rate": rate,
    }


def euro_refund(settled: dict | None) -> dict:
    """The corpus' refunded charge, billed in euros; its refund's transaction expanded."""
    event = copy.deepcopy(load(REFUNDED))
    charge = event["data"]["object"]
    charge["currency"] = "eur"
    for refund in charge["refunds"]["data"]:
        refund["currency"] = "eur"
        if settled is not None:
            refund["balance_transaction"] = settled
    return event


def test_a_transaction_given_by_id_is_kept_by_id():
    (signal,) = normalize_event(load(REFUNDED)).signals
    assert signal.details["balance_transaction_id"] == "txn_3Kl36gJDPojXS6LN0MUI8H15"
    assert "settlement_amount" not in signal.details


def test_an_expanded_refund_transaction_gives_the_settled_amount_and_rate():
    txn = expanded("txn_refund", -2733, "usd", 1.0932)
    (signal,) = normalize_event(euro_refund(txn)).signals
    assert signal.kind == "refund" and signal.currency == "eur" and signal.amount == 2500
    assert signal.details["settlement_currency"] == "usd"
    assert signal.details["settlement_amount"] == 2733
    assert signal.details["exchange_rate"] == "1.0932"
    assert signal.details["balance_transaction_id"] == "txn_refund"


def test_a_transaction_in_the_charges_own_currency_has_no_rate_to_use():
    (signal,) = normalize_event(euro_refund(expanded("txn_same", -2500, "eur", None))).signals
    assert signal.details["balance_transaction_id"] == "txn_same"
    assert "settlement_currency" not in signal.details


def test_a_disputes_expanded_withdrawal_gives_the_settled_amount():
    event = copy.deepcopy(load(DISPUTED))
    dispute = event["data"]["object"]
    dispute["currency"] = "gbp"
    dispute["balance_transactions"] = [expanded("txn_withdrawal", -1172, "usd", 1.172)]
    (signal,) = normalize_event(event).signals
    assert signal.kind == "dispute_opened"
    assert (signal.details["settlement_currency"], signal.details["settlement_amount"]) == (
        "usd",
        1172,
    )


@pytest.mark.django_db
def test_the_figures_count_a_refund_at_stripes_rate_and_others_at_the_ecbs():
    connection = StripeConnectionFactory()
    workspace = connection.workspace
    RevenueSettings.objects.create(workspace=workspace, reporting_currency="usd")
    ExchangeRate.objects.create(day=date(2021, 4, 29), currency="usd", per_eur=Decimal("1.25"))
    settled = euro_refund(expanded("txn_a", -2733, "usd", 1.0932))
    by_id = euro_refund(None)
    by_id["id"] = "evt_refund_by_id"
    by_id["data"]["object"]["id"] = "ch_other"
    by_id["data"]["object"]["refunds"]["data"][0]["id"] = "re_other"
    apply_payloads(connection, [settled, by_id])
    refunds = period_figures(workspace, APRIL_2021)["refunds"]
    # $27.33 as Stripe settled the first; the second at the ECB's 1.25: $31.25.
    assert refunds == {"count": 2, "amount": {"total": 2733 + 3125, "by_currency": {"EUR": 5000}}}


@pytest.mark.django_db
def test_stripes_settlement_in_a_third_currency_is_converted_on_by_the_day_rate():
    connection = StripeConnectionFactory()
    workspace = connection.workspace
    RevenueSettings.objects.create(workspace=workspace, reporting_currency="usd")
    for currency, rate in (("usd", "1.25"), ("gbp", "0.8")):
        ExchangeRate.objects.create(day=date(2021, 4, 29), currency=currency, per_eur=rate)
    apply_payloads(connection, [euro_refund(expanded("txn_b", -2200, "gbp", 0.88))])
    refunds = period_figures(workspace, APRIL_2021)["refunds"]
    # £22.00 settled, then £22.00 / 0.8 × 1.25 = $34.38.
    assert refunds["amount"] == {"total": 3438, "by_currency": {"EUR": 2500}}


AMOUNTS = st.integers(min_value=-(10**9), max_value=10**9)


@given(
    st.lists(
        st.tuples(st.sampled_from(["eur", "usd", "jpy"]), AMOUNTS, st.booleans(), AMOUNTS),
        max_size=8,
    )
)
def test_the_total_is_always_the_sum_of_the_converted_parts(rows):
    rates = FixedRates({"usd": Decimal("1.08"), "jpy": Decimal("161.2")})
    parts = [
        Part(currency, amount, "usd" if settled else "", settled_amount if settled else 0)
        for currency, amount, settled, settled_amount in rows
    ]
    money = money_of_parts(parts, "jpy", date(2026, 1, 1), rates)
    expected = sum(
        convert(
            p.settled if p.settled_in else p.amount,
            p.settled_in or p.currency,
            "jpy",
            date(2026, 1, 1),
            rates,
        )
        for p in parts
    )
    assert money.total == expected
    for currency, amount in money.by_currency.items():
        assert amount == sum(p.amount for p in parts if p.currency == currency)
