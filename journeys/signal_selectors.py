"""Reads the signal and customer pages share: where journeys put a signal or a customer."""

from dataclasses import dataclass

from django.db.models import Count, Max, Min

from billing.models import Customer, RevenueSignal
from journeys.models import SignalPlacement, Step


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
