import re

from django.core import mail
from playwright.sync_api import expect

from custory.models import Membership, Role


def test_an_admin_invites_someone_who_signs_up_through_the_link_and_joins(
    browser, live_server, page, sign_in, admin, workspace, settings
):
    settings.SITE_URL = live_server.url
    sign_in(admin)
    page.goto("/w/acme/settings/members/")
    page.get_by_label("Email").fill("new.person@example.com")
    page.get_by_label("Role", exact=True).select_option("support")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to new.person@example.com")).to_be_visible()
    expect(page.locator("table.invitations")).to_contain_text("new.person@example.com")

    invitation_mail = next(m for m in mail.outbox if "new.person@example.com" in m.to)
    link = re.search(r"https?://\S+/invitations/[0-9a-f-]+/", invitation_mail.body).group(0)

    # The invitee has no account yet and opens the link in their own browser.
    invitee = browser.new_context(base_url=live_server.url).new_page()
    invitee.goto(link)
    expect(invitee.get_by_role("heading", name="Join Acme SaaS")).to_be_visible()
    invitee.locator("#main").get_by_role("link", name="Sign up").click()
    expect(invitee.get_by_label("Email")).to_have_value("new.person@example.com")
    invitee.get_by_label("Password", exact=True).fill("a-long-new-password-42")
    invitee.get_by_label("Password (again)").fill("a-long-new-password-42")
    invitee.get_by_role("button", name="Sign Up").click()
    # Email verification is mandatory: the invitee confirms the address, then signs in.
    invitee.wait_for_url("**/accounts/confirm-email/")
    confirm_mail = next(m for m in reversed(mail.outbox) if "confirm-email" in m.body)
    confirm = re.search(r"https?://\S+/accounts/confirm-email/\S+/", confirm_mail.body).group(0)
    invitee.goto(confirm)
    invitee.locator("#main").get_by_role("button", name="Confirm").click()
    invitee.goto(link)
    sign_in_link = invitee.locator("#main").get_by_role("link", name="Sign in")
    if sign_in_link.count():
        sign_in_link.click()
        invitee.get_by_label("Email").fill("new.person@example.com")
        invitee.get_by_label("Password").fill("a-long-new-password-42")
        invitee.locator("#main").get_by_role("button", name="Sign In").click()
    invitee.get_by_role("button", name="Join Acme SaaS").click()
    invitee.wait_for_url("**/w/acme/")
    expect(invitee.get_by_text("You joined as Support")).to_be_visible()
    expect(invitee.get_by_role("link", name="Journeys")).to_be_visible()
    invitee.context.close()

    membership = Membership.objects.get(user__email="new.person@example.com")
    assert membership.workspace == workspace
    assert membership.role == Role.SUPPORT
    page.reload()
    expect(page.locator("table.members")).to_contain_text("new.person@example.com")
    expect(page.locator("table.invitations")).to_have_count(0)


def test_an_admin_changes_a_role_and_removes_a_member(page, sign_in, admin, member, workspace):
    sign_in(admin)
    page.goto("/w/acme/settings/members/")
    page.get_by_label(f"Role of {member.email}").select_option("support")
    page.locator(f"#member-{member.memberships.get().uuid}").get_by_role(
        "button", name="Change role"
    ).click()
    expect(page.get_by_text(f"{member.email} is now Support")).to_be_visible()
    page.locator(f"#member-{member.memberships.get().uuid}").get_by_role(
        "button", name="Remove"
    ).click()
    expect(page.get_by_text(f"{member.email} was removed")).to_be_visible()
    assert not Membership.objects.filter(user=member).exists()
