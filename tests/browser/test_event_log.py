"""An admin watches a burst of webhook events arrive on the event log, then filters it."""

import http.client
import json
from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.billing.pipeline_helpers import SECRET, connection_with_secret, event_payload
from tests.stripe_signing import sign_payload


def _post(live_server, connection, payload):
    parts = urlsplit(live_server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    body = json.dumps(payload).encode()
    conn.request(
        "POST",
        connection.webhook_path(),
        body=body,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": sign_payload(body, SECRET),
        },
    )
    status = conn.getresponse().status
    conn.close()
    return status


def test_a_burst_of_events_shows_up_on_the_event_log_without_reloading(
    page, sign_in, admin, workspace, live_server
):
    connection = connection_with_secret(workspace)
    sign_in(admin)
    page.goto(f"/w/{workspace.slug}/settings/stripe/events/")
    expect(page.get_by_text("No events received yet.")).to_be_visible()

    types = ["invoice.payment_failed", "customer.created", "plan.created"] * 3
    for event_type in types:
        assert _post(live_server, connection, event_payload(event_type)) == 200

    # The log refreshes itself every 5 s.
    expect(page.locator(".event-row")).to_have_count(len(types), timeout=12_000)
    expect(page.get_by_test_id("events-last-hour")).to_have_text(str(len(types)))

    page.get_by_label("Status").select_option("ignored")
    expect(page.locator(".event-row")).to_have_count(3)
    expect(page).to_have_url(
        f"{live_server.url}/w/{workspace.slug}/settings/stripe/events/?status=ignored&type=&date="
    )
