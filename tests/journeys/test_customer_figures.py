"""Per-customer figures on the customers list, and sorting by each of them."""

import pytest

from tests.dashboard_data import mixed_history


@pytest.fixture
def history(workspace):
    return mixed_history(workspace)


def figures(client, sort=""):
    response = client.get("/w/acme/customers/", {"sort": sort} if sort else {})
    assert response.status_code == 200
    return [
        (c.name, c.figure_failed, c.figure_disputed, c.figure_paid)
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
    assert response.context["figures"].figure_failed == 9900
    assert "Failed, outstanding" in response.content.decode()
