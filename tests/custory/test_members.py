"""The members page: roles, removal, leaving, invitations; admins only, last admin protected."""

import pytest
from django.core import mail

from custory import services
from custory.models import AuditEvent, Invitation, Membership, Role
from tests.factories import MembershipFactory


@pytest.fixture
def invitation(workspace, admin):
    return Invitation.objects.create(
        workspace=workspace, email="invitee@example.com", role=Role.MEMBER, invited_by=admin
    )


def _membership(user, workspace):
    return Membership.objects.get(user=user, workspace=workspace)


# The role matrix ---------------------------------------------------------------------------------

ADMIN_ONLY = [
    ("get", "/w/acme/settings/members/"),
    ("get", "/w/acme/settings/audit/"),
    ("post", "/w/acme/settings/members/invite/"),
    ("post", "/w/acme/settings/members/{member}/role/"),
    ("post", "/w/acme/settings/members/{member}/remove/"),
    ("post", "/w/acme/settings/invitations/{invitation}/resend/"),
    ("post", "/w/acme/settings/invitations/{invitation}/cancel/"),
]


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url", [url for _, url in ADMIN_ONLY])
@pytest.mark.parametrize("role", ["member", "support"])
def test_admin_pages_are_404_to_members_and_support(
    request, client_for, admin, member, invitation, method, url, role
):
    user = request.getfixturevalue(role)
    member_uuid = _membership(member, invitation.workspace).uuid
    url = url.format(member=member_uuid, invitation=invitation.uuid)
    response = getattr(client_for(user), method)(url, {"role": "admin", "email": "x@example.com"})
    assert response.status_code == 404
    assert _membership(member, invitation.workspace).role == Role.MEMBER
    assert Invitation.objects.get().canceled_at is None
    assert Invitation.objects.count() == 1
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(("method", "url"), ADMIN_ONLY)
def test_admins_can_use_every_admin_page(client_for, admin, member, invitation, method, url):
    url = url.format(
        member=_membership(member, invitation.workspace).uuid, invitation=invitation.uuid
    )
    response = getattr(client_for(admin), method)(
        url, {"role": "support", "email": "y@example.com"}
    )
    assert response.status_code in (200, 302)


@pytest.mark.parametrize("role", ["admin", "member", "support"])
def test_everyone_sees_settings_but_only_admins_see_admin_links(
    request, client_for, workspace, role
):
    user = request.getfixturevalue(role)
    html = client_for(user).get("/w/acme/settings/").content.decode()
    assert ("/w/acme/settings/members/" in html) is (role == "admin")
    # The admin is the workspace's only admin: no leave button, an explanation instead.
    assert ("Leave workspace" in html) is (role != "admin")
    assert ("You are the last admin" in html) is (role == "admin")


# Members page ------------------------------------------------------------------------------------


def test_the_members_page_lists_members_with_roles_and_open_invitations(
    client_for, admin, member, support, invitation, django_assert_max_num_queries
):
    client = client_for(admin)
    with django_assert_max_num_queries(12):
        html = client.get("/w/acme/settings/members/").content.decode()
    for email in (admin.email, member.email, support.email, invitation.email):
        assert email in html
    assert "Last admin" in html


