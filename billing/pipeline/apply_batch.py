"""What a batch of events being applied (billing.pipeline.apply.events_batch) reads once, and
the writes it keeps for its end: its customers, subscriptions and failed invoices (locked), the
stored facts, failures and payments its signals depend on, and its new signals and MRR points."""

from collections import defaultdict
from datetime import datetime

from django.db.models import F, Min, Q

from billing.customer_figures import customer_figures_refresh
from billing.invoice_outcomes import FailedInvoiceRows
from billing.models import Customer, PaymentFailure, RevenueSignal, SignalKind, StripeEvent
from billing.mrr_ledger import customers_movements_rebuild, mrr_points_of
from billing.normalize import Facts, PaidInvoice, SignalFact, normalize_event
from billing.normalize.fact_keys import fact_key
from billing.normalize.payments import FAILURE_KEYS
from billing.pipeline.batch_rows import CustomerRows, SubscriptionRows
from billing.revenue_models import MrrPoint
from billing.signal_details import details_clean
from custory.bulk_sql import rows_insert, rows_update


def payload_of(event: StripeEvent) -> dict:
    return event.payload if isinstance(event.payload, dict) else {}


class ApplyBatch:
    """What a batch of events reads once, and the writes it keeps for its end."""

    def __init__(self, events: list[StripeEvent]):
        self.events = {event.pk: event for event in events}
        self.facts = {event.pk: normalize_event(payload_of(event)) for event in events}
        customers, subscriptions, invoices = {}, {}, set()
        for event in events:
            facts = self.facts[event.pk]
            if facts.customer_id:
                customers.setdefault((event.workspace_id, facts.customer_id), (event, facts))
            if facts.invoice_outcome is not None:
                invoices.add((event.workspace_id, facts.invoice_outcome.invoice_id[:255]))
        self.customers = CustomerRows(customers)
        for event in events:
            facts = self.facts[event.pk]
            if facts.subscription is not None and facts.subscription.stripe_id:
                customer = self.customers.rows.get((event.workspace_id, facts.customer_id))
                key = (event.workspace_id, facts.subscription.stripe_id)
                subscriptions.setdefault(key, (event, facts.subscription, customer))
        self.subscriptions = SubscriptionRows(subscriptions)
        self.subscriptions.canceled_read(
            (event.workspace_id, outcome.subscription_id[:255])
            for event in events
            if (outcome := self.facts[event.pk].invoice_outcome) and outcome.subscription_id
        )
        self.outcomes = FailedInvoiceRows(invoices, self.subscriptions.canceled_at)
        self.outcomes.subscriptions_load(
            {
                (event.workspace_id, state.stripe_id)
                for event in events
                if (state := self.facts[event.pk].subscription) is not None
                and state.status == "canceled"
            }
        )
        self.kinds: dict[int, set[str]] = {event.pk: set() for event in events}
        for event_id, kind in RevenueSignal.objects.filter(event__in=events).values_list(
            "event_id", "kind"
        ):
            self.kinds[event_id].add(kind)
        self.known: dict[tuple[int, str], RevenueSignal | None] = {}
        for workspace_id, keys in _fact_keys(events, self.facts).items():
            self.signals_known(workspace_id, keys)
        self.failures: dict[tuple[int, str], datetime | None] = {}
        self.payments: dict[tuple[int, str], RevenueSignal | None] = {}
        self._invoices_read(events)
        self.failure_rows: dict[int, set[tuple]] = defaultdict(set)
        self.failure_ids: set[tuple[int, str, str]] = set()
        # The batch's charge failures, inserted and merged into their signals at its end.
        self.failures_new: list[PaymentFailure] = []
        self.failure_payments: dict[int, set[tuple[str, str]]] = defaultdict(set)
        self.failed_saved: dict[int, RevenueSignal] = {}
        self._failures_prefetch(events)
        self.signals: list[RevenueSignal] = []
        self.points: list[MrrPoint] = []
        self.movements_due: dict[int, Customer] = {}
        self.charge_customers: dict[tuple[int, str], int] = {}
        # Customers whose figures the batch changes besides its own (met through a charge).
        self.figures_due: set[int] = set()

    def kinds_of(self, event: StripeEvent) -> set[str]:
        """The kinds of signal the event already has (it may be one outside the batch)."""
        if event.pk not in self.kinds:
            self.kinds[event.pk] = set(
                RevenueSignal.objects.filter(event=event).values_list("kind", flat=True)
            )
        return self.kinds[event.pk]

    def signals_known(self, workspace_id: int, keys: list[str]) -> dict[str, RevenueSignal]:
        """The stored signals of these facts, by fact key; read once per batch."""
        missing = sorted({k for k in keys if (workspace_id, k) not in self.known})
        if missing:
            self.known.update({(workspace_id, key): None for key in missing})
            for signal in (
                RevenueSignal.objects.filter(workspace_id=workspace_id, fact_key__in=missing)
                # The unique index is partial (fact_key <> ''): saying so lets SQLite use it.
                .exclude(fact_key="")
                .annotate(event_source=F("event__source"))
            ):
                self.known[workspace_id, signal.fact_key] = signal
        found = {key: self.known[workspace_id, key] for key in keys}
        return {key: signal for key, signal in found.items() if signal is not None}

    def _invoices_read(self, events: list[StripeEvent]) -> None:
        """For the batch's paid invoices, their first failure; for its failures, their invoice's
        payment: what recoveries are made of, read at once."""
        paid, failed = defaultdict(set), defaultdict(set)
        for event in events:
            facts = self.facts[event.pk]
            if facts.paid_invoice is not None and needs_first_failure(facts.paid_invoice):
                paid[event.workspace_id].add(facts.paid_invoice.invoice_id)
            for fact in facts.signals:
                if fact.kind == SignalKind.PAYMENT_FAILED and fact.object_id:
                    failed[event.workspace_id].add(fact.object_id[:255])
        for workspace_id, invoice_ids in paid.items():
            self._failures_read(workspace_id, invoice_ids)
        for workspace_id, invoice_ids in failed.items():
            self._payments_read(workspace_id, invoice_ids)

    def _failures_read(self, workspace_id: int, invoice_ids) -> None:
        self.failures.update({(workspace_id, invoice_id): None for invoice_id in invoice_ids})
        for invoice_id, first in (
            RevenueSignal.objects.filter(
                workspace_id=workspace_id,
                kind=SignalKind.PAYMENT_FAILED,
                object_id__in=invoice_ids,
            )
            .values_list("object_id")
            .annotate(first=Min("occurred_at"))
            .order_by()
        ):
            self.failures[workspace_id, invoice_id] = first

    def _payments_read(self, workspace_id: int, invoice_ids) -> None:
        self.payments.update({(workspace_id, invoice_id): None for invoice_id in invoice_ids})
        for signal in RevenueSignal.objects.filter(
            workspace_id=workspace_id,
            kind=SignalKind.PAYMENT_SUCCEEDED,
            object_id__in=invoice_ids,
            event__type="invoice.paid",
        ).select_related("event"):
            if self.payments.get((workspace_id, signal.object_id)) is None:
                self.payments[workspace_id, signal.object_id] = signal

    def _failures_prefetch(self, events: list[StripeEvent]) -> None:
        wanted: dict[int, dict] = defaultdict(
            lambda: {"charge_id": set(), "payment_intent_id": set()}
        )
        for event in events:
            facts = self.facts[event.pk]
            for fact in facts.signals:
                if fact.kind == SignalKind.PAYMENT_FAILED and fact.details.get("invoice_id"):
                    for name in ("charge_id", "payment_intent_id"):
                        if fact.details.get(name):
                            wanted[event.workspace_id][name].add(fact.details[name])
        for workspace_id, ids in wanted.items():
            self._failure_rows_read(workspace_id, ids)

    def _failure_rows_read(self, workspace_id: int, ids: dict) -> None:
        lookup = Q()
        for name in ("charge_id", "payment_intent_id"):
            values = {value for value in ids[name] if value}
            self.failure_ids.update((workspace_id, name, value) for value in values)
            if values:
                lookup |= Q(**{f"{name}__in": sorted(values)})
        if not lookup:
            return
        self.failure_rows[workspace_id].update(
            PaymentFailure.objects.filter(workspace_id=workspace_id)
            .filter(lookup)
            .values_list(*FAILURE_ROW)
        )

    def failures_of(self, workspace_id: int, ids: dict) -> list[tuple]:
        """Stored PaymentFailure rows (FAILURE_ROW) of a payment's charge or payment intent."""
        wanted = {name: ids.get(name) or "" for name in ("charge_id", "payment_intent_id")}
        missing = {
            name: {value}
            for name, value in wanted.items()
            if value and (workspace_id, name, value) not in self.failure_ids
        }
        if missing:
            self._failure_rows_read(
                workspace_id, {"charge_id": set(), "payment_intent_id": set(), **missing}
            )
        charge, intent = wanted["charge_id"], wanted["payment_intent_id"]
        return sorted(
            row
            for row in self.failure_rows[workspace_id]
            if (charge and row[0] == charge) or (intent and row[1] == intent)
        )

    def failure_known(self, workspace_id: int, ids: dict) -> dict:
        """Decline facts stored for a payment's charge or payment intent, merged the same way
        whatever order they came in."""
        merged: dict[str, str] = {}
        for row in self.failures_of(workspace_id, ids):
            for key, value in zip(FAILURE_KEYS, row[2:], strict=True):
                if value:
                    merged.setdefault(key, value)
        return merged

    def payment_failure_add(self, row: PaymentFailure) -> None:
        self.failures_new.append(row)
        self.failure_rows[row.workspace_id].add(failure_row(row))
        self.failure_payments[row.workspace_id].add((row.charge_id, row.payment_intent_id))

    def payment_failures_save(self) -> None:
        """Insert the batch's charge failures, then merge each payment's failures into the
        payment_failed signals of its charge or payment intent: one read and one write for the
        batch, with every failure known, as merging them one by one would end."""
        if not self.failures_new:
            return
        rows_insert(PaymentFailure, self.failures_new, ignore_conflicts=True)
        self.failures_new = []
        changed: list[RevenueSignal] = []
        for workspace_id, payments in sorted(self.failure_payments.items()):
            signals = list(
                RevenueSignal.objects.filter(
                    workspace_id=workspace_id, kind=SignalKind.PAYMENT_FAILED
                )
                .of_payments(
                    charge_ids=sorted({charge for charge, _ in payments if charge}),
                    payment_intent_ids=sorted({intent for _, intent in payments if intent}),
                )
                .only("pk", "event_id", "details")
                .order_by("pk")
            )
            payloads = self._payloads_of({signal.event_id for signal in signals})
            for signal in signals:
                own = _failed_fact_details(payloads.get(signal.event_id))
                if own is None or not own.get("invoice_id"):
                    continue
                details = {**self.failure_known(workspace_id, own), **own}
                if details != signal.details:
                    signal.details = details_clean(details)
                    changed.append(signal)
                    if signal.pk in self.failed_saved:
                        self.failed_saved[signal.pk].details = signal.details
        self.failure_payments.clear()
        rows_update(RevenueSignal, changed, ["details"])

    def _payloads_of(self, event_ids: set[int]) -> dict[int, dict]:
        """The payloads of these events: the batch's from memory, the others read at once."""
        payloads = {pk: payload_of(self.events[pk]) for pk in event_ids if pk in self.events}
        missing = sorted(event_ids - set(payloads))
        if missing:
            payloads.update(StripeEvent.objects.filter(pk__in=missing).values_list("pk", "payload"))
        return payloads

    def first_failure(self, workspace_id: int, invoice_id: str) -> datetime | None:
        """When the invoice's first stored payment_failed signal happened, if any."""
        if (workspace_id, invoice_id) not in self.failures:
            self.signals_save()
            self._failures_read(workspace_id, [invoice_id])
        return self.failures[workspace_id, invoice_id]

    def invoice_payment(self, workspace_id: int, invoice_id: str) -> RevenueSignal | None:
        """The payment_succeeded signal of the invoice's invoice.paid event, if stored."""
        if (workspace_id, invoice_id) not in self.payments:
            self.signals_save()
            self._payments_read(workspace_id, [invoice_id])
        return self.payments[workspace_id, invoice_id]

    def signals_save(self) -> None:
        """Insert the signals made so far (at the end, or before a read that needs them)."""
        # The pipeline claims an event before applying it, so a conflict here means two workers
        # applied one event (or one fact) at once; the IntegrityError fails this attempt and the
        # retry finds the other's signals.
        rows_insert(RevenueSignal, self.signals)
        failed = [s for s in self.signals if s.kind == SignalKind.PAYMENT_FAILED]
        self.failed_saved.update((signal.pk, signal) for signal in failed)
        self.signals = []

    def signals_add(self, event: StripeEvent, signals: list[RevenueSignal]) -> None:
        self.signals += signals
        for signal in signals:
            self.figures_due.add(signal.customer_id)
            signal.event_source = event.source
            self.kinds_of(event).add(signal.kind)
            self.known[event.workspace_id, signal.fact_key] = signal
            key = (event.workspace_id, signal.object_id)
            if signal.kind == SignalKind.PAYMENT_FAILED and key in self.failures:
                first = self.failures[key]
                if first is None or signal.occurred_at < first:
                    self.failures[key] = signal.occurred_at
            paid = signal.kind == SignalKind.PAYMENT_SUCCEEDED and event.type == "invoice.paid"
            if paid and key in self.payments and self.payments[key] is None:
                self.payments[key] = signal

    def points_add(self, event: StripeEvent, customer: Customer | None, facts: Facts) -> None:
        points = mrr_points_of(event=event, customer=customer, facts=facts)
        if points:
            self.points += points
            self.movements_due[customer.pk] = customer

    def points_save(self) -> None:
        rows_insert(MrrPoint, self.points, ignore_conflicts=True)
        self.points = []

    def save(self) -> None:
        self.signals_save()
        self.payment_failures_save()
        self.subscriptions.save()
        self.customers.save()
        self.outcomes.save()
        self.points_save()
        touched = (
            self.figures_due
            | set(self.movements_due)
            | set(self.charge_customers.values())
            | self.customers.moved_from
            | self.outcomes.customer_ids()
        ) - {None}
        # Customers met through a charge were not locked with the batch's own.
        outside = sorted(touched - set(self.customers.by_pk))
        if outside:
            list(Customer.objects.filter(pk__in=outside).order_by("pk").select_for_update())
        customers_movements_rebuild(customers=list(self.movements_due.values()))
        self._charge_customers_save()
        customer_figures_refresh(customer_ids=touched | set(self.customers.by_pk))

    def _charge_customers_save(self) -> None:
        """A dispute or refund seen before its charge's payment gets its customer now."""
        by_workspace: dict[int, dict[str, int]] = {}
        for (workspace_id, charge_id), customer_id in self.charge_customers.items():
            by_workspace.setdefault(workspace_id, {})[charge_id] = customer_id
        for workspace_id, customers in by_workspace.items():
            orphans = RevenueSignal.objects.filter(
                workspace_id=workspace_id, customer=None, details__charge_id__in=list(customers)
            ).values_list("pk", "details__charge_id")
            by_customer: dict[int, list[int]] = {}
            for pk, charge_id in orphans:
                by_customer.setdefault(customers[charge_id], []).append(pk)
            for customer_id, pks in sorted(by_customer.items()):
                RevenueSignal.objects.filter(pk__in=pks).update(customer_id=customer_id)


