"""invoice.*: payments of subscription invoices, their failures and (in apply) recoveries.

Pre-basil invoices name their subscription, charge and payment intent directly; from basil on the
subscription is under `parent.subscription_details` and payments under `invoice.payments`.
`invoice.paid` is the one signal for a paid invoice: Stripe also sends
`invoice.payment_succeeded` for the same payment, which only updates what we know.
"""

from typing import Any

from billing.normalize.common import (
    Facts,
    InvoiceOutcome,
    PaidInvoice,
    SignalFact,
    as_dict,
    as_int,
    as_list,
    as_str,
    compact,
    iso,
    obj_id,
    timestamp,
)


def invoice_subscription_id(inv: dict[str, Any]) -> str:
    parent = as_dict(inv.get("parent"))
    return obj_id(as_dict(parent.get("subscription_details")).get("subscription")) or obj_id(
        inv.get("subscription")
    )


def invoice_payment_ids(inv: dict[str, Any]) -> tuple[str, str]:
    """(charge id, payment intent id) of the invoice's payment, in either shape."""
    charge, intent = obj_id(inv.get("charge")), obj_id(inv.get("payment_intent"))
    for payment in as_list(inv.get("payments")):
        inner = as_dict(payment.get("payment"))
        charge = charge or obj_id(inner.get("charge"))
        intent = intent or obj_id(inner.get("payment_intent"))
    return charge, intent


def invoice_price(inv: dict[str, Any]) -> tuple[str, str]:
    """(price id, product id) of the invoice's first line."""
    for line in as_list(inv.get("lines")):
        price_details = as_dict(as_dict(line.get("pricing")).get("price_details"))
        price = as_dict(line.get("price")) or as_dict(line.get("plan"))
        price_id = obj_id(price_details.get("price")) or as_str(price.get("id"))
        product_id = obj_id(price_details.get("product")) or obj_id(price.get("product"))
        if price_id or product_id:
            return price_id, product_id
    return "", ""


def _failure(inv: dict[str, Any]) -> dict[str, Any]:
    """Decline facts, when the charge or payment intent is expanded on the invoice."""
    charge = as_dict(inv.get("charge"))
    error = as_dict(as_dict(inv.get("payment_intent")).get("last_payment_error")) or as_dict(
        inv.get("last_payment_error")
    )
    return compact(
        {
            "decline_code": as_str(error.get("decline_code"))
            or as_str(as_dict(charge.get("outcome")).get("reason")),
            "failure_code": as_str(error.get("code")) or as_str(charge.get("failure_code")),
            "failure_message": as_str(error.get("message"))
            or as_str(charge.get("failure_message")),
        }
    )


# Stripe gives up on an invoice (uncollectible) or its issuer cancels it (voided): it is lost,
# not failed once more.
LOST_TYPES = {"invoice.marked_uncollectible": "uncollectible", "invoice.voided": "voided"}


def _attempt_count(inv: dict[str, Any]) -> int:
    return as_int(inv.get("attempt_count"), 0) or 0


def _details(inv: dict[str, Any]) -> dict[str, Any]:
    """What every invoice signal records about the invoice, its subscription and its payment."""
    charge_id, intent_id = invoice_payment_ids(inv)
    price_id, product_id = invoice_price(inv)
    return compact(
        {
            "invoice_id": as_str(inv.get("id")),
            "subscription_id": invoice_subscription_id(inv),
            "charge_id": charge_id,
            "payment_intent_id": intent_id,
            "billing_reason": as_str(inv.get("billing_reason")),
            "price_id": price_id,
            "product_id": product_id,
            "attempt_count": _attempt_count(inv),
        }
    )


def _add_payment(facts: Facts, inv: dict[str, Any], details: dict[str, Any]) -> None:
    """A paid invoice with money in it: a payment_succeeded signal and the paid invoice itself."""
    amount = as_int(inv.get("amount_paid"), 0) or 0
    if amount <= 0:
        return
    invoice_id = as_str(inv.get("id"))
    currency = as_str(inv.get("currency")).lower()
    transitions = as_dict(inv.get("status_transitions"))
    facts.signals.append(
        SignalFact(
            kind="payment_succeeded",
            amount=amount,
            currency=currency,
            object_id=invoice_id,
            details=details,
        )
    )
    facts.paid_invoice = PaidInvoice(
        invoice_id=invoice_id,
        amount=amount,
        currency=currency,
        attempt_count=_attempt_count(inv),
        paid_at=timestamp(transitions.get("paid_at")),
        first_attempt_at=timestamp(transitions.get("finalized_at")),
        details=details,
    )


