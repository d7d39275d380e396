"""Discounts given only as ids (basil): valued from the invoices that show them, in any order.

An invoice's `total_discount_amounts` says what share of its subtotal each discount took off;
that share, kept per discount (newest invoice wins), lowers the MRR of every subscription
naming the discount, including MRR points recorded before the invoice arrived.
"""

from decimal import Decimal

from billing.customer_figures import customer_figures_refresh
from billing.models import Customer, StripeEvent
from billing.mrr_ledger import customer_movements_rebuild
from billing.normalize import Facts
from billing.revenue_models import DiscountShare, MrrPoint
from custory.money import round_minor


def discounted(gross: int, ids: list[str], shares: dict[str, Decimal]) -> int:
    value = Decimal(gross)
    for discount in ids:
        value *= Decimal(1) - shares.get(discount, Decimal(0))
    return max(round_minor(value), 0)


def shares_of(workspace_id: int, ids: list[str]) -> dict[str, Decimal]:
    if not ids:
        return {}
    return dict(
        DiscountShare.objects.filter(workspace_id=workspace_id, discount_id__in=ids).values_list(
            "discount_id", "share"
        )
    )


def discounts_apply(*, event: StripeEvent, facts: Facts) -> None:
    """Keep what an invoice says about its discounts and revalue what names them; value the
    event's own subscription with what is known."""
    changed = []
    for discount, share in sorted(facts.discount_shares.items()):
        if _share_record(event, discount[:255], Decimal(str(share))):
            changed.append(discount[:255])
    if changed:
        _points_revalue(event.workspace_id, changed)
    state = facts.subscription
    if state is not None and state.discount_ids:
        state.mrr = discounted(
            state.mrr, state.discount_ids, shares_of(event.workspace_id, state.discount_ids)
        )


def _share_record(event: StripeEvent, discount: str, share: Decimal) -> bool:
    """Insert, or replace an older invoice's share; True when the stored share changed."""
    rows = DiscountShare.objects.filter(workspace_id=event.workspace_id, discount_id=discount)
    before = rows.values_list("share", flat=True).first()
    newer = rows.filter(as_of__lt=event.created) | rows.filter(
        as_of=event.created, event_stripe_id__lt=event.stripe_id
    )
    if before is None:
        DiscountShare.objects.bulk_create(
            [
                DiscountShare(
                    workspace_id=event.workspace_id,
                    discount_id=discount,
                    share=share,
                    as_of=event.created,
                    event_stripe_id=event.stripe_id,
                )
            ],
            ignore_conflicts=True,
        )
    else:
        newer.update(share=share, as_of=event.created, event_stripe_id=event.stripe_id)
    return rows.values_list("share", flat=True).first() != before


def _points_revalue(workspace_id: int, discounts: list[str]) -> None:
    """Points naming these discounts take their new value; their customers' movements follow."""
    customers = set()
    points = MrrPoint.objects.filter(workspace_id=workspace_id, paid=False).exclude(discount_ids=[])
    for point in points:
        if not set(point.discount_ids) & set(discounts):
            continue
        value = discounted(
            point.gross_mrr, point.discount_ids, shares_of(workspace_id, point.discount_ids)
        )
        if value != point.mrr:
            MrrPoint.objects.filter(pk=point.pk).update(mrr=value)
            customers.add(point.customer_id)
    for customer in Customer.objects.filter(pk__in=customers):
        customer_movements_rebuild(customer=customer)
    customer_figures_refresh(customer_ids=customers)
