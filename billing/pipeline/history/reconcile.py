"""Sync health: what we hold against what Stripe lists now. Current subscriptions and MRR
compared per customer with every difference explained, and the events of Stripe's last 30
days that never reached us (gaps), which can be fetched."""

from dataclasses import dataclass, field

from django.utils import timezone

from billing.event_types import PROCESSED_EVENT_TYPES
from billing.models import (
    STRIPE_EVENT_RETENTION,
    EventSource,
    StripeConnection,
    StripeEvent,
    Subscription,
)
from billing.normalize.subscriptions import COUNTED_STATUSES, subscription_state
from billing.pipeline.connections import api_key_for
from billing.pipeline.history import client
from billing.pipeline.ingest import events_store
from billing.pipeline.stripe_api import EVENTS_TYPES_PER_REQUEST, StripeAPIError
from custory import crypto

# Reconciliation reads at most this many pages of each list (100 objects a page).
MAX_PAGES = 200


@dataclass(frozen=True)
class Difference:
    customer_id: str
    subscription_id: str
    why: str


@dataclass
class Reconciliation:
    ours_mrr: int = 0
    stripe_mrr: int = 0
    ours_count: int = 0
    stripe_count: int = 0
    differences: list[Difference] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return not self.differences and not self.gaps


def _list_all(connection: StripeConnection, path: str, permission: str, params: dict):
    try:
        api_key = api_key_for(connection) if connection.is_active else ""
    except crypto.InvalidToken:
        api_key = ""
    if not api_key:
        raise StripeAPIError("This connection has no API key to ask Stripe with.", kind="no_key")
    budget = client.RateBudget(client.default_rate(connection.livemode))
    after = None
    for _ in range(MAX_PAGES):
        page_params = {**params, "limit": 100, **({"starting_after": after} if after else {})}
        page = client.list_page(
            api_key=api_key, path=path, params=page_params, budget=budget, permission=permission
        )
        yield from page.data
        if not page.has_more or not page.data:
            return
        after = page.data[-1]["id"]


def _stripe_subscriptions(connection: StripeConnection) -> dict[str, tuple[str, str, int]]:
    """Stripe's current subscriptions that count in MRR: id → (customer, status, MRR)."""
    live = {}
    for sub in _list_all(connection, "/v1/subscriptions", "Subscriptions: Read", {}):
        state = subscription_state(sub)
        if state.status in COUNTED_STATUSES:
            live[state.stripe_id] = (state.customer_id, state.status, state.mrr)
    return live


def _our_subscriptions(connection: StripeConnection) -> dict[str, tuple[str, str, int]]:
    rows = Subscription.objects.filter(
        workspace_id=connection.workspace_id, customer__connection=connection
    ).values_list("stripe_id", "customer__stripe_id", "status", "mrr")
    return {sub: (customer, status, mrr) for sub, customer, status, mrr in rows}


def _explain(sub_id: str, ours, theirs) -> str | None:
    if ours is None:
        return f"Stripe lists it {theirs[1]} at MRR {theirs[2]}; we never received it."
    if ours[1] not in COUNTED_STATUSES:
        return f"We have it {ours[1] or 'without status'}; Stripe lists it {theirs[1]}."
    if ours[2] != theirs[2]:
        return f"MRR differs: ours {ours[2]}, Stripe's {theirs[2]} (a plan change we missed?)."
    if ours[1] != theirs[1]:
        return f"Status differs: ours {ours[1]}, Stripe's {theirs[1]}."
    return None


def reconcile(*, connection: StripeConnection, gaps: bool = True) -> Reconciliation:
    """Compare our current subscriptions and MRR with Stripe's live list (and look for gaps)."""
    theirs = _stripe_subscriptions(connection)
    ours = _our_subscriptions(connection)
    counted = {k: v for k, v in ours.items() if v[1] in COUNTED_STATUSES}
    result = Reconciliation(
        ours_mrr=sum(v[2] for v in counted.values()),
        stripe_mrr=sum(v[2] for v in theirs.values()),
        ours_count=len(counted),
        stripe_count=len(theirs),
    )
    for sub_id, live in sorted(theirs.items()):
        why = _explain(sub_id, ours.get(sub_id), live)
        if why:
            result.differences.append(Difference(live[0], sub_id, why))
    for sub_id, held in sorted(counted.items()):
        if sub_id not in theirs:
            why = f"We count it {held[1]} at MRR {held[2]}; Stripe no longer lists it as live."
            result.differences.append(Difference(held[0], sub_id, why))
    result.differences.sort(key=lambda d: (d.customer_id, d.subscription_id))
    if gaps:
        result.gaps = sorted(e["id"] for e in missing_events(connection=connection))
    return result


def missing_events(*, connection: StripeConnection) -> list[dict]:
    """Events of the types we process that Stripe lists for its last 30 days and we lack."""
    since = int((timezone.now() - STRIPE_EVENT_RETENTION).timestamp())
    types = list(PROCESSED_EVENT_TYPES)
    listed: dict[str, dict] = {}
    for n in range(0, len(types), EVENTS_TYPES_PER_REQUEST):
        params = {"types": types[n : n + EVENTS_TYPES_PER_REQUEST], "created": {"gte": since}}
        for event in _list_all(connection, "/v1/events", "Events: Read", params):
            listed[event["id"]] = event
    have = set(
        StripeEvent.objects.filter(
            workspace_id=connection.workspace_id, stripe_id__in=list(listed)
        ).values_list("stripe_id", flat=True)
    )
    return [event for event_id, event in listed.items() if event_id not in have]


def gaps_fetch(*, connection: StripeConnection) -> int:
    """Store the missing events (their processing is queued); return how many."""
    missing = missing_events(connection=connection)
    return events_store(connection=connection, payloads=missing, source=EventSource.IMPORT)
