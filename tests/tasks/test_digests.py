"""Email digests rendered for a seeded week: what changed per step, customers at risk, tasks due;
sent once per period in the reader's time zone, with a signed one-click unsubscribe."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from billing.models import SignalKind as K
from tasks.alert_services import digest_preference_set
from tasks.digests import digests_send, unsubscribe_token
from tasks.models import DigestPreference, DigestSend
from tests.factories import FollowUpTaskFactory, SubscriptionFactory

MONDAY_8AM = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
LAST_WEEK = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
WEEK_BEFORE = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)


@pytest.fixture
def seeded_week(journey, process, customer, admin, member):
    for _ in range(3):
        process(K.PAYMENT_FAILED, customer=customer, amount=4900, occurred_at=LAST_WEEK)
    process(K.PAYMENT_RECOVERED, customer=customer, amount=4900, occurred_at=LAST_WEEK)
    process(K.PAYMENT_FAILED, customer=customer, amount=4900, occurred_at=WEEK_BEFORE)
    process(K.REFUND, customer=customer, amount=1500, occurred_at=WEEK_BEFORE)
    SubscriptionFactory(
        workspace=journey.workspace, customer=customer, status="past_due", mrr=4900, currency="eur"
    )
    FollowUpTaskFactory(
        workspace=journey.workspace,
        title="Call Acme about the card",
        assignee=member,
        due_date=date(2026, 11, 27),
    )
    FollowUpTaskFactory(
        workspace=journey.workspace, title="Someone else's task", assignee=admin, due_date=None
    )
    return journey.workspace


def send_at(moment):
    with time_machine.travel(moment, tick=False):
        return digests_send()


def digest_for(email):
    return next(m for m in mail.outbox if m.to == [email])


def test_the_weekly_digest_reads_like_a_short_report(seeded_week, member):
    assert send_at(MONDAY_8AM) == 2  # admin and member, weekly by default

    message = digest_for("member@acme.test")
    assert message.subject == "Weekly revenue digest — Acme SaaS, 23 Nov – 29 Nov 2026"
    text = message.body
    assert "In short: 3 failed payments (was 1), 1 recovered (was 0), 0 refunds (was 1)" in text
    assert "3 failed (€147.00), was 1" in text
    assert "1 recovered (€49.00), was 0" in text
    assert "0 refunded, was 1" in text
    assert "Acme Inc: €49.00 MRR, past due" in text
    assert "OVERDUE since 27 Nov: Call Acme about the card" in text
    assert "Someone else's task" not in text
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "Call Acme about the card" in html and "Acme Inc" in html
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_running_the_job_twice_sends_each_digest_once(seeded_week):
    assert send_at(MONDAY_8AM) == 2
    assert send_at(MONDAY_8AM + timedelta(hours=1)) == 0
    assert len(mail.outbox) == 2
    assert DigestSend.objects.filter(period="weekly:2026-11-23").count() == 2


def test_weekly_digests_wait_for_monday_morning_in_the_readers_time_zone(seeded_week, member):
    digest_preference_set(
        workspace=seeded_week, user=member, frequency="weekly", time_zone="America/New_York"
    )
    send_at(MONDAY_8AM)  # 03:00 in New York
    assert [m.to for m in mail.outbox] == [["admin@acme.test"]]

    send_at(MONDAY_8AM + timedelta(hours=5))  # 08:00 in New York
    assert digest_for("member@acme.test")


def test_support_gets_no_digest_unless_they_opt_in(seeded_week, support):
    send_at(MONDAY_8AM)
    assert not any(m.to == ["support@acme.test"] for m in mail.outbox)
    digest_preference_set(workspace=seeded_week, user=support, frequency="daily")
    send_at(MONDAY_8AM + timedelta(hours=1))
    assert digest_for("support@acme.test").subject.startswith("Daily revenue digest")


def test_a_daily_digest_covers_yesterday(seeded_week, member):
    digest_preference_set(workspace=seeded_week, user=member, frequency="daily")
    send_at(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))
    message = digest_for("member@acme.test")
    assert message.subject == "Daily revenue digest — Acme SaaS, Wed 25 Nov 2026"
    assert "3 failed (€147.00), was 0" in message.body


def test_the_unsubscribe_link_asks_then_unsubscribes_in_one_click(client, seeded_week, member):
    link = reverse(
        "digest_unsubscribe", args=[unsubscribe_token(workspace=seeded_week, user=member)]
    )
    assert client.get(link).status_code == 200
    assert not DigestPreference.objects.exists()

    assert client.post(link).status_code == 200
    assert DigestPreference.objects.get(user=member).frequency == "off"
    send_at(MONDAY_8AM)
    assert not any(m.to == ["member@acme.test"] for m in mail.outbox)


def test_a_tampered_unsubscribe_link_is_404(client, seeded_week, member):
    token = unsubscribe_token(workspace=seeded_week, user=member)
    assert client.post(reverse("digest_unsubscribe", args=[token[:-2] + "xx"])).status_code == 404


def test_support_opts_in_from_their_digest_page(client_for, support, workspace):
    client = client_for(support)
    url = reverse("tasks:digest_preference", args=[workspace.slug])
    assert client.get(url).status_code == 200
    response = client.post(url, {"frequency": "daily", "time_zone": "Europe/Paris"})
    assert response.status_code == 302
    preference = DigestPreference.objects.get(user=support)
    assert (preference.frequency, preference.time_zone) == ("daily", "Europe/Paris")


def test_an_unknown_time_zone_is_refused(client_for, member, workspace):
    url = reverse("tasks:digest_preference", args=[workspace.slug])
    response = client_for(member).post(url, {"frequency": "daily", "time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    assert not DigestPreference.objects.exists()
