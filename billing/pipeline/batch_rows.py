"""The Customer and Subscription rows a batch of events touches: created and locked at once,
changed in memory by each event in turn, written once at the batch's end.

Each event's change is the conditional update apply.py made per event (newer Stripe `created`
wins, ties broken by event id; first_seen_at the earliest; hints fill blanks only), evaluated
on the locked row instead of in SQL, so the rows end exactly as per-event updates left them.
"""

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime

from django.db.models import Model

from billing.models import Customer, StripeEvent, Subscription
from billing.normalize import CustomerState, Facts, SubscriptionState
from billing.normalize.subscriptions import COUNTED_STATUSES
from custory.bulk_sql import rows_insert_new, rows_update

# Which subscription status a customer shows when it has several.
STATUS_RANK = ["active", "past_due", "trialing", "unpaid", "paused", "incomplete", "canceled"]

Key = tuple[int, str]  # (workspace id, Stripe id)


def state_is_not_newer(row: Customer | Subscription, event: StripeEvent) -> bool:
    """The row's state is not newer than this event (the same event may rewrite its own)."""
    return (
        row.state_as_of is None
        or row.state_as_of < event.created
        or (row.state_as_of == event.created and row.state_event_id <= event.stripe_id)
    )


def customer_state_values(event: StripeEvent, state: CustomerState) -> dict:
    return {
        "email": state.email[:254],
        "name": state.name[:255],
        "currency": state.currency[:3],
        "metadata": state.metadata,
        "deleted": state.deleted,
        "state_as_of": event.created,
        "state_event_id": event.stripe_id,
    }


def customer_hints(facts: Facts, customer: Customer | None) -> dict:
    return {
        field: value[:254]
        for field, value in facts.customer_hint.items()
        if field in ("email", "name") and value and not getattr(customer, field, "")
    }


