"""One signal per underlying fact, whether by webhook, by import, or rebuilt from objects."""

import copy
import importlib

import pytest
from django.apps import apps as django_apps

from billing.models import EventSource, RevenueSignal, StripeEvent
from billing.normalize.common import SignalFact
from billing.normalize.fact_keys import fact_key
from billing.pipeline.ingest import events_store
from tests.billing.apply_support import load, stored_events_process
from tests.billing.pipeline_helpers import connection_with_secret
from tests.factories import RevenueSignalFactory

backfill_module = importlib.import_module("billing.migrations.0011_signal_fact_key_backfill")


def _rebuilt(payload: dict) -> dict:
    """The same fact as the history import rebuilds it: another id, another (rough) time."""
    rebuilt = copy.deepcopy(payload)
    rebuilt["id"] = "evt_rebuilt_" + payload["id"][-12:]
    rebuilt["created"] = payload["created"] + 3600
    return rebuilt


def _store(connection, payload: dict, source: str) -> None:
    events_store(connection=connection, payloads=[payload], source=source, wake=False)
    stored_events_process(connection=connection)


def test_an_invoice_attempt_a_refund_and_a_dispute_are_their_facts():
    failed = SignalFact("payment_failed", object_id="in_1", details={"invoice_id": "in_1"})
    failed.details["attempt_count"] = 2
    assert fact_key(failed, event_id="evt_a") == "payment_failed:in_1:2"
    refund = SignalFact("refund", object_id="ch_1", details={"refund_id": "re_1"})
    assert fact_key(refund, event_id="evt_b") == "refund:re_1"
    assert fact_key(SignalFact("dispute_opened", object_id="dp_1"), event_id="e") == (
        "dispute_opened:dp_1"
    )
    change = SignalFact(
        "plan_upgraded",
        object_id="sub_1",
        details={"subscription_id": "sub_1", "previous_mrr": 10, "new_mrr": 20},
    )
    assert fact_key(change, event_id="e") == "plan_change:sub_1:10:20"
    # What only one event can tell is keyed by that event.
    assert fact_key(SignalFact("cancellation_withdrawn"), event_id="evt_c") == (
        "cancellation_withdrawn:evt_c"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("first", ["webhook", "rebuilt"])
@pytest.mark.parametrize(
    "name",
    [
        "synthetic_basil_invoice_payment_failed.json",
        "synthetic_basil_invoice_paid_after_retries.json",
        "synthetic_basil_subscription_created.json",
        "synthetic_basil_subscription_upgraded.json",
        "synthetic_basil_checkout_expired.json",
    ],
)
def test_import_and_webhook_in_either_order_give_one_signal(workspace, name, first):
    connection = connection_with_secret(workspace)
    payload = load(name)
    arrivals = [(payload, EventSource.WEBHOOK), (_rebuilt(payload), EventSource.REBUILT)]
    if first == "rebuilt":
        arrivals.reverse()
    for event, source in [*arrivals, *arrivals]:  # and each twice
        _store(connection, event, source)

    kinds = list(RevenueSignal.objects.filter(workspace=workspace).values_list("kind", flat=True))
    assert kinds
    assert len(kinds) == len(set(kinds))
    webhook_event = StripeEvent.objects.get(stripe_id=payload["id"])
    # The webhook's exact event wins: a rebuilt signal is refined by it, never the reverse.
    assert set(RevenueSignal.objects.values_list("event", flat=True)) == {webhook_event.pk}
    assert {s.occurred_at for s in RevenueSignal.objects.all()} == {webhook_event.created}


@pytest.mark.django_db
def test_two_failed_attempts_of_one_invoice_stay_two_signals(workspace):
    connection = connection_with_secret(workspace)
    first = load("synthetic_basil_invoice_payment_failed.json")
    second = copy.deepcopy(first)
    second["id"] += "2"
    second["created"] += 86400
    second["data"]["object"]["attempt_count"] += 1
    for payload in (first, second):
        _store(connection, payload, EventSource.WEBHOOK)
    assert RevenueSignal.objects.filter(kind="payment_failed").count() == 2


@pytest.mark.django_db
def test_signals_stored_before_fact_keys_get_theirs_once(workspace):
    details = {"invoice_id": "in_1", "attempt_count": 1}
    first = RevenueSignalFactory(workspace=workspace, object_id="in_1", details=details)
    again = RevenueSignalFactory(workspace=workspace, object_id="in_1", details=details)
    other = RevenueSignalFactory(workspace=workspace, kind="refund", details={"refund_id": "re_9"})

    backfill_module.backfill(django_apps, None)

    keys = dict(RevenueSignal.objects.values_list("pk", "fact_key"))
    assert keys[first.pk] == "payment_failed:in_1:1"
    assert keys[again.pk] == ""  # the same fact held twice keeps one key
    assert keys[other.pk] == "refund:re_9"
