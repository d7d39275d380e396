"""Evidence on journey steps: rules that place evidence kinds on a step, and what a step shows."""

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from billing.models import Evidence
from custory.audit import audit_record
from journeys.models import EvidenceRule, Journey, Step

STEP_EVIDENCE_EXAMPLES = 10


class EvidenceRuleError(ValueError):
    pass


@transaction.atomic
def evidence_rule_create(*, step: Step, actor, kind: str, source: str = "") -> EvidenceRule:
    """Show evidence of `kind` (from `source`, or any) on `step`."""
    kind, source = (kind or "").strip()[:64], (source or "").strip()[:32]
    if not kind:
        raise EvidenceRuleError("Name the evidence kind, e.g. ticket_opened.")
    try:
        with transaction.atomic():
            rule = EvidenceRule.objects.create(
                workspace=step.workspace, journey=step.journey, step=step, kind=kind, source=source
            )
    except IntegrityError as error:
        raise EvidenceRuleError("This step already shows that evidence kind.") from error
    audit_record(
        workspace=step.workspace,
        actor=actor,
        action="evidence_rule.create",
        target=rule,
        target_label=f"{source or 'any source'}: {kind} → {step.name}",
        data={"kind": kind, "source": source, "step": step.name},
    )
    return rule


@transaction.atomic
def evidence_rule_delete(*, rule: EvidenceRule, actor) -> None:
    audit_record(
        workspace=rule.workspace,
        actor=actor,
        action="evidence_rule.delete",
        target=rule,
        target_label=f"{rule.source or 'any source'}: {rule.kind}",
        data={"kind": rule.kind, "source": rule.source, "step": rule.step.name},
    )
    rule.delete()


def evidence_rules_for(journey: Journey) -> list[EvidenceRule]:
    return list(journey.evidence_rules.select_related("step"))


@dataclass
class StepEvidence:
    rules: list[EvidenceRule]
    counts: list[dict]  # {"source", "kind", "count"} in the period
    latest: list[Evidence]


def _rules_q(rules: list[EvidenceRule]) -> Q:
    q = Q(pk__in=[])
    for rule in rules:
        q |= Q(kind=rule.kind, **({"source": rule.source} if rule.source else {}))
    return q


def step_evidence(*, step: Step, start: datetime, end: datetime) -> StepEvidence:
    """The evidence kinds placed on the step, counted over the period, with the latest items."""
    rules = list(step.evidence_rules.all())
    if not rules:
        return StepEvidence(rules=[], counts=[], latest=[])
    items = Evidence.objects.filter(
        _rules_q(rules), workspace=step.workspace, occurred_at__gte=start, occurred_at__lt=end
    )
    counts = list(
        items.values("source", "kind").annotate(count=Count("id")).order_by("-count", "kind")
    )
    latest = list(
        items.select_related("customer__workspace").order_by("-occurred_at", "-id")[
            :STEP_EVIDENCE_EXAMPLES
        ]
    )
    return StepEvidence(rules=rules, counts=counts, latest=latest)
