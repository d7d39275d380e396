"""Small Stripe events for scenario tests, in either API shape (pre-basil or basil).

Written from Stripe's documented objects: only the fields Custory reads, in the places each
API version puts them.
"""

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any

PRE_BASIL = "2024-06-20"
BASIL = "2025-03-31.basil"
DAY = 86400
T0 = 1_780_000_000  # 2026-05-28


@dataclass
class Plan:
    price_id: str
    amount: int  # per unit per interval, minor units
    interval: str = "month"
    quantity: int = 1


@dataclass
class Stripe:
    """Builds events for one account; `basil` picks the API shape."""

    basil: bool
    currency: str = "usd"
    name: str = ""  # tells apart the event ids of several builders in one workspace
    events: list[dict[str, Any]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def version(self) -> str:
        return BASIL if self.basil else PRE_BASIL

    def event(self, type_: str, obj: dict, at: int, *, previous=None, request=None) -> dict:
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(previous)
        event = {
            "id": f"evt_sc{self.name}{'b' if self.basil else 'p'}{next(self._ids):06d}",
            "object": "event",
            "api_version": self.version,
            "created": at,
            "type": type_,
            "data": data,
            "livemode": False,
            "request": {"id": request, "idempotency_key": None},
        }
        self.events.append(event)
        return event

    def subscription(
        self,
        sub_id: str,
        customer: str,
        plans: list[Plan],
        *,
        status: str = "active",
        at: int = T0,
        trial_end: int | None = None,
        discount: dict | None = None,
        cancel_reason: str | None = None,
    ) -> dict:
        items = []
        for n, plan in enumerate(plans):
            price = {
                "id": plan.price_id,
                "object": "price",
                "currency": self.currency,
                "product": f"prod_{plan.price_id}",
                "recurring": {"interval": plan.interval, "interval_count": 1},
                "unit_amount": plan.amount,
            }
            item = {"id": f"si_{sub_id}_{n}", "price": price, "quantity": plan.quantity}
            if self.basil:
                item["current_period_end"] = at + 30 * DAY
            else:
                item["plan"] = {**price, "object": "plan", "amount": plan.amount}
            items.append(item)
        sub = {
            "id": sub_id,
            "object": "subscription",
            "customer": customer,
            "status": status,
            "currency": self.currency,
            "items": {"object": "list", "data": items},
            "cancel_at_period_end": False,
            "cancellation_details": {"reason": cancel_reason},
            "trial_end": trial_end,
            "canceled_at": at if status == "canceled" else None,
        }
        if self.basil:
            sub["discounts"] = [discount] if discount else []
        else:
            sub["discount"] = discount
            sub["current_period_end"] = at + 30 * DAY
            if len(plans) == 1:
                sub["plan"], sub["quantity"] = items[0]["plan"], plans[0].quantity
        return sub

    def invoice(
        self,
        inv_id: str,
        customer: str,
        sub_id: str,
        amount: int,
        *,
        attempt_count: int = 1,
        paid_at: int | None = None,
        finalized_at: int = T0,
        next_attempt: int | None = None,
        discount_amounts: list | None = None,
        subtotal: int | None = None,
        billing_reason: str = "subscription_cycle",
    ) -> dict:
        inv: dict[str, Any] = {
            "id": inv_id,
            "object": "invoice",
            "customer": customer,
            "currency": self.currency,
            "amount_due": amount,
            "amount_paid": amount if paid_at else 0,
            "attempt_count": attempt_count,
            "billing_reason": billing_reason,
            "subtotal": amount if subtotal is None else subtotal,
            "next_payment_attempt": next_attempt,
            "status_transitions": {"finalized_at": finalized_at, "paid_at": paid_at},
            "total_discount_amounts": discount_amounts or [],
        }
        if self.basil:
            inv["parent"] = {
                "type": "subscription_details",
                "subscription_details": {"subscription": sub_id},
            }
            inv["payments"] = {
                "object": "list",
                "data": [{"payment": {"type": "payment_intent", "payment_intent": f"pi_{inv_id}"}}],
            }
        else:
            inv["subscription"] = sub_id
            inv["charge"] = f"ch_{inv_id}_{attempt_count}"
            inv["payment_intent"] = f"pi_{inv_id}"
        return inv
