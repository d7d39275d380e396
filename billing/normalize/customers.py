"""customer.created / .updated / .deleted: who the customer is; no signals."""

from typing import Any

from billing.normalize.common import CustomerState, Facts, as_dict, as_str


def normalize_customer(event: dict[str, Any], customer: dict[str, Any]) -> Facts:
    stripe_id = as_str(customer.get("id"))
    state = CustomerState(
        stripe_id=stripe_id,
        email=as_str(customer.get("email")),
        name=as_str(customer.get("name")) or as_str(customer.get("description")),
        currency=as_str(customer.get("currency")).lower(),
        metadata={k: v for k, v in as_dict(customer.get("metadata")).items() if v is not None},
        deleted=as_str(event.get("type")) == "customer.deleted" or bool(customer.get("deleted")),
    )
    return Facts(customer_id=stripe_id, customer=state)
