"""What the history import lists, in which order, and how each listing is cut in time slices."""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

from billing.event_types import PROCESSED_EVENT_TYPES
from billing.pipeline.stripe_api import EVENTS_TYPES_PER_REQUEST

# Stripe's launch: nothing in an account is older (the lower bound of "all history").
STRIPE_EPOCH = 1293840000  # 2011-01-01


@dataclass(frozen=True)
class Listing:
    name: str
    path: str
    permission: str
    # Listings of a wave run side by side; a wave starts when the previous one is done.
    wave: int
    params: dict = field(default_factory=dict)


LISTINGS: tuple[Listing, ...] = (
    Listing("products", "/v1/products", "Prices and Products: Read", 1),
    Listing("customers", "/v1/customers", "Customers: Read", 1),
    Listing("invoices", "/v1/invoices", "Invoices: Read", 1),
    Listing("charges", "/v1/charges", "Charges and Refunds: Read", 1),
    Listing("refunds", "/v1/refunds", "Charges and Refunds: Read", 1, {"expand": ["data.charge"]}),
    Listing("disputes", "/v1/disputes", "Disputes: Read", 1),
    Listing("checkout_sessions", "/v1/checkout/sessions", "Checkout Sessions: Read", 1),
    # After invoices: a subscription's plan changes are dated by its invoices' plans.
    Listing("subscriptions", "/v1/subscriptions", "Subscriptions: Read", 2, {"status": "all"}),
    # Last: the events Stripe still keeps refine what objects gave.
    Listing("events", "/v1/events", "Events: Read", 3),
)
PRICES = Listing("prices", "/v1/prices", "Prices and Products: Read", 0)
WAVES = sorted({listing.wave for listing in LISTINGS})


@dataclass(frozen=True)
class Unit:
    """One listing over one time slice [gte, lt), or one batch of event types."""

    key: str
    listing: Listing
    gte: int
    lt: int
    types: tuple[str, ...] = ()

    def params(self, starting_after: str | None) -> dict:
        limit = min(max(settings.CUSTORY_IMPORT_PAGE_SIZE, 1), 100)
        params: dict = {**self.listing.params, "limit": limit, "created": {"gte": self.gte}}
        if self.lt:
            params["created"]["lt"] = self.lt
        if self.types:
            params["types"] = list(self.types)
        if starting_after:
            params["starting_after"] = starting_after
        return params


def slice_bounds(gte: int, lt: int, slices: int) -> list[tuple[int, int]]:
    """[gte, lt) cut in `slices` parts, the recent ones shorter (accounts grow over time)."""
    slices = max(slices, 1)
    span = max(lt - gte, slices)
    # Quadratic spacing: older slices cover more time, each about as full as the others.
    cuts = [gte + int(span * (1 - ((slices - n) / slices) ** 2)) for n in range(slices + 1)]
    cuts[-1] = lt
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def units_for(*, since: datetime | None, until: int, events_since: int, slices: int) -> list[Unit]:
    """Every unit of work of an import, in wave order."""
    gte = int(since.timestamp()) if since else STRIPE_EPOCH
    units: list[Unit] = []
    for listing in LISTINGS:
        if listing.name == "events":
            types = list(PROCESSED_EVENT_TYPES)
            for n in range(0, len(types), EVENTS_TYPES_PER_REQUEST):
                batch = tuple(types[n : n + EVENTS_TYPES_PER_REQUEST])
                units.append(
                    Unit(f"events:{n // EVENTS_TYPES_PER_REQUEST}", listing, events_since, 0, batch)
                )
            continue
        count = 1 if listing.name == "products" else slices
        for index, (low, high) in enumerate(slice_bounds(gte, until, count)):
            units.append(Unit(f"{listing.name}:{index}", listing, low, high))
    return units
