"""The customers list with search, and a customer's page."""

from billing.models import SignalKind
from tests.dashboard_data import add_signal, mixed_history
from tests.factories import CustomerFactory, FollowUpTaskFactory, SubscriptionFactory


def test_it_works(client_for, support, workspace):
    signals = mixed_history(workspace)
    alice = signals[0].customer
    SubscriptionFactory(workspace=workspace, customer=alice, plan_name="Pro", mrr=4900)
    FollowUpTaskFactory(workspace=workspace, customer=alice, title="Check in with Alice")
    response = client_for(support).get(alice.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "alice@example.org" in html and "Pro" in html
    assert "Check in with Alice" in html
    assert "Pay &amp; retain › Recurring payment" in html
    assert "Convert › Checkout" in html
    assert len(response.context["timeline"]) == sum(1 for s in signals if s.customer == alice)


def test_search_finds_by_email_name_or_stripe_id(client_for, member, workspace):
    mixed_history(workspace)
    kenji = CustomerFactory(workspace=workspace, name="Kenji Two", stripe_id="cus_KENJI2")
    client = client_for(member)
    assert [c.name for c in client.get("/w/acme/customers/?q=bob@").context["page"]] == ["Bob GmbH"]
    assert {c.name for c in client.get("/w/acme/customers/?q=kenji").context["page"]} == {
        "Kenji KK",
        "Kenji Two",
    }
    assert list(client.get("/w/acme/customers/?q=cus_KENJI2").context["page"]) == [kenji]


def test_at_risk_lists_customers_with_unpaid_or_cancelling_subscriptions(
    client_for, member, workspace
):
    risky = CustomerFactory(workspace=workspace, name="Risky")
    SubscriptionFactory(workspace=workspace, customer=risky, status="past_due", mrr=100)
    fine = CustomerFactory(workspace=workspace, name="Fine")
    SubscriptionFactory(workspace=workspace, customer=fine, status="active", mrr=100)
    client = client_for(member)
    page = client.get("/w/acme/customers/?at_risk=1").context["page"]
    assert list(page) == [risky]
    everyone = {c.name: c.at_risk for c in client.get("/w/acme/customers/").context["page"]}
    assert everyone == {"Risky": True, "Fine": False}


def test_it_checks_workspace(client_for, outsider, workspace):
    customer = CustomerFactory(workspace=workspace)
    assert client_for(outsider).get(customer.get_absolute_url()).status_code == 404


def test_query_counts_are_constant_in_rows(
    client_for, member, workspace, django_assert_max_num_queries
):
    signals = mixed_history(workspace)
    alice = signals[0].customer
    for _ in range(30):
        add_signal(workspace, SignalKind.PAYMENT_SUCCEEDED, customer=alice)
        CustomerFactory(workspace=workspace)
    client = client_for(member)
    with django_assert_max_num_queries(12):
        assert client.get(alice.get_absolute_url()).status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get("/w/acme/customers/").status_code == 200
