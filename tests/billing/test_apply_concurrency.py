"""Two workers changing two subscriptions of one customer at once still sum its MRR and its
figures right."""

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection as db
from django.db import transaction

from billing.models import Customer, StripeEvent
from billing.pipeline import apply
from billing.pipeline.ingest import events_store
from tests.billing.apply_support import load
from tests.billing.figures_support import kept, recomputed
from tests.factories import StripeConnectionFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "sqlite" in __import__("django.conf").conf.settings.DATABASES["default"]["ENGINE"],
        reason="SQLite serializes writers; the race needs PostgreSQL",
    ),
]


def _second_subscription(payload):
    other = load("synthetic_basil_subscription_created.json")
    other["id"] = "evt_SynSecondSub"
    sub = other["data"]["object"]
    sub["id"] = "sub_SynSecond"
    sub["items"]["data"][0]["price"]["unit_amount"] = 7000
    sub["items"]["data"][0]["plan"]["amount"] = 7000
    return other


def test_concurrent_subscription_changes_keep_the_customer_mrr(monkeypatch):
    connection = StripeConnectionFactory()
    first = load("synthetic_basil_subscription_created.json")
    events_store(connection=connection, payloads=[first, _second_subscription(first)], wake=False)
    Customer.objects.create(
        workspace=connection.workspace,
        connection=connection,
        stripe_id="cus_SynBasil0001",
        first_seen_at=datetime(2020, 1, 1, tzinfo=UTC),  # no write to the row before the sum
    )
    refresh = apply.customer_totals_refresh

    def slow_refresh(*, customer):
        time.sleep(0.3)  # widen the window between writing a subscription and summing
        refresh(customer=customer)

    monkeypatch.setattr(apply, "customer_totals_refresh", slow_refresh)
    barrier = threading.Barrier(2)
    errors = []

    def work(stripe_id):
        try:
            event = StripeEvent.objects.get(stripe_id=stripe_id)
            barrier.wait()
            with transaction.atomic():
                apply.event_apply(event=event)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            db.close()

    threads = [
        threading.Thread(target=work, args=(i,)) for i in ("evt_SynBasil0001", "evt_SynSecondSub")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Customer.objects.get(stripe_id="cus_SynBasil0001").mrr == 2000 + 7000
    assert kept(connection.workspace) == recomputed(connection.workspace)
