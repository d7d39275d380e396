from playwright.sync_api import expect

from custory.models import Role
from tests.factories import MembershipFactory


def test_a_member_signs_in_and_lands_on_the_journey_board(page, sign_in, admin, workspace):
    sign_in(admin)
    assert page.url.endswith("/w/acme/")
    expect(page.get_by_role("link", name="Journeys")).to_be_visible()


def test_a_wrong_password_keeps_the_user_on_the_login_page_with_an_error(page, admin):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(admin.email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_text("not correct")).to_be_visible()
    assert "/accounts/login/" in page.url


def test_a_user_switches_workspace_through_the_switcher(page, sign_in, admin, workspace):
    MembershipFactory(
        user=admin, role=Role.SUPPORT, workspace__name="Beta Corp", workspace__slug="beta"
    )
    sign_in(admin)
    expect(page.locator(".whoami")).to_contain_text("Admin")
    page.locator(".switcher summary").click()
    page.get_by_role("link", name="Beta Corp").click()
    page.wait_for_url("**/w/beta/")
    expect(page.locator(".switcher summary")).to_have_text("Beta Corp")
    expect(page.locator(".whoami")).to_contain_text("Support")


def test_signing_out_returns_to_the_login_page(page, sign_in, admin, workspace):
    sign_in(admin)
    page.get_by_role("button", name="Sign out").click()
    page.goto("/w/acme/")
    assert "/accounts/login/" in page.url
