"""The small Stripe-object library that ../shared/bench/post_events.py imports (`stripe_events`):
ids, prices, subscriptions, invoices and events shaped as Stripe's 2024-06-20 API sends them,
the compact body, and the Stripe-Signature header. Stdlib only; pointed at by STRIPE_EVENTS_LIB.
"""

import hashlib
import hmac
import json
import secrets
import time

OLD_API = "2024-06-20"


def rid(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def price(amount: int, *, interval: str = "month", currency: str = "usd") -> dict:
    return {
        "id": rid("price"),
        "object": "price",
        "active": True,
        "currency": currency,
        "product": rid("prod"),
        "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"},
        "type": "recurring",
        "unit_amount": amount,
    }


def subscription(customer, pr, status, now, api, *, quantity=1, cancel_at_period_end=False):
    sub_id = rid("sub")
    item = {
        "id": rid("si"),
        "object": "subscription_item",
        "created": now,
        "price": pr,
        "quantity": quantity,
        "current_period_start": now,
        "current_period_end": now + 30 * 86400,
    }
    sub = {
        "id": sub_id,
        "object": "subscription",
        "cancel_at": now + 30 * 86400 if cancel_at_period_end else None,
        "cancel_at_period_end": cancel_at_period_end,
        "canceled_at": None,
        "created": now - 90 * 86400,
        "currency": pr["currency"],
        "current_period_start": now,
        "current_period_end": now + 30 * 86400,
        "customer": customer,
        "items": {"object": "list", "data": [item], "has_more": False},
        "livemode": False,
        "metadata": {},
        "quantity": quantity,
        "start_date": now - 90 * 86400,
        "status": status,
        "trial_end": now + 7 * 86400 if status == "trialing" else None,
    }
    if api <= OLD_API:
        sub["plan"] = {
            "id": pr["id"],
            "object": "plan",
            "amount": pr["unit_amount"],
            "currency": pr["currency"],
            "interval": pr["recurring"]["interval"],
            "interval_count": 1,
            "product": pr["product"],
        }
    return sub


def invoice(
    customer,
    subscription_id,
    amount,
    now,
    api,
    *,
    attempt_count=1,
    paid=False,
    billing_reason="subscription_cycle",
):
    return {
        "id": rid("in"),
        "object": "invoice",
        "amount_due": amount,
        "amount_paid": amount if paid else 0,
        "amount_remaining": 0 if paid else amount,
        "attempt_count": attempt_count,
        "attempted": True,
        "billing_reason": billing_reason,
        "charge": rid("ch"),
        "created": now,
        "currency": "usd",
        "customer": customer,
        "hosted_invoice_url": "https://invoice.stripe.com/i/acct_bench/test",
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None if paid else now + 3 * 86400,
        "paid": paid,
        "payment_intent": rid("pi"),
        "status": "paid" if paid else "open",
        "subscription": subscription_id,
    }


def event(event_type, obj, created, api, *, previous=None) -> dict:
    data = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": rid("evt"),
        "object": "event",
        "api_version": api,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": rid("req"), "idempotency_key": None},
        "type": event_type,
    }


def body(evt: dict) -> bytes:
    return json.dumps(evt, separators=(",", ":")).encode()


def sign(raw: bytes, secret: str) -> str:
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