FAILURE_ROW = ("charge_id", "payment_intent_id", *FAILURE_KEYS)


def failure_row(row: PaymentFailure) -> tuple:
    return tuple(getattr(row, name) for name in FAILURE_ROW)


def _failed_fact_details(payload) -> dict | None:
    """The details a payment_failed signal's own event gives it, before any merging."""
    facts = normalize_event(payload if isinstance(payload, dict) else {})
    return next(
        (fact.details for fact in facts.signals if fact.kind == SignalKind.PAYMENT_FAILED), None
    )


def _fact_keys(events: list[StripeEvent], facts: dict[int, Facts]) -> dict[int, list[str]]:
    """The fact keys the batch's signals will have, by workspace, to look them up at once."""
    keys: dict[int, list[str]] = {}
    for event in events:
        event_facts = facts[event.pk]
        signal_facts = list(event_facts.signals)
        if event_facts.paid_invoice is not None:
            paid = event_facts.paid_invoice
            signal_facts.append(
                SignalFact(kind=SignalKind.PAYMENT_RECOVERED, object_id=paid.invoice_id)
            )
        keys.setdefault(event.workspace_id, []).extend(
            fact_key(fact, event_id=event.stripe_id) for fact in signal_facts
        )
    return keys


def needs_first_failure(paid: PaidInvoice) -> bool:
    return paid.attempt_count <= 1 or paid.first_attempt_at is None
