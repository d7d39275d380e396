"""customer.subscription.*: the subscription's state, its monthly MRR, and what changed.

Pre-basil subscriptions carry `plan`, `quantity` and the period fields on the subscription;
from basil (2025-03-31) on the period fields live on each item and only `price` is reliable.
Both are read; the item's `price` wins over its legacy `plan` when both are present.
"""

from decimal import Decimal
from typing import Any

from billing.normalize.common import (
    Facts,
    SignalFact,
    SubscriptionState,
    as_dict,
    as_int,
    as_list,
    as_str,
    compact,
    iso,
    obj_id,
    timestamp,
)
from custory.money import monthly, round_minor

# Statuses whose MRR counts in the customer's MRR.
COUNTED_STATUSES = frozenset({"active", "trialing", "past_due"})
NOT_STARTED_STATUSES = frozenset({"incomplete", "incomplete_expired", ""})


def item_facts(item: dict[str, Any]) -> dict[str, Any]:
    """One subscription item as {price_id, product_id, nickname, quantity, unit_amount,
    interval, interval_count, metered, currency}."""
    price = as_dict(item.get("price"))
    plan = as_dict(item.get("plan"))
    recurring = as_dict(price.get("recurring"))
    source = price or plan
    if price:
        unit = price.get("unit_amount")
        unit_decimal = price.get("unit_amount_decimal")
        interval = recurring.get("interval") or plan.get("interval")
        interval_count = recurring.get("interval_count") or plan.get("interval_count")
        usage_type = recurring.get("usage_type") or plan.get("usage_type")
    else:
        unit = plan.get("amount")
        unit_decimal = plan.get("amount_decimal")
        interval = plan.get("interval")
        interval_count = plan.get("interval_count")
        usage_type = plan.get("usage_type")
    for candidate in (unit_decimal, plan.get("amount"), plan.get("amount_decimal")):
        if unit is not None or candidate in (None, "") or isinstance(candidate, bool):
            continue
        try:
            unit = Decimal(str(candidate))
        except ArithmeticError:
            unit = None
    quantity = as_int(item.get("quantity"), 1)
    return {
        "id": as_str(item.get("id")),
        "price_id": as_str(source.get("id")),
        "product_id": obj_id(source.get("product")),
        "nickname": as_str(source.get("nickname")),
        "quantity": 1 if quantity is None else quantity,
        "unit_amount": unit,
        "interval": as_str(interval) or "month",
        "interval_count": as_int(interval_count, 1) or 1,
        "metered": usage_type == "metered",
        "currency": as_str(source.get("currency")).lower(),
        "current_period_end": as_int(item.get("current_period_end")),
    }


def subscription_items(sub: dict[str, Any]) -> list[dict[str, Any]]:
    items = [item_facts(item) for item in as_list(sub.get("items"))]
    if not items and (sub.get("plan") or sub.get("price")):
        # Very old API versions: one plan and a quantity on the subscription itself.
        items = [item_facts({"plan": sub.get("plan"), "quantity": sub.get("quantity")})]
    return items


def _discount_objects(sub: dict[str, Any], at: int | None = None) -> list[dict[str, Any]]:
    """Expanded discounts still running at `at` (a repeating coupon ends at `end`)."""
    discounts = sub.get("discounts")
    found = [as_dict(sub.get("discount"))] + (discounts if isinstance(discounts, list) else [])
    running = []
    for discount in found:
        if not isinstance(discount, dict) or not discount:
            continue
        end = as_int(discount.get("end"))
        if at is not None and end is not None and 0 < end <= at:
            continue
        running.append(discount)
    return running


def discount_ids(sub: dict[str, Any]) -> list[str]:
    """Discounts given only as ids (basil does not expand them): valued later, in apply."""
    discounts = sub.get("discounts")
    found = [sub.get("discount")] + (discounts if isinstance(discounts, list) else [])
    return sorted({d for d in found if isinstance(d, str) and d})


