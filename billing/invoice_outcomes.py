"""Writes of failed invoices' outcomes, called by the pipeline inside its transaction."""

from billing.models import Customer, StripeEvent, Subscription
from billing.normalize.common import InvoiceOutcome, SubscriptionState
from billing.revenue_models import FailedInvoice
from billing.revenue_rollups import recovery_rollups_change, recovery_snapshot
from custory.bulk_sql import rows_insert, rows_update


def _earliest(a, b):
    return min((t for t in (a, b) if t is not None), default=None)


def _merge(row: FailedInvoice, outcome: InvoiceOutcome) -> None:
    row.currency = row.currency or outcome.currency[:3]
    row.subscription_stripe_id = row.subscription_stripe_id or outcome.subscription_id[:255]
    row.amount = max(row.amount, outcome.amount, outcome.amount_paid)
    row.attempts = max(row.attempts, outcome.attempts)
    row.amount_paid = max(row.amount_paid, outcome.amount_paid)
    row.first_failed_at = _earliest(row.first_failed_at, outcome.failed_at)
    row.paid_at = _earliest(row.paid_at, outcome.paid_at)
    _lose(row, outcome.lost_at, outcome.lost_reason)


def _lose(row: FailedInvoice, at, reason: str) -> None:
    """Keep the earliest reason the invoice was lost (ties: the first reason by name)."""
    if at is None:
        return
    if row.lost_at is None or (at, reason) < (row.lost_at, row.lost_reason):
        row.lost_at, row.lost_reason = at, reason


def invoice_outcome_record(
    *, event: StripeEvent, customer: Customer | None, outcome: InvoiceOutcome | None
) -> None:
    """Merge what an invoice event says into its FailedInvoice; a paid invoice that never
    failed has none."""
    if outcome is None:
        return
    rows = FailedInvoice.objects.filter(
        workspace_id=event.workspace_id, invoice_id=outcome.invoice_id[:255]
    )
    if outcome.failed_at is not None or outcome.lost_at is not None:
        FailedInvoice.objects.bulk_create(
            [
                FailedInvoice(
                    workspace_id=event.workspace_id,
                    connection_id=event.connection_id,
                    livemode=event.livemode,
                    invoice_id=outcome.invoice_id[:255],
                )
            ],
            ignore_conflicts=True,
        )
    row = rows.select_for_update().first()
    if row is None:
        return
    before = recovery_snapshot(row)
    _merge(row, outcome)
    if customer is not None and row.customer_id is None:
        row.customer = customer
    if row.subscription_stripe_id:
        canceled = (
            Subscription.objects.filter(
                workspace_id=event.workspace_id,
                stripe_id=row.subscription_stripe_id,
                status="canceled",
            )
            .values_list("canceled_at", "state_as_of")
            .first()
        )
        if canceled:
            _lose(row, canceled[0] or canceled[1], "canceled")
    row.save()
    recovery_rollups_change(before=before, after=recovery_snapshot(row))


def invoice_outcomes_subscription_canceled(*, event: StripeEvent, state: SubscriptionState) -> None:
    """A canceled subscription loses its invoices still in dunning (and marks the rest too, so
    the result does not depend on which event came first)."""
    if state.status != "canceled":
        return
    at = state.canceled_at or event.created
    rows = FailedInvoice.objects.filter(
        workspace_id=event.workspace_id, subscription_stripe_id=state.stripe_id
    )
    for row in rows.select_for_update():
        before = (row.lost_at, row.lost_reason)
        counted = recovery_snapshot(row)
        _lose(row, at, "canceled")
        if (row.lost_at, row.lost_reason) != before:
            row.save(update_fields=["lost_at", "lost_reason"])
            recovery_rollups_change(before=counted, after=recovery_snapshot(row))


