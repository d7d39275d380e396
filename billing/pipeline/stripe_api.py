"""The few Stripe API calls Custory makes, through the official library, with errors made human.

Every call takes the restricted key explicitly (never a global) and raises StripeAPIError whose
message is safe to show an admin: it names what failed and what to do, and never echoes a key.
"""

import re
from dataclasses import dataclass

import stripe
from django.conf import settings

# Stripe's /v1/events accepts at most this many entries in `types`.
EVENTS_TYPES_PER_REQUEST = 20
EVENTS_PAGE_SIZE = 100

_SECRET_PATTERN = re.compile(r"\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*]+|\bwhsec_[A-Za-z0-9+/=*_-]+")


class StripeAPIError(Exception):
    """A Stripe API call failed; `message` is written for the admin, `kind` for code and tests."""

    def __init__(self, message: str, *, kind: str):
        super().__init__(message)
        self.message = message
        self.kind = kind


@dataclass(frozen=True)
class AccountInfo:
    id: str
    name: str
    livemode: bool | None
    default_currency: str = ""


@dataclass(frozen=True)
class EventsPage:
    events: list[dict]
    has_more: bool


@dataclass(frozen=True)
class CreatedEndpoint:
    id: str
    secret: str


def redact(text: str) -> str:
    """Replace anything shaped like a Stripe key or webhook secret with a placeholder."""
    return _SECRET_PATTERN.sub("[redacted]", text or "")


def _client(api_key: str) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=getattr(settings, "STRIPE_MAX_NETWORK_RETRIES", 2),
        # A web request verifying a key must not hang for the library's 80 s default.
        http_client=stripe.RequestsClient(timeout=getattr(settings, "STRIPE_API_TIMEOUT", 15)),
    )


def _human_error(error: stripe.StripeError, *, doing: str, permission: str) -> StripeAPIError:
    """Turn a library exception into a message that says what happened and what to do."""
    if isinstance(error, stripe.AuthenticationError):
        # The library does not copy `code` onto AuthenticationError; read it from the body.
        body = error.json_body if isinstance(error.json_body, dict) else {}
        if (body.get("error") or {}).get("code") == "api_key_expired":
            return StripeAPIError(
                "Stripe says this API key has expired. Create a new restricted key in the "
                "Stripe dashboard (Developers → API keys) and paste it here.",
                kind="expired_key",
            )
        return StripeAPIError(
            "Stripe did not accept this API key: it is invalid, or it was deleted or rolled in "
            "the Stripe dashboard. Check that you copied the whole key, or create a new "
            "restricted key.",
            kind="invalid_key",
        )
    if isinstance(error, stripe.PermissionError):
        return StripeAPIError(
            f"This restricted key may not {doing}. In the Stripe dashboard, edit the key and "
            f"set “{permission}”, then try again.",
            kind="permission",
        )
    if isinstance(error, stripe.RateLimitError):
        return StripeAPIError(
            "Stripe is limiting how fast requests can be made right now. Nothing was changed; "
            "wait a minute and try again.",
            kind="rate_limit",
        )
    if isinstance(error, stripe.APIConnectionError):
        return StripeAPIError(
            "Custory could not reach Stripe (network error or timeout). Nothing was changed; "
            "try again in a moment.",
            kind="network",
        )
    detail = redact(getattr(error, "user_message", None) or "")
    return StripeAPIError(
        f"Stripe refused to {doing}" + (f": {detail}" if detail else ".") + " Nothing was changed.",
        kind="stripe_error",
    )


def account_retrieve(*, api_key: str) -> AccountInfo:
    """Fetch the account the key belongs to: its id, display name and (when given) livemode."""
    try:
        account = _client(api_key).v1.accounts.retrieve_current()
    except stripe.StripeError as error:
        raise _human_error(
            error, doing="read the account details", permission="Account: Read"
        ) from None
    data = account.to_dict()
    dashboard = (data.get("settings") or {}).get("dashboard") or {}
    profile = data.get("business_profile") or {}
    name = dashboard.get("display_name") or profile.get("name") or data.get("email") or ""
    livemode = data.get("livemode")
    return AccountInfo(
        id=data.get("id") or "",
        name=name,
        livemode=bool(livemode) if livemode is not None else None,
        default_currency=str(data.get("default_currency") or ""),
    )


def events_page(
    *, api_key: str, types: list[str], created_gte: int, starting_after: str | None = None
) -> EventsPage:
    """One page of events, newest first, of the given types created at or after the timestamp."""
    params: dict = {
        "types": list(types),
        "created": {"gte": created_gte},
        "limit": EVENTS_PAGE_SIZE,
    }
    if starting_after:
        params["starting_after"] = starting_after
    try:
        page = _client(api_key).v1.events.list(params=params)
    except stripe.StripeError as error:
        raise _human_error(error, doing="list events", permission="Events: Read") from None
    return EventsPage(events=[event.to_dict() for event in page.data], has_more=page.has_more)


def webhook_endpoint_create(
    *, api_key: str, url: str, enabled_events: list[str]
) -> CreatedEndpoint:
    """Create a webhook endpoint in the key's Stripe account; return its id and signing secret."""
    params = {
        "url": url,
        "enabled_events": list(enabled_events),
        "description": "Custory revenue signals",
    }
    try:
        endpoint = _client(api_key).v1.webhook_endpoints.create(params=params)
    except stripe.StripeError as error:
        raise _human_error(
            error, doing="create webhook endpoints", permission="Webhook Endpoints: Write"
        ) from None
    return CreatedEndpoint(id=endpoint.id, secret=endpoint.secret or "")
