"""Turning stored StripeEvents into Customer/Subscription state and RevenueSignals.

The pipeline applies a claimed group of events inside events_batch, in its transaction (a lone
event is a batch of one; the history import's pages use events_apply_batch). What an event says
comes from billing.normalize (pure); here it becomes rows, set-based per group
(billing.pipeline.batch_rows): the group's customers, subscriptions and failed invoices are read
and locked once, each event changes them in turn in memory, and they are written once at the end:
- Customer and Subscription take the state of the newest event by Stripe `created` (ties broken
  by event id), so any delivery order ends in the same state;
- signals are unique per (event, kind) and per fact, so reapplying an event creates nothing new;
- new signals are placed on journey steps and run through the task rules, in this transaction.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.db import transaction

from billing.discounts import discounts_apply
from billing.models import (
    Customer,
    EventSource,
    PaymentFailure,
    RevenueSignal,
    SignalKind,
    StripeEvent,
    Subscription,
)
from billing.normalize import (
    Facts,
    PaidInvoice,
    SignalFact,
    normalize_event,
)
from billing.normalize.common import compact, iso
from billing.normalize.fact_keys import fact_key
from billing.pipeline.apply_batch import (
    ApplyBatch,
    needs_first_failure,
    payload_of,
)
from billing.pipeline.batch_rows import totals_of
from billing.signal_details import details_clean
from journeys.placement import place_signals
from tasks.automation import task_rules_apply
from tasks.outbound_events import signals_announce


def event_apply(*, event: StripeEvent) -> list[RevenueSignal]:
    """Apply an event's facts; return the signals it newly created (none when reprocessed)."""
    # In an events_batch of this event, the signals are saved and placed at the batch's end.
    scope = _scope.get()
    if scope is not None and event.pk in scope.event_ids:
        return scope.apply(event)
    with events_batch([event]) as scope:
        return scope.apply(event)


def events_apply_batch(*, events: list[StripeEvent]) -> list[RevenueSignal]:
    """Apply events in order in the caller's transaction, then place, rule and announce their
    new signals at once (the history import's pages)."""
    with events_batch(events) as scope:
        for event in events:
            scope.apply(event)
    return scope.signals


class _Scope:
    """An open events_batch: its events, read together on the first apply."""

    def __init__(self, events: list[StripeEvent]):
        self.events = events
        self.event_ids = {event.pk for event in events}
        self.batch: ApplyBatch | None = None
        self.signals: list[RevenueSignal] = []

    def apply(self, event: StripeEvent) -> list[RevenueSignal]:
        if self.batch is None:
            self.batch = ApplyBatch(self.events)
        signals = _apply_one(event, self.batch)
        self.signals += signals
        return signals

    def finish(self) -> None:
        if self.batch is None:
            return
        self.batch.save()
        if self.signals:
            place_signals(signals=self.signals)
            task_rules_apply(signals=self.signals)
            signals_announce(signals=self.signals)


_scope: ContextVar[_Scope | None] = ContextVar("custory_events_batch", default=None)


@contextmanager
def events_batch(events: list[StripeEvent]) -> Iterator[_Scope]:
    """Within the block, event_apply of these events works set-based: the batch's rows are
    read and locked once, and written (with the signals' placements and task rules) at the
    end of the block, in the caller's transaction."""
    scope = _Scope(events)
    token = _scope.set(scope)
    try:
        with transaction.atomic():
            yield scope
            scope.finish()
    finally:
        _scope.reset(token)


def _apply_one(event: StripeEvent, batch: ApplyBatch) -> list[RevenueSignal]:
    facts = batch.facts[event.pk]
    if facts.discount_shares:
        batch.points_save()  # revaluing reads the stored points
    discounts_apply(event=event, facts=facts)
    customer = batch.customers.apply(event, facts)
    if facts.subscription is not None and facts.subscription.stripe_id:
        changed = batch.subscriptions.apply(event, facts.subscription, customer)
        if changed is not None:
            batch.customers.subscription_changed(*changed)
        if customer is not None:
            batch.customers.totals_refresh(customer.pk)
        batch.outcomes.subscription_canceled(event=event, state=facts.subscription)
    if customer is None and facts.charge_id:
        customer = _customer_of_charge(event, facts.charge_id, batch)
    signal_facts = list(facts.signals)
    for fact in signal_facts:
        if fact.kind == SignalKind.PAYMENT_FAILED and fact.details.get("invoice_id"):
            fact.details = {**batch.failure_known(event.workspace_id, fact.details), **fact.details}
    if facts.paid_invoice is not None:
        recovered = _recovery(event, facts.paid_invoice, batch)
        if recovered is not None:
            signal_facts.append(recovered)
    signals = _signals_create(event, customer, facts, signal_facts, batch)
    if customer is not None and facts.charge_id and signals:
        batch.charge_customers.setdefault((event.workspace_id, facts.charge_id), customer.pk)
    if facts.payment_failure:
        _payment_failure_record(event, facts.payment_failure, batch)
    batch.outcomes.record(event=event, customer=customer, outcome=facts.invoice_outcome)
    batch.points_add(event, customer, facts)
    failed_invoices = {
        s.object_id for s in signals if s.kind == SignalKind.PAYMENT_FAILED and s.object_id
    }
    for invoice_id in failed_invoices:
        signals += _late_recovery(event, invoice_id, batch)
    return signals


