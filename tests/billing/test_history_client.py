"""The import's Stripe reads: the request-rate budget, 429 back-off, and stops that say why."""

import pytest

from billing.models import ImportStatus
from billing.pipeline import connections
from billing.pipeline.history import client
from billing.pipeline.history.listings import slice_bounds
from tests.billing.history_support import run_import
from tests.stripe_fake import RK_TEST, WHSEC_OLD, serve_fake_stripe


@pytest.fixture
def fake_stripe(settings):
    yield from serve_fake_stripe(settings)


class Clock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_the_budget_spaces_requests_to_the_rate(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(client.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(client, "sleep", clock.sleep)
    budget = client.RateBudget(25)
    for _ in range(26):
        budget.take()
    assert clock.now == pytest.approx(101.0)  # 26 requests at 25/s: the last one a second in
    assert set(clock.slept) == {0.04}


def test_the_default_budget_is_stripes_read_limit_per_mode(settings):
    assert (client.default_rate(False), client.default_rate(True)) == (25, 100)


def test_time_slices_cover_the_range_without_gaps():
    bounds = slice_bounds(1000, 1_000_000, 4)
    assert bounds[0][0] == 1000 and bounds[-1][1] == 1_000_000
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    assert bounds[-1][1] - bounds[-1][0] < bounds[0][1] - bounds[0][0]  # recent ones shorter


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("denied", "permission"),
    [("invoices", "Invoices: Read"), ("checkout_sessions", "Checkout Sessions: Read")],
)
def test_a_missing_permission_stops_the_import_naming_it(
    workspace, admin, fake_stripe, denied, permission
):
    fake_stripe.add_key(RK_TEST, denied={denied})
    connection = connections.connection_create(
        workspace=workspace, actor=admin, webhook_secret=WHSEC_OLD, api_key=RK_TEST
    )
    history_import = connections.history_import_start(
        connection=connection, actor=admin, enqueue=False
    )
    assert run_import(history_import) == ImportStatus.FAILED
    history_import.refresh_from_db()
    assert history_import.status == ImportStatus.FAILED
    assert f"lacks “{permission}”" in history_import.last_error


@pytest.mark.django_db
def test_a_key_revoked_in_stripe_stops_the_import_saying_so(workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST)
    connection = connections.connection_create(
        workspace=workspace, actor=admin, webhook_secret=WHSEC_OLD, api_key=RK_TEST
    )
    history_import = connections.history_import_start(
        connection=connection, actor=admin, enqueue=False
    )
    del fake_stripe.keys[RK_TEST]  # rolled in the Stripe dashboard
    assert run_import(history_import) == ImportStatus.FAILED
    history_import.refresh_from_db()
    assert "no longer accepts this connection's API key" in history_import.last_error
    assert RK_TEST not in history_import.last_error
