"""The keys a RevenueSignal's `details` may carry; every reader and writer uses these names.

All optional. Money is in minor units of the signal's currency; times are ISO 8601 UTC strings.
"""

from typing import TypedDict


class SignalDetails(TypedDict, total=False):
    # What was bought
    price_id: str
    product_id: str
    plan_name: str
    quantity: int
    interval: str  # month, year, week, day
    subscription_status: str
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
    hours_to_recover: float
    # Refunds, disputes, cancellations
    reason: str
    refund_full: bool
    dispute_status: str
    cancellation_feedback: str
    cancellation_comment: str
    cancel_at: str | None
    churn_type: str  # voluntary | involuntary
    # Plan changes
    previous_mrr: int
    new_mrr: int
    previous_price_id: str
    previous_quantity: int
    # Checkout and trials
    recovery_url: str
    trial_end: str | None
    customer_email: str
    synthetic: bool
