"""The metrics command's JSON against figures worked out by hand from a month of events."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from hypothesis import given
from hypothesis import strategies as st

from billing.exchange import FixedRates, convert, money_in
from billing.revenue_models import ExchangeRate
from tests.billing.apply_support import apply_payloads
from tests.billing.scenario_events import Plan, Stripe
from tests.factories import RevenueSignalFactory, StripeConnectionFactory, WorkspaceFactory


def day(d, month=6, hour=12):
    return int(datetime(2026, month, d, hour, tzinfo=UTC).timestamp())


def june_events():
    """Four customers: a (USD, new then upgraded), b (EUR, churns), c (USD, an invoice failed
    twice then paid), d (USD, an invoice failed, uncollectible, subscription unpaid)."""
    a = Stripe(basil=False, name="a")
    sub = a.subscription("sub_a", "cus_a", [Plan("price_50", 5000)])
    a.event("customer.subscription.created", sub, day(2))
    bigger = a.subscription("sub_a", "cus_a", [Plan("price_90", 9000)])
    a.event("customer.subscription.updated", bigger, day(10), previous={"items": sub["items"]})
    b = Stripe(basil=True, currency="eur", name="b")
    b.event(
        "customer.subscription.created",
        b.subscription("sub_b", "cus_b", [Plan("p", 4000)]),
        day(20, month=5),
    )
    gone = b.subscription(
        "sub_b",
        "cus_b",
        [Plan("p", 4000)],
        status="canceled",
        cancel_reason="cancellation_requested",
    )
    b.event("customer.subscription.deleted", gone, day(15), request="req_b")
    c = Stripe(basil=True, name="c")
    c.event(
        "customer.subscription.created",
        c.subscription("sub_c", "cus_c", [Plan("p", 2000)]),
        day(10, month=5),
    )
    for attempt, when in ((1, day(5)), (2, day(8))):
        inv = c.invoice("in_c", "cus_c", "sub_c", 2000, attempt_count=attempt, finalized_at=day(5))
        c.event("invoice.payment_failed", inv, when)
    paid = c.invoice(
        "in_c", "cus_c", "sub_c", 2000, attempt_count=3, finalized_at=day(5), paid_at=day(12)
    )
    c.event("invoice.paid", paid, day(12))
    d = Stripe(basil=False, name="d")
    d.event(
        "customer.subscription.created",
        d.subscription("sub_d", "cus_d", [Plan("p", 3000)]),
        day(1, month=5),
    )
    inv = d.invoice("in_d", "cus_d", "sub_d", 3000, finalized_at=day(20))
    d.event("invoice.payment_failed", inv, day(20))
    inv["status_transitions"]["marked_uncollectible_at"] = day(25)
    d.event("invoice.marked_uncollectible", inv, day(25))
    unpaid = d.subscription("sub_d", "cus_d", [Plan("p", 3000)], status="unpaid")
    d.event("customer.subscription.updated", unpaid, day(25), previous={"status": "past_due"})
    return a.events + b.events + c.events + d.events


def money(total, **by_currency):
    return {"total": total, "by_currency": by_currency}


EXPECTED = {
    "currency": "USD",
    "from": "2026-06-01",
    "to": "2026-06-30",
    "mrr": money(11000, USD=11000),  # a 90.00 + c 20.00
    "arr": money(132000, USD=132000),
    "paying_customers": 2,
    "arpa": money(5500, USD=5500),
    "movements": {
        "new": money(5000, USD=5000),
        "expansion": money(4000, USD=4000),
        "contraction": money(0),
        "churn_voluntary": money(-5000, EUR=-4000),  # €40.00 at 1.25 USD per EUR
        "churn_involuntary": money(-3000, USD=-3000),
        "reactivation": money(0),
    },
    "failed_payments": {"invoices": 2, "attempts": 3, "amount": money(5000, USD=5000)},
    "recovery": {
        "invoices_recovered": 1,
        "amount_recovered": money(2000, USD=2000),
        "in_dunning": 0,
        "lost": 1,
        "rate_amount": 0.4,
        "rate_count": 0.5,
    },
    "refunds": {"count": 1, "amount": money(1000, USD=1000)},
    "disputes": {"opened": 1, "amount": money(3125, EUR=2500), "won": 1, "lost": 0},
    "revenue_at_risk": money(3000, USD=3000),  # d's unpaid subscription, now
}


def june_history(workspace):
    """The month of events above, the rate of 29 June, and a refund and a dispute (won)."""
    connection = StripeConnectionFactory(workspace=workspace)
    apply_payloads(connection, june_events())
    ExchangeRate.objects.create(day=date(2026, 6, 29), currency="usd", per_eur=Decimal("1.25"))
    at = datetime(2026, 6, 18, tzinfo=UTC)
    RevenueSignalFactory(
        workspace=workspace, kind="refund", amount=1000, currency="usd", occurred_at=at
    )
    RevenueSignalFactory(
        workspace=workspace, kind="dispute_opened", amount=2500, currency="eur", occurred_at=at
    )
    RevenueSignalFactory(
        workspace=workspace,
        kind="dispute_closed",
        amount=2500,
        currency="eur",
        occurred_at=datetime(2026, 6, 28, tzinfo=UTC),
        details={"dispute_status": "won"},
    )


@pytest.fixture
def workspace(db):
    workspace = WorkspaceFactory(slug="fin")
    june_history(workspace)
    return workspace


def metrics(*args):
    out = StringIO()
    call_command("metrics", "fin", *args, stdout=out)
    return out.getvalue()


def test_the_json_has_exactly_the_hand_computed_figures(workspace):
    figures = json.loads(metrics("--from", "2026-06-01", "--to", "2026-06-30", "--json"))
    assert figures == EXPECTED


def test_movements_add_up_to_the_change_in_mrr(workspace):
    may = json.loads(metrics("--from", "2026-05-01", "--to", "2026-05-31", "--json"))
    june = json.loads(metrics("--from", "2026-06-01", "--to", "2026-06-30", "--json"))
    for currency in ("USD", "EUR"):
        change = june["mrr"]["by_currency"].get(currency, 0) - may["mrr"]["by_currency"].get(
            currency, 0
        )
        moved = sum(m["by_currency"].get(currency, 0) for m in june["movements"].values())
        assert moved == change


def test_the_text_says_the_same(workspace):
    text = metrics("--from", "2026-06-01", "--to", "2026-06-30")
    assert "MRR $110.00" in text
    assert "2 invoices (3 attempts)" in text
    assert "50.0% of invoices, 40.0% of the amount" in text


def test_a_wrong_date_or_workspace_is_a_clear_error(workspace):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        metrics("--from", "June")
    with pytest.raises(CommandError, match="No workspace"):
        call_command("metrics", "nope")


def test_conversion_with_fixed_rates():
    rates = FixedRates({"usd": Decimal("1.25"), "jpy": Decimal("160")})
    assert convert(4000, "eur", "usd", date(2026, 6, 1), rates) == 5000
    assert convert(16000, "jpy", "usd", date(2026, 6, 1), rates) == 12500  # ¥16,000 = $125.00
    assert convert(5000, "usd", "jpy", date(2026, 6, 1), rates) == 6400
    total = money_in({"usd": 100, "eur": 4000, "chf": 10}, "usd", date(2026, 6, 1), rates)
    assert total.total == 5100 and total.unconverted == ["chf"]


CURRENCIES = ["usd", "eur", "jpy", "gbp", "kwd"]


@given(
    st.dictionaries(st.sampled_from(CURRENCIES), st.integers(-(10**12), 10**12), max_size=5),
    st.sampled_from(CURRENCIES),
)
def test_converted_totals_equal_the_sum_of_converted_parts(amounts, to):
    rates = FixedRates(
        {
            "usd": Decimal("1.0832"),
            "jpy": Decimal("161.27"),
            "gbp": Decimal("0.8421"),
            "kwd": Decimal("0.3315"),
        }
    )
    on = date(2026, 6, 1)
    total = money_in(amounts, to, on, rates)
    assert total.total == sum(convert(v, c, to, on, rates) for c, v in amounts.items())
    assert total.by_currency == amounts
