"""The filter bar applies on change with one request, and a chip removes its filter."""

import re

from playwright.sync_api import expect

from tests.dashboard_data import mixed_history


def test_ticking_a_kind_applies_at_once_with_one_request(page, sign_in, member, workspace):
    mixed_history(workspace)
    sign_in(member)
    page.goto("/w/acme/signals/")
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "/w/acme/signals/?" in r.url else None)
    page.get_by_text("Kinds", exact=True).click()
    page.get_by_label("Refund", exact=True).check()
    expect(page).to_have_url(re.compile(r"kind=refund"))
    chip = page.get_by_role("list", name="Active filters")
    expect(chip).to_contain_text("Kind: Refund")
    expect(page.get_by_role("button", name="Apply")).to_have_count(0)
    page.wait_for_timeout(300)
    assert len(requests) == 1, requests
    page.get_by_role("link", name="Remove filter Kind: Refund").click()
    expect(page).not_to_have_url(re.compile(r"kind=refund"))
    expect(page.get_by_role("list", name="Active filters")).to_have_count(0)