def _payment_failed(event_type: str, inv: dict[str, Any], details: dict[str, Any]) -> SignalFact:
    """payment_failed (a declined attempt), or payment_action_required (the customer must
    authenticate, e.g. 3-D Secure)."""
    action = event_type == "invoice.payment_action_required"
    extra = {"next_payment_attempt": iso(timestamp(inv.get("next_payment_attempt")))}
    return SignalFact(
        kind="payment_action_required" if action else "payment_failed",
        amount=as_int(inv.get("amount_due"), 0),
        currency=as_str(inv.get("currency")).lower(),
        object_id=as_str(inv.get("id")),
        details={**details, **_failure(inv), **compact(extra)},
    )


def invoice_outcome(
    event: dict[str, Any], inv: dict[str, Any], event_type: str
) -> InvoiceOutcome | None:
    """The invoice's fate as far as this event tells: failed, paid after failing, or lost."""
    transitions = as_dict(inv.get("status_transitions"))
    created = timestamp(event.get("created"))
    outcome = InvoiceOutcome(
        invoice_id=as_str(inv.get("id")),
        subscription_id=invoice_subscription_id(inv),
        currency=as_str(inv.get("currency")).lower(),
        amount=max(as_int(inv.get("amount_due"), 0) or 0, 0),
    )
    if not outcome.invoice_id:
        return None
    attempts = _attempt_count(inv)
    first_attempt = timestamp(transitions.get("finalized_at"))
    if event_type == "invoice.payment_failed":
        outcome.attempts = max(attempts, 1)
        outcome.failed_at = min((t for t in (first_attempt, created) if t), default=None)
    elif event_type == "invoice.paid":
        paid = max(as_int(inv.get("amount_paid"), 0) or 0, 0)
        outcome.paid_at = timestamp(transitions.get("paid_at")) or created
        outcome.amount_paid = paid
        outcome.amount = max(outcome.amount, paid)
        if attempts > 1:  # Stripe retried it: the earlier attempts failed
            outcome.attempts = attempts - 1
            outcome.failed_at = first_attempt or created
    elif event_type in LOST_TYPES:
        outcome.lost_reason = LOST_TYPES[event_type]
        lost = outcome.lost_reason == "uncollectible"
        at_key = "marked_uncollectible_at" if lost else "voided_at"
        outcome.lost_at = timestamp(transitions.get(at_key)) or created
    else:
        return None
    return outcome


def normalize_invoice(event: dict[str, Any], inv: dict[str, Any]) -> Facts:
    """The facts of one invoice.* event: its customer and, when paid or failed, its signal."""
    event_type = as_str(event.get("type"))
    facts = Facts(
        customer_id=obj_id(inv.get("customer")),
        customer_hint=compact(
            {"email": as_str(inv.get("customer_email")), "name": as_str(inv.get("customer_name"))}
        ),
        subscription_id=invoice_subscription_id(inv),
        charge_id=invoice_payment_ids(inv)[0],
    )
    details = _details(inv)
    if event_type == "invoice.paid":
        _add_payment(facts, inv, details)
    elif event_type in ("invoice.payment_failed", "invoice.payment_action_required"):
        facts.signals.append(_payment_failed(event_type, inv, details))
    facts.invoice_outcome = invoice_outcome(event, inv, event_type)
    facts.discount_shares = discount_shares(inv)
    return facts


def discount_shares(inv: dict[str, Any]) -> dict[str, float]:
    """What share of the invoice's subtotal each discount took off, from
    `total_discount_amounts` (both shapes): how an id-only discount is valued."""
    subtotal = as_int(inv.get("subtotal_excluding_tax")) or as_int(inv.get("subtotal")) or 0
    if subtotal <= 0 or as_str(inv.get("billing_reason")) == "subscription_update":
        return {}  # nothing to divide by, or a proration: not a full period's price
    shares = {}
    for entry in as_list(inv.get("total_discount_amounts")):
        discount = obj_id(entry.get("discount"))
        amount = as_int(entry.get("amount"), 0) or 0
        if discount and 0 < amount <= subtotal:
            shares[discount] = round(amount / subtotal, 6)
    return shares
