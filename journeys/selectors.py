"""Reads the journey editor shares: the structure, rule previews, the Unmapped lane, remaps."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.models import RevenueSignal, SignalKind
from custory.access import get_object_for_member
from journeys.conditions import conditions_describe, signal_matches
from journeys.models import Journey, MappingRule, RemapRun, SignalPlacement, Stage, Step
from journeys.placement import choose_rule, journey_rules

PREVIEW_DAYS = 30
# The preview reads at most this many recent signals of the chosen kinds.
PREVIEW_SCAN_LIMIT = 5000
PREVIEW_EXAMPLES = 5


def journeys_for_list(workspace) -> list[Journey]:
    """The workspace's journeys, default first, each with its unmapped and rule counts."""
    unmapped = SignalPlacement.objects.filter(journey=OuterRef("pk"), step__isnull=True)
    rules = MappingRule.objects.filter(journey=OuterRef("pk"))
    return list(
        Journey.objects.for_workspace(workspace).annotate(
            unmapped_count=_count(unmapped), rule_count=_count(rules)
        )
    )


def _count(queryset) -> Subquery:
    counted = queryset.order_by().values("journey").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), 0)


def journey_structure(journey: Journey) -> list[Stage]:
    """The journey's stages with their steps (each with a count of placed signals)."""
    steps = Step.objects.filter(journey=journey).annotate(signal_count=Count("placements"))
    return list(
        Stage.objects.filter(journey=journey).prefetch_related(
            Prefetch("steps", queryset=steps.order_by("position", "id"))
        )
    )


def journey_rules_for_list(journey: Journey) -> list[MappingRule]:
    """The journey's rules in the order they are tried, each with a readable conditions_text."""
    rules = list(
        MappingRule.objects.filter(journey=journey)
        .select_related("step__stage")
        .order_by("priority", "id")
    )
    for rule in rules:
        rule.conditions_text = conditions_describe(rule.conditions or {})
        rule.kind_labels = [SignalKind(k).label for k in rule.kinds if k in SignalKind.values]
    return rules


def remap_latest(journey: Journey) -> RemapRun | None:
    return RemapRun.objects.filter(journey=journey).first()


@dataclass
class RulePreview:
    matched: int = 0
    # Of the matched, how many this rule would actually place (earlier rules claim the others).
    claimed: int = 0
    scanned: int = 0
    truncated: bool = False
    examples: list[RevenueSignal] = field(default_factory=list)


def rule_preview(
    *,
    journey: Journey,
    kinds: list[str],
    conditions: dict[str, Any],
    priority: int | None,
    rule: MappingRule | None = None,
) -> RulePreview:
    """How many of the last 30 days' signals the rule would match, with a few examples."""
    preview = RulePreview()
    if not kinds:
        return preview
    since = timezone.now() - timedelta(days=PREVIEW_DAYS)
    signals = list(
        RevenueSignal.objects.for_workspace(journey.workspace)
        .filter(kind__in=kinds, occurred_at__gte=since)
        .select_related("customer", "workspace")
        .order_by("-occurred_at", "-id")[: PREVIEW_SCAN_LIMIT + 1]
    )
    preview.truncated = len(signals) > PREVIEW_SCAN_LIMIT
    signals = signals[:PREVIEW_SCAN_LIMIT]
    preview.scanned = len(signals)
    earlier = [
        r
        for r in journey_rules(journey)
        if (rule is None or r.pk != rule.pk) and (priority is None or r.priority < priority)
    ]
    for signal in signals:
        if not signal_matches(conditions, signal):
            continue
        preview.matched += 1
        if choose_rule(earlier, signal) is None:
            preview.claimed += 1
        if len(preview.examples) < PREVIEW_EXAMPLES:
            preview.examples.append(signal)
    return preview


@dataclass
class UnmappedGroup:
    kind: str
    label: str
    count: int
    examples: list[RevenueSignal]


def unmapped_groups(journey: Journey, examples: int = 5) -> list[UnmappedGroup]:
    """The journey's unclaimed signals by kind, most numerous first, with recent examples."""
    lane = SignalPlacement.objects.filter(journey=journey, step__isnull=True)
    counts = lane.values("signal__kind").annotate(n=Count("id")).order_by("-n")
    groups = []
    for row in counts:
        kind = row["signal__kind"]
        recent = list(
            RevenueSignal.objects.filter(
                placements__journey=journey, placements__step__isnull=True, kind=kind
            )
            .select_related("customer", "workspace")
            .order_by("-occurred_at", "-id")[:examples]
        )
        groups.append(UnmappedGroup(kind, SignalKind(kind).label, row["n"], recent))
    return groups


def journey_for_member(request, uuid) -> Journey:
    """The current workspace's journey with this uuid, or 404."""
    return get_object_for_member(request, Journey.objects.select_related("workspace"), uuid=uuid)