def subscription_values(
    event: StripeEvent, state: SubscriptionState, customer: Customer | None
) -> dict:
    return {
        "customer_id": customer.pk if customer is not None else None,
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


def _changed(row, values: dict) -> list[str]:
    names = [name for name, value in values.items() if getattr(row, name) != value]
    for name in names:
        setattr(row, name, values[name])
    return names


def _by_workspace(keys: Iterable[Key]) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = defaultdict(list)
    for workspace_id, stripe_id in sorted(set(keys)):
        grouped[workspace_id].append(stripe_id)
    return grouped


def _locked(model, keys: Iterable[Key]) -> dict:
    """The rows of these keys, locked in Stripe id order (the same order for every worker)."""
    rows = {}
    for workspace_id, stripe_ids in _by_workspace(keys).items():
        for row in (
            model.objects.filter(workspace_id=workspace_id, stripe_id__in=stripe_ids)
            .order_by("stripe_id")
            .select_for_update()
        ):
            rows[workspace_id, row.stripe_id] = row
    return rows


def _locked_or_added(model, keys: Iterable[Key], new: Callable[[Key], Model]) -> dict:
    """The rows of these keys, locked: the stored ones first (in Stripe id order), then those
    missing inserted (in that order too; a row just inserted is this transaction's until it
    commits). A row another worker inserted meanwhile is read and locked instead. Most keys of
    a busy account are stored already: they cost no insert."""
    rows = _locked(model, keys)
    missing = sorted(set(keys) - set(rows))
    if missing:
        added = rows_insert_new(
            model, [new(key) for key in missing], key=("workspace_id", "stripe_id")
        )
        rows.update({(row.workspace_id, row.stripe_id): row for row in added})
        rows.update(_locked(model, [key for key in missing if key not in rows]))
    return rows


class CustomerRows:
    """The batch's customers, inserted if new and locked (in Stripe id order) up front."""

    def __init__(self, firsts: dict[Key, tuple[StripeEvent, Facts]]):
        self.rows: dict[Key, Customer] = _locked_or_added(
            Customer, firsts, lambda key: self._new(*firsts[key])
        )
        self.by_pk = {customer.pk: customer for customer in self.rows.values()}
        self.dirty: dict[int, set[str]] = defaultdict(set)
        # Customers a subscription moved away from (their figures change too).
        self.moved_from: set[int] = set()
        # Each customer's subscriptions (status, MRR, currency), kept as events change them, so
        # its totals after every event are known without reading them again.
        self.subscriptions: dict[int, dict[str, tuple[str, int, str]]] = defaultdict(dict)
        for pk, stripe_id, *values in Subscription.objects.filter(
            customer_id__in=self.by_pk
        ).values_list("customer_id", "stripe_id", "status", "mrr", "currency"):
            self.subscriptions[pk][stripe_id] = tuple(values)

    @staticmethod
    def _new(event: StripeEvent, facts: Facts) -> Customer:
        state = facts.customer
        return Customer(
            workspace_id=event.workspace_id,
            connection_id=event.connection_id,
            stripe_id=facts.customer_id,
            livemode=event.livemode,
            first_seen_at=event.created,
            **(customer_state_values(event, state) if state else customer_hints(facts, None)),
        )

    def apply(self, event: StripeEvent, facts: Facts) -> Customer | None:
        """Apply what the event says about its customer; return the row as the event found it
        (for its signals, as a per-event read gave it)."""
        if not facts.customer_id:
            return None
        customer = self.rows[event.workspace_id, facts.customer_id]
        found = copy.copy(customer)
        changed = []
        if customer.first_seen_at > event.created:
            changed += _changed(customer, {"first_seen_at": event.created})
        state = facts.customer
        if state is not None:
            if state_is_not_newer(customer, event):
                values = customer_state_values(event, state)
                if not values["currency"]:
                    del values["currency"]  # no currency yet: keep the one its subscriptions gave
                changed += _changed(customer, values)
        elif customer.state_as_of is None and facts.customer_hint:
            # No customer object seen yet: fill blanks from what invoices and checkouts say.
            changed += _changed(customer, customer_hints(facts, customer))
        self.dirty[customer.pk].update(changed)
        return found

    def get(self, pk: int) -> Customer | None:
        customer = self.by_pk.get(pk)
        if customer is not None:
            return copy.copy(customer)
        return Customer.objects.filter(pk=pk).first()

    def subscription_changed(self, row: Subscription, customer_before: int | None) -> None:
        """A subscription took an event's state (maybe moving to another customer)."""
        self.subscriptions[customer_before].pop(row.stripe_id, None)
        if customer_before is not None and customer_before != row.customer_id:
            self.moved_from.add(customer_before)
        if row.customer_id is not None:
            values = (row.status, row.mrr, row.currency)
            self.subscriptions[row.customer_id][row.stripe_id] = values

    def totals_refresh(self, pk: int) -> None:
        """Customer.mrr and status from its subscriptions, currency if it has none yet."""
        customer = self.by_pk[pk]
        values = totals_of(list(self.subscriptions[pk].values()))
        if values.get("currency") and customer.currency:
            del values["currency"]  # its own object said it, or an earlier subscription did
        self.dirty[pk].update(_changed(customer, values))

    def save(self) -> None:
        dirty = {pk: names for pk, names in self.dirty.items() if names}
        if not dirty:
            return
        fields = sorted(set().union(*dirty.values()))
        rows_update(Customer, [self.by_pk[pk] for pk in sorted(dirty)], fields)


def totals_of(subscriptions: list[tuple[str, int, str]]) -> dict:
    """A customer's MRR (its active, trialing and past-due subscriptions), status and the
    currency its subscriptions bill in."""
    mrr = sum(m for status, m, _ in subscriptions if status in COUNTED_STATUSES)
    statuses = sorted(
        (s for s, _, _ in subscriptions),
        key=lambda s: STATUS_RANK.index(s) if s in STATUS_RANK else len(STATUS_RANK),
    )
    values = {"mrr": mrr, "status": statuses[0] if statuses else ""}
    currency = next((c for _, _, c in sorted(subscriptions) if c), "")
    if currency:
        values["currency"] = currency
    return values


class SubscriptionRows:
    """The batch's subscriptions, inserted if new and locked up front."""

    def __init__(self, firsts: dict[Key, tuple[StripeEvent, SubscriptionState, Customer | None]]):
        self.rows: dict[Key, Subscription] = _locked_or_added(
            Subscription, firsts, lambda key: self._new(*firsts[key])
        )
        self.dirty: dict[Key, set[str]] = defaultdict(set)
        # Whether subscriptions outside the batch are canceled (none of its events changes them).
        self.canceled: dict[Key, datetime | None] = {}

    @staticmethod
    def _new(event: StripeEvent, state: SubscriptionState, customer: Customer | None):
        return Subscription(
            workspace_id=event.workspace_id,
            stripe_id=state.stripe_id,
            **subscription_values(event, state, customer),
        )

    def apply(
        self, event: StripeEvent, state: SubscriptionState, customer: Customer | None
    ) -> tuple[Subscription, int | None] | None:
        """Apply the event's state if not older; return the row and its customer before."""
        row = self.rows[event.workspace_id, state.stripe_id]
        if not state_is_not_newer(row, event):
            return None
        before = row.customer_id
        key = (event.workspace_id, state.stripe_id)
        self.dirty[key].update(_changed(row, subscription_values(event, state, customer)))
        return row, before

    def canceled_read(self, keys: Iterable[Key]) -> None:
        """Read at once whether these subscriptions (not the batch's own) are canceled."""
        for workspace_id, stripe_ids in _by_workspace(set(keys) - set(self.rows)).items():
            self.canceled.update({(workspace_id, stripe_id): None for stripe_id in stripe_ids})
            for stripe_id, canceled_at, state_as_of in Subscription.objects.filter(
                workspace_id=workspace_id, stripe_id__in=stripe_ids, status="canceled"
            ).values_list("stripe_id", "canceled_at", "state_as_of"):
                self.canceled[workspace_id, stripe_id] = canceled_at or state_as_of

    def canceled_at(self, workspace_id: int, stripe_id: str):
        """When the subscription was canceled (its cancel time, else its state's), or None."""
        row = self.rows.get((workspace_id, stripe_id))
        if row is None:
            if (workspace_id, stripe_id) not in self.canceled:
                self.canceled_read([(workspace_id, stripe_id)])
            return self.canceled[workspace_id, stripe_id]
        return (row.canceled_at or row.state_as_of) if row.status == "canceled" else None

    def save(self) -> None:
        dirty = {key: names for key, names in self.dirty.items() if names}
        if not dirty:
            return
        fields = sorted(set().union(*dirty.values()))
        rows_update(Subscription, [self.rows[key] for key in sorted(dirty)], fields)
