"""The underlying fact a signal stands for, as a key: the same fact gives the same key whichever
way it arrived (a webhook, the events import, or a rebuild from Stripe objects), so the database
keeps one signal per fact (constraint billing_signal_unique_fact)."""

from typing import Any

from billing.normalize.common import SignalFact

# Kinds that happen at most once per Stripe object: the object's id is the fact.
ONCE_PER_OBJECT = frozenset(
    {
        "checkout_completed",
        "checkout_abandoned",
        "subscription_started",
        "trial_converted",
        "subscription_canceled",
        "payment_recovered",
        "dispute_opened",
        "dispute_closed",
    }
)


def _plan_change_key(fact: SignalFact) -> str:
    """A subscription + the change: MRR before and after (the minute is not always known)."""
    details: dict[str, Any] = fact.details
    subscription = details.get("subscription_id") or fact.object_id
    before, after = details.get("previous_mrr"), details.get("new_mrr")
    if not subscription or before is None or after is None:
        return ""
    return f"plan_change:{subscription}:{before}:{after}"


def fact_key(fact: SignalFact, *, event_id: str) -> str:
    """The key of one signal's fact; the event id itself when only that event can tell it."""
    details = fact.details
    kind = fact.kind
    key = ""
    if kind in ONCE_PER_OBJECT and fact.object_id:
        key = f"{kind}:{fact.object_id}"
    elif kind == "payment_failed" and details.get("invoice_id"):
        # An invoice fails once per attempt; payment_action_required repeats the same attempt.
        key = f"payment_failed:{details['invoice_id']}:{details.get('attempt_count') or 0}"
    elif kind == "payment_failed" and fact.object_id:
        # A payment intent may fail several times, once per charge.
        key = f"payment_failed:{fact.object_id}:{details.get('charge_id') or ''}"
    elif kind == "payment_succeeded" and fact.object_id:
        key = f"payment_succeeded:{fact.object_id}"
    elif kind == "refund" and details.get("refund_id"):
        key = f"refund:{details['refund_id']}"
    elif kind in ("plan_upgraded", "plan_downgraded"):
        key = _plan_change_key(fact)
    elif kind == "trial_ending" and fact.object_id:
        key = f"trial_ending:{fact.object_id}:{details.get('trial_end') or ''}"
    elif kind == "cancellation_scheduled" and fact.object_id:
        key = f"cancellation_scheduled:{fact.object_id}:{details.get('cancel_at') or ''}"
    return (key or f"{kind}:{event_id}")[:255]
