"""A member reshapes the default journey: reorders steps from the keyboard, then edits a rule
while the live preview counts the signals it would match."""

from playwright.sync_api import expect

from journeys.models import MappingRule
from journeys.placement import place_signals
from journeys.services import journey_install_default
from tests.factories import RevenueSignalFactory


def test_member_reorders_steps_and_edits_a_rule_with_the_live_preview(
    page, sign_in, member, workspace
):
    journey = journey_install_default(workspace=workspace)
    signals = [
        RevenueSignalFactory(workspace=workspace, kind="refund", amount=amount, currency="eur")
        for amount in (500, 25_000, 90_000)
    ]
    place_signals(signals=signals)
    sign_in(member)

    page.goto(f"/w/acme/settings/journeys/{journey.uuid}/")
    page.evaluate("window.__noReload = true")
    onboard = page.locator(".stage", has_text="Onboard")
    expect(onboard.locator(".step input[name=name]").first).to_have_value("Trial")
    move_down = page.get_by_role("button", name="Move Trial down")
    move_down.focus()
    page.keyboard.press("Enter")
    expect(onboard.locator(".step input[name=name]").first).to_have_value("Activation")
    expect(onboard.locator(".step input[name=name]").nth(1)).to_have_value("Trial")
    # Swapped in place by htmx: no reload, and the focus stays on the button for the next press.
    assert page.evaluate("window.__noReload") is True
    expect(page.get_by_role("button", name="Move Trial down")).to_be_focused()
    # The next press after htmx has settled the first swap, as a person's would be.
    expect(page.locator(".htmx-request, .htmx-settling, .htmx-swapping")).to_have_count(0)
    page.keyboard.press("Enter")
    pay = page.locator(".stage", has_text="Pay & retain")
    expect(pay.locator(".step input[name=name]").first).to_have_value("Trial")
    expect(page.get_by_role("button", name="Move Trial down")).to_be_focused()
    assert page.evaluate("window.__noReload") is True

    page.get_by_role("link", name="Mapping rules").click()
    page.get_by_role("link", name="Refund → Refund request", exact=True).click()
    preview = page.locator("#rule-preview")
    expect(preview).to_contain_text("3 signals of the last 30 days match this rule")
    page.get_by_label("Currency").fill("EUR")
    page.get_by_label("Amount at least").fill("100")
    expect(preview).to_contain_text("2 signals of the last 30 days match this rule")
    page.get_by_label("Amount at least").fill("500")
    expect(preview).to_contain_text("1 signal of the last 30 days matches this rule")
    expect(preview.get_by_role("link", name="Refund")).to_have_count(1)
    page.get_by_role("button", name="Save rule").click()
    expect(page.get_by_role("status").first).to_contain_text("saved")

    rule = MappingRule.objects.get(journey=journey, step__name="Refund request")
    assert rule.conditions == {"amount_min": 50_000, "currency": "eur"}
