"""Pure functions from one Stripe event (a dict, as received) to the facts it implies.

No database and no clock: the same event always gives the same facts, which is what makes
processing idempotent and order-proof. billing.pipeline.apply turns the facts into rows.
"""

from collections.abc import Callable
from typing import Any

from billing.normalize.common import (
    CustomerState,
    Facts,
    PaidInvoice,
    SignalFact,
    SubscriptionState,
    as_dict,
    as_str,
    is_basil,
)
from billing.normalize.customers import normalize_customer
from billing.normalize.invoices import normalize_invoice
from billing.normalize.payments import (
    normalize_charge,
    normalize_checkout,
    normalize_dispute,
    normalize_payment_intent,
    normalize_refund,
)
from billing.normalize.subscriptions import normalize_subscription

__all__ = [
    "CustomerState",
    "Facts",
    "PaidInvoice",
    "SignalFact",
    "SubscriptionState",
    "is_basil",
    "normalize_event",
]

Family = Callable[[dict[str, Any], dict[str, Any]], Facts]

# Longest prefix first: charge.dispute.* is not a charge event.
FAMILIES: tuple[tuple[str, Family], ...] = (
    ("checkout.session.", normalize_checkout),
    ("customer.subscription.", normalize_subscription),
    ("customer.", normalize_customer),
    ("invoice.", normalize_invoice),
    ("charge.dispute.", normalize_dispute),
    ("charge.", normalize_charge),
    ("refund.", normalize_refund),
    ("payment_intent.", normalize_payment_intent),
)


def normalize_event(event: dict[str, Any]) -> Facts:
    """The facts of one event; an event type we do not know, or without an object, has none."""
    event_type = as_str(event.get("type"))
    obj = as_dict(as_dict(event.get("data")).get("object"))
    if not obj:
        return Facts()
    for prefix, family in FAMILIES:
        if event_type.startswith(prefix):
            # customer.tax_id.*, customer.discount.* and the like are about other objects.
            if family is normalize_customer and event_type.count(".") != 1:
                return Facts()
            return family(event, obj)
    return Facts()
