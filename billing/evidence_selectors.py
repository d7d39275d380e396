"""Reads of evidence beside revenue signals: a customer's timeline, the run-up to a signal."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max

from billing.models import Customer, Evidence, RevenueSignal

BEFORE_WINDOW = timedelta(days=30)
TIMELINE_LIMIT = 200


@dataclass(frozen=True)
class KindSummary:
    source: str
    kind: str
    count: int
    last_at: datetime
    before: timedelta  # from the last one to the moment summarized

    @property
    def label(self) -> str:
        return self.kind.replace("_", " ").lstrip("$")

    @property
    def phrase(self) -> str:
        days = self.before.days
        ago = f"{days} day{'s' if days != 1 else ''}" if days else "the same day"
        last = f"last {ago} before" if days else f"last {ago}"
        return f"{self.count} × {self.label} ({last})"


def customer_evidence(customer: Customer, limit: int = TIMELINE_LIMIT) -> list[Evidence]:
    return list(Evidence.objects.filter(customer=customer).order_by("-occurred_at", "-id")[:limit])


def evidence_before(signal: RevenueSignal, window: timedelta = BEFORE_WINDOW) -> list[KindSummary]:
    """Per source and kind, the customer's evidence in the 30 days before the signal: one query."""
    if not signal.customer_id:
        return []
    rows = (
        Evidence.objects.filter(
            customer_id=signal.customer_id,
            occurred_at__lte=signal.occurred_at,
            occurred_at__gt=signal.occurred_at - window,
        )
        .values("source", "kind")
        .annotate(count=Count("id"), last_at=Max("occurred_at"))
        .order_by("-count", "kind")
    )
    return [
        KindSummary(
            source=row["source"],
            kind=row["kind"],
            count=row["count"],
            last_at=row["last_at"],
            before=signal.occurred_at - row["last_at"],
        )
        for row in rows
    ]


def evidence_before_sentence(summaries: list[KindSummary]) -> str:
    """ "Before this: 3 × ticket opened (last 2 days before), 1 × login (last 24 days before)"."""
    if not summaries:
        return ""
    return "Before this: " + ", ".join(s.phrase for s in summaries[:6])
