"""Issue 13's "Done when", as a new admin lives it: connect an account with two years of
history, watch the import on the connection page, stop it, resume it, and end with the board
and the reconciliation an uninterrupted import of the same account gives."""

import re

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.module_loading import import_string

from billing.models import HistoryImport, ImportStatus, StripeConnection
from billing.pipeline import connections
from billing.pipeline.history import client as stripe_client
from billing.pipeline.history import runner
from billing.pipeline.history.reconcile import reconcile
from tests.billing.history_support import figures, generated_history, run_import, serve
from tests.stripe_fake import RK_TEST, RK_TEST_2, WHSEC_OLD, serve_fake_stripe

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

PERCENT = re.compile(r"<progress max=\"100\" value=\"(\d+)\">")
# What tells two workspaces apart whatever their data: names, ids in links, CSRF tokens, and
# the live line (the latest signal's id, when it came, the clock).
LIVE = re.compile(r'<p id="live".*?</p>', re.DOTALL)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CSRF = re.compile(r"(csrfmiddlewaretoken\" value=\"|x-csrftoken\": \")[^\"]+")


@pytest.fixture
def fake_stripe(settings, monkeypatch):
    settings.CUSTORY_IMPORT_RATE = 100000
    settings.CUSTORY_IMPORT_PAGE_SIZE = 10  # pages enough to watch, and a middle to stop in
    monkeypatch.setattr(stripe_client, "sleep", lambda seconds: None)
    yield from serve_fake_stripe(settings)


def _url(name, connection):
    return reverse(f"billing:{name}", args=[connection.workspace.slug, connection.uuid])


def _board(client, workspace) -> str:
    html = client.get(reverse("journeys:board", args=[workspace.slug]), {"period": "365"})
    # The page's main part: the header names the signed-in user.
    html = html.content.decode().partition("<main")[2].partition("</main>")[0]
    assert html, "the board has no <main>"
    for text in (workspace.slug, workspace.name):
        html = html.replace(text, "WORKSPACE")
    return LIVE.sub("", CSRF.sub(r"\1CSRF", UUID.sub("UUID", html)))


def test_an_admin_connects_watches_stops_resumes_and_ends_as_an_uninterrupted_import(
    client_for, workspace, other_workspace, admin, outsider, fake_stripe
):
    events, objects = generated_history()  # two years of a dozen customers' lives
    serve(fake_stripe, objects, events)
    fake_stripe.add_key(RK_TEST)
    fake_stripe.keys[RK_TEST_2] = fake_stripe.keys[RK_TEST]  # the same account, another key
    for each in (workspace, other_workspace):
        for path in settings.WORKSPACE_DEFAULTS:
            import_string(path)(workspace=each)

    client = client_for(admin)
    client.post(
        reverse("billing:stripe_settings", args=[workspace.slug]),
        {"label": "Acme", "mode": "test", "webhook_secret": WHSEC_OLD, "api_key": RK_TEST},
    )
    connection = StripeConnection.objects.get(workspace=workspace)
    client.post(_url("history_import", connection))  # queued: its job runs below
    history_import = HistoryImport.objects.get(connection=connection)

    panels = []

    def watch_then_stop(_progress):
        """The page polls its panel; after a few updates the admin presses Stop."""
        panel = client.get(_url("history_import", connection), HTTP_HX_REQUEST="true")
        panels.append(panel.content.decode())
        if len(panels) == 6:
            client.post(_url("history_import_cancel", connection))

    assert run_import(history_import, progress=watch_then_stop) == runner.STOPPED
    watched = [int(PERCENT.search(panel).group(1)) for panel in panels]
    assert watched == sorted(watched) and watched[-1] > watched[0], watched
    assert 'hx-trigger="every 2s"' in panels[0] and "Stop the import" in panels[0]
    assert "signals made" in panels[-1] and "invoices" in panels[-1]
    history_import.refresh_from_db()
    assert history_import.status == ImportStatus.CANCELED
    stopped_at = history_import.objects_read
    assert stopped_at > 0

    detail = client.get(_url("connection_detail", connection)).content.decode()
    assert "Resume the import" in detail
    before = len(fake_stripe.requests)
    response = client.post(_url("history_import_resume", connection), follow=True)
    assert "continues where it stopped" in response.content.decode()
    assert run_import(history_import) == ImportStatus.DONE  # the job the resume queued
    history_import.refresh_from_db()
    assert history_import.status == ImportStatus.DONE
    assert HistoryImport.objects.filter(connection=connection).count() == 1
    read = {name: n for name, n in history_import.counts.items() if name != "events"}
    assert sum(read.values()) == sum(len(o) for p, o in objects.items() if p != "/v1/prices")
    resumed_requests = len(fake_stripe.requests) - before

    whole = connections.connection_create(
        workspace=other_workspace,
        actor=None,
        webhook_secret=WHSEC_OLD,
        api_key=RK_TEST_2,
        label="Acme",
    )
    before = len(fake_stripe.requests)
    uninterrupted = connections.history_import_start(connection=whole, actor=None, enqueue=False)
    assert run_import(uninterrupted) == ImportStatus.DONE
    assert resumed_requests < len(fake_stripe.requests) - before  # it did not start over

    assert figures(workspace) == figures(other_workspace)
    board = _board(client, workspace)
    assert "Unmapped" in board or "Checkout" in board
    assert board == _board(client_for(outsider), other_workspace)
    ours, theirs = reconcile(connection=connection), reconcile(connection=whole)
    assert ours.matches and theirs.matches
    assert (ours.ours_count, ours.ours_mrr, ours.stripe_mrr) == (
        theirs.ours_count,
        theirs.ours_mrr,
        theirs.stripe_mrr,
    )
