"""Evidence from product and support tools: validation, idempotent batches, inbound sources.

Items arrive through the API in batches, or one by one from a source's signed webhook (PostHog's
webhook destination, received by billing.pipeline). Idempotency is the database's: a (workspace,
source, client id) seen before is ignored by a named constraint, never checked first.
"""

import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.models import Customer, Evidence
from custory.models import Workspace

MAX_BATCH = 500
PROPERTIES_MAX_BYTES = 16 * 1024
PROPERTIES_MAX_KEYS = 100
# PostHog event properties worth keeping beside the event's own (non-$) properties.
POSTHOG_KEPT_PROPERTIES = ("$current_url", "$browser", "$os", "$device_type", "$pathname")
CUSTOMER_ID_KEYS = ("stripe_customer_id", "stripe_id", "customer_id")


class EvidenceError(ValueError):
    """An item or payload that cannot be taken, with a sentence saying why."""


@dataclass(frozen=True)
class BatchResult:
    received: int
    created: int

    @property
    def duplicates(self) -> int:
        return self.received - self.created


def properties_validate(value: Any) -> dict:
    """A JSON object of at most 100 keys and 16 KiB; nested values are allowed."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise EvidenceError("properties must be a JSON object.")
    if len(value) > PROPERTIES_MAX_KEYS:
        raise EvidenceError(f"properties may have at most {PROPERTIES_MAX_KEYS} keys.")
    if any(not isinstance(key, str) or len(key) > 100 for key in value):
        raise EvidenceError("properties keys must be strings of at most 100 characters.")
    encoded = json.dumps(value, default=str)
    if len(encoded) > PROPERTIES_MAX_BYTES:
        raise EvidenceError("properties may be at most 16 KiB as JSON.")
    if "\\u0000" in encoded:
        raise EvidenceError("properties may not contain null characters.")
    return json.loads(json.dumps(value, default=str))


def _customers_for(workspace: Workspace, items: list[dict]) -> tuple[dict, dict]:
    """Customers named by the batch, by Stripe id and by lower-cased email: two queries."""
    ids = {i["customer_stripe_id"] for i in items if i["customer_stripe_id"]}
    emails = {i["customer_email"].lower() for i in items if i["customer_email"]}
    by_id, by_email = {}, {}
    if ids:
        by_id = {
            c.stripe_id: c for c in Customer.objects.filter(workspace=workspace, stripe_id__in=ids)
        }
    if emails:
        rows = (
            Customer.objects.filter(workspace=workspace)
            .annotate(email_lower=Lower("email"))
            .filter(email_lower__in=emails)
            .order_by("first_seen_at")
        )
        for customer in rows:
            by_email.setdefault(customer.email_lower, customer)
    return by_id, by_email


def customer_identifiers(customer: str) -> tuple[str, str]:
    """`cus_…` is a Stripe id, anything with an @ an email address."""
    customer = (customer or "").strip()
    if customer.startswith("cus_"):
        return customer, ""
    if "@" in customer:
        return "", customer
    raise EvidenceError("customer must be a Stripe customer id (cus_…) or an email address.")


@transaction.atomic
def evidence_record(*, workspace: Workspace, items: list[dict]) -> BatchResult:
    """Store a batch of clean items; items already stored (same source and client id) are skipped.

    Each item has customer_stripe_id, customer_email, source, kind, title, url, occurred_at,
    properties and client_id.
    """
    if len(items) > MAX_BATCH:
        raise EvidenceError(f"A batch holds at most {MAX_BATCH} items.")
    by_id, by_email = _customers_for(workspace, items)
    now = timezone.now()
    rows = []
    for item in items:
        customer = by_id.get(item["customer_stripe_id"]) or by_email.get(
            item["customer_email"].lower()
        )
        rows.append(
            Evidence(
                workspace=workspace,
                customer=customer,
                customer_stripe_id=item["customer_stripe_id"],
                customer_email=item["customer_email"],
                source=item["source"],
                kind=item["kind"],
                title=item["title"],
                url=item.get("url") or "",
                occurred_at=item["occurred_at"],
                properties=properties_validate(item.get("properties")),
                client_id=item["client_id"],
                received_at=now,
            )
        )
    Evidence.objects.bulk_create(rows, ignore_conflicts=True)
    # Rows of this batch carry its timestamp; a duplicate keeps its first one.
    created = Evidence.objects.filter(
        workspace=workspace, received_at=now, client_id__in=[r.client_id for r in rows]
    ).count()
    return BatchResult(received=len(rows), created=created)


def _text(value: Any, limit: int) -> str:
    return str(value).replace("\x00", "").strip()[:limit] if value is not None else ""


def posthog_item(payload: Any, *, source: str) -> dict:
    """One item from PostHog's webhook destination body: {"event": {...}, "person": {...}}."""
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), dict):
        raise EvidenceError('Expected PostHog\'s webhook body: {"event": {...}, "person": {...}}.')
    event = payload["event"]
    person = payload.get("person") if isinstance(payload.get("person"), dict) else {}
    event_props = event.get("properties") if isinstance(event.get("properties"), dict) else {}
    person_props = person.get("properties") if isinstance(person.get("properties"), dict) else {}
    set_props = event_props.get("$set") if isinstance(event_props.get("$set"), dict) else {}
    stripe_id = next(
        (
            _text(props.get(key), 255)
            for props in (event_props, person_props)
            for key in CUSTOMER_ID_KEYS
            if _text(props.get(key), 255).startswith("cus_")
        ),
        "",
    )
    email = next(
        (
            _text(value, 254)
            for value in (
                person_props.get("email"),
                set_props.get("email"),
                event_props.get("email"),
                event.get("distinct_id"),
            )
            if value and "@" in str(value)
        ),
        "",
    )
    if not stripe_id and not email:
        raise EvidenceError("The event names no customer: no stripe_customer_id and no email.")
    name = _text(event.get("event"), 64)
    uuid = _text(event.get("uuid"), 255)
    occurred_at = parse_datetime(_text(event.get("timestamp"), 64))
    if not name or not uuid or occurred_at is None:
        raise EvidenceError("The event needs its event name, uuid and an ISO timestamp.")
    if timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at, UTC)
    kept = {k: v for k, v in event_props.items() if not k.startswith("$")}
    kept.update({k: event_props[k] for k in POSTHOG_KEPT_PROPERTIES if k in event_props})
    if len(json.dumps(kept, default=str)) > PROPERTIES_MAX_BYTES:
        kept = {k: kept[k] for k in POSTHOG_KEPT_PROPERTIES if k in kept}
    who = _text(person.get("name"), 100)
    return {
        "customer_stripe_id": stripe_id,
        "customer_email": email,
        "source": source,
        "kind": name,
        "title": f"{name} by {who}" if who else name,
        "url": _text(event.get("url"), 1000),
        "occurred_at": occurred_at,
        "properties": dict(list(kept.items())[:PROPERTIES_MAX_KEYS]),
        "client_id": uuid,
    }
