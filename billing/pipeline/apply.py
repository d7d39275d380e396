"""Turning one stored StripeEvent into Customer/Subscription state and RevenueSignals.

The pipeline calls event_apply inside its transaction for one claimed event. What an event says
comes from billing.normalize (pure); here it becomes rows:
- Customer and Subscription take the state of the newest event by Stripe `created` (ties broken
  by event id), with conditional updates, so any delivery order ends in the same state;
- signals are unique per (event, kind), so reapplying an event creates nothing new;
- new signals are placed on journey steps and run through the task rules, in this transaction.
"""

from datetime import datetime

from django.db.models import F, Q

from billing.discounts import discounts_apply
from billing.invoice_outcomes import (
    invoice_outcome_record,
    invoice_outcomes_subscription_canceled,
)
from billing.models import (
    Customer,
    EventSource,
    PaymentFailure,
    RevenueSignal,
    SignalKind,
    StripeEvent,
    Subscription,
)
from billing.mrr_ledger import mrr_points_record
from billing.normalize import (
    CustomerState,
    Facts,
    PaidInvoice,
    SignalFact,
    SubscriptionState,
    normalize_event,
)
from billing.normalize.common import compact, iso
from billing.normalize.fact_keys import fact_key
from billing.normalize.payments import FAILURE_KEYS
from billing.normalize.subscriptions import COUNTED_STATUSES
from billing.signal_details import details_clean
from journeys.placement import place_signals
from tasks.automation import task_rules_apply
from tasks.outbound_events import signals_announce

# Which subscription status a customer shows when it has several.
STATUS_RANK = ["active", "past_due", "trialing", "unpaid", "paused", "incomplete", "canceled"]


def event_apply(*, event: StripeEvent) -> list[RevenueSignal]:
    """Apply an event's facts; return the signals it newly created (none when reprocessed)."""
    signals = _apply_one(event)
    if signals:
        place_signals(signals=signals)
        task_rules_apply(signals=signals)
        signals_announce(signals=signals)
    return signals


def events_apply_batch(*, events: list[StripeEvent]) -> list[RevenueSignal]:
    """Apply events in order in the caller's transaction, then place, rule and announce their
    new signals at once (the history import's pages)."""
    signals = [signal for event in events for signal in _apply_one(event)]
    if signals:
        place_signals(signals=signals)
        task_rules_apply(signals=signals)
        signals_announce(signals=signals)
    return signals


def _apply_one(event: StripeEvent) -> list[RevenueSignal]:
    payload = event.payload if isinstance(event.payload, dict) else {}
    facts = normalize_event(payload)
    discounts_apply(event=event, facts=facts)
    customer = _customer_upsert(event, facts)
    if facts.subscription is not None and facts.subscription.stripe_id:
        _subscription_upsert(event, facts.subscription, customer)
        invoice_outcomes_subscription_canceled(event=event, state=facts.subscription)
    if customer is None and facts.charge_id:
        customer = _customer_of_charge(event, facts.charge_id)
    signal_facts = list(facts.signals)
    for fact in signal_facts:
        if fact.kind == SignalKind.PAYMENT_FAILED and fact.details.get("invoice_id"):
            fact.details = {**_failure_known(event, fact.details), **fact.details}
    if facts.paid_invoice is not None:
        recovered = _recovery(event, facts.paid_invoice)
        if recovered is not None:
            signal_facts.append(recovered)
    signals = _signals_create(event, customer, facts, signal_facts)
    if customer is not None and facts.charge_id and signals:
        # A dispute or refund seen before its charge's payment gets its customer now.
        RevenueSignal.objects.filter(
            workspace_id=event.workspace_id, customer=None, details__charge_id=facts.charge_id
        ).update(customer=customer)
    if facts.payment_failure:
        _payment_failure_record(event, facts.payment_failure)
    invoice_outcome_record(event=event, customer=customer, outcome=facts.invoice_outcome)
    mrr_points_record(event=event, customer=customer, facts=facts)
    failed_invoices = {
        s.object_id for s in signals if s.kind == SignalKind.PAYMENT_FAILED and s.object_id
    }
    for invoice_id in failed_invoices:
        signals += _late_recovery(event, invoice_id)
    return signals


