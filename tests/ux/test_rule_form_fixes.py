"""The rule form never answers a 500, and its preview says what is wrong."""

import pytest
from django.urls import reverse

from journeys.services import journey_install_default
from tests.factories import RevenueSignalFactory


def url(name, *args):
    return reverse(f"journeys:{name}", args=["acme", *args])


@pytest.fixture
def journey(workspace):
    return journey_install_default(workspace=workspace)


@pytest.fixture
def abandoned(workspace):
    """An abandoned checkout of a visitor Stripe never knew as a customer."""
    return RevenueSignalFactory(workspace=workspace, kind="checkout_abandoned", customer=None)


def test_the_default_checkout_rule_opens_for_editing(client_for, member, journey, abandoned):
    rule = journey.mapping_rules.get(priority=10)
    response = client_for(member).get(url("rule_edit", rule.uuid))
    assert response.status_code == 200
    assert "no customer" in response.content.decode()


def test_a_new_rule_prefilled_with_checkout_abandoned_opens(client_for, member, journey, abandoned):
    response = client_for(member).get(url("rule_create", journey.uuid) + "?kind=checkout_abandoned")
    assert response.status_code == 200


def test_the_live_preview_shows_signals_without_a_customer(client_for, member, journey, abandoned):
    response = client_for(member).post(
        url("rule_preview", journey.uuid), {"kinds": ["checkout_abandoned"], "priority": "1"}
    )
    assert response.status_code == 200
    assert "<strong>1</strong> signal" in response.content.decode()


def test_the_preview_names_the_real_error(client_for, member, journey):
    body = (
        client_for(member)
        .post(url("rule_preview", journey.uuid), {"kinds": ["refund"], "amount_min": "x"})
        .content.decode()
    )
    assert "Choose at least one signal kind" not in body
    assert "Amount at least" in body and "Enter a number" in body


def test_the_preview_asks_for_a_kind_when_none_is_chosen(client_for, member, journey):
    body = client_for(member).post(url("rule_preview", journey.uuid), {}).content.decode()
    assert "Choose at least one signal kind" in body
