"""A generated Stripe history served two ways: as the events a webhook would have delivered,
and as the objects Stripe's list endpoints give today (each object's latest state)."""

import copy

from billing.models import Customer, EventSource, RevenueSignal, StripeEvent, Subscription
from billing.pipeline.demo.life import demo_events
from billing.pipeline.history.runner import import_claim, import_run, new_owner
from billing.pipeline.ingest import events_store
from tests.billing.apply_support import stored_events_process

PATHS = {
    "customer": "/v1/customers",
    "subscription": "/v1/subscriptions",
    "invoice": "/v1/invoices",
    "charge": "/v1/charges",
    "dispute": "/v1/disputes",
    "checkout.session": "/v1/checkout/sessions",
}


def generated_history(*, seed: int = 12, customers: int = 12, months: int = 24, end=None):
    """(events oldest first, {path: [objects]}) of one generated account."""
    events = demo_events(seed=seed, customers=customers, months=months, end=end)
    latest: dict[str, tuple[str, dict]] = {}
    first_seen: dict[str, int] = {}
    for event in events:
        obj = copy.deepcopy(event["data"]["object"])
        path = PATHS.get(obj.get("object"))
        if path is None:
            continue
        first_seen.setdefault(obj["id"], event["created"])
        latest[obj["id"]] = (path, obj)
    objects: dict[str, list[dict]] = {path: [] for path in PATHS.values()}
    prices: dict[str, dict] = {}
    for obj_id, (path, obj) in latest.items():
        obj.setdefault("created", first_seen[obj_id])
        if path == "/v1/checkout/sessions":
            _session_times(obj, first_seen[obj_id])
        objects[path].append(obj)
    for event in events:
        for item in _items(event["data"]["object"]):
            if isinstance(item.get("price"), dict):
                prices[item["price"]["id"]] = {**item["price"], "created": 1600000000}
    objects["/v1/prices"] = list(prices.values())
    objects["/v1/products"] = [
        {"id": p, "object": "product", "created": 1600000000}
        for p in sorted({price["product"] for price in prices.values()})
    ]
    objects["/v1/refunds"] = [
        {**refund, "currency": charge["currency"]}
        for charge in objects["/v1/charges"]
        for refund in charge.get("refunds", {}).get("data", [])
    ]
    return events, objects


def _items(obj: dict) -> list[dict]:
    items = obj.get("items")
    return items.get("data", []) if isinstance(items, dict) else []


def _session_times(session: dict, seen: int) -> None:
    if session.get("status") == "expired":
        session["created"], session["expires_at"] = seen - 86400, seen
    else:
        session["created"] = seen


def serve(fake, objects: dict[str, list[dict]], events: list[dict] = ()) -> None:
    for path, listed in objects.items():
        for obj in listed:
            fake.add_object(path, copy.deepcopy(obj))
    fake.events.extend(copy.deepcopy(list(events)))


def run_import(history_import, **kwargs) -> str:
    owner = new_owner()
    assert import_claim(import_id=history_import.pk, owner=owner)
    return import_run(import_id=history_import.pk, owner=owner, **kwargs)


def figures(workspace) -> dict:
    """Everything the board and reconciliation show, keyed by fact, customer and subscription."""
    signals = {
        row[0]: row[1:]
        for row in RevenueSignal.objects.filter(workspace=workspace).values_list(
            "fact_key", "kind", "amount", "currency", "mrr_delta", "customer__stripe_id"
        )
    }
    customers = {
        c.stripe_id: (c.mrr, c.status, c.email, c.currency)
        for c in Customer.objects.filter(workspace=workspace)
    }
    subscriptions = {
        s.stripe_id: (s.status, s.mrr, s.price_id, s.quantity, s.cancel_at_period_end)
        for s in Subscription.objects.filter(workspace=workspace)
    }
    return {"signals": signals, "customers": customers, "subscriptions": subscriptions}


def webhook_replay(connection, events: list[dict]) -> None:
    events_store(connection=connection, payloads=events, source=EventSource.WEBHOOK, wake=False)
    stored_events_process(connection=connection)
    assert not StripeEvent.objects.filter(connection=connection, status="failed").exists()