def _late_recovery(event: StripeEvent, invoice_id: str) -> list[RevenueSignal]:
    """A failure delivered after its invoice's payment: that payment was a recovery, too."""
    paid = (
        RevenueSignal.objects.filter(
            workspace_id=event.workspace_id,
            kind=SignalKind.PAYMENT_SUCCEEDED,
            object_id=invoice_id,
            event__type="invoice.paid",
        )
        .select_related("event")
        .first()
    )
    if paid is None:
        return []
    payload = paid.event.payload if isinstance(paid.event.payload, dict) else {}
    paid_facts = normalize_event(payload)
    if paid_facts.paid_invoice is None:
        return []
    invoice_outcome_record(
        event=paid.event, customer=paid.customer, outcome=paid_facts.invoice_outcome
    )
    recovered = _recovery(paid.event, paid_facts.paid_invoice)
    if recovered is None:
        return []
    return _signals_create(paid.event, paid.customer, paid_facts, [recovered])


def _failure_known(event: StripeEvent, ids: dict) -> dict:
    """Decline facts stored for this payment's charge or payment intent, merged the same way
    whatever order they came in."""
    lookup = Q()
    if ids.get("charge_id"):
        lookup |= Q(charge_id=ids["charge_id"])
    if ids.get("payment_intent_id"):
        lookup |= Q(payment_intent_id=ids["payment_intent_id"])
    if not lookup:
        return {}
    rows = sorted(
        PaymentFailure.objects.filter(workspace_id=event.workspace_id)
        .filter(lookup)
        .values_list("charge_id", "payment_intent_id", *FAILURE_KEYS)
    )
    merged: dict[str, str] = {}
    for row in rows:
        for key, value in zip(FAILURE_KEYS, row[2:], strict=True):
            if value:
                merged.setdefault(key, value)
    return merged


def _payment_failure_record(event: StripeEvent, failure: dict[str, str]) -> None:
    """Keep why a charge failed, and add it to its invoice's payment_failed signals."""
    PaymentFailure.objects.bulk_create(
        [
            PaymentFailure(
                workspace_id=event.workspace_id,
                event=event,
                charge_id=failure.get("charge_id", "")[:255],
                payment_intent_id=failure.get("payment_intent_id", "")[:255],
                decline_code=failure.get("decline_code", "")[:255],
                failure_code=failure.get("failure_code", "")[:255],
                failure_message=failure.get("failure_message", ""),
            )
        ],
        ignore_conflicts=True,
    )
    lookup = Q()
    if failure.get("charge_id"):
        lookup |= Q(details__charge_id=failure["charge_id"])
    if failure.get("payment_intent_id"):
        lookup |= Q(details__payment_intent_id=failure["payment_intent_id"])
    signals = RevenueSignal.objects.filter(
        workspace_id=event.workspace_id, kind=SignalKind.PAYMENT_FAILED
    ).filter(lookup)
    for signal in signals.select_related("event"):
        own = next(
            (
                fact.details
                for fact in normalize_event(
                    signal.event.payload if isinstance(signal.event.payload, dict) else {}
                ).signals
                if fact.kind == SignalKind.PAYMENT_FAILED
            ),
            None,
        )
        if own is None or not own.get("invoice_id"):
            continue
        details = {**_failure_known(event, own), **own}
        if details != signal.details:
            signal.details = details_clean(details)
            signal.save(update_fields=["details"])


def _newer_than_state(event: StripeEvent) -> Q:
    """Rows whose state is not newer than this event (the same event may rewrite its own)."""
    return (
        Q(state_as_of__isnull=True)
        | Q(state_as_of__lt=event.created)
        | Q(state_as_of=event.created, state_event_id__lte=event.stripe_id)
    )


