"""What every event family shares: the facts dataclasses and tolerant readers of Stripe objects.

Readers never raise on a missing or oddly typed optional field: Stripe adds fields, removes
them between API versions, and sends expanded objects or bare ids for the same field.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Stripe's "basil" release moved invoice, subscription and charge fields (2025-03-31).
BASIL = "2025-03-31"


@dataclass
class SignalFact:
    kind: str
    amount: int | None = None
    currency: str = ""
    mrr_delta: int = 0
    object_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class CustomerState:
    stripe_id: str
    email: str = ""
    name: str = ""
    currency: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False


@dataclass
class SubscriptionState:
    stripe_id: str
    customer_id: str
    status: str
    price_id: str = ""
    product_id: str = ""
    plan_name: str = ""
    quantity: int = 1
    mrr: int = 0
    currency: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)
    cancel_at_period_end: bool = False
    cancel_at: datetime | None = None
    canceled_at: datetime | None = None
    current_period_end: datetime | None = None
    trial_end: datetime | None = None
    # Discounts given only as ids (basil): valued in apply from what invoices show; `mrr` is
    # before them until then.
    discount_ids: list[str] = field(default_factory=list)
    gross_mrr: int = 0  # `mrr` before the id-only discounts


@dataclass
class PaidInvoice:
    """A paid invoice; apply decides whether it recovers an earlier failure."""

    invoice_id: str
    amount: int
    currency: str
    attempt_count: int
    paid_at: datetime | None
    first_attempt_at: datetime | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class InvoiceOutcome:
    """What an invoice event says about the invoice's fate, merged per invoice in any order.

    Failure events give `failed_at` (the first attempt: finalization, else the event) and the
    attempt count; a paid invoice gives `paid_at`; uncollectible or voided gives `lost_at`.
    """

    invoice_id: str
    subscription_id: str = ""
    currency: str = ""
    amount: int = 0
    attempts: int = 0
    failed_at: datetime | None = None
    paid_at: datetime | None = None
    amount_paid: int = 0
    lost_at: datetime | None = None
    lost_reason: str = ""


@dataclass
class Facts:
    """Everything one event says, without looking at anything stored."""

    customer_id: str = ""
    # Customer fields seen on other objects (invoice, checkout); used only to fill blanks.
    customer_hint: dict[str, str] = field(default_factory=dict)
    customer: CustomerState | None = None
    subscription: SubscriptionState | None = None
    subscription_id: str = ""
    # A charge the event is about, to find the customer of objects that do not name one.
    charge_id: str = ""
    signals: list[SignalFact] = field(default_factory=list)
    paid_invoice: PaidInvoice | None = None
    invoice_outcome: InvoiceOutcome | None = None
    # Why an invoice's charge failed: charge.failed and payment_intent.payment_failed know it,
    # invoice.payment_failed does not; apply joins them whatever the order.
    payment_failure: dict[str, str] | None = None
    # Share of the subtotal each discount (by id) took off this invoice, e.g. {"di_1": 0.2}.
    discount_shares: dict[str, float] = field(default_factory=dict)


def is_basil(api_version: str | None) -> bool:
    """True for API versions from 2025-03-31 ("basil") on."""
    return bool(api_version) and str(api_version)[:10] >= BASIL


def obj_id(value: Any) -> str:
    """The id of a field that is either a bare id or an expanded object."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    if isinstance(value, str):
        return value
    return ""


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """The elements of a list or of a Stripe list object ({"object": "list", "data": [...]})."""
    if isinstance(value, dict):
        value = value.get("data")
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def as_int(value: Any, default: int | None = None) -> int | None:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return int(float(value))
            except ValueError:
                return default
    if isinstance(value, float):
        return int(value)
    return default


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def timestamp(value: Any) -> datetime | None:
    """A Stripe Unix timestamp as an aware UTC datetime (None when absent or not a number)."""
    seconds = as_int(value)
    if seconds is None or seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def compact(details: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is None or an empty string (details only carry what is known)."""
    return {k: v for k, v in details.items() if v is not None and v != ""}


def settlement(balance_transaction: Any, *, sign: int = 1) -> dict[str, Any]:
    """What a balance transaction tells of an amount's conversion: its id, and, when Stripe
    converted it (expanded, with an `exchange_rate`), the settled amount (made positive by
    `sign` for refunds and disputes, whose transactions are negative) and the rate."""
    if isinstance(balance_transaction, str):
        return {"balance_transaction_id": balance_transaction}
    txn = as_dict(balance_transaction)
    rate, amount = txn.get("exchange_rate"), as_int(txn.get("amount"))
    found = compact({"balance_transaction_id": as_str(txn.get("id"))})
    if rate is None or amount is None or not as_str(txn.get("currency")):
        return found
    return {
        **found,
        "settlement_currency": as_str(txn.get("currency")).lower(),
        "settlement_amount": sign * amount,
        "exchange_rate": str(rate),
    }