def items_mrr(items: list[dict[str, Any]], discounts: list[dict[str, Any]]) -> int:
    """Monthly recurring revenue of licensed items, after lasting discounts, in minor units."""
    total = Decimal(0)
    main_interval, main_count = "month", 1
    for item in items:
        if item["metered"] or item["unit_amount"] is None:
            continue
        total += monthly(
            Decimal(item["unit_amount"]) * item["quantity"],
            interval=item["interval"],
            interval_count=item["interval_count"],
        )
        main_interval, main_count = item["interval"], item["interval_count"]
    for discount in discounts:
        coupon = as_dict(discount.get("coupon")) or as_dict(
            as_dict(discount.get("source")).get("coupon")
        )
        if not coupon or coupon.get("duration") == "once":
            continue
        percent = coupon.get("percent_off")
        amount_off = as_int(coupon.get("amount_off"))
        if isinstance(percent, int | float) and not isinstance(percent, bool):
            total = total * (Decimal(100) - Decimal(str(percent))) / Decimal(100)
        elif amount_off:
            total -= monthly(amount_off, interval=main_interval, interval_count=main_count)
    return max(round_minor(total), 0)


def subscription_state(sub: dict[str, Any], at: int | None = None) -> SubscriptionState:
    items = subscription_items(sub)
    first = items[0] if items else {}
    period_ends = [i["current_period_end"] for i in items if i.get("current_period_end")]
    period_end = sub.get("current_period_end") or (max(period_ends) if period_ends else None)
    currency = as_str(sub.get("currency")).lower() or first.get("currency", "")
    mrr = items_mrr(items, _discount_objects(sub, at))
    return SubscriptionState(
        stripe_id=as_str(sub.get("id")),
        customer_id=obj_id(sub.get("customer")),
        status=as_str(sub.get("status")),
        price_id=first.get("price_id", ""),
        product_id=first.get("product_id", ""),
        plan_name=first.get("nickname", ""),
        quantity=sum(i["quantity"] for i in items if not i["metered"]) if items else 1,
        mrr=mrr,
        gross_mrr=mrr,
        currency=currency,
        items=[
            {
                k: (str(v) if isinstance(v, Decimal) else v)
                for k, v in i.items()
                if k != "current_period_end"
            }
            for i in items
        ],
        cancel_at_period_end=bool(sub.get("cancel_at_period_end")),
        cancel_at=timestamp(sub.get("cancel_at")),
        canceled_at=timestamp(sub.get("canceled_at")),
        current_period_end=timestamp(period_end),
        trial_end=timestamp(sub.get("trial_end")),
        discount_ids=discount_ids(sub),
    )


