"""Mapping-rule conditions: what keys exist, and whether a signal meets them.

(The journeys work extends validation and the editing UI; matching must stay a pure function.)
"""

from typing import Any

from billing.models import RevenueSignal


def signal_matches(conditions: dict[str, Any], signal: RevenueSignal) -> bool:
    """True when the signal meets every condition (an empty dict matches everything)."""
    details = signal.details or {}
    for key, expected in conditions.items():
        if key == "amount_min" and (signal.amount is None or signal.amount < expected):
            return False
        if key == "amount_max" and (signal.amount is None or signal.amount > expected):
            return False
        if key == "currency" and signal.currency.lower() != str(expected).lower():
            return False
        if key == "livemode" and signal.livemode != bool(expected):
            return False
        if key in ("price_id", "product_id", "billing_reason", "decline_code") and (
            details.get(key) != expected
        ):
            return False
        if key == "subscription_status" and details.get("subscription_status") != expected:
            return False
        if key == "attempt_count_min" and (details.get("attempt_count") or 0) < expected:
            return False
        if key == "customer_metadata":
            metadata = (signal.customer.metadata if signal.customer_id else None) or {}
            if any(metadata.get(k) != v for k, v in expected.items()):
                return False
    return True