def _customer_upsert(event: StripeEvent, facts: Facts) -> Customer | None:
    stripe_id = facts.customer_id
    if not stripe_id:
        return None
    rows = Customer.objects.filter(workspace_id=event.workspace_id, stripe_id=stripe_id)
    # Lock the customer while its subscriptions change, so its MRR sum sees every change.
    locked = rows.select_for_update() if facts.subscription is not None else rows
    customer = locked.first()
    state = facts.customer
    if customer is None:
        # Insert-or-ignore, not check-then-insert: another worker may create it meanwhile.
        Customer.objects.bulk_create(
            [
                Customer(
                    workspace_id=event.workspace_id,
                    connection_id=event.connection_id,
                    stripe_id=stripe_id,
                    livemode=event.livemode,
                    first_seen_at=event.created,
                    **(_customer_state(event, state) if state else _hints(facts, None)),
                )
            ],
            ignore_conflicts=True,
        )
        customer = locked.get()
        if customer.state_event_id == event.stripe_id or (state is None and customer.email):
            return customer
    if customer.first_seen_at > event.created:
        rows.filter(first_seen_at__gt=event.created).update(first_seen_at=event.created)
    if state is not None:
        values = _customer_state(event, state)
        if not values["currency"]:
            del values["currency"]  # no currency yet: keep the one its subscriptions gave
        rows.filter(_newer_than_state(event)).update(**values)
    elif customer.state_as_of is None and facts.customer_hint:
        # No customer object seen yet: fill blanks from what invoices and checkouts say.
        blanks = _hints(facts, customer)
        if blanks:
            rows.filter(state_as_of__isnull=True).update(**blanks)
    return customer


def _customer_state(event: StripeEvent, state: CustomerState) -> dict:
    return {
        "email": state.email[:254],
        "name": state.name[:255],
        "currency": state.currency[:3],
        "metadata": state.metadata,
        "deleted": state.deleted,
        "state_as_of": event.created,
        "state_event_id": event.stripe_id,
    }


def _hints(facts: Facts, customer: Customer | None) -> dict:
    return {
        field: value[:254]
        for field, value in facts.customer_hint.items()
        if field in ("email", "name") and value and not getattr(customer, field, "")
    }


def _subscription_upsert(
    event: StripeEvent, state: SubscriptionState, customer: Customer | None
) -> None:
    values = {
        "customer": customer,
        "status": state.status[:32],
        "price_id": state.price_id[:255],
        "product_id": state.product_id[:255],
        "plan_name": state.plan_name[:255],
        "quantity": max(state.quantity, 0),
        "mrr": state.mrr,
        "currency": state.currency[:3],
        "items": state.items,
        "cancel_at_period_end": state.cancel_at_period_end,
        "cancel_at": state.cancel_at,
        "canceled_at": state.canceled_at,
        "current_period_end": state.current_period_end,
        "trial_end": state.trial_end,
        "livemode": event.livemode,
        "state_as_of": event.created,
        "state_event_id": event.stripe_id,
    }
    rows = Subscription.objects.filter(workspace_id=event.workspace_id, stripe_id=state.stripe_id)
    if not rows.filter(_newer_than_state(event)).update(**values):
        # New, or it exists with newer state (then this insert is ignored).
        Subscription.objects.bulk_create(
            [Subscription(workspace_id=event.workspace_id, stripe_id=state.stripe_id, **values)],
            ignore_conflicts=True,
        )
    if customer is not None:
        customer_totals_refresh(customer=customer)


def customer_totals_refresh(*, customer: Customer) -> None:
    """Customer.mrr = the MRR of its active, trialing and past-due subscriptions."""
    subscriptions = list(
        Subscription.objects.filter(customer=customer).values_list("status", "mrr", "currency")
    )
    mrr = sum(m for status, m, _ in subscriptions if status in COUNTED_STATUSES)
    statuses = sorted(
        (s for s, _, _ in subscriptions),
        key=lambda s: STATUS_RANK.index(s) if s in STATUS_RANK else len(STATUS_RANK),
    )
    Customer.objects.filter(pk=customer.pk).update(mrr=mrr, status=statuses[0] if statuses else "")
    currency = next((c for _, _, c in sorted(subscriptions) if c), "")
    if currency and not customer.currency:
        # Stripe bills a customer in one currency; its own object says it once it has one.
        Customer.objects.filter(pk=customer.pk, currency="").update(currency=currency)


def _customer_of_charge(event: StripeEvent, charge_id: str) -> Customer | None:
    """Disputes and refunds name a charge, not a customer: find it from that charge's signals."""
    customer_id = (
        RevenueSignal.objects.filter(workspace_id=event.workspace_id, details__charge_id=charge_id)
        .exclude(customer=None)
        .values_list("customer_id", flat=True)
        .first()
    )
    return Customer.objects.filter(pk=customer_id).first() if customer_id else None


