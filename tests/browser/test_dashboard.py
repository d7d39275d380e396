"""A product manager reads the board, narrows the period, and drills down to a customer."""

import re

from playwright.sync_api import expect

from tests.dashboard_data import mixed_history


def test_the_board_loads_and_the_period_changes_without_a_reload(page, sign_in, member, workspace):
    mixed_history(workspace)
    sign_in(member)
    page.goto("/w/acme/")
    expect(page.get_by_role("heading", name="SaaS customer journey")).to_be_visible()
    expect(page.get_by_role("heading", name="Revenue at risk")).to_be_visible()
    card = page.locator(".step-card", has=page.get_by_role("link", name="Recurring payment"))
    expect(card.locator(".count strong")).to_have_text("6")
    # The MRR panel arrives as its own fragment and leaves the rest of the board alone.
    expect(page.locator("#mrr-panel")).to_contain_text("Reactivation")
    expect(card.get_by_role("link")).not_to_have_attribute("href", re.compile("panel=mrr"))
    page.evaluate("window.notReloaded = true")

    page.get_by_label("7 days").check()
    expect(page).to_have_url(re.compile(r"period=7"))
    expect(card.locator(".count strong")).to_have_text("4")
    page.get_by_label("365 days").check()
    expect(page).to_have_url(re.compile(r"period=365"))
    expect(card.locator(".count strong")).to_have_text("9")
    assert page.evaluate("window.notReloaded") is True

    # The URL is shareable: opening it shows the same view.
    page.goto(page.url)
    expect(page.get_by_label("365 days")).to_be_checked()
    expect(card.locator(".count strong")).to_have_text("9")


def test_drill_from_a_step_to_a_signal_to_its_customer(page, sign_in, member, workspace):
    mixed_history(workspace)
    sign_in(member)
    page.goto("/w/acme/?period=7")
    stages = page.get_by_role("list", name="Stages of SaaS customer journey")
    stages.get_by_role("link", name="Refund request").click()
    expect(page.get_by_role("heading", name="Refund request", level=1)).to_be_visible()
    page.locator(".signal-table").get_by_role("link", name="Refund").first.click()
    expect(page.locator(".description")).to_have_text("Refund of €20.00 — requested by customer")
    page.locator(".facts").get_by_role("link", name="Bob GmbH").click()
    expect(page.get_by_role("heading", name="Bob GmbH", level=1)).to_be_visible()
    expect(page.get_by_text("bob@example.org").first).to_be_visible()


def test_csv_export_downloads(page, sign_in, member, workspace):
    mixed_history(workspace)
    sign_in(member)
    page.goto("/w/acme/signals/?kind=refund")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    content = open(download.path(), encoding="utf-8").read()  # noqa: SIM115
    assert content.splitlines()[0].startswith("occurred_at,kind,amount,currency")
    assert len(content.splitlines()) == 3
