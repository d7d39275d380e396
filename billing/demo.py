"""Demo Stripe history: a deterministic generator of realistic events, and seeding them.

`demo_events(seed=..., customers=..., months=...)` returns event payloads shaped like Stripe's
(API versions before and after basil mixed), in `created` order. `demo_seed` stores them through
the ingestion path and processes them with the pipeline's own jobs, in this process.
"""

import copy
import random
import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from billing import crypto
from billing.connections import connection_create
from billing.ingest import events_store
from billing.jobs import events_process_batch
from billing.models import (
    ConnectionStatus,
    EventSource,
    StripeConnection,
)

# ---------------------------------------------------------------------------------------------
# The generator

PRE_BASIL = "2024-06-20"
BASIL = "2025-03-31.basil"
DAY = 86400


@dataclass(frozen=True)
class Plan:
    key: str
    name: str
    amount: int  # per interval, minor units
    interval: str = "month"


PLANS = {
    "usd": [
        Plan("starter", "Starter", 1900),
        Plan("pro", "Pro", 4900),
        Plan("biz", "Business", 9900),
    ],
    "eur": [
        Plan("starter", "Starter", 1900),
        Plan("pro", "Pro", 4500),
        Plan("biz", "Business", 8900),
    ],
    "jpy": [
        Plan("starter", "Starter", 2000),
        Plan("pro", "Pro", 5000),
        Plan("biz", "Business", 10000),
    ],
}
ANNUAL = {"usd": Plan("pro_annual", "Pro (annual)", 49000, "year")}
FEEDBACK = ["too_expensive", "missing_features", "switched_service", "unused", "other"]
FIRST_NAMES = [
    "Ada",
    "Ben",
    "Cleo",
    "Dev",
    "Eli",
    "Fay",
    "Gus",
    "Hana",
    "Ivo",
    "Jun",
    "Kai",
    "Lea",
    "Max",
    "Noor",
    "Oli",
    "Pia",
    "Raj",
    "Sol",
]
LAST_NAMES = [
    "Abe",
    "Berg",
    "Costa",
    "Diaz",
    "Endo",
    "Fox",
    "Gray",
    "Haas",
    "Ito",
    "Jain",
    "Kato",
    "Lund",
    "Mori",
    "Nash",
    "Ortiz",
]
COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Wonka",
]


class _Stream:
    """Builds one workspace's events; every id and choice comes from one seeded Random."""

    def __init__(self, seed: int, start: int, end: int):
        self.rng = random.Random(seed)  # noqa: S311 (demo data, reproducible by seed)
        self.start, self.end = start, end
        self.events: list[dict[str, Any]] = []
        self.counter = 0

    def new_id(self, prefix: str) -> str:
        self.counter += 1
        tail = "".join(self.rng.choices(string.ascii_letters + string.digits, k=14))
        return f"{prefix}_1Dm{self.counter:07d}{tail}"

    def emit(self, when: int, type_: str, obj: dict, *, version: str, previous=None, user=True):
        if when > self.end:
            return
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(previous)
        self.events.append(
            {
                "id": self.new_id("evt"),
                "object": "event",
                "api_version": version,
                "created": when,
                "data": data,
                "livemode": False,
                "pending_webhooks": 1,
                # Stripe's own automatic actions (renewals, dunning) have no request id.
                "request": {"id": self.new_id("req") if user else None, "idempotency_key": None},
                "type": type_,
            }
        )


def _price(stream: _Stream, plan: Plan, currency: str, product: str) -> dict[str, Any]:
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