def test_an_admin_changes_a_role_and_it_is_audited(client_for, admin, member, workspace):
    membership = _membership(member, workspace)
    response = client_for(admin).post(
        f"/w/acme/settings/members/{membership.uuid}/role/", {"role": "support"}
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.SUPPORT
    event = AuditEvent.objects.get(action="membership.role_change")
    assert event.data == {"from": "member", "to": "support"}
    assert event.actor == admin
    assert event.target_label == member.email


@pytest.mark.parametrize("bad_role", ["", "owner", "ADMIN", "x" * 200])
def test_an_invalid_role_gets_a_field_error_and_changes_nothing(
    client_for, admin, member, workspace, bad_role
):
    membership = _membership(member, workspace)
    response = client_for(admin).post(
        f"/w/acme/settings/members/{membership.uuid}/role/", {"role": bad_role}
    )
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.MEMBER
    assert not AuditEvent.objects.filter(action="membership.role_change").exists()


def test_the_last_admin_cannot_be_demoted(client_for, admin, workspace):
    membership = _membership(admin, workspace)
    response = client_for(admin).post(
        f"/w/acme/settings/members/{membership.uuid}/role/", {"role": "member"}
    )
    assert response.status_code == 400
    assert "needs an admin" in response.content.decode()
    membership.refresh_from_db()
    assert membership.role == Role.ADMIN


def test_an_admin_who_steps_down_lands_on_settings(client_for, admin, workspace):
    MembershipFactory(workspace=workspace, role=Role.ADMIN)
    mine = _membership(admin, workspace)
    client = client_for(admin)
    response = client.post(f"/w/acme/settings/members/{mine.uuid}/role/", {"role": "member"})
    assert response.url == "/w/acme/settings/"
    mine.refresh_from_db()
    assert mine.role == Role.MEMBER
    assert client.get("/w/acme/settings/members/").status_code == 404


def test_an_admin_can_be_demoted_when_another_admin_remains(client_for, admin, workspace):
    other = MembershipFactory(workspace=workspace, role=Role.ADMIN)
    client_for(admin).post(f"/w/acme/settings/members/{other.uuid}/role/", {"role": "member"})
    other.refresh_from_db()
    assert other.role == Role.MEMBER


def test_the_last_admin_cannot_be_removed_nor_leave(client_for, admin, workspace):
    membership = _membership(admin, workspace)
    client = client_for(admin)
    response = client.post(f"/w/acme/settings/members/{membership.uuid}/remove/")
    assert response.status_code == 400
    response = client.post("/w/acme/settings/leave/", follow=True)
    assert "last admin" in response.content.decode()
    assert Membership.objects.filter(pk=membership.pk).exists()
    assert not AuditEvent.objects.filter(action__in=["membership.remove", "membership.leave"])


def test_services_refuse_to_leave_a_workspace_without_admin(admin, workspace):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.membership_change_role(
            membership=_membership(admin, workspace), role=Role.SUPPORT, actor=admin
        )
    with pytest.raises(ValidationError):
        services.membership_remove(membership=_membership(admin, workspace), actor=admin)
    assert _membership(admin, workspace).role == Role.ADMIN


def test_an_admin_removes_a_member(client_for, admin, member, workspace):
    membership = _membership(member, workspace)
    response = client_for(admin).post(f"/w/acme/settings/members/{membership.uuid}/remove/")
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    event = AuditEvent.objects.get(action="membership.remove")
    assert event.target_label == member.email
    assert event.data == {"role": "member"}


@pytest.mark.parametrize("role", ["member", "support"])
def test_a_member_can_leave_a_workspace(request, client_for, admin, workspace, role):
    user = request.getfixturevalue(role)
    client = client_for(user)
    response = client.post("/w/acme/settings/leave/")
    assert response.status_code == 302
    assert not Membership.objects.filter(user=user, workspace=workspace).exists()
    assert AuditEvent.objects.get(action="membership.leave").actor == user
    assert client.get("/w/acme/").status_code == 404


def test_an_admin_can_leave_when_another_admin_remains(client_for, admin, workspace):
    MembershipFactory(workspace=workspace, role=Role.ADMIN)
    response = client_for(admin).post("/w/acme/settings/leave/")
    assert response.status_code == 302
    assert not Membership.objects.filter(user=admin, workspace=workspace).exists()


def test_leaving_needs_a_post(client_for, member):
    assert client_for(member).get("/w/acme/settings/leave/").status_code == 405


def test_a_member_of_another_workspace_cannot_be_changed_from_here(
    client_for, admin, workspace, outsider, other_workspace
):
    foreign = _membership(outsider, other_workspace)
    client = client_for(admin)
    assert (
        client.post(
            f"/w/acme/settings/members/{foreign.uuid}/role/", {"role": "support"}
        ).status_code
        == 404
    )
    assert client.post(f"/w/acme/settings/members/{foreign.uuid}/remove/").status_code == 404
    foreign.refresh_from_db()
    assert foreign.role == Role.ADMIN


# Invitations -----------------------------------------------------------------------------------


def test_an_admin_invites_by_email_and_the_email_carries_an_absolute_link(
    client_for, admin, workspace, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://custory.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(
            "/w/acme/settings/members/invite/",
            {"email": "New.Person@Example.com", "role": "support"},
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.email == "new.person@example.com"
    assert invitation.role == Role.SUPPORT
    assert invitation.invited_by == admin
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.person@example.com"]
    assert "Acme SaaS" in message.subject
    assert f"https://custory.example.com/invitations/{invitation.token}/" in message.body
    event = AuditEvent.objects.get(action="invitation.create")
    assert event.data == {"email": "new.person@example.com", "role": "support"}
    assert str(invitation.token) not in str(event.data)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "", "role": "member"}, "email", "This field is required."),
        ({"email": "not an email", "role": "member"}, "email", "Enter a valid email address."),
        ({"email": "a@example.com", "role": "owner"}, "role", "Select a valid choice."),
        ({"email": "a@example.com", "role": ""}, "role", "This field is required."),
        ({"email": "MEMBER@acme.test", "role": "admin"}, "email", "already a member"),
        (
            {"email": "invitee@example.com", "role": "admin"},
            "email",
            "already has an open invitation",
        ),
        (
            {"email": "INVITEE@Example.com", "role": "admin"},
            "email",
            "already has an open invitation",
        ),
    ],
)
def test_bad_invitations_get_field_errors_and_save_nothing(
    client_for, admin, member, invitation, data, field, message
):
    response = client_for(admin).post("/w/acme/settings/members/invite/", data)
    assert response.status_code == 400
    form = response.context["invite_form"]
    assert any(message in error for error in form.errors[field])
    assert 'class="field has-error"' in response.content.decode()
    assert Invitation.objects.count() == 1
    assert not mail.outbox
    assert not AuditEvent.objects.filter(action="invitation.create").exists()


