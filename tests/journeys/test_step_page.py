"""A step's page: chart, metrics, filtered signal list with paging, open tasks."""

import pytest

from billing.models import SignalKind
from journeys.models import Step
from tests.dashboard_data import add_signal, default_journey, mixed_history
from tests.factories import FollowUpTaskFactory


def step_named(workspace, name) -> Step:
    return default_journey(workspace).steps.get(name=name)


def test_it_works(client_for, support, workspace):
    mixed_history(workspace)
    step = step_named(workspace, "Recurring payment")
    FollowUpTaskFactory(workspace=workspace, step=step, title="Call Bob about his card")
    response = client_for(support).get(step.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "Signals over time" in html
    assert "<svg" in html and 'role="img"' in html
    assert "Call Bob about his card" in html
    assert "Recovery rate" in html
    assert "Median time to recover" in html
    # Median of 20 h and 50 h.
    assert response.context["stats"].median_hours_to_recover == 35.0


def test_checkout_conversion_is_completed_over_completed_and_abandoned(
    client_for, member, workspace
):
    mixed_history(workspace)
    response = client_for(member).get(step_named(workspace, "Checkout").get_absolute_url())
    assert response.context["stats"].checkout_conversion == pytest.approx(1 / 3)
    assert "33%" in response.content.decode()


def test_filters_narrow_the_signal_list(client_for, member, workspace):
    mixed_history(workspace)
    url = step_named(workspace, "Recurring payment").get_absolute_url()
    client = client_for(member)
    page = client.get(url + "?period=30&decline_code=expired_card").context["page"]
    assert [s.details["decline_code"] for s in page] == ["expired_card"]
    page = client.get(url + "?period=30&customer=alice&kind=payment_failed").context["page"]
    assert {s.customer.name for s in page} == {"Alice Ltd"}
    page = client.get(url + "?period=30&amount_min=50").context["page"]
    # €99.00 and ¥5,000 are at least 50 in their own currency; €49.00 is not.
    assert sorted((s.amount, s.currency) for s in page) == [(5000, "jpy"), (9900, "eur")]


def test_htmx_paging_answers_the_list_fragment(client_for, member, workspace):
    default_journey(workspace)
    for i in range(30):
        add_signal(workspace, SignalKind.PAYMENT_FAILED, days_ago=1 + i % 5, amount=100 + i)
    url = step_named(workspace, "Recurring payment").get_absolute_url()
    client = client_for(member)
    response = client.get(url + "?page=2", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="step-signals")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="step-signals"')
    assert "<h1>" not in html
    assert len(response.context["page"].object_list) == 5


def test_query_count_is_constant_in_rows(
    client_for, member, workspace, django_assert_max_num_queries
):
    mixed_history(workspace)
    step = step_named(workspace, "Recurring payment")
    client = client_for(member)
    for _ in range(40):
        add_signal(workspace, SignalKind.PAYMENT_FAILED, amount=4900, currency="eur")
    # + the reporting currency and its rates, for each line's converted figure: at most 24
    with django_assert_max_num_queries(24):
        assert client.get(step.get_absolute_url()).status_code == 200


def test_it_checks_workspace(client_for, outsider, workspace):
    mixed_history(workspace)
    step = step_named(workspace, "Checkout")
    assert client_for(outsider).get(step.get_absolute_url()).status_code == 404


@pytest.fixture(autouse=True)
def _empty_cache():
    from django.core.cache import cache

    cache.clear()


def test_the_step_page_always_charts_a_period(client_for, member, workspace):
    mixed_history(workspace)
    response = client_for(member).get(step_named(workspace, "Checkout").get_absolute_url())
    assert "Any time" not in response.content.decode()
    assert response.context["period"].days == 30


def test_the_live_poll_refreshes_the_step_signals(client_for, member, workspace):
    signals = mixed_history(workspace)
    url = step_named(workspace, "Recurring payment").get_absolute_url()
    latest = max(s.pk for s in signals)
    client = client_for(member)
    assert "HX-Trigger" not in client.get(f"{url}?live={latest}", HTTP_HX_REQUEST="true")
    add_signal(workspace, SignalKind.PAYMENT_FAILED)
    response = client.get(f"{url}?live={latest}", HTTP_HX_REQUEST="true")
    assert response["HX-Trigger"] == "signals-changed"
    assert b'hx-trigger="signals-changed from:body"' in client.get(url).content
