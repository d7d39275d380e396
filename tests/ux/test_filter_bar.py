"""One filter bar on the board, a step and the signals list, with removable chips."""

import pytest

from tests.dashboard_data import default_journey, mixed_history


@pytest.fixture
def pages(workspace):
    mixed_history(workspace)
    step = default_journey(workspace).steps.get(name="Recurring payment")
    return ["/w/acme/", step.get_absolute_url(), "/w/acme/signals/"]


def test_every_filtered_page_has_the_same_bar_with_a_kind_checkbox_menu(client_for, member, pages):
    for url in pages:
        body = client_for(member).get(url).content.decode()
        assert body.count('class="filter-bar"') == 1, url
        assert '<input type="checkbox" name="kind" value="payment_failed">' in body, url
        assert "multiple size=" not in body, url
        assert '<noscript><button type="submit">Apply</button></noscript>' in body, url


def test_active_filters_are_chips_that_remove_themselves(client_for, member, pages):
    for url in pages:
        body = client_for(member).get(url + "?period=7&kind=payment_failed&kind=refund").content
        body = body.decode()
        assert "Kind: Payment failed" in body and "Kind: Refund" in body, url
        assert "Period: 7 days" in body, url
        # Removing "Payment failed" keeps the other filters.
        assert f'href="{url}?period=7&amp;kind=refund"' in body, url