class FailedInvoiceRows:
    """invoice_outcome_record and invoice_outcomes_subscription_canceled for a batch of events:
    the rows read (and locked) once, merged in memory in event order, written at the end."""

    def __init__(self, keys: set[tuple[int, str]], canceled_at):
        # canceled_at(workspace_id, subscription_id) -> when it was canceled, or None.
        self.canceled_at = canceled_at
        self.rows: dict[tuple[int, str], FailedInvoice | None] = {}
        self.new: set[tuple[int, str]] = set()
        self.dirty: set[tuple[int, str]] = set()
        # What each stored row counted in the recovery rollups before the batch changed it.
        self.counted: dict[tuple[int, str], tuple | None] = {}
        self.subscriptions_read: set[tuple[int, str]] = set()
        self._load(keys)

    def _load(self, keys) -> None:
        by_workspace: dict[int, list[str]] = {}
        for workspace_id, invoice_id in sorted(keys):
            if (workspace_id, invoice_id) not in self.rows:
                by_workspace.setdefault(workspace_id, []).append(invoice_id)
                self.rows[workspace_id, invoice_id] = None
        for workspace_id, invoice_ids in by_workspace.items():
            self._take(
                FailedInvoice.objects.filter(workspace_id=workspace_id, invoice_id__in=invoice_ids)
            )

    def subscriptions_load(self, keys: set[tuple[int, str]]) -> None:
        """Read and lock the failed invoices of these subscriptions (those the batch cancels)
        at once, each subscription once."""
        by_workspace: dict[int, list[str]] = {}
        for workspace_id, subscription_id in sorted(keys - self.subscriptions_read):
            by_workspace.setdefault(workspace_id, []).append(subscription_id)
        self.subscriptions_read |= keys
        for workspace_id, subscription_ids in by_workspace.items():
            self._take(
                FailedInvoice.objects.filter(
                    workspace_id=workspace_id, subscription_stripe_id__in=subscription_ids
                )
            )

    def _take(self, rows) -> None:
        for row in rows.order_by("invoice_id").select_for_update():
            key = (row.workspace_id, row.invoice_id)
            if self.rows.get(key) is None:
                self.rows[key] = row
                self.counted[key] = recovery_snapshot(row)

    def record(
        self, *, event: StripeEvent, customer: Customer | None, outcome: InvoiceOutcome | None
    ) -> None:
        if outcome is None:
            return
        key = (event.workspace_id, outcome.invoice_id[:255])
        if key not in self.rows:
            self._load({key})
        row = self.rows[key]
        if row is None:
            if outcome.failed_at is None and outcome.lost_at is None:
                return
            row = self.rows[key] = FailedInvoice(
                workspace_id=event.workspace_id,
                connection_id=event.connection_id,
                livemode=event.livemode,
                invoice_id=key[1],
            )
            self.new.add(key)
        _merge(row, outcome)
        if customer is not None and row.customer_id is None:
            row.customer = customer
        if row.subscription_stripe_id:
            canceled = self.canceled_at(event.workspace_id, row.subscription_stripe_id)
            if canceled is not None:
                _lose(row, canceled, "canceled")
        self.dirty.add(key)

    def subscription_canceled(self, *, event: StripeEvent, state: SubscriptionState) -> None:
        if state.status != "canceled":
            return
        at = state.canceled_at or event.created
        self.subscriptions_load({(event.workspace_id, state.stripe_id)})
        for key, row in self.rows.items():
            if row is None or key[0] != event.workspace_id:
                continue
            if row.subscription_stripe_id != state.stripe_id:
                continue
            before = (row.lost_at, row.lost_reason)
            _lose(row, at, "canceled")
            if (row.lost_at, row.lost_reason) != before:
                self.dirty.add(key)

    def customer_ids(self) -> set[int]:
        """The customers of the failed invoices the batch changed."""
        return {self.rows[key].customer_id for key in self.dirty} - {None}

    def save(self) -> None:
        # A row another worker created meanwhile makes this insert fail, and the batch with it:
        # applied again one event at a time, each finds and merges into that row.
        rows_insert(FailedInvoice, [self.rows[key] for key in sorted(self.new)])
        changed = [self.rows[key] for key in sorted(self.dirty - self.new)]
        rows_update(FailedInvoice, changed, MERGED_FIELDS)
        for key in sorted(self.dirty):
            recovery_rollups_change(
                before=self.counted.get(key), after=recovery_snapshot(self.rows[key])
            )


MERGED_FIELDS = [
    "customer",
    "currency",
    "subscription_stripe_id",
    "amount",
    "attempts",
    "amount_paid",
    "first_failed_at",
    "paid_at",
    "lost_at",
    "lost_reason",
]
