"""Customer lives, from checkout to cancellation, making up the demo's Stripe history."""

import random
from datetime import datetime
from typing import Any, NamedTuple

from django.utils import timezone

from billing.pipeline.demo.catalog import ANNUAL, DAY, FEEDBACK, PLANS, Plan
from billing.pipeline.demo.customer import DemoCustomer
from billing.pipeline.demo.stream import EventStream

NO_CANCELLATION = {"reason": None, "feedback": None, "comment": None}


class Checkout(NamedTuple):
    at: int
    plan: Plan
    quantity: int
    session: dict[str, Any]


def demo_events(
    *, seed: int = 7, customers: int = 300, months: int = 6, end: datetime | None = None
) -> list[dict[str, Any]]:
    """About `months` of Stripe events for `customers` customers, ordered by `created`.

    The same seed gives the same ids and choices; `end` (default: now, to the day) only moves
    the timestamps, so seeding again on another day stores nothing new."""
    end = end or timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    end_ts = int(end.timestamp())
    stream = EventStream(seed, end_ts - months * 30 * DAY, end_ts)
    for index in range(customers):
        customer_life(stream, index)
    stream.events.sort(key=lambda e: e["created"])
    return stream.events


def customer_life(stream: EventStream, index: int) -> None:
    """One customer's history: checkout, perhaps a trial, then monthly life until it ends."""
    customer = DemoCustomer(stream, index)
    checkout = _checkout(stream, customer)
    if checkout is None:
        return
    paid_from = _subscribe(stream, customer, checkout)
    if paid_from is None:
        return
    amount = checkout.plan.amount * checkout.quantity
    invoice = customer.invoice_obj(paid_from + 3, "subscription_create", amount)
    customer.attempt(invoice, paid_from + 3, succeed=True)
    _monthly_life(stream, customer, PLANS[customer.currency])


# Signing up ------------------------------------------------------------------------------------


def _pick_plan(rng: random.Random, currency: str) -> Plan:
    plan = rng.choices(PLANS[currency], weights=[5, 4, 1])[0]
    if currency in ANNUAL and rng.random() < 0.08:
        plan = ANNUAL[currency]
    return plan


def _checkout(stream: EventStream, customer: DemoCustomer) -> Checkout | None:
    """The checkout that starts the subscription, or None when it is abandoned for good."""
    rng = stream.rng
    at = stream.start + int(rng.random() * (stream.end - stream.start) * 0.92)
    plan = _pick_plan(rng, customer.currency)
    quantity = rng.choice([1, 1, 1, 2, 3, 5])
    session = {
        "id": stream.new_id("cs_test"),
        "object": "checkout.session",
        "mode": "subscription",
        "currency": customer.currency,
        "amount_total": plan.amount * quantity,
        "customer_details": {"email": customer.email, "name": customer.name},
        "customer_email": customer.email,
        "livemode": False,
    }
    if rng.random() < 0.2:
        # Abandoned checkout; a third come back later.
        _expire(customer, session, at + DAY)
        if rng.random() > 0.33:
            return None
        at += int(rng.uniform(2, 10) * DAY)
        session = {**session, "id": stream.new_id("cs_test")}
    return Checkout(at, plan, quantity, session)


def _expire(customer: DemoCustomer, session: dict[str, Any], when: int) -> None:
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
    customer.emit(when, "checkout.session.expired", expired, user=False)


def _subscribe(stream: EventStream, customer: DemoCustomer, checkout: Checkout) -> int | None:
    """Create the customer and subscription; return when paying starts, None if never."""
    t, plan, quantity, session = checkout
    customer.emit(t, "customer.created", customer.customer_obj(t))
    trial = stream.rng.random() < 0.3
    trial_end = t + 14 * DAY if trial else None
    status = "trialing" if trial else "active"
    sub = customer.subscription_obj(plan, quantity, t, t, status, trial_end)
    completed = {
        **session,
        "status": "complete",
        "customer": customer.id,
        "subscription": sub["id"],
        "payment_status": "no_payment_required" if trial else "paid",
        "amount_total": 0 if trial else plan.amount * quantity,
    }
    customer.emit(t + 1, "customer.subscription.created", sub)
    customer.emit(t + 2, "checkout.session.completed", completed)
    if trial_end is None:
        return t
    return _trial(stream, customer, trial_end)


