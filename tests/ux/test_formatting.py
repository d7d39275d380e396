"""What people read: figures that never wrap, one date format, durations and audit as words."""

from datetime import UTC, datetime

import pytest

from billing.pipeline.demo import demo_events
from custory.audit import audit_record
from custory.formatting import audit_sentence, duration_text, when_text
from custory.templatetags.money import amounts, amounts_signed, money
from journeys.services import journey_install_default
from tasks.selectors import signal_task_description
from tests.factories import RevenueSignalFactory


def breakable(text: str) -> bool:
    return " " in text or "-€" in text or "+$" in text


def test_a_figure_never_wraps_in_the_middle():
    assert not breakable(money(1234, "chf"))
    assert not breakable(money(-250, "eur"))
    assert not breakable(amounts_signed({"usd": 1000}))
    # Figures of several currencies may wrap between them, never inside one.
    assert [breakable(part) for part in amounts({"chf": 1234, "jpy": 5000}).split(" · ")] == [
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.25, "250 ms"), (12.46, "12.5 s"), (1251918.9, "14 days 11 h"), (3720, "1 h 2 min")],
)
def test_durations_are_written_in_words(seconds, text):
    assert duration_text(seconds) == text


def test_one_date_time_format_from_datetimes_and_iso_text():
    moment = datetime(2026, 12, 3, 9, 15, tzinfo=UTC)
    assert when_text(moment) == "3 Dec 2026, 09:15 UTC"
    assert when_text("2026-12-03T09:15:00Z") == "3 Dec 2026, 09:15 UTC"


def test_a_task_description_has_no_iso_timestamps(workspace):
    journey = journey_install_default(workspace=workspace)
    signal = RevenueSignalFactory(
        workspace=workspace,
        occurred_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
        details={"next_payment_attempt": "2026-12-04T08:00:00+00:00", "attempt_count": 1},
    )
    text = signal_task_description(signal, step=journey.steps.first())
    assert "on 1 Dec 2026, 08:00 UTC" in text
    assert "Next payment attempt: 4 Dec 2026, 08:00 UTC" in text
    assert "T08:00" not in text


def test_audit_entries_read_as_sentences(client_for, admin, workspace):
    assert (
        audit_sentence(actor="ann@acme.test", action="stripe.revoke", target="acct_1")
        == "ann@acme.test revoked the Stripe connection “acct_1”."
    )
    audit_record(
        workspace=workspace,
        actor=admin,
        action="membership.role_change",
        target_label="bob@acme.test",
        data={"old_role": "member", "new_role": "admin"},
    )
    body = client_for(admin).get("/w/acme/settings/audit/").content.decode()
    assert "changed the role of “bob@acme.test”." in body
    assert "Old role: member" in body and "<code>" not in body


def test_the_demo_has_no_two_customers_of_the_same_name():
    from collections import Counter

    names = Counter(
        e["data"]["object"]["name"]
        for e in demo_events(seed=7, customers=300, months=6)
        if e["type"] == "customer.created"
    )
    assert names and names.most_common(1)[0][1] == 1
