"""checkout.session.*, charge.*, refund.*, charge.dispute.* and payment_intent.payment_failed.

Stripe reports one payment several times (invoice, payment intent, charge). To give one signal
per thing that happened, charges and payment intents of invoices are left to the invoice
events, and a charge made through a payment intent leaves its failure to the payment intent.
"""

from typing import Any

from billing.normalize.common import (
    Facts,
    SignalFact,
    as_dict,
    as_int,
    as_list,
    as_str,
    compact,
    obj_id,
    settlement,
)


def _email_hint(obj: dict[str, Any]) -> dict[str, str]:
    details = as_dict(obj.get("customer_details")) or as_dict(obj.get("billing_details"))
    return compact(
        {
            "email": as_str(details.get("email"))
            or as_str(obj.get("customer_email"))
            or as_str(obj.get("receipt_email")),
            "name": as_str(details.get("name")),
        }
    )


def normalize_checkout(event: dict[str, Any], session: dict[str, Any]) -> Facts:
    event_type = as_str(event.get("type"))
    session_id = as_str(session.get("id"))
    facts = Facts(
        customer_id=obj_id(session.get("customer")),
        customer_hint=_email_hint(session),
        subscription_id=obj_id(session.get("subscription")),
    )
    recovery = as_dict(as_dict(session.get("after_expiration")).get("recovery"))
    details = compact(
        {
            "checkout_session_id": session_id,
            "subscription_id": facts.subscription_id,
            "payment_intent_id": obj_id(session.get("payment_intent")),
            "mode": as_str(session.get("mode")),
            "payment_status": as_str(session.get("payment_status")),
            "customer_email": facts.customer_hint.get("email"),
        }
    )
    kind = {
        "checkout.session.completed": "checkout_completed",
        "checkout.session.expired": "checkout_abandoned",
        "checkout.session.async_payment_succeeded": "payment_succeeded",
        "checkout.session.async_payment_failed": "payment_failed",
    }.get(event_type)
    if kind == "checkout_abandoned":
        details["recovery_url"] = as_str(recovery.get("url"))
        details = compact(details)
    if kind:
        facts.signals.append(
            SignalFact(
                kind=kind,
                amount=as_int(session.get("amount_total")),
                currency=as_str(session.get("currency")).lower(),
                object_id=session_id,
                details=details,
            )
        )
    return facts


def _charge_details(charge: dict[str, Any]) -> dict[str, Any]:
    outcome = as_dict(charge.get("outcome"))
    return compact(
        {
            "charge_id": as_str(charge.get("id")),
            "payment_intent_id": obj_id(charge.get("payment_intent")),
            "invoice_id": obj_id(charge.get("invoice")),
            "failure_code": as_str(charge.get("failure_code")),
            "failure_message": as_str(charge.get("failure_message")),
            "decline_code": as_str(outcome.get("reason")),
        }
    )


def _belongs_to_invoice(obj: dict[str, Any]) -> bool:
    # Basil dropped `invoice` from charges and payment intents; their description remains.
    description = as_str(obj.get("description"))
    return bool(obj.get("invoice")) or description.startswith("Subscription ")


def normalize_charge(event: dict[str, Any], charge: dict[str, Any]) -> Facts:
    event_type = as_str(event.get("type"))
    charge_id = as_str(charge.get("id"))
    currency = as_str(charge.get("currency")).lower()
    facts = Facts(
        customer_id=obj_id(charge.get("customer")),
        customer_hint=_email_hint(charge),
        charge_id=charge_id,
    )
    details = _charge_details(charge)
    if event_type == "charge.succeeded" and not _belongs_to_invoice(charge):
        facts.signals.append(
            SignalFact(
                kind="payment_succeeded",
                amount=as_int(charge.get("amount")),
                currency=currency,
                object_id=charge_id,
                details={**details, **settlement(charge.get("balance_transaction"))},
            )
        )
    elif (
        event_type == "charge.failed"
        and not _belongs_to_invoice(charge)
        and not charge.get("payment_intent")
    ):
        facts.signals.append(
            SignalFact(
                kind="payment_failed",
                amount=as_int(charge.get("amount")),
                currency=currency,
                object_id=charge_id,
                details=details,
            )
        )
    elif event_type == "charge.refunded":
        facts.signals.append(_refund_signal(event, charge, details))
    if event_type == "charge.failed" and not facts.signals:
        facts.payment_failure = _failure_facts(details)
    return facts


FAILURE_KEYS = ("decline_code", "failure_code", "failure_message")