def _trial(stream: EventStream, customer: DemoCustomer, trial_end: int) -> int | None:
    """The end of a trial: a quarter cancel (None), the rest start paying at `trial_end`."""
    sub = customer.sub
    customer.emit(trial_end - 3 * DAY, "customer.subscription.trial_will_end", sub, user=False)
    if stream.rng.random() < 0.25:
        sub.update(status="canceled", canceled_at=trial_end, ended_at=trial_end)
        sub["cancellation_details"] = {
            "reason": "cancellation_requested",
            "feedback": stream.rng.choice(FEEDBACK),
            "comment": None,
        }
        customer.emit(trial_end, "customer.subscription.deleted", sub)
        return None
    customer.set_period(trial_end, trial_end + 30 * DAY)
    customer.set_status(trial_end, "active")
    return trial_end


# Monthly life ----------------------------------------------------------------------------------


def _monthly_life(stream: EventStream, customer: DemoCustomer, plans: list[Plan]) -> None:
    """Period after period until the window ends or the subscription does."""
    changed = False
    while True:
        renew_at = customer.period_end()
        roll = stream.rng.random()
        if not changed and roll < 0.12:
            changed = True
            _change_plan(stream.rng, customer, plans, renew_at - 10 * DAY)
        elif roll < 0.18:
            ended = _schedule_cancellation(stream, customer, renew_at)
            if ended:
                return
        if renew_at > stream.end:
            return
        renewed = _renew(stream, customer, renew_at)
        if not renewed:
            return
        _refund_or_dispute(stream, customer, renew_at)
        if stream.rng.random() < 0.04:
            _change_email(customer, renew_at)


def _change_plan(rng: random.Random, customer: DemoCustomer, plans: list[Plan], when: int) -> None:
    """An upgrade (or, less often, a downgrade) mid-period."""
    current = plans.index(customer.plan) if customer.plan in plans else 1
    up = rng.random() < 0.65
    if up and current < len(plans) - 1:
        customer.change_plan(when, plans[current + 1], customer.quantity)
    elif up:
        customer.change_plan(when, customer.plan, customer.quantity + 2)
    elif current > 0:
        customer.change_plan(when, plans[current - 1], customer.quantity)
    elif customer.quantity > 1:
        customer.change_plan(when, customer.plan, customer.quantity - 1)


def _schedule_cancellation(stream: EventStream, customer: DemoCustomer, renew_at: int) -> bool:
    """A cancellation at period end; True when it happens, False when the customer withdraws it."""
    rng, sub = stream.rng, customer.sub
    when = renew_at - int(rng.uniform(2, 20) * DAY)
    sub["cancellation_details"] = {
        "reason": "cancellation_requested",
        "feedback": rng.choice(FEEDBACK),
        "comment": rng.choice([None, "Budget cuts this quarter", "Moving to a bigger tool"]),
    }
    sub.update(cancel_at_period_end=True, cancel_at=renew_at, canceled_at=when)
    previous = {
        "cancel_at_period_end": False,
        "cancel_at": None,
        "canceled_at": None,
        "cancellation_details": dict(NO_CANCELLATION),
    }
    customer.emit(when, "customer.subscription.updated", sub, previous=previous)
    if rng.random() < 0.2:
        sub.update(cancel_at_period_end=False, cancel_at=None, canceled_at=None)
        previous = {"cancel_at_period_end": True, "cancel_at": renew_at, "canceled_at": when}
        customer.emit(when + 2 * DAY, "customer.subscription.updated", sub, previous=previous)
        sub["cancellation_details"] = dict(NO_CANCELLATION)
        return False
    sub.update(status="canceled", ended_at=renew_at)
    customer.emit(renew_at, "customer.subscription.deleted", sub, user=False)
    return True