def previous_subscription(sub: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """The subscription as it was before this event, from `previous_attributes`."""
    before = {**sub, **previous}
    if "items" not in previous and ("plan" in previous or "quantity" in previous):
        items = as_list(sub.get("items"))
        if len(items) == 1:
            old_plan = {**as_dict(items[0].get("plan")), **as_dict(previous.get("plan"))}
            old_item = {**items[0], "plan": old_plan, "price": None}
            if "quantity" in previous:
                old_item["quantity"] = previous["quantity"]
            before["items"] = {"object": "list", "data": [old_item]}
    elif "items" in previous:
        # Stripe sends the whole previous list; items missing from it are kept as they are.
        before["items"] = previous["items"]
    return before


def _plan_key(items: list[dict[str, Any]]) -> list[tuple]:
    return sorted(
        (i["price_id"], i["quantity"], str(i["unit_amount"]), i["interval"], i["interval_count"])
        for i in items
    )


def _base_details(state: SubscriptionState) -> dict[str, Any]:
    first = state.items[0] if state.items else {}
    return compact(
        {
            "subscription_id": state.stripe_id,
            "price_id": state.price_id,
            "product_id": state.product_id,
            "plan_name": state.plan_name,
            "quantity": state.quantity,
            "interval": first.get("interval"),
            "interval_count": first.get("interval_count"),
            "subscription_status": state.status,
        }
    )


def _cancellation_details(sub: dict[str, Any]) -> dict[str, Any]:
    cancellation = as_dict(sub.get("cancellation_details"))
    return compact(
        {
            "cancellation_reason": as_str(cancellation.get("reason")),
            "cancellation_feedback": as_str(cancellation.get("feedback")),
            "cancellation_comment": as_str(cancellation.get("comment")),
        }
    )


def churn_type(event: dict[str, Any], sub: dict[str, Any]) -> str:
    """voluntary (the customer or an operator canceled) or involuntary (failed payments)."""
    reason = as_str(as_dict(sub.get("cancellation_details")).get("reason"))
    if reason == "cancellation_requested":
        return "voluntary"
    if reason in ("payment_failed", "payment_disputed"):
        return "involuntary"
    if sub.get("cancel_at_period_end") or sub.get("cancel_at"):
        return "voluntary"
    request = event.get("request")
    request_id = obj_id(request) if isinstance(request, dict | str) else ""
    # Stripe's own dunning cancels without an API request; people cancel through one.
    return "voluntary" if request_id else "involuntary"


def normalize_subscription(event: dict[str, Any], sub: dict[str, Any]) -> Facts:
    event_type = as_str(event.get("type"))
    previous = as_dict(as_dict(event.get("data")).get("previous_attributes"))
    state = subscription_state(sub, as_int(event.get("created")))
    facts = Facts(
        customer_id=state.customer_id,
        subscription=state,
        subscription_id=state.stripe_id,
    )
    details = _base_details(state)

    def signal(kind: str, mrr_delta: int = 0, **extra: Any) -> None:
        facts.signals.append(
            SignalFact(
                kind=kind,
                amount=state.mrr,
                currency=state.currency,
                mrr_delta=mrr_delta,
                object_id=state.stripe_id,
                details={**details, **compact(extra)},
            )
        )

    if event_type == "customer.subscription.created":
        if state.status in COUNTED_STATUSES:
            signal("subscription_started", state.mrr, trial_end=iso(state.trial_end))
    elif event_type == "customer.subscription.deleted":
        signal(
            "subscription_canceled",
            -state.mrr,
            churn_type=churn_type(event, sub),
            **_cancellation_details(sub),
        )
    elif event_type == "customer.subscription.trial_will_end":
        signal("trial_ending", trial_end=iso(state.trial_end))
    elif event_type == "customer.subscription.updated":
        _updated_signals(event, sub, previous, state, signal)
    return facts


def _updated_signals(event, sub, previous, state, signal) -> None:
    before = previous_subscription(sub, previous)
    old_status = as_str(before.get("status"))
    if "status" in previous:
        if old_status in NOT_STARTED_STATUSES and state.status in COUNTED_STATUSES:
            signal("subscription_started", state.mrr, previous_status=old_status)
        elif old_status == "trialing" and state.status == "active":
            signal("trial_converted")
    if {"items", "plan", "quantity", "discount", "discounts"} & previous.keys():
        old_items = subscription_items(before)
        old_mrr = items_mrr(old_items, _discount_objects(before, as_int(event.get("created"))))
        new_items = subscription_items(sub)
        changed = _plan_key(old_items) != _plan_key(new_items) or (
            {"discount", "discounts"} & previous.keys()
        )
        if changed and old_mrr != state.mrr and state.status in COUNTED_STATUSES:
            old_first = old_items[0] if old_items else {}
            signal(
                "plan_upgraded" if state.mrr > old_mrr else "plan_downgraded",
                state.mrr - old_mrr,
                previous_mrr=old_mrr,
                new_mrr=state.mrr,
                previous_price_id=old_first.get("price_id"),
                previous_quantity=sum(i["quantity"] for i in old_items) if old_items else None,
            )
    if {"cancel_at_period_end", "cancel_at"} & previous.keys():
        was = bool(before.get("cancel_at_period_end") or before.get("cancel_at"))
        now = bool(sub.get("cancel_at_period_end") or sub.get("cancel_at"))
        cancel_at = state.cancel_at or (
            state.current_period_end if state.cancel_at_period_end else None
        )
        if now and not was:
            signal("cancellation_scheduled", cancel_at=iso(cancel_at), **_cancellation_details(sub))
        elif was and not now:
            signal("cancellation_withdrawn")
