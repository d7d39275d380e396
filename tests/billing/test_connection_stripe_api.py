"""The Stripe API client against a local server speaking Stripe's wire format."""

import pytest

from billing.pipeline import stripe_api
from tests.stripe_fake import RK_TEST, refused_url, serve_fake_stripe

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_stripe(settings):
    yield from serve_fake_stripe(settings)


def test_account_retrieve_returns_id_name_and_no_guessed_livemode(fake_stripe):
    fake_stripe.add_key(RK_TEST, account_id="acct_1AcmeTest", account_name="Acme SaaS")
    account = stripe_api.account_retrieve(api_key=RK_TEST)
    assert account == stripe_api.AccountInfo(
        id="acct_1AcmeTest", name="Acme SaaS", livemode=None, default_currency="usd"
    )
    request = fake_stripe.requests_to("/v1/account")[0]
    assert request.api_key == RK_TEST


def test_an_unknown_key_is_reported_as_invalid(fake_stripe):
    with pytest.raises(stripe_api.StripeAPIError) as caught:
        stripe_api.account_retrieve(api_key=RK_TEST)
    assert caught.value.kind == "invalid_key"
    assert "did not accept this API key" in caught.value.message
    assert RK_TEST not in caught.value.message


def test_an_expired_key_says_so(fake_stripe):
    fake_stripe.add_key(RK_TEST, expired=True)
    with pytest.raises(stripe_api.StripeAPIError) as caught:
        stripe_api.account_retrieve(api_key=RK_TEST)
    assert caught.value.kind == "expired_key"
    assert "expired" in caught.value.message


def test_a_missing_permission_names_the_permission_to_add(fake_stripe):
    fake_stripe.add_key(RK_TEST, can_read_events=False)
    with pytest.raises(stripe_api.StripeAPIError) as caught:
        stripe_api.events_page(api_key=RK_TEST, types=["invoice.paid"], created_gte=0)
    assert caught.value.kind == "permission"
    assert "Events: Read" in caught.value.message


def test_a_rate_limit_asks_to_wait(fake_stripe):
    fake_stripe.add_key(RK_TEST)
    fake_stripe.fail_next("/v1/account", 429, type="invalid_request_error", code="rate_limit")
    with pytest.raises(stripe_api.StripeAPIError) as caught:
        stripe_api.account_retrieve(api_key=RK_TEST)
    assert caught.value.kind == "rate_limit"
    assert "wait a minute" in caught.value.message


def test_a_network_failure_is_reported_without_a_traceback(settings):
    settings.STRIPE_API_BASE = refused_url()
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    with pytest.raises(stripe_api.StripeAPIError) as caught:
        stripe_api.account_retrieve(api_key=RK_TEST)
    assert caught.value.kind == "network"
    assert "could not reach Stripe" in caught.value.message


def test_other_stripe_errors_are_shown_with_keys_redacted(fake_stripe):
    fake_stripe.add_key(RK_TEST)
    fake_stripe.fail_next(
        "/v1/account", 400, type="invalid_request_error", message=f"Odd request with {RK_TEST}"
    )
    with pytest.raises(stripe_api.StripeAPIError) as caught:
        stripe_api.account_retrieve(api_key=RK_TEST)
    assert caught.value.kind == "stripe_error"
    assert RK_TEST not in caught.value.message
    assert "[redacted]" in caught.value.message


def test_events_are_paged_newest_first_with_a_cursor(fake_stripe):
    fake_stripe.add_key(RK_TEST)
    for n in range(150):
        fake_stripe.add_event(type="invoice.paid", created=1_700_000_000 + n)
    first = stripe_api.events_page(api_key=RK_TEST, types=["invoice.paid"], created_gte=0)
    assert len(first.events) == 100 and first.has_more
    assert first.events[0]["created"] == 1_700_000_149
    second = stripe_api.events_page(
        api_key=RK_TEST,
        types=["invoice.paid"],
        created_gte=0,
        starting_after=first.events[-1]["id"],
    )
    assert len(second.events) == 50 and not second.has_more
    params = dict(fake_stripe.requests_to("/v1/events")[1].params)
    assert params["starting_after"] == first.events[-1]["id"]
    assert params["created[gte]"] == "0"
