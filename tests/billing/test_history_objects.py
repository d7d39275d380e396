"""The history import from Stripe objects against the fake Stripe API: it rebuilds what the
webhooks of the same history gave, resumes after a crash, and dedupes against webhooks."""

import io

import pytest
from django.core.management import call_command

from billing.models import EventStatus, HistoryImport, ImportStatus, RevenueSignal, StripeEvent
from billing.pipeline import connections
from billing.pipeline.history import client, pages, runner
from tests.billing.figures_support import kept, recomputed
from tests.billing.history_support import (
    figures,
    generated_history,
    run_import,
    serve,
    webhook_replay,
)
from tests.billing.pipeline_helpers import connection_with_secret
from tests.stripe_fake import RK_TEST, RK_TEST_2, WHSEC_OLD, serve_fake_stripe

# Seconds each (a generated two-year history, imported and replayed): CI runs them.
pytestmark = pytest.mark.slow

# What objects cannot give: a withdrawn cancellation (and the scheduling it undid).
EVENTS_ONLY = ("cancellation_withdrawn",)


@pytest.fixture
def fake_stripe(settings, monkeypatch):
    settings.CUSTORY_IMPORT_RATE = 100000
    monkeypatch.setattr(client, "sleep", lambda seconds: None)
    yield from serve_fake_stripe(settings)


@pytest.fixture
def keyed(workspace, admin, fake_stripe):
    fake_stripe.add_key(RK_TEST)
    return connections.connection_create(
        workspace=workspace, actor=admin, webhook_secret=WHSEC_OLD, api_key=RK_TEST
    )


@pytest.fixture(scope="module")
def history():
    return generated_history()


def _withdrawn(events: list[dict]) -> set[str]:
    """Subscriptions whose scheduled cancellation was withdrawn (objects show neither)."""
    return {
        e["data"]["object"]["id"]
        for e in events
        if e["type"] == "customer.subscription.updated"
        and e["data"].get("previous_attributes", {}).get("cancel_at_period_end") is True
    }


def _explained(webhook: dict, imported: dict, withdrawn: set[str]) -> list:
    """Webhook signals the import lacks, except those only events can tell."""
    missing = []
    for key, value in webhook.items():
        if key in imported or value[0] in EVENTS_ONLY:
            continue
        if value[0] == "cancellation_scheduled" and key.split(":")[1] in withdrawn:
            continue
        missing.append((key, value))
    return missing


@pytest.mark.django_db
def test_an_import_from_objects_gives_what_the_webhooks_gave(
    keyed, admin, fake_stripe, history, other_workspace
):
    events, objects = history
    serve(fake_stripe, objects)
    history_import = connections.history_import_start(connection=keyed, actor=admin, enqueue=False)
    assert run_import(history_import) == ImportStatus.DONE
    imported = figures(keyed.workspace)

    replayed = connection_with_secret(other_workspace)
    webhook_replay(replayed, events)
    webhook = figures(other_workspace)

    missing = _explained(webhook["signals"], imported["signals"], _withdrawn(events))
    assert missing == []
    extra = {k: v for k, v in imported["signals"].items() if k not in webhook["signals"]}
    assert extra == {}
    different = {
        k: (v, webhook["signals"][k])
        for k, v in imported["signals"].items()
        if webhook["signals"][k] != v
    }
    assert different == {}
    kinds = {value[0] for value in imported["signals"].values()}
    assert kinds >= {
        "checkout_completed",
        "checkout_abandoned",
        "subscription_started",
        "trial_ending",
        "trial_converted",
        "payment_succeeded",
        "payment_failed",
        "payment_recovered",
        "refund",
        "dispute_opened",
        "dispute_closed",
        "plan_upgraded",
        "cancellation_scheduled",
        "subscription_canceled",
    }, kinds
    assert imported["customers"] == webhook["customers"]
    assert imported["subscriptions"] == webhook["subscriptions"]
    for workspace in (keyed.workspace, other_workspace):
        assert kept(workspace) == recomputed(workspace)
        assert len(kept(workspace)) == len(objects["/v1/customers"])
    history_import.refresh_from_db()
    assert history_import.counts["customers"] == len(objects["/v1/customers"])
    assert (
        history_import.signals_made
        == RevenueSignal.objects.filter(workspace=keyed.workspace).count()
    )


class Killed(BaseException):
    """What kill -9 leaves: nothing after the last commit runs, no handler sees it."""


