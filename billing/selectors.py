"""Reads the signal and customer pages share: journey context, timelines, customer search."""

from dataclasses import dataclass

from django.db.models import Count, Exists, Max, Min, OuterRef, Q

from billing.models import Customer, RevenueSignal, Subscription
from journeys.board_selectors import at_risk_subscriptions
from journeys.models import SignalPlacement, Step

TIMELINE_AROUND = 5
CUSTOMER_TIMELINE_LIMIT = 200


@dataclass
class JourneyContext:
    """Where one journey puts a signal: its step, and the steps before and after it."""

    placement: SignalPlacement
    previous: Step | None
    next: Step | None


def signal_journey_context(signal: RevenueSignal) -> list[JourneyContext]:
    """Per journey, the signal's step with its neighbours: two queries whatever the journeys."""
    placements = list(
        SignalPlacement.objects.filter(signal=signal).select_related(
            "journey__workspace", "step__workspace", "step__stage", "rule"
        )
    )
    steps_by_journey: dict[int, list[Step]] = {}
    for step in (
        Step.objects.filter(journey_id__in=[p.journey_id for p in placements if p.step_id])
        .select_related("workspace")
        .order_by("journey_id", "stage__position", "stage_id", "position", "id")
    ):
        steps_by_journey.setdefault(step.journey_id, []).append(step)
    contexts = []
    for placement in placements:
        previous = following = None
        steps = steps_by_journey.get(placement.journey_id, [])
        ids = [s.pk for s in steps]
        if placement.step_id in ids:
            at = ids.index(placement.step_id)
            previous = steps[at - 1] if at > 0 else None
            following = steps[at + 1] if at + 1 < len(steps) else None
        contexts.append(JourneyContext(placement, previous, following))
    return contexts


def signal_timeline_around(signal: RevenueSignal) -> tuple[list, list]:
    """The customer's signals just before and just after this one (newest first in each)."""
    if not signal.customer_id:
        return [], []
    mine = (
        RevenueSignal.objects.filter(customer_id=signal.customer_id)
        .exclude(pk=signal.pk)
        .select_related("workspace")
    )
    before = mine.filter(
        Q(occurred_at__lt=signal.occurred_at) | Q(occurred_at=signal.occurred_at, id__lt=signal.pk)
    ).order_by("-occurred_at", "-id")[:TIMELINE_AROUND]
    after = mine.filter(
        Q(occurred_at__gt=signal.occurred_at) | Q(occurred_at=signal.occurred_at, id__gt=signal.pk)
    ).order_by("occurred_at", "id")[:TIMELINE_AROUND]
    return list(reversed(list(after))), list(before)


def customer_search(workspace, *, q: str = "", at_risk: bool = False):
    customers = (
        Customer.objects.for_workspace(workspace)
        .select_related("workspace")
        .annotate(
            at_risk=Exists(at_risk_subscriptions(workspace).filter(customer_id=OuterRef("pk")))
        )
    )
    q = (q or "").strip()
    if q:
        customers = customers.filter(Q(email__icontains=q) | Q(name__icontains=q) | Q(stripe_id=q))
    if at_risk:
        customers = customers.filter(
            pk__in=at_risk_subscriptions(workspace).values("customer_id")
        ).order_by("-mrr", "-first_seen_at")
    return customers


def customer_timeline(customer: Customer, limit: int = CUSTOMER_TIMELINE_LIMIT):
    return list(
        RevenueSignal.objects.filter(customer=customer)
        .select_related("workspace")
        .order_by("-occurred_at", "-id")[:limit]
    )


def customer_steps(customer: Customer) -> list[dict]:
    """The journey steps the customer's signals were placed on, in journey order."""
    return list(
        SignalPlacement.objects.filter(signal__customer=customer, step__isnull=False)
        .values(
            "journey__name",
            "step__uuid",
            "step__name",
            "step__stage__name",
            "journey__position",
            "journey_id",
            "step__stage__position",
            "step__position",
        )
        .annotate(
            signals=Count("id"),
            first=Min("signal__occurred_at"),
            last=Max("signal__occurred_at"),
        )
        .order_by("journey__position", "journey_id", "step__stage__position", "step__position")
    )


def customer_subscriptions(customer: Customer):
    return list(Subscription.objects.filter(customer=customer).order_by("-state_as_of", "-id"))
