from playwright.sync_api import expect


def test_a_member_signs_in_and_lands_on_the_journey_board(page, sign_in, admin, workspace):
    sign_in(admin)
    assert page.url.endswith("/w/acme/")
    expect(page.get_by_role("link", name="Journeys")).to_be_visible()
