"""Customer-level MRR history: points from events, movements rebuilt from them in time order.

A customer's MRR at any moment is the sum of its subscriptions' counted MRR then. Each change
of that sum is one movement (new, expansion, contraction, churn, reactivation), so over any
period the movements add up exactly to the change in MRR, whatever order events arrived in.
"""

from collections import defaultdict
from dataclasses import dataclass
from itertools import groupby

from billing.models import Customer, StripeEvent
from billing.normalize import Facts
from billing.revenue_models import MovementKind, MrrMovement, MrrPoint, RevenueSettings
from billing.revenue_rollups import mrr_rollups_change
from custory.bulk_sql import rows_insert

# Statuses whose MRR counts; `trialing` only when the workspace counts trials from the start.
PAYING_STATUSES = frozenset({"active", "past_due"})
INVOLUNTARY_STATUSES = frozenset({"unpaid"})
ENDED_STATUSES = frozenset({"canceled", "unpaid", "incomplete_expired", "paused"})
M = MovementKind


def trials_from_start(workspace_id: int) -> bool:
    return bool(
        RevenueSettings.objects.filter(workspace_id=workspace_id)
        .values_list("count_trials_from_start", flat=True)
        .first()
    )


def mrr_points_record(
    *, event: StripeEvent, customer: Customer | None, facts: Facts, rebuild: bool = True
) -> None:
    """Keep what the event says about its subscription's MRR, then rebuild the customer's
    movements (the customer row is locked, so concurrent events rebuild one after another)."""
    points = mrr_points_of(event=event, customer=customer, facts=facts)
    if not points:
        return
    MrrPoint.objects.bulk_create(points, ignore_conflicts=True)
    if rebuild:
        Customer.objects.select_for_update().filter(pk=customer.pk).first()
        customer_movements_rebuild(customer=customer)


def mrr_points_of(*, event: StripeEvent, customer: Customer | None, facts: Facts) -> list[MrrPoint]:
    """The MRR points an event gives its customer (unsaved)."""
    if customer is None:
        return []
    points = []
    state = facts.subscription
    base = {"workspace_id": event.workspace_id, "customer": customer, "at": event.created}
    if state is not None and state.stripe_id:
        churn = ""
        for signal in facts.signals:
            churn = churn or signal.details.get("churn_type", "")
        points.append(
            MrrPoint(
                **base,
                subscription_stripe_id=state.stripe_id[:255],
                event_stripe_id=event.stripe_id,
                status=state.status[:32],
                mrr=state.mrr,
                currency=state.currency[:3],
                had_trial=state.trial_end is not None or state.status == "trialing",
                churn_type=churn,
                gross_mrr=state.gross_mrr,
                discount_ids=list(state.discount_ids),
            )
        )
    paid = facts.paid_invoice
    if paid is not None and paid.amount > 0 and facts.subscription_id:
        points.append(
            MrrPoint(
                **base,
                subscription_stripe_id=facts.subscription_id[:255],
                event_stripe_id=event.stripe_id,
                currency=paid.currency[:3],
                paid=True,
            )
        )
    return points


@dataclass
class _Sub:
    status: str = ""
    mrr: int = 0
    currency: str = ""
    had_trial: bool = False
    paid: bool = False
    churn_type: str = ""

    def counted(self, from_start: bool) -> int:
        if self.status == "trialing":
            return self.mrr if from_start else 0
        if self.status not in PAYING_STATUSES:
            return 0
        return self.mrr if (from_start or self.paid or not self.had_trial) else 0


def customer_movements_rebuild(*, customer: Customer, from_start: bool | None = None) -> None:
    """Replace the customer's movements by those its points imply."""
    customers_movements_rebuild(customers=[customer], from_start=from_start)


