"""A subscription's life rebuilt from the object and its invoices' plans: its start (on its
first plan), trial, plan changes, scheduled and done cancellation, and its state as listed."""

import copy
from typing import Any

from billing.normalize.common import as_dict, as_int, as_list, as_str
from billing.normalize.subscriptions import item_facts
from billing.pipeline.history.rebuild import DAY, event

NEVER_STARTED = frozenset({"incomplete", "incomplete_expired"})
TRIAL_WARNING = 3 * DAY  # Stripe sends trial_will_end three days before the trial ends


def _items_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": items, "has_more": False}


def _plan_key(items: list[dict[str, Any]]) -> list[tuple]:
    facts = [item_facts(i) for i in items]
    return sorted((f["price_id"], f["quantity"], str(f["unit_amount"])) for f in facts)


def _as_of(sub: dict[str, Any], items: list[dict[str, Any]], status: str) -> dict[str, Any]:
    """The subscription on `items` with `status`, nothing canceled yet (the shape it had)."""
    past = copy.deepcopy(sub)
    past.update(
        status=status,
        items=_items_list(copy.deepcopy(items)),
        cancel_at_period_end=False,
        cancel_at=None,
        canceled_at=None,
        ended_at=None,
        discount=None,
        discounts=[],
    )
    past.pop("plan", None)
    past.pop("quantity", None)
    return past


def _plans(sub: dict[str, Any], points: list[dict[str, Any]]) -> list[tuple[int, list, bool]]:
    """(from when, items, exactly dated) for each plan the subscription had, oldest first."""
    current = as_list(sub.get("items"))
    plans: list[tuple[int, list, bool]] = []
    for point in sorted(points, key=lambda p: (p["at"], p["invoice_id"])):
        if not plans or _plan_key(plans[-1][1]) != _plan_key(point["items"]):
            plans.append((point["at"], point["items"], point["exact"]))
    if current and (not plans or _plan_key(plans[-1][1]) != _plan_key(current)):
        # Changed since its last invoice: when exactly, only the events can say.
        plans.append(((plans[-1][0] + 1) if plans else 0, current, False))
    return plans


def subscription_events(
    sub: dict[str, Any], points: list[dict[str, Any]], *, now: int, import_key: str
) -> list[dict[str, Any]]:
    status = as_str(sub.get("status"))
    sub_id = sub["id"]
    start = as_int(sub.get("start_date")) or as_int(sub.get("created"), 0) or 0
    ended = as_int(sub.get("ended_at")) if status == "canceled" else None
    trial_end = as_int(sub.get("trial_end"))
    trial = bool(trial_end and as_int(sub.get("trial_start")) and trial_end > start)
    plans = _plans(sub, points) or [(start, as_list(sub.get("items")), True)]
    events: list[dict[str, Any]] = []
    if status not in NEVER_STARTED:
        first = _as_of(sub, plans[0][1], "trialing" if trial else "active")
        events.append(event(sub_id, "customer.subscription.created", start, first, user=True))
    if trial and status not in NEVER_STARTED:
        events += _trial_events(sub, plans[0][1], trial_end, ended, now)
    for (_, old, _), (at, new, _) in zip(plans, plans[1:], strict=False):
        at = max(at, start + 1)
        if at > now or (ended and at > ended):
            continue
        changed = _as_of(sub, new, "active")
        previous = {"items": _items_list(copy.deepcopy(old))}
        key = f"{sub_id}:{at}"
        events.append(event(key, "customer.subscription.updated", at, changed, previous))
    events += _cancellation_events(sub, ended, now)
    # The state as listed, dated now: it outranks every rebuilt event, none of the newer real ones.
    events.append(event(f"{sub_id}:{import_key}", "customer.subscription.updated", now, sub))
    return events


def _trial_events(sub, items, trial_end: int, ended: int | None, now: int) -> list[dict]:
    events = []
    warned = trial_end - TRIAL_WARNING
    if warned <= now and (ended is None or ended > warned):
        trialing = _as_of(sub, items, "trialing")
        events.append(event(sub["id"], "customer.subscription.trial_will_end", warned, trialing))
    if trial_end <= now and (ended is None or ended > trial_end):
        active = _as_of(sub, items, "active")
        previous = {"status": "trialing"}
        events.append(
            event(sub["id"], "customer.subscription.updated", trial_end, active, previous)
        )
    return events


def _cancellation_events(sub: dict[str, Any], ended: int | None, now: int) -> list[dict]:
    """A cancellation asked ahead of its date (scheduled), and the end itself."""
    canceled_at = as_int(sub.get("canceled_at"))
    cancel_at = as_int(sub.get("cancel_at")) or ended
    reason = as_str(as_dict(sub.get("cancellation_details")).get("reason"))
    ahead = (
        canceled_at is not None
        and cancel_at is not None
        and canceled_at < cancel_at
        and reason not in ("payment_failed", "payment_disputed")
        and (sub.get("cancel_at_period_end") or sub.get("cancel_at") or ended)
    )
    events = []
    if ahead and canceled_at <= now:
        scheduled = copy.deepcopy(sub)
        scheduled.update(status="active", ended_at=None, cancel_at=cancel_at)
        scheduled["cancel_at_period_end"] = bool(sub.get("cancel_at_period_end"))
        previous = {"cancel_at_period_end": False, "cancel_at": None, "canceled_at": None}
        events.append(
            event(
                f"{sub['id']}:cancel",
                "customer.subscription.updated",
                canceled_at,
                scheduled,
                previous,
                user=True,
            )
        )
    if ended:
        events.append(event(sub["id"], "customer.subscription.deleted", ended, sub))
    return events
