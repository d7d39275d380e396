"""The task rules a new workspace starts with: few, each about something worth a person's time."""

import copy
from typing import Any

from billing.models import SignalKind as K
from custory.models import Role, Workspace
from custory.money import currency_exponent
from tasks.models import TaskPriority

REPEATED_FAILED_PAYMENTS: dict[str, Any] = {
    "name": "Repeated failed payments",
    "kinds": [K.PAYMENT_FAILED],
    "conditions": {"repeat_count": 2, "repeat_days": 14},
    "title_template": "Retention: payments failing for {customer} ({amount})",
    "description_template": (
        "{customer} had {count} failed payments in 14 days (latest {amount}, attempt "
        "{attempt}). Reach out before the subscription is canceled.\n"
        "Step: {step}\nSignal: {link}"
    ),
    "priority": TaskPriority.HIGH,
    "due_in_days": 2,
    "resolve_kinds": [K.PAYMENT_RECOVERED, K.SUBSCRIPTION_CANCELED],
    "annotate_kinds": [K.PAYMENT_SUCCEEDED],
    "assign_role": Role.SUPPORT,
}

# Its conditions, an MRR threshold in the workspace's main currency, come from default_rules.
SAVE_THE_ACCOUNT: dict[str, Any] = {
    "name": "Save the account",
    "kinds": [K.CANCELLATION_SCHEDULED],
    "title_template": "Save the account: {customer} scheduled a cancellation ({mrr}/mo)",
    "description_template": (
        "{customer} ({customer_email}) scheduled a cancellation. MRR at stake: {mrr}.\n"
        "Step: {step}\nSignal: {link}"
    ),
    "priority": TaskPriority.HIGH,
    "due_in_days": 3,
    "resolve_kinds": [K.CANCELLATION_WITHDRAWN, K.SUBSCRIPTION_CANCELED],
    "annotate_kinds": [K.PLAN_DOWNGRADED],
    "assign_role": Role.MEMBER,
}

DISPUTE_OPENED: dict[str, Any] = {
    "name": "Dispute opened",
    "kinds": [K.DISPUTE_OPENED],
    "conditions": {},
    "title_template": "Dispute: {customer} disputed {amount}",
    "description_template": (
        "{customer} ({customer_email}) opened a dispute for {amount}. Gather evidence "
        "and respond in Stripe before the deadline.\nSignal: {link}"
    ),
    "priority": TaskPriority.URGENT,
    "due_in_days": 3,
    "resolve_kinds": [],
    "annotate_kinds": [K.DISPUTE_CLOSED],
    "assign_role": Role.SUPPORT,
}

EXPANSION_FOLLOW_UP: dict[str, Any] = {
    "name": "Expansion follow-up",
    "kinds": [K.PLAN_UPGRADED],
    "conditions": {},
    "title_template": "Expansion: {customer} upgraded ({mrr}/mo)",
    "description_template": (
        "{customer} upgraded their plan. Check in on how they use it and what else "
        "they need.\nStep: {step}\nSignal: {link}"
    ),
    "priority": TaskPriority.NORMAL,
    "due_in_days": 7,
    "resolve_kinds": [K.SUBSCRIPTION_CANCELED],
    "annotate_kinds": [K.PLAN_DOWNGRADED],
    "assign_role": Role.MEMBER,
}


def default_mrr_threshold(currency: str) -> int:
    """100.00 in the currency's minor units; 10,000 units for zero-decimal currencies."""
    exponent = currency_exponent(currency)
    return 10_000 if exponent == 0 else 100 * 10**exponent


def default_rules(workspace: Workspace) -> list[dict[str, Any]]:
    """A new workspace's rules, as fresh copies, with money in the workspace's main currency."""
    currency = workspace.main_currency
    save_the_account = {
        **SAVE_THE_ACCOUNT,
        "conditions": {"mrr_min": default_mrr_threshold(currency), "currency": currency.lower()},
    }
    rules = [REPEATED_FAILED_PAYMENTS, save_the_account, DISPUTE_OPENED, EXPANSION_FOLLOW_UP]
    return copy.deepcopy(rules)
