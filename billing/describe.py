"""A revenue signal in plain words: one function per kind, reading the documented details keys."""

from collections.abc import Callable
from datetime import datetime

from billing.models import RevenueSignal, SignalKind
from custory.money import money_format

K = SignalKind


def _money(signal: RevenueSignal) -> str:
    return money_format(signal.amount, signal.currency) if signal.amount is not None else ""


def _words(code: str) -> str:
    return (code or "").replace("_", " ")


def _day(value: str | None) -> str:
    if not value:
        return ""
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).strftime("%-d %b")
    except ValueError:
        return ""


def _plan(d: dict) -> str:
    return d.get("plan_name") or d.get("price_id") or ""


def _payment_failed(s, d):
    text = f"Payment of {_money(s)} failed" if s.amount is not None else "A payment failed"
    reasons = [
        r
        for r in (
            "card declined" if d.get("decline_code") else "",
            _words(d.get("decline_code") or d.get("failure_code")),
        )
        if r
    ]
    if reasons:
        text += " — " + ", ".join(reasons)
    if d.get("attempt_count"):
        text += f" — attempt {d['attempt_count']}"
    if _day(d.get("next_payment_attempt")):
        text += f", next retry {_day(d.get('next_payment_attempt'))}"
    elif "next_payment_attempt" in d:
        text += ", no retry scheduled"
    return text


def _payment_action_required(s, d):
    text = f"Payment of {_money(s)}" if s.amount is not None else "A payment"
    return text + " waits for the customer to authenticate"


def _payment_recovered(s, d):
    text = f"Failed payment of {_money(s)} recovered"
    if d.get("hours_to_recover") is not None:
        hours = float(d["hours_to_recover"])
        text += f" after {hours:.0f} hours" if hours < 48 else f" after {hours / 24:.0f} days"
    return text


def _payment_succeeded(s, d):
    reason = {"subscription_create": " (first invoice)", "subscription_cycle": " (renewal)"}
    return f"Payment of {_money(s)} succeeded" + reason.get(d.get("billing_reason", ""), "")


def _refund(s, d):
    text = f"{'Full' if d.get('refund_full') else 'Partial' if 'refund_full' in d else ''} refund"
    text = (text.strip().capitalize() or "Refund") + f" of {_money(s)}"
    if d.get("reason"):
        text += f" — {_words(d['reason'])}"
    return text


def _dispute_opened(s, d):
    text = f"Dispute opened for {_money(s)}"
    return text + (f" — {_words(d['reason'])}" if d.get("reason") else "")


def _dispute_closed(s, d):
    status = _words(d.get("dispute_status", "")) or "closed"
    return f"Dispute of {_money(s)} closed — {status}"


def _checkout_completed(s, d):
    plan = f" for {_plan(d)}" if _plan(d) else ""
    return (
        f"Checkout completed{plan}: {_money(s)}" if s.amount is not None else "Checkout completed"
    )


def _checkout_abandoned(s, d):
    who = f" by {d['customer_email']}" if d.get("customer_email") else ""
    amount = f" ({_money(s)})" if s.amount is not None else ""
    return f"Checkout abandoned{who}{amount}"


def _mrr(s):
    return money_format(s.mrr_delta, s.currency, signed=True) + " MRR" if s.mrr_delta else ""


def _subscription_started(s, d):
    plan = f" on {_plan(d)}" if _plan(d) else ""
    mrr = f" ({_mrr(s)})" if s.mrr_delta else ""
    return f"Subscription started{plan}{mrr}"


def _trial_ending(s, d):
    end = _day(d.get("trial_end"))
    return "Trial ends soon" + (f", on {end}" if end else "")


def _trial_converted(s, d):
    return "Trial converted to a paid subscription" + (f" ({_mrr(s)})" if s.mrr_delta else "")


def _plan_change(word):
    def describe(s, d):
        text = f"Plan {word}"
        if d.get("previous_mrr") is not None and d.get("new_mrr") is not None:
            before = money_format(d["previous_mrr"], s.currency)
            after = money_format(d["new_mrr"], s.currency)
            text += f" from {before} to {after} a month"
        if s.mrr_delta:
            text += f" ({_mrr(s)})"
        return text

    return describe


def _cancellation_scheduled(s, d):
    text = "Cancellation scheduled"
    if _day(d.get("cancel_at")):
        text += f" for {_day(d.get('cancel_at'))}"
    if d.get("cancellation_feedback"):
        text += f" — {_words(d['cancellation_feedback'])}"
    return text


def _cancellation_withdrawn(s, d):
    return "Scheduled cancellation withdrawn — the subscription continues"


def _subscription_canceled(s, d):
    kind = {"voluntary": "by the customer", "involuntary": "after failed payments"}
    text = "Subscription canceled"
    if d.get("churn_type") in kind:
        text += " " + kind[d["churn_type"]]
    if s.mrr_delta:
        text += f" ({_mrr(s)})"
    return text


DESCRIBERS: dict[str, Callable[[RevenueSignal, dict], str]] = {
    K.PAYMENT_FAILED: _payment_failed,
    K.PAYMENT_RECOVERED: _payment_recovered,
    K.PAYMENT_ACTION_REQUIRED: _payment_action_required,
    K.PAYMENT_SUCCEEDED: _payment_succeeded,
    K.REFUND: _refund,
    K.DISPUTE_OPENED: _dispute_opened,
    K.DISPUTE_CLOSED: _dispute_closed,
    K.CHECKOUT_COMPLETED: _checkout_completed,
    K.CHECKOUT_ABANDONED: _checkout_abandoned,
    K.SUBSCRIPTION_STARTED: _subscription_started,
    K.TRIAL_ENDING: _trial_ending,
    K.TRIAL_CONVERTED: _trial_converted,
    K.PLAN_UPGRADED: _plan_change("upgraded"),
    K.PLAN_DOWNGRADED: _plan_change("downgraded"),
    K.CANCELLATION_SCHEDULED: _cancellation_scheduled,
    K.CANCELLATION_WITHDRAWN: _cancellation_withdrawn,
    K.SUBSCRIPTION_CANCELED: _subscription_canceled,
}


def signal_describe(signal: RevenueSignal) -> str:
    """E.g. "Payment of €49.00 failed — card declined, insufficient funds — attempt 2"."""
    describer = DESCRIBERS.get(signal.kind)
    if describer is None:
        return signal.get_kind_display()
    return describer(signal, signal.details or {})


# Where an object lives in the Stripe dashboard, by id prefix.
_DASHBOARD_PATHS = {
    "in_": "invoices",
    "ch_": "payments",
    "py_": "payments",
    "pi_": "payments",
    "sub_": "subscriptions",
    "cus_": "customers",
    "cs_": "checkout/sessions",
    "re_": "refunds",
    "du_": "disputes",
    "dp_": "disputes",
    "evt_": "events",
}


def stripe_dashboard_url(object_id: str, *, livemode: bool) -> str:
    """The object's page in the Stripe dashboard (test-mode URLs carry /test/)."""
    for prefix, path in _DASHBOARD_PATHS.items():
        if object_id.startswith(prefix):
            mode = "" if livemode else "test/"
            return f"https://dashboard.stripe.com/{mode}{path}/{object_id}"
    return ""
