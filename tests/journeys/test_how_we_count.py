"""The "How we count" page: every figure's definition, linked from a "?" beside each figure."""

import re

from tests.dashboard_data import mixed_history
from tests.journeys.test_step_page import step_named

TERMS = [
    "mrr",
    "arr",
    "paying-customers",
    "arpa",
    "movements",
    "new",
    "expansion",
    "contraction",
    "churn",
    "reactivation",
    "trials",
    "discounts",
    "gross-mrr-churn",
    "net-mrr-churn",
    "customer-churn",
    "failed-payments",
    "failed-payment-rate",
    "recovery",
    "median-time-to-recover",
    "refunds",
    "disputes",
    "revenue-at-risk",
    "where-money-is-lost",
    "currency",
]


def test_it_works(client_for, support, workspace):
    response = client_for(support).get("/w/acme/how-we-count/")
    assert response.status_code == 200
    html = response.content.decode()
    for term in TERMS:
        assert f'id="{term}"' in html, term
    assert html.count('class="example"') == html.count("<section")  # an example for each


def test_it_checks_workspace(client_for, outsider, workspace):
    assert client_for(outsider).get("/w/acme/how-we-count/").status_code == 404


def test_every_question_mark_on_the_board_and_a_step_leads_to_a_definition(
    client_for, member, workspace
):
    mixed_history(workspace)
    client = client_for(member)
    defined = client.get("/w/acme/how-we-count/").content.decode()
    pages = ["/w/acme/?period=30", step_named(workspace, "Recurring payment").get_absolute_url()]
    for page in pages:
        html = client.get(page).content.decode()
        anchors = re.findall(r'href="/w/acme/how-we-count/#([a-z-]+)"', html)
        assert anchors, page
        for anchor in anchors:
            assert f'id="{anchor}"' in defined, anchor
    assert "Revenue at risk now" in client.get(pages[0]).content.decode()
