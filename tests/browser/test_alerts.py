"""An admin adds a Slack webhook and an email alert from Settings, as a new user would."""

from playwright.sync_api import expect

from custory.models import OutboundWebhook
from tasks.models import AlertRule


def test_an_admin_adds_a_slack_webhook_and_an_email_alert(page, sign_in, admin, settings):
    settings.CUSTORY_OUTBOUND_ALLOW_PRIVATE = True
    sign_in(admin)
    page.goto("/w/acme/settings/")
    page.get_by_role("link", name="Webhooks & Slack").click()
    page.get_by_label("Endpoint URL").fill("http://127.0.0.1:9/services/T000/B000/XXXX")
    page.get_by_label("Format").select_option("slack")
    page.get_by_label("Signal: Payment failed").check()
    page.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_text("copy its signing secret now")).to_be_visible()
    expect(page.locator("#new-secret")).to_contain_text("whsec_")

    page.goto("/w/acme/settings/")
    page.get_by_role("link", name="Alerts & digests").click()
    page.get_by_label("Alert when").select_option("failed_payments")
    page.get_by_label("Threshold").fill("3")
    page.get_by_role("button", name="Add alert").click()
    expect(page.get_by_text("Alert added")).to_be_visible()
    expect(page.locator("table")).to_contain_text("Failed payments in 24 hours ≥ 3")

    webhook = OutboundWebhook.objects.get()
    assert (webhook.format, webhook.event_types) == ("slack", ["signal.payment_failed"])
    rule = AlertRule.objects.get()
    assert (rule.metric, rule.threshold, rule.email) == ("failed_payments", 3, True)