def _renew(stream: EventStream, customer: DemoCustomer, renew_at: int) -> bool:
    """A new period and its invoice, sometimes failing; False when the subscription ends."""
    previous = customer.period_previous()
    next_end = renew_at + (365 if customer.plan.interval == "year" else 30) * DAY
    customer.set_period(renew_at, next_end)
    customer.emit(
        renew_at, "customer.subscription.updated", customer.sub, previous=previous, user=False
    )
    amount = customer.plan.amount * customer.quantity
    invoice = customer.invoice_obj(renew_at + 60, "subscription_cycle", amount)
    if stream.rng.random() < 0.1:
        return _dunning(stream, customer, invoice, renew_at + 3600)
    customer.attempt(invoice, renew_at + 3600, succeed=True)
    return True


def _dunning(
    stream: EventStream, customer: DemoCustomer, invoice: dict[str, Any], when: int
) -> bool:
    """Retries of a failed renewal: most recover, the rest cancel the subscription (False)."""
    rng = stream.rng
    recovers = rng.random() < 0.6
    tries = rng.choice([2, 3]) if recovers else 4
    for attempt in range(1, tries):
        customer.attempt(invoice, when, succeed=False, next_attempt=when + 3 * DAY)
        if attempt == 1:
            customer.set_status(when + 1, "past_due")
        when += 3 * DAY
    if recovers:
        customer.attempt(invoice, when, succeed=True)
        customer.set_status(when + 1, "active")
        return True
    customer.sub.update(status="canceled", canceled_at=when, ended_at=when)
    customer.sub["cancellation_details"] = {
        "reason": "payment_failed",
        "feedback": None,
        "comment": None,
    }
    customer.emit(when, "customer.subscription.deleted", customer.sub, user=False)
    return False


# Now and then ----------------------------------------------------------------------------------


def _refund_or_dispute(stream: EventStream, customer: DemoCustomer, renew_at: int) -> None:
    """Now and then a refund or a dispute of the payment just made."""
    charge = customer.charges[-1] if customer.charges else None
    roll = stream.rng.random()
    if charge and roll < 0.03:
        _refund(stream, customer, charge, renew_at)
    elif charge and roll < 0.045:
        _dispute(stream, customer, charge, renew_at)


def _refund(
    stream: EventStream, customer: DemoCustomer, charge: dict[str, Any], renew_at: int
) -> None:
    rng = stream.rng
    full = rng.random() < 0.5
    amount = charge["amount"] if full else charge["amount"] // 2
    when = renew_at + int(rng.uniform(1, 6) * DAY)
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": False}
    refund = {
        "id": stream.new_id("re"),
        "object": "refund",
        "amount": amount,
        "created": when,
        "reason": rng.choice(["requested_by_customer", "duplicate"]),
        "status": "succeeded",
        "charge": charge["id"],
    }
    charge["refunds"]["data"].insert(0, refund)
    charge.update(amount_refunded=charge["amount_refunded"] + amount, refunded=full)
    customer.emit(when, "charge.refunded", charge, previous=previous)


def _dispute(
    stream: EventStream, customer: DemoCustomer, charge: dict[str, Any], renew_at: int
) -> None:
    rng = stream.rng
    when = renew_at + int(rng.uniform(5, 20) * DAY)
    dispute = {
        "id": stream.new_id("dp"),
        "object": "dispute",
        "amount": charge["amount"],
        "currency": customer.currency,
        "charge": charge["id"],
        "payment_intent": charge["payment_intent"],
        "reason": rng.choice(["fraudulent", "product_not_received", "subscription_canceled"]),
        "status": "needs_response",
        "created": when,
    }
    customer.emit(when, "charge.dispute.created", dispute, user=False)
    dispute["status"] = rng.choice(["won", "lost"])
    customer.emit(when + 21 * DAY, "charge.dispute.closed", dispute, user=False)


def _change_email(customer: DemoCustomer, renew_at: int) -> None:
    previous = {"email": customer.email}
    customer.email = customer.email.replace("@", "+billing@")
    customer.emit(
        renew_at + 5 * DAY, "customer.updated", customer.customer_obj(renew_at), previous=previous
    )
