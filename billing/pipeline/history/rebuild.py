"""What the events about a Stripe object would have said, rebuilt from the object as listed.

Each function takes one object (as the list endpoint gives it, either API shape) and returns
event payloads shaped like Stripe's, which the ordinary pipeline (normalize + apply) turns into
state and signals. Their ids are derived from the fact they stand for, so importing twice, or
resuming, stores nothing new. Times that objects do not keep are estimated; APPROXIMATE says
which, for the UI.
"""

import copy
import hashlib
from typing import Any

from billing.normalize.common import as_dict, as_int, as_list, as_str, obj_id
from billing.normalize.invoices import invoice_subscription_id

DAY = 86400
API_VERSION = "rebuilt-from-objects"

# What objects cannot tell exactly, shown on the import's page.
APPROXIMATE = (
    "The minute of a plan change: dated by its proration lines, or else by the first invoice "
    "on the new plan.",
    "The time of each failed attempt of an invoice (spread between its first attempt and its "
    "payment) and the decline reason when the charge is not listed.",
    "When a dispute closed (dated at its evidence due date) and checkout completion times "
    "(dated at the session's creation).",
    "Withdrawn cancellations, intermediate statuses (past due) and anything undone before "
    "the end: objects show only where things ended. Events of the last 30 days refine all "
    "of this, since Stripe keeps events that long.",
    "MRR before a plan change ignores discounts that have since been removed.",
)


def rebuilt_id(*parts: str) -> str:
    """A stable event id for one rebuilt fact."""
    digest = hashlib.sha1("|".join(parts).encode(), usedforsecurity=False).hexdigest()
    return f"evt_rebuilt_{digest[:24]}"


def event(
    key: str,
    type_: str,
    created: int,
    obj: dict[str, Any],
    previous: dict[str, Any] | None = None,
    *,
    user: bool = False,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": rebuilt_id(type_, key),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(created),
        "livemode": bool(obj.get("livemode")),
        "type": type_,
        "data": data,
        "request": {"id": "req_rebuilt" if user else None, "idempotency_key": None},
    }


def customer_events(customer: dict[str, Any]) -> list[dict[str, Any]]:
    return [event(customer["id"], "customer.created", _created(customer), customer)]


def _created(obj: dict[str, Any]) -> int:
    return as_int(obj.get("created"), 0) or 0


def invoice_events(invoice: dict[str, Any], *, now: int) -> list[dict[str, Any]]:
    """An invoice's failed attempts and its payment (apply makes the recovery of them)."""
    status = as_str(invoice.get("status"))
    attempts = as_int(invoice.get("attempt_count"), 0) or 0
    transitions = as_dict(invoice.get("status_transitions"))
    first = as_int(transitions.get("finalized_at")) or _created(invoice)
    paid_at = as_int(transitions.get("paid_at")) if status == "paid" else None
    failures = attempts - 1 if paid_at else attempts
    if status in ("draft", "void") and not paid_at:
        failures = 0
    times = _attempt_times(first, paid_at, failures, now)
    events = []
    for number, at in enumerate(times, start=1):
        failed = copy.deepcopy(invoice)
        failed.update(
            attempt_count=number,
            status="open",
            amount_paid=0,
            next_payment_attempt=times[number] if number < len(times) else paid_at,
        )
        failed["status_transitions"] = {**transitions, "paid_at": None}
        key = f"{invoice['id']}:{number}"
        events.append(event(key, "invoice.payment_failed", at, failed))
    if paid_at:
        events.append(event(invoice["id"], "invoice.paid", paid_at, invoice))
    return events


def _attempt_times(first: int, paid_at: int | None, failures: int, now: int) -> list[int]:
    """Failed attempts spread evenly from the first attempt to the paying one (or 3 days apart)."""
    if failures <= 0:
        return []
    step = (paid_at - first) // failures if paid_at and paid_at > first else 3 * DAY
    return [min(first + n * step, now) for n in range(failures)]


def _belongs_to_invoice(charge: dict[str, Any]) -> bool:
    description = as_str(charge.get("description"))
    return bool(charge.get("invoice")) or description.startswith("Subscription ")


