"""Accepting an invitation: explained to anyone with the link, joined by the invited address."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from custory import services
from custory.models import AuditEvent, Invitation, Membership, Role
from tests.factories import UserFactory

from ..conftest import PASSWORD


@pytest.fixture
def invitation(workspace, admin):
    return Invitation.objects.create(
        workspace=workspace, email="invitee@example.com", role=Role.SUPPORT, invited_by=admin
    )


@pytest.fixture
def invitee(db):
    return UserFactory(email="invitee@example.com")


def test_an_anonymous_visitor_sees_who_invited_them_to_what(client, invitation, admin):
    response = client.get(invitation.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "Acme SaaS" in html
    assert admin.email in html
    assert "invitee@example.com" in html


def test_sign_up_and_sign_in_links_come_back_to_the_invitation(client, invitation):
    response = client.get(invitation.get_absolute_url())
    signup = urlparse(response.context["signup_url"])
    login = urlparse(response.context["login_url"])
    assert signup.path == "/accounts/signup/"
    assert parse_qs(signup.query) == {
        "next": [invitation.get_absolute_url()],
        "email": ["invitee@example.com"],
    }
    assert login.path == "/accounts/login/"
    assert parse_qs(login.query) == {"next": [invitation.get_absolute_url()]}


def test_signing_up_through_the_link_prefills_the_email_and_returns_to_the_invitation(
    client, invitation
):
    signup_url = client.get(invitation.get_absolute_url()).context["signup_url"]
    assert 'value="invitee@example.com"' in client.get(signup_url).content.decode()
    response = client.post(
        signup_url,
        {"email": "invitee@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.url == "/accounts/confirm-email/"
    link = re.search(r"/accounts/confirm-email/[^/\s]+/", mail.outbox[-1].body).group(0)
    client.post(link)
    login_url = client.get(invitation.get_absolute_url()).context["login_url"]
    response = client.post(login_url, {"login": "invitee@example.com", "password": PASSWORD})
    assert response.url == invitation.get_absolute_url()
    response = client.post(response.url)
    assert response.url == "/w/acme/"
    assert Membership.objects.get(user__email="invitee@example.com").role == Role.SUPPORT


def test_the_invited_user_joins_with_the_invited_role_and_lands_on_the_workspace(
    client_for, invitee, invitation
):
    client = client_for(invitee)
    page = client.get(invitation.get_absolute_url())
    assert page.status_code == 200
    assert "Join Acme SaaS" in page.content.decode()
    response = client.post(invitation.get_absolute_url(), follow=True)
    assert response.redirect_chain[-1][0] == "/w/acme/"
    assert "You joined as Support" in response.content.decode()
    membership = Membership.objects.get(user=invitee, workspace=invitation.workspace)
    assert membership.role == Role.SUPPORT
    invitation.refresh_from_db()
    assert invitation.accepted_by == invitee
    assert invitation.state == "accepted"
    event = AuditEvent.objects.get(action="invitation.accept")
    assert event.actor == invitee
    assert event.data["role"] == "support"


def test_the_email_matches_whatever_its_case(client_for, invitation):
    user = UserFactory(email="invitee@example.com")
    invitation.email = "InVitee@Example.COM"
    invitation.save()
    client_for(user).post(invitation.get_absolute_url())
    assert Membership.objects.filter(user=user, workspace=invitation.workspace).exists()


def test_a_user_with_another_email_gets_an_explanation_and_joins_nothing(
    client_for, stranger, invitation
):
    client = client_for(stranger)
    for method in (client.get, client.post):
        response = method(invitation.get_absolute_url())
        assert response.status_code == 403
        html = response.content.decode()
        assert "stranger@nowhere.test" in html
        assert "invitee@example.com" in html
        assert "Nothing was joined" in html
    assert not Membership.objects.filter(user=stranger).exists()
    invitation.refresh_from_db()
    assert invitation.state == "pending"


def test_an_invitation_works_once(client_for, invitee, invitation, client):
    client = client_for(invitee)
    client.post(invitation.get_absolute_url())
    Membership.objects.filter(user=invitee).delete()
    response = client.post(invitation.get_absolute_url())
    assert response.status_code == 410
    assert "already been used" in response.content.decode()
    assert not Membership.objects.filter(user=invitee).exists()


def test_an_invitation_expires_after_seven_days(client_for, invitee, invitation, time_machine):
    time_machine.move_to(invitation.created_at + timedelta(days=6, hours=23))
    assert invitation.state == "pending"
    time_machine.move_to(invitation.created_at + timedelta(days=7, seconds=1))
    response = client_for(invitee).post(invitation.get_absolute_url())
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert not Membership.objects.filter(user=invitee).exists()


@pytest.mark.parametrize("signed_in", [True, False])
def test_a_canceled_invitation_gets_a_clear_page(
    client_for, client, invitee, invitation, admin, signed_in
):
    services.invitation_cancel(invitation=invitation, actor=admin)
    if signed_in:
        client = client_for(invitee)
    response = client.get(invitation.get_absolute_url())
    assert response.status_code == 410
    assert "was canceled" in response.content.decode()
    assert 'class="brand"' in response.content.decode()


def test_an_unknown_token_is_404(client, db):
    assert client.get("/invitations/6f1d8c1e-3a43-4b5e-9a57-0c6e3d1b5f00/").status_code == 404
    assert client.get("/invitations/not-a-uuid/").status_code == 404


def test_an_existing_member_is_redirected_with_a_message(client_for, member, workspace, admin):
    invitation = Invitation.objects.create(
        workspace=workspace, email=member.email, role=Role.ADMIN, invited_by=admin
    )
    response = client_for(member).get(invitation.get_absolute_url(), follow=True)
    assert response.redirect_chain[-1][0] == "/w/acme/"
    assert "already a member" in response.content.decode()
    assert Membership.objects.get(user=member, workspace=workspace).role == Role.MEMBER


def test_the_service_refuses_a_mismatched_email(stranger, invitation):
    with pytest.raises(ValidationError):
        services.invitation_accept(invitation=invitation, user=stranger)
    assert not Membership.objects.filter(user=stranger).exists()


def test_accepting_needs_a_signed_in_user_for_the_post(client, invitation):
    response = client.post(invitation.get_absolute_url())
    assert response.status_code == 200
    assert not Membership.objects.filter(user__email="invitee@example.com").exists()


def test_signing_out_from_a_mismatched_invitation_comes_back_to_it(
    client_for, stranger, invitation
):
    client = client_for(stranger)
    html = client.get(invitation.get_absolute_url()).content.decode()
    assert f'name="next" value="{invitation.get_absolute_url()}"' in html
    response = client.post("/accounts/logout/", {"next": invitation.get_absolute_url()})
    assert response.url == invitation.get_absolute_url()
    assert "Sign up" in client.get(response.url).content.decode()


def test_an_unverified_address_cannot_accept(client_for, invitation):
    user = UserFactory(email="invitee@example.com", verified=False)
    client = client_for(user)
    for method in (client.get, client.post):
        response = method(invitation.get_absolute_url())
        assert response.status_code == 403
        assert "Confirm <strong>invitee@example.com</strong>" in response.content.decode()
    assert not Membership.objects.filter(user=user).exists()
    with pytest.raises(ValidationError, match="Confirm your email"):
        services.invitation_accept(invitation=invitation, user=user)
    invitation.refresh_from_db()
    assert invitation.state == "pending"


def test_another_verified_address_of_the_user_does_not_count(client_for, invitation):
    user = UserFactory(email="invitee@example.com", verified=False)
    user.emailaddress_set.create(email="other@example.com", verified=True)
    assert client_for(user).post(invitation.get_absolute_url()).status_code == 403


def test_resending_issues_a_new_link_and_kills_the_old_one(client_for, admin, invitee, invitation):
    old_url = invitation.get_absolute_url()
    services.invitation_resend(invitation=invitation, actor=admin)
    invitation.refresh_from_db()
    assert invitation.get_absolute_url() != old_url
    client = client_for(invitee)
    assert client.get(old_url).status_code == 404
    assert client.post(old_url).status_code == 404
    assert client.post(invitation.get_absolute_url()).url == "/w/acme/"
