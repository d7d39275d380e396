"""Rebuild a workspace's revenue facts (failed invoices, discount shares, MRR points and
movements, and the rollups and customer figures they add up to) by replaying its stored invoice
and subscription events through the normalizers: for data processed before these facts existed,
or after changing how they are derived."""

from django.db import transaction
from django.db.models import Q

from billing.customer_figures import customer_figures_rebuild
from billing.discounts import discounts_apply
from billing.invoice_outcomes import invoice_outcome_record, invoice_outcomes_subscription_canceled
from billing.models import Customer, EventStatus, StripeEvent
from billing.mrr_ledger import mrr_points_record, workspace_movements_rebuild
from billing.normalize import normalize_event
from billing.revenue_models import DiscountShare, FailedInvoice, MrrMovement, MrrPoint
from billing.revenue_rollups import revenue_rollups_rebuild

REPLAYED = ("invoice.", "customer.subscription.")


def revenue_rebuild(*, workspace) -> int:
    """Replay the workspace's processed invoice and subscription events in Stripe order; return
    how many were replayed. One transaction: figures never show a half-rebuilt state."""
    events = (
        StripeEvent.objects.filter(workspace=workspace, status=EventStatus.PROCESSED)
        .filter(Q(type__startswith=REPLAYED[0]) | Q(type__startswith=REPLAYED[1]))
        .order_by("created", "stripe_id")
    )
    with transaction.atomic():
        for model in (FailedInvoice, DiscountShare, MrrMovement, MrrPoint):
            model.objects.filter(workspace=workspace).delete()
        count = 0
        customers = {c.stripe_id: c for c in Customer.objects.filter(workspace=workspace)}
        for event in events.iterator():
            facts = normalize_event(event.payload if isinstance(event.payload, dict) else {})
            discounts_apply(event=event, facts=facts)
            customer = customers.get(facts.customer_id)
            if facts.subscription is not None:
                invoice_outcomes_subscription_canceled(event=event, state=facts.subscription)
            invoice_outcome_record(event=event, customer=customer, outcome=facts.invoice_outcome)
            mrr_points_record(event=event, customer=customer, facts=facts, rebuild=False)
            count += 1
        workspace_movements_rebuild(workspace=workspace)
        revenue_rollups_rebuild(workspace=workspace)
        customer_figures_rebuild(workspace=workspace)
    return count