def _uninterrupted_import(fake_stripe, other_workspace):
    """The same account imported whole into another workspace, through another key."""
    fake_stripe.add_key(RK_TEST_2, account_id="acct_other")
    fake_stripe.keys[RK_TEST_2] = fake_stripe.keys[RK_TEST]
    whole = connections.connection_create(
        workspace=other_workspace, actor=None, webhook_secret=WHSEC_OLD, api_key=RK_TEST_2
    )
    uninterrupted = connections.history_import_start(connection=whole, actor=None, enqueue=False)
    assert run_import(uninterrupted) == ImportStatus.DONE


@pytest.mark.django_db
def test_a_killed_import_run_again_continues_and_ends_as_an_uninterrupted_one(
    keyed, admin, fake_stripe, history, other_workspace, settings, monkeypatch
):
    events, objects = history
    serve(fake_stripe, objects, events)
    settings.CUSTORY_IMPORT_LEASE_SECONDS = 0
    settings.CUSTORY_IMPORT_PAGE_SIZE = 10  # groups enough to die in the middle of
    applied = []
    real_apply = pages.events_apply_batch

    def apply_then_die(*, events):
        if len(applied) == 5:  # the 6th group is stored, not committed, when the process dies
            raise Killed
        applied.append(len(events))
        return real_apply(events=events)

    monkeypatch.setattr(pages, "events_apply_batch", apply_then_die)
    with pytest.raises(Killed):
        call_command("stripe_import", keyed.workspace.slug, stdout=io.StringIO())
    killed = HistoryImport.objects.get(connection=keyed)
    assert killed.status == ImportStatus.RUNNING

    monkeypatch.setattr(pages, "events_apply_batch", real_apply)
    read_before = len([r for r in fake_stripe.requests if r.path != "/v1/account"])
    out = io.StringIO()
    call_command("stripe_import", keyed.workspace.slug, stdout=out)
    assert "Import complete." in out.getvalue()
    resumed = HistoryImport.objects.get(connection=keyed)
    assert resumed.pk == killed.pk and resumed.status == ImportStatus.DONE

    _uninterrupted_import(fake_stripe, other_workspace)
    assert figures(keyed.workspace) == figures(other_workspace)
    # It continued from its cursors: the second run read less than a whole import, and only
    # the prices and the pages listed but not committed when it died (its group, the queue
    # and one per listing thread) were read twice.
    by_key = [r.api_key for r in fake_stripe.requests if r.path != "/v1/account"]
    resumed_reads = by_key[read_before:].count(RK_TEST)
    assert resumed_reads < by_key.count(RK_TEST_2)
    workers = settings.CUSTORY_IMPORT_WORKERS
    in_flight = 2 * workers * runner.PAGES_AHEAD + workers
    assert by_key.count(RK_TEST) <= by_key.count(RK_TEST_2) + 1 + in_flight


@pytest.mark.django_db
def test_a_group_that_fails_to_apply_is_applied_event_by_event(
    keyed, admin, fake_stripe, history, other_workspace, monkeypatch
):
    events, objects = history
    serve(fake_stripe, objects, events)
    real_apply = pages.events_apply_batch
    failures = []

    def fail_once(*, events):
        if not failures:
            failures.append(len(events))
            raise RuntimeError("deadlock detected")
        return real_apply(events=events)

    monkeypatch.setattr(pages, "events_apply_batch", fail_once)
    history_import = connections.history_import_start(connection=keyed, actor=admin, enqueue=False)
    assert run_import(history_import) == ImportStatus.DONE
    assert failures and failures[0] > 1

    history_import.refresh_from_db()
    assert history_import.errors == 0
    assert not StripeEvent.objects.filter(connection=keyed).exclude(status=EventStatus.PROCESSED)
    assert (
        history_import.signals_made
        == RevenueSignal.objects.filter(workspace=keyed.workspace).count()
    )
    _uninterrupted_import(fake_stripe, other_workspace)
    assert figures(keyed.workspace) == figures(other_workspace)


@pytest.mark.django_db
@pytest.mark.parametrize("webhooks_first", [True, False])
def test_import_and_webhooks_in_either_order_give_no_duplicates(
    keyed, admin, fake_stripe, history, other_workspace, webhooks_first
):
    events, objects = history
    serve(fake_stripe, objects, events)
    webhook_only = connection_with_secret(other_workspace)
    webhook_replay(webhook_only, events)

    history_import = connections.history_import_start(connection=keyed, actor=admin, enqueue=False)
    if webhooks_first:
        webhook_replay(keyed, events)
    assert run_import(history_import) == ImportStatus.DONE
    if not webhooks_first:
        webhook_replay(keyed, events)
    history_import.refresh_from_db()
    assert history_import.counts["events"] > 0  # the last 30 days of events were read too

    assert figures(keyed.workspace) == figures(other_workspace)
    assert kept(keyed.workspace) == recomputed(keyed.workspace)
