"""The three user stories of issue 17, walked as a new user would: from where sign-in lands, by
visible links and buttons found by their labels (no URL typed), each to the right page in a few
clicks. Each prints its time and click count; the README quotes them."""

import time
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing.models import ConnectionStatus, SignalKind, StripeConnection
from billing.revenue_models import ExchangeRate, RevenueSettings
from tasks.models import FollowUpTask
from tests.dashboard_data import add_signal, mixed_history
from tests.factories import CustomerFactory, StripeConnectionFactory

pytestmark = pytest.mark.django_db(transaction=True)
SECONDS = 20  # the bar for a new user; a headless browser should need far less


class Story:
    """Counts what a person clicks (links, buttons, radio choices) and times the walk."""

    def __init__(self, page, name: str, report):
        self.page, self.name, self.report = page, name, report
        self.clicks = 0
        self.started = time.monotonic()

    def click(self, locator):
        locator.click()
        self.clicks += 1

    def done(self, most_clicks: int) -> None:
        seconds = time.monotonic() - self.started
        self.report(f"user story: {self.name}: {self.clicks} clicks, {seconds:.1f} s")
        assert self.clicks <= most_clicks
        assert seconds < SECONDS


@pytest.fixture
def report(capsys):
    """Print past pytest's capture, so the figures show in a plain run."""

    def write(line: str) -> None:
        with capsys.disabled():
            print(f"\n{line}")

    return write


def land(page, sign_in, user):
    """Sign in through the form; the story starts where that lands, the journey board."""
    sign_in(user)
    expect(page.get_by_role("heading", name="SaaS customer journey", level=1)).to_be_visible()


def test_growth_finds_the_step_and_the_customer_losing_the_most(
    page, sign_in, member, workspace, report
):
    mixed_history(workspace)
    RevenueSettings.objects.create(workspace=workspace, reporting_currency="eur")
    for currency, per_eur in (("usd", "1.08"), ("jpy", "160")):
        ExchangeRate.objects.create(day="2020-01-01", currency=currency, per_eur=Decimal(per_eur))
    land(page, sign_in, member)
    story = Story(page, "growth finds the step and the customer losing the most money", report)

    losses = page.get_by_role("region", name="Where money is lost")
    story.click(losses.get_by_role("listitem").first.get_by_role("link"))
    expect(page.get_by_role("heading", name="Recurring payment", level=1)).to_be_visible()
    expect(page.get_by_label("Sort")).to_have_value("-amount")
    # Bob GmbH: €99.00 failed and not recovered, the biggest loss on this step this month.
    story.click(page.locator(".signal-table tbody tr").first.get_by_role("link", name="Bob GmbH"))
    expect(page.get_by_role("heading", name="Bob GmbH", level=1)).to_be_visible()
    story.done(most_clicks=2)


def test_support_goes_from_a_failed_payment_to_an_assigned_task(
    page, sign_in, support, workspace, report
):
    mixed_history(workspace)
    umbrella = CustomerFactory(workspace=workspace, name="Umbrella Corp", currency="eur")
    add_signal(
        workspace,
        SignalKind.PAYMENT_FAILED,
        days_ago=0,
        amount=25000,
        currency="eur",
        customer=umbrella,
        details={"decline_code": "insufficient_funds"},
    )
    land(page, sign_in, support)
    story = Story(page, "support goes from a failed payment to an assigned task", report)

    story.click(page.get_by_role("navigation", name="Main").get_by_role("link", name="Signals"))
    row = page.locator(".signal-table tbody tr", has=page.get_by_role("link", name="Umbrella Corp"))
    story.click(row.get_by_role("link", name="Payment failed"))
    expect(page.get_by_label("Title")).to_have_value(
        "Follow up: failed payment — Umbrella Corp (€250.00)"
    )
    story.click(page.get_by_role("button", name="Create follow-up task"))
    expect(page.locator("#signal-tasks").get_by_role("status")).to_contain_text("assigned to you")
    story.done(most_clicks=3)
    task = FollowUpTask.objects.get(customer=umbrella)
    assert task.assignee == support and task.signal.kind == SignalKind.PAYMENT_FAILED


def test_an_admin_revokes_stripe(page, sign_in, admin, workspace, report):
    mixed_history(workspace)
    connection = StripeConnectionFactory(workspace=workspace, label="Main account", livemode=True)
    land(page, sign_in, admin)
    story = Story(page, "an admin revokes Stripe", report)

    story.click(page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings"))
    story.click(page.get_by_role("link", name="Stripe", exact=True))
    card = page.locator(".connection", has=page.get_by_role("link", name="Main account"))
    story.click(card.get_by_role("link", name="Revoke…"))
    story.click(page.get_by_label("Keep it"))
    story.click(page.get_by_role("button", name="Revoke now"))
    expect(page.get_by_text("answers 410 Gone from now on")).to_be_visible()
    story.done(most_clicks=5)
    connection.refresh_from_db()
    assert connection.status == ConnectionStatus.REVOKED
    assert StripeConnection.objects.filter(status=ConnectionStatus.REVOKED).count() == 1
