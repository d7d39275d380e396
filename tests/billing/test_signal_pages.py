"""The signals list and a signal's page."""

import pytest

from billing.describe import signal_describe, stripe_dashboard_url
from billing.models import SignalKind
from tests.dashboard_data import add_signal, default_journey, mixed_history
from tests.factories import FollowUpTaskFactory, RevenueSignalFactory, StripeConnectionFactory


@pytest.mark.parametrize("user", ["admin", "member", "support"])
def test_every_role_sees_the_list(client_for, workspace, user, request):
    mixed_history(workspace)
    response = client_for(request.getfixturevalue(user)).get("/w/acme/signals/")
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 25


def test_the_list_filters_and_sorts(client_for, member, workspace):
    mixed_history(workspace)
    client = client_for(member)
    page = client.get("/w/acme/signals/?kind=refund&sort=-amount").context["page"]
    assert [(s.amount, s.currency) for s in page] == [(2000, "eur"), (1200, "usd")]
    page = client.get("/w/acme/signals/?kind=refund&sort=amount").context["page"]
    assert [s.amount for s in page] == [1200, 2000]
    page = client.get("/w/acme/signals/?period=7&mode=test").context["page"]
    assert list(page) == []
    page = client.get("/w/acme/signals/?customer=kenji&kind=payment_failed").context["page"]
    assert [(s.amount, s.currency) for s in page] == [(5000, "jpy")]


def test_it_checks_workspace(client_for, outsider, workspace):
    signal = mixed_history(workspace)[0]
    assert client_for(outsider).get(signal.get_absolute_url()).status_code == 404
    assert client_for(outsider).get("/w/acme/signals/").status_code == 404


def test_list_query_count_is_constant_in_rows(
    client_for, member, workspace, django_assert_max_num_queries
):
    mixed_history(workspace)
    for _ in range(30):
        add_signal(workspace, SignalKind.REFUND, amount=100)
    client = client_for(member)
    with django_assert_max_num_queries(12):
        assert client.get("/w/acme/signals/").status_code == 200


def test_the_signal_page_says_what_happened_and_where(client_for, support, workspace):
    default_journey(workspace)
    live = StripeConnectionFactory(workspace=workspace, livemode=True)
    signal = add_signal(
        workspace,
        SignalKind.PAYMENT_FAILED,
        amount=4900,
        currency="eur",
        connection=live,
        livemode=True,
        object_id="in_123",
        details={
            "decline_code": "insufficient_funds",
            "attempt_count": 2,
            "next_payment_attempt": "2027-01-03T10:00:00Z",
        },
    )
    earlier = add_signal(
        workspace, SignalKind.PAYMENT_SUCCEEDED, days_ago=30, customer=signal.customer
    )
    FollowUpTaskFactory(workspace=workspace, signal=signal, title="Call about the card")
    response = client_for(support).get(signal.get_absolute_url())
    html = response.content.decode()
    assert (
        "Payment of €49.00 failed — card declined, insufficient funds — attempt 2, next retry 3 Jan"
        in html
    )
    assert "https://dashboard.stripe.com/invoices/in_123" in html
    assert "SaaS customer journey</a> ›" in html
    assert "Pay &amp; retain" in html and "Recurring payment" in html
    assert "Activation" in html and "Payment recovery" in html  # the neighbouring steps
    assert earlier.get_absolute_url() in html
    assert "Call about the card" in html
    assert 'id="signal-tasks"' in html or "Create follow-up task" in html


def test_signal_page_query_count_is_constant(
    client_for, member, workspace, django_assert_max_num_queries
):
    signals = mixed_history(workspace)
    for _ in range(20):
        add_signal(workspace, SignalKind.REFUND, customer=signals[0].customer)
    client = client_for(member)
    with django_assert_max_num_queries(20):
        assert client.get(signals[0].get_absolute_url()).status_code == 200


@pytest.mark.parametrize(
    ("kind", "fields", "text"),
    [
        (
            "refund",
            {
                "amount": 500000,
                "currency": "jpy",
                "details": {"refund_full": True, "reason": "duplicate"},
            },
            "Full refund of ¥500,000 — duplicate",
        ),
        (
            "payment_recovered",
            {"details": {"hours_to_recover": 72}},
            "Failed payment of $49.00 recovered after 3 days",
        ),
        (
            "subscription_canceled",
            {"amount": None, "mrr_delta": -4900, "details": {"churn_type": "involuntary"}},
            "Subscription canceled after failed payments (-$49.00 MRR)",
        ),
        (
            "plan_upgraded",
            {"amount": None, "mrr_delta": 5000, "details": {"previous_mrr": 4900, "new_mrr": 9900}},
            "Plan upgraded from $49.00 to $99.00 a month (+$50.00 MRR)",
        ),
        (
            "checkout_abandoned",
            {"details": {"customer_email": "x@y.z"}},
            "Checkout abandoned by x@y.z ($49.00)",
        ),
    ],
)
def test_describe_reads_the_details(workspace, kind, fields, text):
    signal = RevenueSignalFactory.build(workspace=workspace, kind=kind, **fields)
    assert signal_describe(signal) == text


def test_every_kind_has_a_description(workspace):
    for kind in SignalKind.values:
        signal = RevenueSignalFactory.build(workspace=workspace, kind=kind, details={})
        assert signal_describe(signal)


def test_stripe_dashboard_links_know_test_from_live():
    assert (
        stripe_dashboard_url("ch_1", livemode=False)
        == "https://dashboard.stripe.com/test/payments/ch_1"
    )
    assert (
        stripe_dashboard_url("sub_1", livemode=True)
        == "https://dashboard.stripe.com/subscriptions/sub_1"
    )
    assert stripe_dashboard_url("", livemode=True) == ""