def _late_recovery(event: StripeEvent, invoice_id: str, batch: ApplyBatch) -> list[RevenueSignal]:
    """A failure delivered after its invoice's payment: that payment was a recovery, too."""
    paid = batch.invoice_payment(event.workspace_id, invoice_id)
    if paid is None:
        return []
    paid_facts = normalize_event(payload_of(paid.event))
    if paid_facts.paid_invoice is None:
        return []
    customer = batch.customers.get(paid.customer_id) if paid.customer_id else None
    batch.outcomes.record(event=paid.event, customer=customer, outcome=paid_facts.invoice_outcome)
    recovered = _recovery(paid.event, paid_facts.paid_invoice, batch)
    if recovered is None:
        return []
    return _signals_create(paid.event, customer, paid_facts, [recovered], batch)


def _payment_failure_record(event: StripeEvent, failure: dict[str, str], batch: ApplyBatch) -> None:
    """Keep why a charge failed; its invoice's payment_failed signals take it in at the batch's
    end (ApplyBatch.payment_failures_save), all of a payment's failures merged at once."""
    row = PaymentFailure(
        workspace_id=event.workspace_id,
        event=event,
        charge_id=failure.get("charge_id", "")[:255],
        payment_intent_id=failure.get("payment_intent_id", "")[:255],
        decline_code=failure.get("decline_code", "")[:255],
        failure_code=failure.get("failure_code", "")[:255],
        failure_message=failure.get("failure_message", ""),
    )
    batch.payment_failure_add(row)


def customer_totals_refresh(*, customer: Customer) -> None:
    """Customer.mrr = the MRR of its active, trialing and past-due subscriptions."""
    values = totals_of(
        list(
            Subscription.objects.filter(customer=customer).values_list("status", "mrr", "currency")
        )
    )
    currency = values.pop("currency", "")
    Customer.objects.filter(pk=customer.pk).update(**values)
    if currency:
        # Stripe bills a customer in one currency; its own object says it once it has one.
        Customer.objects.filter(pk=customer.pk, currency="").update(currency=currency)


def _customer_of_charge(event: StripeEvent, charge_id: str, batch: ApplyBatch) -> Customer | None:
    """Disputes and refunds name a charge, not a customer: find it from that charge's signals."""
    customer_id = batch.charge_customers.get((event.workspace_id, charge_id))
    if customer_id is None:
        batch.signals_save()
        customer_id = (
            RevenueSignal.objects.filter(workspace_id=event.workspace_id)
            .of_charge(charge_id)
            .exclude(customer=None)
            .values_list("customer_id", flat=True)
            .first()
        )
    return batch.customers.get(customer_id) if customer_id else None


def _recovery(event: StripeEvent, paid: PaidInvoice, batch: ApplyBatch) -> SignalFact | None:
    """payment_recovered when the paid invoice had failed before: Stripe's attempt count says
    so, or we stored a payment_failed signal for it."""
    first_failure: datetime | None = None
    if needs_first_failure(paid):
        first_failure = batch.first_failure(event.workspace_id, paid.invoice_id)
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
    event: StripeEvent,
    customer: Customer | None,
    facts: Facts,
    signal_facts: list[SignalFact],
    batch: ApplyBatch,
) -> list[RevenueSignal]:
    if not signal_facts:
        return []
    existing = batch.kinds_of(event)
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
    fresh = _known_facts_drop(event, list(rows.values()), batch)
    if not fresh:
        return []
    batch.signals_add(event, fresh)
    return fresh


# What a signal takes from a real event when it refines one rebuilt from objects.
REFINED_FIELDS = ("event", "occurred_at", "amount", "currency", "mrr_delta", "details")


def _known_facts_drop(
    event: StripeEvent, rows: list[RevenueSignal], batch: ApplyBatch
) -> list[RevenueSignal]:
    """The rows whose fact has no signal yet. A real event refines a signal rebuilt from
    objects (exact time and details); otherwise the first signal of a fact stays."""
    known = batch.signals_known(event.workspace_id, [row.fact_key for row in rows])
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
            batch.figures_due.add(signal.customer_id)
            signal.event_source = event.source
    return [row for row in rows if row.fact_key not in known]
