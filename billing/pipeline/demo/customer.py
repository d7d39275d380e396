"""One demo customer: its Stripe objects in the shape its API version gives them."""

import copy
from typing import Any

from billing.pipeline.demo.catalog import (
    BASIL,
    COMPANIES,
    DAY,
    FIRST_NAMES,
    LAST_NAMES,
    PRE_BASIL,
    Plan,
)
from billing.pipeline.demo.stream import EventStream


def price_obj(plan: Plan, currency: str, product: str) -> dict[str, Any]:
    """The Stripe price of `plan` in `currency`."""
    return {
        "id": f"price_demo_{plan.key}_{currency}",
        "object": "price",
        "active": True,
        "currency": currency,
        "nickname": plan.name,
        "product": product,
        "recurring": {"interval": plan.interval, "interval_count": 1, "usage_type": "licensed"},
        "type": "recurring",
        "unit_amount": plan.amount,
        "unit_amount_decimal": str(plan.amount),
    }


def unique_name(taken: set[str], first: str, last: str) -> str:
    """The drawn name, or the next free one in a fixed order (no extra draws: the demo's
    history stays the same for a seed)."""
    firsts, lasts = FIRST_NAMES, LAST_NAMES + [f"{a}-{b}" for a in LAST_NAMES for b in LAST_NAMES]
    start_first, start_last = firsts.index(first), lasts.index(last)
    for offset in range(len(firsts) * len(lasts)):
        f = firsts[(start_first + offset // len(lasts)) % len(firsts)]
        candidate = f"{f} {lasts[(start_last + offset) % len(lasts)]}"
        if candidate not in taken:
            return candidate
    return f"{first} {last} {len(taken)}"


class DemoCustomer:
    """A customer, its one subscription and its payments, emitting events as they change."""

    def __init__(self, stream: EventStream, index: int):
        rng = stream.rng
        self.stream = stream
        self.version = BASIL if rng.random() < 0.35 else PRE_BASIL
        roll = rng.random()
        self.currency = "jpy" if roll < 0.05 else "eur" if roll < 0.15 else "usd"
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = rng.choice(COMPANIES)
        self.id = stream.new_id("cus")
        self.email = f"{first}.{last}{index}@{company}.example".lower()
        self.name = unique_name(stream.names, first, last)
        stream.names.add(self.name)
        self.company = company
        self.sub: dict[str, Any] = {}
        self.charges: list[dict[str, Any]] = []

    @property
    def basil(self) -> bool:
        return self.version == BASIL

    def emit(self, when: int, type_: str, obj: dict, **kwargs: Any) -> None:
        """Emit an event in this customer's API version."""
        self.stream.emit(when, type_, obj, version=self.version, **kwargs)

    def customer_obj(self, created: int) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "customer",
            "created": created,
            "email": self.email,
            "name": self.name,
            "currency": self.currency,
            "livemode": False,
            "metadata": {"company": self.company},
        }

    # Subscriptions ---------------------------------------------------------------------------

    def subscription_obj(
        self,
        plan: Plan,
        quantity: int,
        created: int,
        period_start: int,
        status: str,
        trial_end: int | None,
    ) -> dict[str, Any]:
        """Start the customer's subscription and return it."""
        product = f"prod_demo_{plan.key.split('_')[0]}"
        item = {
            "id": self.stream.new_id("si"),
            "object": "subscription_item",
            "created": created,
            "price": price_obj(plan, self.currency, product),
            "quantity": quantity,
            "metadata": {},
        }
        sub = {
            "id": self.stream.new_id("sub"),
            "object": "subscription",
            "customer": self.id,
            "created": created,
            "start_date": created,
            "status": status,
            "currency": self.currency,
            "items": {"object": "list", "data": [item], "has_more": False},
            "cancel_at_period_end": False,
            "cancel_at": None,
            "canceled_at": None,
            "cancellation_details": {"reason": None, "feedback": None, "comment": None},
            "trial_start": created if trial_end else None,
            "trial_end": trial_end,
            "discount": None,
            "metadata": {},
            "livemode": False,
        }
        self.sub = sub
        self.plan, self.quantity = plan, quantity
        period_end = period_start + (365 if plan.interval == "year" else 30) * DAY
        self.set_period(period_start, period_end)
        if not self.basil:
            item["plan"] = self.plan_obj(plan, product)
            sub["plan"] = item["plan"]
            sub["quantity"] = quantity
        return sub

    def plan_obj(self, plan: Plan, product: str) -> dict[str, Any]:
        """The pre-basil `plan` object beside the price."""
        return {
            "id": f"price_demo_{plan.key}_{self.currency}",
            "object": "plan",
            "amount": plan.amount,
            "currency": self.currency,
            "interval": plan.interval,
            "interval_count": 1,
            "nickname": plan.name,
            "product": product,
            "usage_type": "licensed",
        }

    def set_period(self, start: int, end: int) -> None:
        if self.basil:
            for item in self.sub["items"]["data"]:
                item["current_period_start"], item["current_period_end"] = start, end
        else:
            self.sub["current_period_start"], self.sub["current_period_end"] = start, end

    def period_end(self) -> int:
        if self.basil:
            return self.sub["items"]["data"][0]["current_period_end"]
        return self.sub["current_period_end"]

    def period_previous(self) -> dict[str, Any]:
        """The current period as `previous_attributes` describe it."""
        if self.basil:
            return {"items": copy.deepcopy(self.sub["items"])}
        return {
            "current_period_start": self.sub["current_period_start"],
            "current_period_end": self.sub["current_period_end"],
        }

    def change_plan(self, when: int, plan: Plan, quantity: int) -> None:
        """Move the subscription to `plan` and `quantity`, and emit the update."""
        previous = {"items": copy.deepcopy(self.sub["items"])}
        product = f"prod_demo_{plan.key.split('_')[0]}"
        item = self.sub["items"]["data"][0]
        item["price"] = price_obj(plan, self.currency, product)
        item["quantity"] = quantity
        if not self.basil:
            item["plan"] = self.plan_obj(plan, product)
            previous["plan"] = self.sub["plan"]
            previous["quantity"] = self.sub["quantity"]
            self.sub["plan"], self.sub["quantity"] = item["plan"], quantity
        self.plan, self.quantity = plan, quantity
        self.emit(when, "customer.subscription.updated", self.sub, previous=previous)

    def set_status(self, when: int, status: str, *, user: bool = False, **extra: Any) -> None:
        """Change the subscription's status (and `extra` fields), and emit the update."""
        previous = {"status": self.sub["status"], **{k: self.sub.get(k) for k in extra}}
        self.sub["status"] = status
        self.sub.update(extra)
        self.emit(when, "customer.subscription.updated", self.sub, previous=previous, user=user)

    # Invoices ----------------------------------------------------------------------------------

    def invoice_obj(self, when: int, reason: str, amount: int) -> dict[str, Any]:
        """An open invoice of the subscription for `amount`."""
        invoice_id = self.stream.new_id("in")
        line: dict[str, Any] = {
            "id": self.stream.new_id("il"),
            "object": "line_item",
            "amount": amount,
            "currency": self.currency,
            "quantity": self.quantity,
            "period": {"start": when, "end": self.period_end()},
        }
        invoice: dict[str, Any] = {
            "id": invoice_id,
            "object": "invoice",
            "customer": self.id,
            "customer_email": self.email,
            "customer_name": self.name,
            "currency": self.currency,
            "amount_due": amount,
            "amount_paid": 0,
            "amount_remaining": amount,
            "attempt_count": 0,
            "attempted": False,
            "billing_reason": reason,
            "collection_method": "charge_automatically",
            "created": when,
            "next_payment_attempt": None,
            "status": "open",
            "status_transitions": {"finalized_at": when, "paid_at": None},
            "lines": {"object": "list", "data": [line], "has_more": False},
            "livemode": False,
        }
        self._link_invoice(invoice, line)
        return invoice

    def _link_invoice(self, invoice: dict[str, Any], line: dict[str, Any]) -> None:
        """Tie the invoice and its line to the subscription, the way the API version does."""
        item = self.sub["items"]["data"][0]
        if self.basil:
            line["pricing"] = {
                "type": "price_details",
                "price_details": {
                    "price": item["price"]["id"],
                    "product": item["price"]["product"],
                },
            }
            line["parent"] = {
                "type": "subscription_item_details",
                "subscription_item_details": {
                    "subscription": self.sub["id"],
                    "subscription_item": item["id"],
                },
            }
            invoice["parent"] = {
                "type": "subscription_details",
                "subscription_details": {"subscription": self.sub["id"], "metadata": {}},
            }
        else:
            line["price"], line["plan"] = item["price"], item.get("plan")
            invoice["subscription"] = self.sub["id"]
            invoice["paid"] = False

    # Payments ----------------------------------------------------------------------------------

    def attempt(
        self, invoice: dict[str, Any], when: int, *, succeed: bool, next_attempt: int | None = None
    ) -> None:
        """Charge the invoice once, succeeding or not, and emit what Stripe sends for it."""
        charge = {
            "id": self.stream.new_id("ch"),
            "object": "charge",
            "amount": invoice["amount_due"],
            "amount_refunded": 0,
            "refunded": False,
            "currency": self.currency,
            "customer": self.id,
            "created": when,
            "payment_intent": self.stream.new_id("pi"),
            "description": "Subscription update",
            "refunds": {"object": "list", "data": []},
        }
        invoice["attempt_count"] += 1
        invoice["attempted"] = True
        self._link_payment(invoice, charge, succeed=succeed)
        if succeed:
            self._payment_succeeded(invoice, charge, when)
        else:
            self._payment_failed(invoice, charge, when, next_attempt)

    def _link_payment(
        self, invoice: dict[str, Any], charge: dict[str, Any], *, succeed: bool
    ) -> None:
        """Tie the invoice to the charge, the way the API version does."""
        if self.basil:
            invoice["payments"] = {
                "object": "list",
                "data": [
                    {
                        "object": "invoice_payment",
                        "payment": {
                            "type": "payment_intent",
                            "payment_intent": charge["payment_intent"],
                            "charge": charge["id"],
                        },
                        "status": "paid" if succeed else "open",
                    }
                ],
            }
        else:
            invoice["charge"], invoice["payment_intent"] = charge["id"], charge["payment_intent"]
            charge["invoice"] = invoice["id"]

    def _payment_succeeded(
        self, invoice: dict[str, Any], charge: dict[str, Any], when: int
    ) -> None:
        invoice.update(
            amount_paid=invoice["amount_due"],
            amount_remaining=0,
            status="paid",
            next_payment_attempt=None,
        )
        invoice["status_transitions"]["paid_at"] = when
        if not self.basil:
            invoice["paid"] = True
        self.emit(when, "invoice.payment_succeeded", invoice, user=False)
        self.emit(when, "invoice.paid", invoice, user=False)
        self.charges.append(charge)

    def _payment_failed(
        self, invoice: dict[str, Any], charge: dict[str, Any], when: int, next_attempt: int | None
    ) -> None:
        invoice["next_payment_attempt"] = next_attempt
        charge.update(
            status="failed",
            failure_code="card_declined",
            failure_message="Your card was declined.",
            outcome={
                "type": "issuer_declined",
                "reason": self.stream.rng.choice(
                    ["insufficient_funds", "generic_decline", "expired_card"]
                ),
            },
        )
        self.emit(when, "charge.failed", charge, user=False)
        self.emit(when, "invoice.payment_failed", invoice, user=False)
