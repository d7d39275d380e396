"""Per-customer figures on the customers list, and sorting by each of them (by converted
amount), read from the CustomerFigures rollup."""

from decimal import Decimal

import pytest
from django.utils import timezone

from billing.customer_figures import customer_figures_rebuild
from billing.revenue_models import CustomerFigures, ExchangeRate, FailedInvoice, MrrMovement
from billing.selectors import CUSTOMER_SORTS, SORT_FIGURES
from tests.dashboard_data import mixed_history
from tests.factories import CustomerFactory, RevenueSignalFactory, SubscriptionFactory


@pytest.fixture
def history(workspace):
    return mixed_history(workspace)


def figures(client, sort=""):
    response = client.get("/w/acme/customers/", {"sort": sort} if sort else {})
    assert response.status_code == 200
    return [
        (c.name, c.figures.failed_outstanding, c.figures.disputed, c.figures.paid)
        for c in response.context["page"]
    ]


def test_each_customer_shows_its_figures(client_for, member, history):
    rows = {name: rest for name, *rest in figures(client_for(member))}
    # Bob: €99.00 failed and still in dunning, a €99.00 dispute; Alice: €49.00 in dunning
    # (test mode) and two €49.00 payments.
    assert rows["Bob GmbH"] == [9900, 9900, 0]
    assert rows["Alice Ltd"] == [4900, 0, 9800]


@pytest.mark.parametrize(
    ("sort", "first"),
    [("failed", "Bob GmbH"), ("disputed", "Bob GmbH"), ("paid", "Alice Ltd")],
)
def test_the_list_sorts_by_each_figure(client_for, member, history, sort, first):
    assert figures(client_for(member), sort)[0][0] == first
    html = client_for(member).get("/w/acme/customers/", {"sort": sort}).content.decode()
    assert "At risk now" in html


def test_a_customers_page_shows_its_figures(client_for, support, history, workspace):
    bob = workspace.customers.get(name="Bob GmbH")
    response = client_for(support).get(bob.get_absolute_url())
    assert response.status_code == 200
    assert response.context["figures"].failed_outstanding == 9900
    assert "Failed, outstanding" in response.content.decode()


def _owed(workspace, customer, sort: str, amount: int) -> None:
    """Source rows that give the customer `amount` (in its currency) of one figure."""
    if sort in ("paid", "refunded", "disputed"):
        kind = {"paid": "payment_succeeded", "refunded": "refund", "disputed": "dispute_opened"}
        RevenueSignalFactory(
            workspace=workspace,
            customer=customer,
            kind=kind[sort],
            amount=amount,
            currency=customer.currency,
        )
    elif sort == "failed":
        FailedInvoice.objects.create(
            workspace=workspace,
            customer=customer,
            invoice_id=f"in_{customer.stripe_id}",
            currency=customer.currency,
            amount=amount,
            attempts=1,
            first_failed_at=timezone.now(),
        )
    elif sort == "risk":
        SubscriptionFactory(
            workspace=workspace,
            customer=customer,
            status="past_due",
            mrr=amount,
            currency=customer.currency,
        )
    else:
        MrrMovement.objects.create(
            workspace=workspace,
            customer=customer,
            at=timezone.now(),
            kind="new",
            currency=customer.currency,
            amount=amount,
            mrr_after=amount,
        )


@pytest.mark.parametrize("sort", list(CUSTOMER_SORTS))
def test_each_sort_ranks_by_converted_amount_not_digits(client_for, member, workspace, sort):
    today = timezone.now().date()
    ExchangeRate.objects.create(day=today, currency="usd", per_eur=Decimal("1.10"))
    ExchangeRate.objects.create(day=today, currency="jpy", per_eur=Decimal("165"))
    amounts = {"Yen KK": ("jpy", 50000), "Dollar Inc": ("usd", 49500), "Small LLC": ("usd", 10000)}
    for name, (currency, amount) in amounts.items():
        customer = CustomerFactory(workspace=workspace, name=name, currency=currency)
        _owed(workspace, customer, sort, amount)
    CustomerFactory(workspace=workspace, name="Nothing Yet")  # no figures row at all
    customer_figures_rebuild(workspace=workspace)
    CustomerFigures.objects.filter(customer__name="Nothing Yet").delete()

    response = client_for(member).get("/w/acme/customers/", {"sort": sort})
    # ¥50,000 ≈ $333: between $495 and $100, not above them because 50000 > 49500.
    assert [c.name for c in response.context["page"]] == [
        "Dollar Inc",
        "Yen KK",
        "Small LLC",
        "Nothing Yet",
    ]
    shown = {c.name: getattr(c.figures, SORT_FIGURES[sort]) for c in response.context["page"]}
    assert shown == {"Yen KK": 50000, "Dollar Inc": 49500, "Small LLC": 10000, "Nothing Yet": 0}


def test_a_page_of_customers_reads_its_figures_in_one_query(
    client_for, member, workspace, history, django_assert_max_num_queries
):
    client = client_for(member)
    client.get("/w/acme/customers/", {"sort": "paid"})
    with django_assert_max_num_queries(12) as captured:
        client.get("/w/acme/customers/", {"sort": "paid"})
    figure_reads = [q for q in captured.captured_queries if "customerfigures" in q["sql"]]
    assert len(figure_reads) == 2  # the sort's join, and the page's figures
    assert not any("revenuesignal" in q["sql"] for q in captured.captured_queries)


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "<script>alert(1)</script>"},
        {"sort": "paid;DROP TABLE billing_customer"},
        {"sort": "paid", "page": "-1"},
        {"sort": "risk", "page": "abc"},
        {"sort": "mrr", "page": "999999"},
    ],
)
def test_wrong_sort_or_page_values_still_list_customers(client_for, member, history, params):
    response = client_for(member).get("/w/acme/customers/", params)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert CustomerFigures.objects.exists()  # nothing was run from the input


def test_another_workspaces_customer_is_not_found(client_for, member, history):
    stranger = CustomerFactory()  # in a workspace of its own
    assert client_for(member).get(stranger.get_absolute_url()).status_code == 404