def charge_events(charge: dict[str, Any]) -> list[dict[str, Any]]:
    """A one-off payment or failure; an invoice's failed charge says why its invoice failed."""
    status = as_str(charge.get("status"))
    created = _created(charge)
    if status == "succeeded" or (status == "" and charge.get("paid")):
        return [event(charge["id"], "charge.succeeded", created, charge)]
    if status != "failed":
        return []
    intent = obj_id(charge.get("payment_intent"))
    if not intent or _belongs_to_invoice(charge):
        return [event(charge["id"], "charge.failed", created, charge)]
    outcome = as_dict(charge.get("outcome"))
    failed_intent = {
        "id": intent,
        "object": "payment_intent",
        "amount": charge.get("amount"),
        "currency": charge.get("currency"),
        "customer": charge.get("customer"),
        "description": charge.get("description"),
        "latest_charge": charge["id"],
        "livemode": charge.get("livemode"),
        "last_payment_error": {
            "code": charge.get("failure_code"),
            "decline_code": outcome.get("reason"),
            "message": charge.get("failure_message"),
        },
    }
    return [event(charge["id"], "payment_intent.payment_failed", created, failed_intent)]


def refund_events(refund: dict[str, Any]) -> list[dict[str, Any]]:
    """charge.refunded as of this refund: the charge (listed with `expand[]=data.charge`) with
    the refunds made up to then."""
    if as_str(refund.get("status")) in ("failed", "canceled"):
        return []
    charge = as_dict(refund.get("charge")) or {"id": obj_id(refund.get("charge"))}
    created = _created(refund)
    amount = as_int(refund.get("amount"), 0) or 0
    listed = as_list(charge.get("refunds"))
    if listed:
        total = sum(
            as_int(r.get("amount"), 0) or 0
            for r in listed
            if (_created(r), r.get("id")) <= (created, refund.get("id"))
        )
        total = max(total, amount)
    else:
        total = as_int(charge.get("amount_refunded"), amount) or amount
    charged = as_int(charge.get("amount"), 0) or 0
    at_refund = {
        **charge,
        "amount_refunded": total,
        "refunded": charged > 0 and total >= charged,
        "currency": charge.get("currency") or refund.get("currency"),
        "refunds": {"object": "list", "data": [{**refund, "charge": charge.get("id")}]},
    }
    previous = {"amount_refunded": total - amount, "refunded": False}
    return [event(refund["id"], "charge.refunded", created, at_refund, previous)]


CLOSED_DISPUTE_STATUSES = frozenset({"won", "lost", "warning_closed", "charge_refunded"})


def dispute_events(dispute: dict[str, Any], *, now: int) -> list[dict[str, Any]]:
    created = _created(dispute)
    opened = {**dispute, "status": "needs_response"}
    events = [event(dispute["id"], "charge.dispute.created", created, opened)]
    if as_str(dispute.get("status")) in CLOSED_DISPUTE_STATUSES:
        due = as_int(as_dict(dispute.get("evidence_details")).get("due_by")) or created
        events.append(event(dispute["id"], "charge.dispute.closed", min(due, now), dispute))
    return events


def checkout_events(session: dict[str, Any]) -> list[dict[str, Any]]:
    status = as_str(session.get("status"))
    if status == "complete":
        return [event(session["id"], "checkout.session.completed", _created(session), session)]
    if status == "expired":
        expired_at = as_int(session.get("expires_at")) or _created(session)
        return [event(session["id"], "checkout.session.expired", expired_at, session)]
    return []


def invoice_plan(invoice: dict[str, Any], prices: dict[str, dict]) -> dict[str, Any] | None:
    """The subscription's plan an invoice bills for: its items as subscription items say them,
    and when the plan took effect (its proration lines date a mid-period change)."""
    subscription = invoice_subscription_id(invoice)
    if not subscription or as_str(invoice.get("status")) in ("draft", "void"):
        return None
    items, prorated_from = [], None
    for line in as_list(invoice.get("lines")):
        start = as_int(as_dict(line.get("period")).get("start"))
        if line.get("proration") or as_dict(line.get("parent")).get("proration"):
            if start and (prorated_from is None or start < prorated_from):
                prorated_from = start
            continue
        price = _line_price(line, prices)
        if price:
            items.append({"price": price, "quantity": as_int(line.get("quantity"), 1)})
    if not items:
        return None
    at = prorated_from or _created(invoice)
    return {
        "subscription_id": subscription,
        "invoice_id": as_str(invoice.get("id")),
        "at": at,
        "exact": prorated_from is not None,
        "items": items,
    }


def _line_price(line: dict[str, Any], prices: dict[str, dict]) -> dict[str, Any]:
    price = as_dict(line.get("price"))
    if price.get("unit_amount") is not None or price.get("unit_amount_decimal"):
        return price
    details = as_dict(as_dict(line.get("pricing")).get("price_details"))
    price_id = obj_id(details.get("price")) or obj_id(line.get("price"))
    return prices.get(price_id) or as_dict(line.get("plan"))
