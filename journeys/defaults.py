"""The journey a new workspace starts with, and the mapping rules that place every signal kind."""

from billing.models import SignalKind as K

DEFAULT_JOURNEY_NAME = "SaaS customer journey"

# (stage, [(step, description), ...]) in board order. Every step is one a Stripe signal can reach:
# a step no rule feeds (a pricing page, seats) would show 0 forever, so none is here.
DEFAULT_STAGES: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Convert",
        [("Checkout", "Checkout sessions completed, and those abandoned before paying.")],
    ),
    (
        "Onboard",
        [
            ("Trial", "Trials that start, near their end, and convert."),
            ("Activation", "First paid subscription is up and running."),
        ],
    ),
    (
        "Pay & retain",
        [
            ("Recurring payment", "Renewal payments, and the ones that fail."),
            ("Payment recovery", "Failed payments that were later paid."),
            ("Refund request", "Money given back, in part or in full."),
            ("Dispute", "Chargebacks opened and closed."),
        ],
    ),
    (
        "Expand",
        [
            ("Plan change", "Upgrades and downgrades, of plan or of quantity."),
        ],
    ),
    (
        "Renew or leave",
        [
            ("Cancellation intent", "Cancellations scheduled for the period end, or withdrawn."),
            ("Churn", "Subscriptions that ended."),
        ],
    ),
]

STAGE_DESCRIPTIONS: dict[str, str] = {
    "Convert": "Becoming a paying customer.",
    "Onboard": "Trials and the first weeks.",
    "Pay & retain": "Recurring revenue and what puts it at risk.",
    "Expand": "Growing (or shrinking) an account.",
    "Renew or leave": "The end of a subscription, or its rescue.",
}

# (kinds, step name, conditions, priority): first match wins, lowest priority number first.
# Every SignalKind appears in a rule without conditions, so nothing lands in Unmapped by default.
DEFAULT_RULES: list[tuple[list[str], str, dict, int]] = [
    ([K.CHECKOUT_COMPLETED, K.CHECKOUT_ABANDONED], "Checkout", {}, 10),
    ([K.TRIAL_ENDING, K.TRIAL_CONVERTED], "Trial", {}, 20),
    # A subscription that starts in a trial is the trial's first step, not activation.
    ([K.SUBSCRIPTION_STARTED], "Trial", {"subscription_status": "trialing"}, 25),
    ([K.SUBSCRIPTION_STARTED], "Activation", {}, 30),
    (
        [K.PAYMENT_SUCCEEDED, K.PAYMENT_FAILED, K.PAYMENT_ACTION_REQUIRED],
        "Recurring payment",
        {},
        40,
    ),
    ([K.PAYMENT_RECOVERED], "Payment recovery", {}, 50),
    ([K.REFUND], "Refund request", {}, 60),
    ([K.DISPUTE_OPENED, K.DISPUTE_CLOSED], "Dispute", {}, 70),
    ([K.PLAN_UPGRADED, K.PLAN_DOWNGRADED], "Plan change", {}, 80),
    ([K.CANCELLATION_SCHEDULED, K.CANCELLATION_WITHDRAWN], "Cancellation intent", {}, 90),
    ([K.SUBSCRIPTION_CANCELED], "Churn", {}, 100),
]
