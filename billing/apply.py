"""Turning one stored StripeEvent into Customer/Subscription state and RevenueSignals.

(Filled in by the normalization work; the pipeline calls event_apply inside its transaction.)
"""

from billing.models import RevenueSignal, StripeEvent


def event_apply(*, event: StripeEvent) -> list[RevenueSignal]:
    """Apply an event's facts; return the signals it newly created (none when reprocessed)."""
    return []
