"""Mapping-rule conditions: what keys exist, whether they are well formed, and whether a signal
meets them. Matching is a pure function of the conditions and the signal. ConditionError is the one
error of both condition languages (task rules raise it too, from tasks.conditions).
"""

from typing import Any

from django.core.exceptions import ValidationError

from billing.models import RevenueSignal
from custory.money import money_format

# Stripe's subscription statuses, for the subscription_status condition.
SUBSCRIPTION_STATUSES = [
    "incomplete",
    "incomplete_expired",
    "trialing",
    "active",
    "past_due",
    "canceled",
    "unpaid",
    "paused",
]

# key → (label, type) of every condition a mapping rule may carry.
CONDITION_KEYS: dict[str, tuple[str, type]] = {
    "amount_min": ("Amount at least", int),
    "amount_max": ("Amount at most", int),
    "currency": ("Currency", str),
    "price_id": ("Stripe price id", str),
    "product_id": ("Stripe product id", str),
    "billing_reason": ("Billing reason", str),
    "subscription_status": ("Subscription status", str),
    "attempt_count_min": ("Attempt count at least", int),
    "decline_code": ("Decline code", str),
    "customer_metadata": ("Customer metadata", dict),
    "livemode": ("Live mode", bool),
}


class ConditionError(ValidationError, ValueError):
    """Malformed conditions of a mapping rule or a task rule, naming every problem found."""

    def __str__(self) -> str:
        # The messages themselves, not ValidationError's list repr: services pass them on as is.
        return " ".join(self.messages)


def conditions_validate(conditions: Any) -> dict[str, Any]:
    """Return the conditions normalized, or raise ConditionError naming every problem."""
    if conditions in (None, ""):
        return {}
    if not isinstance(conditions, dict):
        raise ConditionError("Conditions must be an object of key → value.", code="invalid")
    errors: list[ConditionError] = []
    clean: dict[str, Any] = {}
    for key, value in conditions.items():
        try:
            value = _condition_clean(key, value)
        except ConditionError as error:
            errors.append(error)
            continue
        if value is not None:
            clean[key] = value
    if {"amount_min", "amount_max"} & clean.keys() and "currency" not in clean:
        errors.append(
            ConditionError("An amount range needs a currency: amounts differ by currency.")
        )
    low, high = clean.get("amount_min"), clean.get("amount_max")
    if low is not None and high is not None and low > high:
        errors.append(ConditionError("The minimum amount is above the maximum."))
    if errors:
        raise ConditionError(errors)
    return clean


def _condition_clean(key: str, value: Any) -> Any:
    """One condition's value normalized, None when it is empty, or ConditionError."""
    if key not in CONDITION_KEYS:
        raise ConditionError(f"Unknown condition “{key}”.", code="unknown")
    label, expected = CONDITION_KEYS[key]
    # bool is an int in Python; an amount of True is still the wrong type.
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConditionError(
            f"{label} must be {_type_name(expected)}, not {type(value).__name__}.", code="type"
        )
    if expected is str:
        value = value.strip()
        if not value:
            return None
        if len(value) > 255:
            raise ConditionError(f"{label} is too long.", code="length")
    if key == "currency":
        value = value.lower()
        if len(value) != 3 or not value.isalpha():
            raise ConditionError("Currency must be a 3-letter code such as EUR.", code="value")
    if key == "subscription_status" and value not in SUBSCRIPTION_STATUSES:
        raise ConditionError(f"“{value}” is not a Stripe subscription status.", code="value")
    if key in ("amount_min", "amount_max", "attempt_count_min") and value < 0:
        raise ConditionError(f"{label} cannot be negative.", code="value")
    if key == "customer_metadata":
        if not value:
            return None
        if not all(isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()):
            raise ConditionError(
                "Customer metadata must map text keys to text values.", code="type"
            )
    return value


def _type_name(expected: type) -> str:
    return {int: "a whole number", str: "text", bool: "true or false", dict: "an object"}[expected]


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


def conditions_describe(conditions: dict[str, Any]) -> str:
    """A short human reading of conditions: "amount ≥ €100.00, customer plan = pro"."""
    currency = conditions.get("currency", "")
    parts = []
    if conditions.get("amount_min") is not None:
        parts.append(f"amount ≥ {money_format(conditions['amount_min'], currency)}")
    if conditions.get("amount_max") is not None:
        parts.append(f"amount ≤ {money_format(conditions['amount_max'], currency)}")
    if currency and not parts:
        parts.append(f"in {currency.upper()}")
    labels = {
        "price_id": "price",
        "product_id": "product",
        "billing_reason": "billing reason",
        "subscription_status": "subscription",
        "decline_code": "decline code",
    }
    for key, label in labels.items():
        if conditions.get(key):
            parts.append(f"{label} {conditions[key]}")
    if conditions.get("attempt_count_min") is not None:
        parts.append(f"attempt ≥ {conditions['attempt_count_min']}")
    for key, value in (conditions.get("customer_metadata") or {}).items():
        parts.append(f"customer {key} = {value}")
    if "livemode" in conditions:
        parts.append("live mode only" if conditions["livemode"] else "test mode only")
    return ", ".join(parts)