class _Customer:
    def __init__(self, stream: _Stream, index: int):
        rng = stream.rng
        self.s = stream
        self.version = BASIL if rng.random() < 0.35 else PRE_BASIL
        roll = rng.random()
        self.currency = "jpy" if roll < 0.05 else "eur" if roll < 0.15 else "usd"
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = rng.choice(COMPANIES)
        self.id = stream.new_id("cus")
        self.email = f"{first}.{last}{index}@{company}.example".lower()
        self.name = f"{first} {last}"
        self.company = company
        self.sub: dict[str, Any] = {}
        self.charges: list[dict[str, Any]] = []

    @property
    def basil(self) -> bool:
        return self.version == BASIL

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
        product = f"prod_demo_{plan.key.split('_')[0]}"
        price = _price(self.s, plan, self.currency, product)
        period_end = period_start + (365 if plan.interval == "year" else 30) * DAY
        item = {
            "id": self.s.new_id("si"),
            "object": "subscription_item",
            "created": created,
            "price": price,
            "quantity": quantity,
            "metadata": {},
        }
        sub = {
            "id": self.s.new_id("sub"),
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
        self.set_period(period_start, period_end)
        if not self.basil:
            item["plan"] = self.plan_obj(plan, product)
            sub["plan"] = item["plan"]
            sub["quantity"] = quantity
        return sub

    def plan_obj(self, plan: Plan, product: str) -> dict[str, Any]:
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
        if self.basil:
            return {"items": copy.deepcopy(self.sub["items"])}
        return {
            "current_period_start": self.sub["current_period_start"],
            "current_period_end": self.sub["current_period_end"],
        }

    def change_plan(self, when: int, plan: Plan, quantity: int) -> None:
        previous = {"items": copy.deepcopy(self.sub["items"])}
        product = f"prod_demo_{plan.key.split('_')[0]}"
        item = self.sub["items"]["data"][0]
        item["price"] = _price(self.s, plan, self.currency, product)
        item["quantity"] = quantity
        if not self.basil:
            item["plan"] = self.plan_obj(plan, product)
            previous["plan"] = self.sub["plan"]
            previous["quantity"] = self.sub["quantity"]
            self.sub["plan"], self.sub["quantity"] = item["plan"], quantity
        self.plan, self.quantity = plan, quantity
        self.s.emit(
            when, "customer.subscription.updated", self.sub, version=self.version, previous=previous
        )

    def set_status(self, when: int, status: str, *, user: bool = False, **extra: Any) -> None:
        previous = {"status": self.sub["status"], **{k: self.sub.get(k) for k in extra}}
        self.sub["status"] = status
        self.sub.update(extra)
        self.s.emit(
            when,
            "customer.subscription.updated",
            self.sub,
            version=self.version,
            previous=previous,
            user=user,
        )

    # Invoices ----------------------------------------------------------------------------------

    def invoice_obj(self, when: int, reason: str, amount: int) -> dict[str, Any]:
        item = self.sub["items"]["data"][0]
        invoice_id = self.s.new_id("in")
        line: dict[str, Any] = {
            "id": self.s.new_id("il"),
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
        return invoice

    def attempt(
        self, invoice: dict[str, Any], when: int, *, succeed: bool, next_attempt: int | None = None
    ) -> None:
        charge = {
            "id": self.s.new_id("ch"),
            "object": "charge",
            "amount": invoice["amount_due"],
            "amount_refunded": 0,
            "refunded": False,
            "currency": self.currency,
            "customer": self.id,
            "created": when,
            "payment_intent": self.s.new_id("pi"),
            "description": "Subscription update",
            "refunds": {"object": "list", "data": []},
        }
        invoice["attempt_count"] += 1
        invoice["attempted"] = True
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
        if succeed:
            invoice.update(
                amount_paid=invoice["amount_due"],
                amount_remaining=0,
                status="paid",
                next_payment_attempt=None,
            )
            invoice["status_transitions"]["paid_at"] = when
            if not self.basil:
                invoice["paid"] = True
            self.s.emit(
                when, "invoice.payment_succeeded", invoice, version=self.version, user=False
            )
            self.s.emit(when, "invoice.paid", invoice, version=self.version, user=False)
            self.charges.append(charge)
        else:
            invoice["next_payment_attempt"] = next_attempt
            charge.update(
                status="failed",
                failure_code="card_declined",
                failure_message="Your card was declined.",
                outcome={
                    "type": "issuer_declined",
                    "reason": self.s.rng.choice(
                        ["insufficient_funds", "generic_decline", "expired_card"]
                    ),
                },
            )
            self.s.emit(when, "charge.failed", charge, version=self.version, user=False)
            self.s.emit(when, "invoice.payment_failed", invoice, version=self.version, user=False)


def _customer_life(stream: _Stream, index: int) -> None:
    rng = stream.rng
    c = _Customer(stream, index)
    span = stream.end - stream.start
    t = stream.start + int(rng.random() * span * 0.92)
    plans = PLANS[c.currency]
    plan = rng.choices(plans, weights=[5, 4, 1])[0]
    if c.currency in ANNUAL and rng.random() < 0.08:
        plan = ANNUAL[c.currency]
    quantity = rng.choice([1, 1, 1, 2, 3, 5])
    session = {
        "id": stream.new_id("cs_test"),
        "object": "checkout.session",
        "mode": "subscription",
        "currency": c.currency,
        "amount_total": plan.amount * quantity,
        "customer_details": {"email": c.email, "name": c.name},
        "customer_email": c.email,
        "livemode": False,
    }
    if rng.random() < 0.2:
        # Abandoned checkout; a third come back later.
        expired = {
            **session,
            "status": "expired",
            "customer": None,
            "payment_status": "unpaid",
            "after_expiration": {
                "recovery": {
                    "enabled": True,
                    "url": (f"https://buy.stripe.com/r/demo_{session['id'][-10:]}"),
                }
            },
        }
        stream.emit(t + DAY, "checkout.session.expired", expired, version=c.version, user=False)
        if rng.random() > 0.33:
            return
        t += int(rng.uniform(2, 10) * DAY)
        session = {**session, "id": stream.new_id("cs_test")}
    stream.emit(t, "customer.created", c.customer_obj(t), version=c.version)
    trial = rng.random() < 0.3
    trial_end = t + 14 * DAY if trial else None
    sub = c.subscription_obj(plan, quantity, t, t, "trialing" if trial else "active", trial_end)
    completed = {
        **session,
        "status": "complete",
        "customer": c.id,
        "subscription": sub["id"],
        "payment_status": "no_payment_required" if trial else "paid",
        "amount_total": 0 if trial else plan.amount * quantity,
    }
    stream.emit(t + 1, "customer.subscription.created", sub, version=c.version)
    stream.emit(t + 2, "checkout.session.completed", completed, version=c.version)
    if trial:
        stream.emit(
            (trial_end or t) - 3 * DAY,
            "customer.subscription.trial_will_end",
            sub,
            version=c.version,
            user=False,
        )
        if rng.random() < 0.25:
            sub.update(status="canceled", canceled_at=trial_end, ended_at=trial_end)
            sub["cancellation_details"] = {
                "reason": "cancellation_requested",
                "feedback": rng.choice(FEEDBACK),
                "comment": None,
            }
            stream.emit(trial_end, "customer.subscription.deleted", sub, version=c.version)
            return
        trial_end = trial_end or t
        c.set_period(trial_end, trial_end + 30 * DAY)
        c.set_status(trial_end, "active")
        t = trial_end
    invoice = c.invoice_obj(t + 3, "subscription_create", plan.amount * quantity)
    c.attempt(invoice, t + 3, succeed=True)
    # Monthly life until the end of the window.
    changed = False
    while True:
        renew_at = c.period_end()
        roll = rng.random()
        if not changed and roll < 0.12:
            # An upgrade (or, less often, a downgrade) mid-period.
            changed = True
            current = plans.index(c.plan) if c.plan in plans else 1
            up = rng.random() < 0.65
            if up and current < len(plans) - 1:
                c.change_plan(renew_at - 10 * DAY, plans[current + 1], c.quantity)
            elif up:
                c.change_plan(renew_at - 10 * DAY, c.plan, c.quantity + 2)
            elif current > 0:
                c.change_plan(renew_at - 10 * DAY, plans[current - 1], c.quantity)
            elif c.quantity > 1:
                c.change_plan(renew_at - 10 * DAY, c.plan, c.quantity - 1)
        elif roll < 0.18:
            # The customer schedules a cancellation; some withdraw it.
            when = renew_at - int(rng.uniform(2, 20) * DAY)
            details = {
                "reason": "cancellation_requested",
                "feedback": rng.choice(FEEDBACK),
                "comment": rng.choice(
                    [None, "Budget cuts this quarter", "Moving to a bigger tool"]
                ),
            }
            c.sub["cancellation_details"] = details
            c.sub.update(cancel_at_period_end=True, cancel_at=renew_at, canceled_at=when)
            c.s.emit(
                when,
                "customer.subscription.updated",
                c.sub,
                version=c.version,
                previous={
                    "cancel_at_period_end": False,
                    "cancel_at": None,
                    "canceled_at": None,
                    "cancellation_details": {"reason": None, "feedback": None, "comment": None},
                },
            )
            if rng.random() < 0.2:
                c.sub.update(cancel_at_period_end=False, cancel_at=None, canceled_at=None)
                c.s.emit(
                    when + 2 * DAY,
                    "customer.subscription.updated",
                    c.sub,
                    version=c.version,
                    previous={
                        "cancel_at_period_end": True,
                        "cancel_at": renew_at,
                        "canceled_at": when,
                    },
                )
                c.sub["cancellation_details"] = {"reason": None, "feedback": None, "comment": None}
            else:
                c.sub.update(status="canceled", ended_at=renew_at)
                stream.emit(
                    renew_at, "customer.subscription.deleted", c.sub, version=c.version, user=False
                )
                return
        if renew_at > stream.end:
            break
        # Renewal: new period, a new invoice, sometimes failing.
        previous = c.period_previous()
        next_end = renew_at + (365 if c.plan.interval == "year" else 30) * DAY
        c.set_period(renew_at, next_end)
        stream.emit(
            renew_at,
            "customer.subscription.updated",
            c.sub,
            version=c.version,
            previous=previous,
            user=False,
        )
        amount = c.plan.amount * c.quantity
        invoice = c.invoice_obj(renew_at + 60, "subscription_cycle", amount)
        if rng.random() < 0.1:
            recovers = rng.random() < 0.6
            tries = rng.choice([2, 3]) if recovers else 4
            when = renew_at + 3600
            for attempt in range(1, tries):
                c.attempt(invoice, when, succeed=False, next_attempt=when + 3 * DAY)
                if attempt == 1:
                    c.set_status(when + 1, "past_due")
                when += 3 * DAY
            if recovers:
                c.attempt(invoice, when, succeed=True)
                c.set_status(when + 1, "active")
            else:
                c.sub.update(status="canceled", canceled_at=when, ended_at=when)
                c.sub["cancellation_details"] = {
                    "reason": "payment_failed",
                    "feedback": None,
                    "comment": None,
                }
                stream.emit(
                    when, "customer.subscription.deleted", c.sub, version=c.version, user=False
                )
                return
        else:
            c.attempt(invoice, renew_at + 3600, succeed=True)
        # Now and then a refund or a dispute of the payment just made.
        charge = c.charges[-1] if c.charges else None
        roll = rng.random()
        if charge and roll < 0.03:
            full = rng.random() < 0.5
            amount = charge["amount"] if full else charge["amount"] // 2
            when = renew_at + int(rng.uniform(1, 6) * DAY)
            previous = {"amount_refunded": charge["amount_refunded"], "refunded": False}
            charge["refunds"]["data"].insert(
                0,
                {
                    "id": stream.new_id("re"),
                    "object": "refund",
                    "amount": amount,
                    "created": when,
                    "reason": rng.choice(["requested_by_customer", "duplicate"]),
                    "status": "succeeded",
                    "charge": charge["id"],
                },
            )
            charge.update(amount_refunded=charge["amount_refunded"] + amount, refunded=full)
            stream.emit(when, "charge.refunded", charge, version=c.version, previous=previous)
        elif charge and roll < 0.045:
            when = renew_at + int(rng.uniform(5, 20) * DAY)
            dispute = {
                "id": stream.new_id("dp"),
                "object": "dispute",
                "amount": charge["amount"],
                "currency": c.currency,
                "charge": charge["id"],
                "payment_intent": charge["payment_intent"],
                "reason": rng.choice(
                    ["fraudulent", "product_not_received", "subscription_canceled"]
                ),
                "status": "needs_response",
                "created": when,
            }
            stream.emit(when, "charge.dispute.created", dispute, version=c.version, user=False)
            dispute["status"] = rng.choice(["won", "lost"])
            stream.emit(
                when + 21 * DAY, "charge.dispute.closed", dispute, version=c.version, user=False
            )
        if rng.random() < 0.04:
            c.email = c.email.replace("@", "+billing@")
            stream.emit(
                renew_at + 5 * DAY,
                "customer.updated",
                c.customer_obj(renew_at),
                version=c.version,
                previous={"email": c.email.replace("+billing@", "@")},
            )


def demo_events(
    *, seed: int = 7, customers: int = 300, months: int = 6, end: datetime | None = None
) -> list[dict[str, Any]]:
    """About `months` of Stripe events for `customers` customers, ordered by `created`.

    The same seed gives the same ids and choices; `end` (default: now, to the day) only moves
    the timestamps, so seeding again on another day stores nothing new."""
    end = end or timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    end_ts = int(end.timestamp())
    stream = _Stream(seed, end_ts - months * 30 * DAY, end_ts)
    for index in range(customers):
        _customer_life(stream, index)
    stream.events.sort(key=lambda e: e["created"])
    return stream.events


# ---------------------------------------------------------------------------------------------
# Seeding


def demo_connection(*, workspace, actor) -> StripeConnection:
    """The workspace's test-mode connection, created with a dummy signing secret if it has none."""
    existing = (
        StripeConnection.objects.filter(workspace=workspace, livemode=False)
        .filter(status=ConnectionStatus.ACTIVE)
        .first()
    )
    if existing is not None:
        return existing
    if not crypto.encryption_configured():
        return StripeConnection.objects.create(
            workspace=workspace, label="Demo (test mode)", connected_by=actor
        )
    # A random secret nobody knows: the endpoint exists and verifies, but only the demo feeds it.
    return connection_create(
        workspace=workspace,
        actor=actor,
        webhook_secret=f"whsec_{secrets.token_hex(24)}",
        label="Demo (test mode)",
        livemode=False,
    )


def demo_seed(
    *, workspace, actor, seed: int = 7, customers: int = 300, months: int = 6
) -> tuple[int, int]:
    """Store the demo history through the ingestion path and process it; return (stored,
    processed). Running it again stores and processes nothing new."""
    connection = demo_connection(workspace=workspace, actor=actor)
    payloads = demo_events(seed=seed, customers=customers, months=months)
    stored = events_store(
        connection=connection, payloads=payloads, source=EventSource.WEBHOOK, wake=False
    )
    # The same jobs a qcluster runs, here in this process, so the demo is ready when seeding ends.
    processed = 0
    while claimed := events_process_batch():
        processed += claimed
    return stored, processed