def _recovery(event: StripeEvent, paid: PaidInvoice) -> SignalFact | None:
    """payment_recovered when the paid invoice had failed before: Stripe's attempt count says
    so, or we stored a payment_failed signal for it."""
    first_failure: datetime | None = None
    if paid.attempt_count <= 1 or paid.first_attempt_at is None:
        first_failure = (
            RevenueSignal.objects.filter(
                workspace_id=event.workspace_id,
                kind=SignalKind.PAYMENT_FAILED,
                object_id=paid.invoice_id,
            )
            .order_by("occurred_at")
            .values_list("occurred_at", flat=True)
            .first()
        )
    if paid.attempt_count <= 1 and first_failure is None:
        return None
    # The event's own first attempt time wins, so the result does not depend on arrival order.
    started = paid.first_attempt_at or first_failure
    paid_at = paid.paid_at or event.created
    seconds = max(int((paid_at - started).total_seconds()), 0) if started else None
    return SignalFact(
        kind=SignalKind.PAYMENT_RECOVERED,
        amount=paid.amount,
        currency=paid.currency,
        object_id=paid.invoice_id,
        details={
            **paid.details,
            **compact(
                {
                    "failed_at": iso(started),
                    "recovery_seconds": seconds,
                    "hours_to_recover": round(seconds / 3600, 1) if seconds is not None else None,
                }
            ),
        },
    )


def _signals_create(
    event: StripeEvent, customer: Customer | None, facts: Facts, signal_facts: list[SignalFact]
) -> list[RevenueSignal]:
    if not signal_facts:
        return []
    existing = set(RevenueSignal.objects.filter(event=event).values_list("kind", flat=True))
    rows: dict[str, RevenueSignal] = {}
    for fact in signal_facts:
        if fact.kind in existing or fact.kind in rows:
            continue
        rows[fact.kind] = RevenueSignal(
            workspace_id=event.workspace_id,
            event=event,
            connection_id=event.connection_id,
            customer=customer,
            subscription_stripe_id=(
                fact.details.get("subscription_id") or facts.subscription_id or ""
            )[:255],
            kind=fact.kind,
            occurred_at=event.created,
            livemode=event.livemode,
            amount=fact.amount,
            currency=(fact.currency or "")[:3],
            mrr_delta=fact.mrr_delta,
            object_id=(fact.object_id or "")[:255],
            details=details_clean(fact.details),
            fact_key=fact_key(fact, event_id=event.stripe_id),
        )
    fresh = _known_facts_drop(event, list(rows.values()))
    if not fresh:
        return []
    # The pipeline claims an event before applying it, so a conflict here means two workers
    # applied one event (or one fact) at once; the IntegrityError fails this attempt and the
    # retry finds the other's signals.
    return RevenueSignal.objects.bulk_create(fresh)


# What a signal takes from a real event when it refines one rebuilt from objects.
REFINED_FIELDS = ("event", "occurred_at", "amount", "currency", "mrr_delta", "details")


def _known_facts_drop(event: StripeEvent, rows: list[RevenueSignal]) -> list[RevenueSignal]:
    """The rows whose fact has no signal yet. A real event refines a signal rebuilt from
    objects (exact time and details); otherwise the first signal of a fact stays."""
    known = {
        signal.fact_key: signal
        for signal in RevenueSignal.objects.filter(
            workspace_id=event.workspace_id, fact_key__in=[row.fact_key for row in rows]
        )
        # The unique index is partial (fact_key <> ''): saying so lets SQLite use it.
        .exclude(fact_key="")
        .annotate(event_source=F("event__source"))
    }
    for row in rows:
        signal = known.get(row.fact_key)
        if signal is None or event.source == EventSource.REBUILT:
            continue
        if signal.event_source == EventSource.REBUILT:
            for name in REFINED_FIELDS:
                setattr(signal, name, getattr(row, name))
            if signal.customer_id is None and row.customer is not None:
                signal.customer = row.customer
            signal.save(update_fields=[*REFINED_FIELDS, "customer"])
    return [row for row in rows if row.fact_key not in known]
