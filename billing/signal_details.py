"""The keys a RevenueSignal's `details` may carry; every reader and writer uses these names.

All optional. Money is in minor units of the signal's currency; times are ISO 8601 UTC strings.
`details_clean` is called on every write (billing.pipeline.apply) and refuses keys not listed here.
"""

from typing import Any, TypedDict, get_type_hints


class SignalDetails(TypedDict, total=False):
    # What was bought
    price_id: str
    product_id: str
    plan_name: str
    quantity: int
    interval: str  # month, year, week, day
    interval_count: int
    subscription_id: str
    subscription_status: str
    previous_status: str  # the status a subscription_started left (incomplete, ...)
    # Stripe objects involved
    invoice_id: str
    charge_id: str
    payment_intent_id: str
    checkout_session_id: str
    refund_id: str
    dispute_id: str
    billing_reason: str  # subscription_create, subscription_cycle, manual, ...
    # Payment failures and recoveries
    attempt_count: int
    next_payment_attempt: str | None
    decline_code: str
    failure_code: str
    failure_message: str
    action_required: bool  # older signals: invoice.payment_action_required, now its own kind
    uncollectible: bool  # older signals: invoice.marked_uncollectible, now closes the invoice
    failed_at: str  # when the recovered invoice was first attempted
    recovery_seconds: int  # from that first attempt to the payment
    hours_to_recover: float
    # Stripe's conversion of the amount (billing.exchange): the balance transaction, and when
    # expanded with an exchange rate, the amount settled in the account's currency.
    balance_transaction_id: str
    settlement_currency: str
    settlement_amount: int  # positive, minor units of settlement_currency
    exchange_rate: str  # as Stripe wrote it: settlement units per unit of the signal's currency
    # Refunds, disputes, cancellations
    reason: str  # refund reason or dispute reason
    refund_full: bool
    amount_refunded_total: int
    dispute_status: str
    cancellation_reason: str  # cancellation_requested, payment_failed, payment_disputed
    cancellation_feedback: str  # too_expensive, missing_features, switched_service, ...
    cancellation_comment: str
    cancel_at: str | None
    churn_type: str  # voluntary | involuntary
    # Plan changes
    previous_mrr: int
    new_mrr: int
    previous_price_id: str
    previous_quantity: int
    # Checkout and trials
    mode: str  # checkout mode: payment, subscription, setup
    payment_status: str  # checkout payment status: paid, unpaid, no_payment_required
    recovery_url: str
    trial_end: str | None
    customer_email: str
    synthetic: bool


DETAIL_TYPES: dict[str, Any] = get_type_hints(SignalDetails)


def _accepted(expected) -> tuple[type, ...]:
    """The Python types a detail's value may have (None aside); an int is a fine float."""
    kinds = tuple(k for k in getattr(expected, "__args__", (expected,)) if k is not type(None))
    return (*kinds, int) if float in kinds else kinds


# Worked out once: details_clean runs for every signal written.
_ACCEPTED = {key: _accepted(expected) for key, expected in DETAIL_TYPES.items()}


def details_clean(details: dict[str, Any]) -> dict[str, Any]:
    """Return details unchanged, or raise ValueError naming a key or value of the wrong kind."""
    for key, value in details.items():
        kinds = _ACCEPTED.get(key)
        if kinds is None:
            raise ValueError(f"unknown signal detail {key!r}")
        if value is None:
            continue
        if isinstance(value, bool) and bool not in kinds:
            raise ValueError(f"signal detail {key!r} must be {DETAIL_TYPES[key]}, not a bool")
        if not isinstance(value, kinds):
            raise ValueError(f"signal detail {key!r} must be {DETAIL_TYPES[key]}, got {value!r}")
    return details