def test_an_admin_resends_an_expired_invitation_with_a_fresh_week(
    client_for, admin, invitation, time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to(invitation.expires_at)
    assert invitation.state == "expired"
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(f"/w/acme/settings/invitations/{invitation.uuid}/resend/")
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.state == "pending"
    assert len(mail.outbox) == 1
    assert str(invitation.token) in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="invitation.resend").count() == 1


def test_an_admin_cancels_an_invitation_and_its_link_stops_working(
    client_for, admin, invitation, client
):
    response = client_for(admin).post(f"/w/acme/settings/invitations/{invitation.uuid}/cancel/")
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.state == "canceled"
    assert AuditEvent.objects.filter(action="invitation.cancel").count() == 1
    members_page = client.get("/w/acme/settings/members/").content.decode()
    assert f"invitation-{invitation.uuid}" not in members_page
    client.logout()
    assert client.get(invitation.get_absolute_url()).status_code == 410


def test_canceling_twice_says_so_and_audits_once(client_for, admin, invitation):
    client = client_for(admin)
    client.post(f"/w/acme/settings/invitations/{invitation.uuid}/cancel/")
    response = client.post(f"/w/acme/settings/invitations/{invitation.uuid}/cancel/", follow=True)
    assert "already accepted or canceled" in response.content.decode()
    assert AuditEvent.objects.filter(action="invitation.cancel").count() == 1


def test_a_canceled_address_can_be_invited_again(admin, workspace, invitation):
    services.invitation_cancel(invitation=invitation, actor=admin)
    again = services.invitation_create(
        workspace=workspace, email=invitation.email, role=Role.ADMIN, actor=admin
    )
    assert again.is_pending


def test_another_workspaces_invitation_is_404(client_for, outsider, invitation):
    client = client_for(outsider)
    for action in ("resend", "cancel"):
        assert (
            client.post(f"/w/other/settings/invitations/{invitation.uuid}/{action}/").status_code
            == 404
        )
    invitation.refresh_from_db()
    assert invitation.state == "pending"