def customers_movements_rebuild(
    *, customers: list[Customer], from_start: bool | None = None
) -> None:
    """customer_movements_rebuild for many customers at once: one read, one delete, one insert."""
    if not customers:
        return
    by_pk = {customer.pk: customer for customer in customers}
    trials = {
        ws: trials_from_start(ws) if from_start is None else from_start
        for ws in {customer.workspace_id for customer in customers}
    }
    points = defaultdict(list)
    # As tuples: a long-lived customer has many points, and model instances cost more than the
    # rebuild itself.
    for point in (
        MrrPoint.objects.filter(customer_id__in=by_pk)
        .order_by("customer_id", "at", "event_stripe_id", "subscription_stripe_id")
        .values_list("customer_id", *POINT_FIELDS, named=True)
    ):
        points[point.customer_id].append(point)
    movements = [
        MrrMovement(
            workspace_id=customer.workspace_id,
            customer=customer,
            connection_id=customer.connection_id,
            livemode=customer.livemode,
            at=at,
            kind=kind,
            currency=currency,
            amount=amount,
            mrr_after=after,
        )
        for customer in by_pk.values()
        for at, kind, currency, amount, after in movements_of(
            points[customer.pk], trials[customer.workspace_id]
        )
    ]
    previous = MrrMovement.objects.filter(customer_id__in=by_pk)
    removed = list(
        previous.values_list(
            "workspace_id",
            "connection_id",
            "livemode",
            "at",
            "kind",
            "currency",
            "amount",
            named=True,
        )
    )
    previous.delete()
    rows_insert(MrrMovement, movements)
    mrr_rollups_change(removed=removed, added=movements)


# What movements_of reads of a point.
POINT_FIELDS = (
    "at",
    "subscription_stripe_id",
    "status",
    "mrr",
    "currency",
    "had_trial",
    "paid",
    "churn_type",
)


def movements_of(points: list[MrrPoint], from_start: bool) -> list[tuple]:
    """(at, kind, currency, amount, mrr after) for each change of the customer's MRR; points of
    the same second are one change (a plan swapped for another is no churn)."""
    subs: dict[str, _Sub] = defaultdict(_Sub)
    mrr: dict[str, int] = defaultdict(int)
    paid_before: set[str] = set()
    out = []
    for at, group in groupby(points, key=lambda p: p.at):
        group = list(group)
        ended_trials = _apply(subs, group, from_start)
        after: dict[str, int] = defaultdict(int)
        for sub in subs.values():
            after[sub.currency] += sub.counted(from_start)
        for currency in sorted(set(mrr) | set(after)):
            kind = _kind(mrr[currency], after[currency], currency in paid_before, group)
            if kind:
                out.append((at, kind, currency, after[currency] - mrr[currency], after[currency]))
            if after[currency] > 0:
                paid_before.add(currency)
        for currency in ended_trials:
            out.append((at, M.TRIAL_NOT_CONVERTED, currency, 0, after[currency]))
        mrr = after
    return out


def _apply(subs: dict[str, _Sub], group: list[MrrPoint], from_start: bool) -> list[str]:
    """Move the subscriptions to the group's state; return the currencies of trials that ended
    before their first payment."""
    ended = []
    for point in group:
        sub = subs[point.subscription_stripe_id]
        if point.paid:
            sub.paid = True
            sub.currency = sub.currency or point.currency
            continue
        was_open_trial = sub.had_trial and not sub.paid and sub.status not in ENDED_STATUSES
        sub.status, sub.mrr = point.status, point.mrr
        sub.currency = point.currency or sub.currency
        sub.had_trial = sub.had_trial or point.had_trial
        sub.churn_type = point.churn_type or sub.churn_type
        if was_open_trial and sub.status in ENDED_STATUSES and not sub.paid:
            ended.append(sub.currency)
    return ended


def _kind(before: int, after: int, paid_before: bool, group: list[MrrPoint]) -> str | None:
    if after == before:
        return None
    if before == 0:
        return M.REACTIVATION if paid_before else M.NEW
    if after == 0:
        involuntary = any(
            p.status in INVOLUNTARY_STATUSES or p.churn_type == "involuntary" for p in group
        )
        return M.CHURN_INVOLUNTARY if involuntary else M.CHURN_VOLUNTARY
    return M.EXPANSION if after > before else M.CONTRACTION


def workspace_movements_rebuild(*, workspace) -> int:
    """Rebuild every customer's movements (after the trial setting changed); how many."""
    from_start = trials_from_start(workspace.pk)
    done = 0
    for customer in Customer.objects.filter(
        workspace=workspace, mrr_points__isnull=False
    ).distinct():
        customer_movements_rebuild(customer=customer, from_start=from_start)
        done += 1
    return done