def _failure_facts(details: dict[str, Any]) -> dict[str, str] | None:
    """The decline facts of a failed payment whose signal comes from its invoice."""
    failure = {k: details[k] for k in FAILURE_KEYS if details.get(k)}
    if not failure or not (details.get("charge_id") or details.get("payment_intent_id")):
        return None
    return {
        "charge_id": details.get("charge_id", ""),
        "payment_intent_id": details.get("payment_intent_id", ""),
        **failure,
    }


def _refund_signal(event: dict[str, Any], charge: dict[str, Any], details: dict) -> SignalFact:
    """This event's refund: the growth of amount_refunded (or the whole of it, when unknown)."""
    previous = as_dict(as_dict(event.get("data")).get("previous_attributes"))
    charged = as_int(charge.get("amount"), 0) or 0
    refunded = as_int(charge.get("amount_refunded"), 0) or 0
    before = as_int(previous.get("amount_refunded"), 0) or 0
    refunds = sorted(as_list(charge.get("refunds")), key=lambda r: as_int(r.get("created"), 0))
    newest = refunds[-1] if refunds else {}
    amount = refunded - before if refunded > before else refunded
    return SignalFact(
        kind="refund",
        amount=amount,
        currency=as_str(charge.get("currency")).lower(),
        object_id=as_str(charge.get("id")),
        details={
            **{k: v for k, v in details.items() if k in ("charge_id", "payment_intent_id")},
            **compact(
                {
                    "refund_id": as_str(newest.get("id")),
                    "reason": as_str(newest.get("reason")),
                    "refund_full": bool(charge.get("refunded")) or refunded >= charged > 0,
                    "amount_refunded_total": refunded,
                    "invoice_id": details.get("invoice_id"),
                }
            ),
            # The refund's own conversion; a partial refund's amount is this event's only.
            **(settlement(newest.get("balance_transaction"), sign=-1) if newest else {}),
        },
    )


def normalize_refund(event: dict[str, Any], refund: dict[str, Any]) -> Facts:
    """refund.created/updated only tell whose charge it was: the signal comes from charge.refunded,
    which alone knows whether the refund is full or partial."""
    return Facts(charge_id=obj_id(refund.get("charge")))


def normalize_dispute(event: dict[str, Any], dispute: dict[str, Any]) -> Facts:
    event_type = as_str(event.get("type"))
    charge = dispute.get("charge")
    facts = Facts(
        customer_id=obj_id(as_dict(charge).get("customer")),
        charge_id=obj_id(charge),
    )
    kind = {
        "charge.dispute.created": "dispute_opened",
        "charge.dispute.closed": "dispute_closed",
    }.get(event_type)
    if kind:
        facts.signals.append(
            SignalFact(
                kind=kind,
                amount=as_int(dispute.get("amount")),
                currency=as_str(dispute.get("currency")).lower(),
                object_id=as_str(dispute.get("id")),
                details=compact(
                    {
                        "dispute_id": as_str(dispute.get("id")),
                        "charge_id": facts.charge_id,
                        "payment_intent_id": obj_id(dispute.get("payment_intent")),
                        "reason": as_str(dispute.get("reason")),
                        "dispute_status": as_str(dispute.get("status")),
                        # The withdrawal: the first of the dispute's (expanded) transactions.
                        **_dispute_settlement(dispute, kind),
                    }
                ),
            )
        )
    return facts


def _dispute_settlement(dispute: dict[str, Any], kind: str) -> dict[str, Any]:
    withdrawals = as_list(dispute.get("balance_transactions"))
    if kind != "dispute_opened" or not withdrawals:
        return {}
    return settlement(withdrawals[0], sign=-1)


def normalize_payment_intent(event: dict[str, Any], intent: dict[str, Any]) -> Facts:
    error = as_dict(intent.get("last_payment_error"))
    charge_id = obj_id(intent.get("latest_charge")) or next(
        (as_str(c.get("id")) for c in as_list(intent.get("charges"))), ""
    )
    facts = Facts(
        customer_id=obj_id(intent.get("customer")),
        customer_hint=_email_hint(intent),
        charge_id=charge_id,
    )
    if as_str(event.get("type")) != "payment_intent.payment_failed":
        return facts
    details = compact(
        {
            "payment_intent_id": as_str(intent.get("id")),
            "charge_id": charge_id,
            "decline_code": as_str(error.get("decline_code")),
            "failure_code": as_str(error.get("code")),
            "failure_message": as_str(error.get("message")),
        }
    )
    if _belongs_to_invoice(intent):
        facts.payment_failure = _failure_facts(details)
    else:
        facts.signals.append(
            SignalFact(
                kind="payment_failed",
                amount=as_int(intent.get("amount")),
                currency=as_str(intent.get("currency")).lower(),
                object_id=as_str(intent.get("id")),
                details=details,
            )
        )
    return facts
