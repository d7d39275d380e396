"""Writes of failed invoices' outcomes, called by the pipeline inside its transaction."""

from billing.models import Customer, StripeEvent, Subscription
from billing.normalize.common import InvoiceOutcome, SubscriptionState
from billing.revenue_models import FailedInvoice
from billing.revenue_rollups import recovery_rollups_change, recovery_snapshot


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
