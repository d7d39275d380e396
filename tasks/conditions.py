"""Task rule conditions: their shape (validated on write) and whether a signal meets them.

Keys, all optional:
- amount_min, mrr_min: integers in minor units of `currency` (required with either); a signal or
  customer in another currency does not meet them.
- step: a Step uuid; met when the signal is placed on that step in any journey.
- repeat_count, repeat_days: at least N signals of the signal's kind for the same customer within
  D days up to and including this one.
"""

import uuid
from collections.abc import Callable
from typing import Any

from billing.models import RevenueSignal
from journeys.conditions import ConditionError

CONDITION_KEYS = ("amount_min", "mrr_min", "currency", "step", "repeat_count", "repeat_days")
MAX_REPEAT_DAYS = 365


def conditions_validate(conditions: Any) -> dict[str, Any]:
    """Return the conditions in their stored shape, or raise ConditionError saying what is wrong."""
    if not isinstance(conditions, dict):
        raise ConditionError("Conditions must be a JSON object.")
    unknown = sorted(set(conditions) - set(CONDITION_KEYS))
    if unknown:
        raise ConditionError(f"Unknown condition {', '.join(unknown)}.")
    clean: dict[str, Any] = {}
    for key in ("amount_min", "mrr_min", "repeat_count", "repeat_days"):
        if conditions.get(key) is None:
            continue
        value = conditions[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConditionError(f"{key} must be a whole number, 0 or more.")
        clean[key] = value
    if ("amount_min" in clean or "mrr_min" in clean) and not conditions.get("currency"):
        raise ConditionError("Money conditions need a currency.")
    if conditions.get("currency"):
        currency = str(conditions["currency"]).lower()
        if len(currency) != 3 or not currency.isalpha():
            raise ConditionError("currency must be a three-letter ISO code.")
        clean["currency"] = currency
    if conditions.get("step"):
        try:
            clean["step"] = str(uuid.UUID(str(conditions["step"])))
        except ValueError as error:
            raise ConditionError("step must be a step's id.") from error
    if "repeat_count" in clean:
        days = clean.get("repeat_days")
        if clean["repeat_count"] < 2:
            raise ConditionError("A repeat needs at least 2 signals.")
        if not days or days > MAX_REPEAT_DAYS:
            raise ConditionError(f"A repeat needs a window of 1 to {MAX_REPEAT_DAYS} days.")
    elif "repeat_days" in clean:
        raise ConditionError("A repeat window needs a number of signals.")
    return clean


def customer_mrr(signal: RevenueSignal) -> int:
    """The customer's MRR, or what it was before this signal when the signal took it away."""
    mrr = signal.customer.mrr if signal.customer_id else 0
    return max(mrr or 0, int((signal.details or {}).get("previous_mrr") or 0))


def conditions_met(
    conditions: dict[str, Any],
    signal: RevenueSignal,
    *,
    step_uuids: set[str],
    repeat_count: Callable[[int], int],
) -> bool:
    """True when the signal meets every condition; repeat_count(days) counts the customer's
    signals of this kind in the window (only called when a repeat is asked for)."""
    currency = conditions.get("currency", "")
    if "amount_min" in conditions and (
        signal.amount is None
        or (signal.currency or "").lower() != currency
        or signal.amount < conditions["amount_min"]
    ):
        return False
    if "mrr_min" in conditions:
        customer_currency = (signal.customer.currency if signal.customer_id else "") or (
            signal.currency or ""
        )
        if customer_currency.lower() != currency or customer_mrr(signal) < conditions["mrr_min"]:
            return False
    if conditions.get("step") and conditions["step"] not in step_uuids:
        return False
    if conditions.get("repeat_count"):
        if not signal.customer_id:
            return False
        if repeat_count(conditions["repeat_days"]) < conditions["repeat_count"]:
            return False
    return True
