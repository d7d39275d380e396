"""An admin connects Stripe, copies the webhook URL, rotates the secret and revokes, in Chromium."""

import os
import re

import pytest

from billing.models import ConnectionStatus, StripeConnection
from tests.stripe_fake import WHSEC_NEW, WHSEC_OLD

pytestmark = pytest.mark.django_db(transaction=True)

SHOTS = os.environ.get("CUSTORY_SCREENSHOTS")


def _shot(page, name):
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def test_an_admin_connects_rotates_and_revokes_stripe(page, sign_in, workspace, admin):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(admin)
    page.goto(f"/w/{workspace.slug}/settings/stripe/")
    _shot(page, "1-empty")
    page.get_by_label("Label").fill("Main account")
    page.get_by_label("Webhook signing secret").fill(WHSEC_OLD)
    page.get_by_role("button", name="Connect").click()
    page.wait_for_url(re.compile(r"/settings/stripe/[0-9a-f-]{36}/#webhook$"))
    connection = StripeConnection.objects.get()
    _shot(page, "2-connected")

    page.get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == connection.webhook_url()
    assert WHSEC_OLD not in page.content()

    page.get_by_label("New webhook signing secret").fill(WHSEC_NEW)
    page.get_by_role("button", name="Add secret").click()
    page.get_by_text("Both secrets verify now").wait_for()
    _shot(page, "3-rotating")
    page.get_by_role("button", name="Retire whsec_…AbCd").click()
    page.get_by_text("Retired the old signing secret").wait_for()

    page.get_by_role("link", name="Revoke…").click()
    _shot(page, "4-revoke")
    page.get_by_label("Delete it").check()
    page.get_by_role("button", name="Revoke now").click()
    page.get_by_text("answers 410 Gone from now on").wait_for()
    _shot(page, "5-revoked")
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.REVOKED
