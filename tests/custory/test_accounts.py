"""Sign-in, sign-up and the other django-allauth pages, in Custory's own layout."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.core.cache import cache
from django.test import Client

from custory.models import User
from tests.factories import UserFactory

from ..conftest import PASSWORD

ENTRANCE_PAGES = [
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
    "/accounts/password/reset/done/",
    "/accounts/password/reset/key/1-not-a-key/",
    "/accounts/confirm-email/",
    "/accounts/confirm-email/not-a-key/",
]
MANAGE_PAGES = ["/accounts/email/", "/accounts/password/change/", "/accounts/logout/"]


def _in_our_layout(response) -> bool:
    html = response.content.decode()
    return 'class="brand"' in html and "css/custory.css" in html


@pytest.mark.parametrize("url", ENTRANCE_PAGES)
def test_every_entrance_page_uses_our_layout(client, db, url):
    response = client.get(url)
    assert response.status_code == 200
    assert _in_our_layout(response)


@pytest.mark.parametrize("url", MANAGE_PAGES)
def test_every_account_page_uses_our_layout(client_for, admin, url):
    response = client_for(admin).get(url)
    assert response.status_code == 200
    assert _in_our_layout(response)


def test_the_login_form_labels_every_field(client, db):
    html = client.get("/accounts/login/").content.decode()
    assert '<label for="id_login">Email</label>' in html
    assert '<label for="id_password">Password</label>' in html


def test_a_user_signs_in_with_email_and_password(client, admin, workspace):
    response = client.post("/accounts/login/", {"login": admin.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").url == "/w/acme/"


def test_the_email_is_not_case_sensitive_at_sign_in(client, admin, workspace):
    response = client.post("/accounts/login/", {"login": "ADMIN@Acme.Test", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/w/acme/").status_code == 200


def test_a_wrong_password_shows_an_error_in_the_form(client, admin):
    response = client.post("/accounts/login/", {"login": admin.email, "password": "nope"})
    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_sign_up_creates_a_user_and_sends_a_verification_email(client, db):
    response = client.post(
        "/accounts/signup/",
        {"email": "New@Example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    user = User.objects.get(email__iexact="new@example.com")
    assert not EmailAddress.objects.get(user=user).verified
    assert any("new@example.com" in m.to[0].lower() for m in mail.outbox)
    # Verification is mandatory by default: the new user is not signed in until they confirm.
    assert response.url == "/accounts/confirm-email/"
    assert client.get("/").url.startswith("/accounts/login/")


def test_sign_up_does_not_reveal_that_an_address_has_an_account(client, admin):
    def sign_up(email):
        mail.outbox.clear()
        return Client().post(
            "/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD}
        )

    taken = sign_up(admin.email)
    # The owner of the address learns of the attempt by email; the visitor learns nothing.
    assert [m.to for m in mail.outbox] == [[admin.email]]
    assert "already" in mail.outbox[0].body.lower()
    new = sign_up("fresh@example.com")
    assert (taken.status_code, taken.url) == (new.status_code, new.url)
    assert User.objects.filter(email__iexact=admin.email).count() == 1


def test_an_unverified_user_is_asked_to_confirm_before_signing_in(client, db):
    user = UserFactory(email="late@example.com", verified=False)
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.url == "/accounts/confirm-email/"
    assert "_auth_user_id" not in client.session


def test_sign_up_with_bad_input_shows_field_errors_and_saves_nothing(client, db):
    response = client.post(
        "/accounts/signup/", {"email": "not-an-email", "password1": "x", "password2": "y"}
    )
    assert response.status_code == 200
    assert 'class="field has-error"' in response.content.decode()
    assert not User.objects.exists()


def test_the_signup_form_prefills_the_email_from_the_link(client, db):
    html = client.get("/accounts/signup/?email=invited%40example.com").content.decode()
    assert 'value="invited@example.com"' in html


def test_password_reset_sends_a_link(client, admin):
    response = client.post("/accounts/password/reset/", {"email": admin.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


def test_mandatory_email_verification_keeps_new_users_out_until_they_confirm(client, db, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    response = client.post(
        "/accounts/signup/",
        {"email": "strict@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.url == "/accounts/confirm-email/"
    assert client.get("/").status_code == 302
    assert client.get("/").url.startswith("/accounts/login/")


def test_repeated_login_failures_lock_the_account_out(client, admin, settings):
    # The test settings switch rate limits off; production keeps allauth's limit on.
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
    cache.clear()
    try:
        for _ in range(5):
            client.post("/accounts/login/", {"login": admin.email, "password": "wrong"})
        response = client.post("/accounts/login/", {"login": admin.email, "password": PASSWORD})
        assert response.status_code == 200
        assert "Too many failed login attempts" in response.content.decode()
        assert "_auth_user_id" not in client.session
    finally:
        cache.clear()


def test_production_settings_keep_login_rate_limits_on():
    from custory import settings as production

    assert production.ACCOUNT_RATE_LIMITS["login_failed"]


def test_the_verification_link_confirms_the_address(client, db):
    client.post(
        "/accounts/signup/",
        {"email": "verify@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    link = re.search(r"/accounts/confirm-email/[^/\s]+/", mail.outbox[-1].body).group(0)
    page = client.get(link)
    assert _in_our_layout(page)
    assert "verify@example.com" in page.content.decode()
    client.post(link)
    assert EmailAddress.objects.get(email="verify@example.com").verified


def test_a_password_reset_link_sets_a_new_password(client, admin):
    client.post("/accounts/password/reset/", {"email": admin.email})
    link = re.search(r"/accounts/password/reset/key/\S+/", mail.outbox[-1].body).group(0)
    form_page = client.get(link, follow=True)
    assert _in_our_layout(form_page)
    form_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    response = client.post(
        form_url, {"password1": "brand-new-pass-77", "password2": "brand-new-pass-77"}
    )
    assert response.status_code == 302
    admin.refresh_from_db()
    assert admin.check_password("brand-new-pass-77")
