"""Reading Stripe's list endpoints for the history import: a shared request-rate budget,
429s backed off (Retry-After when Stripe sends it, else exponential with jitter), and stops
that say what to do (a revoked key, a missing permission named)."""

import functools
import json
import random
import threading
import time
from dataclasses import dataclass

import stripe
from django.conf import settings

from billing.pipeline.stripe_api import StripeAPIError, redact

PAGE_SIZE = 100
# 429s answered in a row before the import stops (it can be resumed later).
MAX_RATE_LIMIT_RETRIES = 8
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 60.0

# Tests replace these to run without waiting.
sleep = time.sleep
jitter = random.random  # noqa: S311 (spreading retries, not a secret)


class RateBudget:
    """A token bucket shared by the import's listing threads: at most `rate` requests/s."""

    def __init__(self, rate: float):
        self.interval = 1.0 / max(rate, 0.001)
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(self._next, now)
            self._next = start + self.interval
        if start > now:
            sleep(start - now)


def default_rate(livemode: bool) -> int:
    if livemode:
        return settings.CUSTORY_IMPORT_RATE_LIVE
    return settings.CUSTORY_IMPORT_RATE_TEST


@dataclass(frozen=True)
class Page:
    data: list[dict]
    has_more: bool


def _client(api_key: str) -> stripe.StripeClient:
    return _cached_client(
        api_key,
        settings.STRIPE_API_BASE,
        getattr(settings, "STRIPE_MAX_NETWORK_RETRIES", 2),
        getattr(settings, "STRIPE_API_TIMEOUT", 15),
    )


@functools.lru_cache(maxsize=8)
def _cached_client(api_key: str, base: str, retries: int, timeout: float) -> stripe.StripeClient:
    """One client per key for the process: its HTTP client keeps a session per thread, so each
    listing thread reuses its connection instead of a TLS handshake per page."""
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": base},
        # Network errors only: the library retries a 429 only on Stripe-Should-Retry, and
        # never reads Retry-After, so 429s are handled below.
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def retry_delay(error: stripe.RateLimitError, attempt: int) -> float:
    """Seconds to wait after a 429: Stripe's Retry-After, else exponential with full jitter."""
    headers = error.headers or {}
    retry_after = headers.get("Retry-After") or headers.get("retry-after")
    try:
        if retry_after is not None:
            return min(max(float(retry_after), 0.0), BACKOFF_CAP_SECONDS)
    except ValueError:
        pass
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt)
    return ceiling / 2 + jitter() * ceiling / 2


def _stop(error: stripe.StripeError, permission: str) -> StripeAPIError:
    if isinstance(error, stripe.AuthenticationError):
        return StripeAPIError(
            "Stripe no longer accepts this connection's API key (revoked, rolled or expired). "
            "The import stopped; add a new restricted key and resume it.",
            kind="invalid_key",
        )
    if isinstance(error, stripe.PermissionError):
        return StripeAPIError(
            f"The restricted key lacks “{permission}”. Edit the key in the Stripe dashboard, "
            "add that permission, then resume the import.",
            kind="permission",
        )
    if isinstance(error, stripe.RateLimitError):
        return StripeAPIError(
            "Stripe kept limiting the request rate; the import paused. Resume it later.",
            kind="rate_limit",
        )
    if isinstance(error, stripe.APIConnectionError):
        return StripeAPIError(
            "Custory could not reach Stripe (network error or timeout); resume the import.",
            kind="network",
        )
    detail = redact(getattr(error, "user_message", None) or "")
    return StripeAPIError(f"Stripe refused a listing: {detail or 'unknown error'}", kind="stripe")


def list_page(
    *, api_key: str, path: str, params: dict, budget: RateBudget, permission: str
) -> Page:
    """One page of a Stripe list endpoint, newest first, within the budget."""
    client = _client(api_key)
    for attempt in range(MAX_RATE_LIMIT_RETRIES + 1):
        budget.take()
        try:
            response = client.raw_request("get", path, **params)
        except stripe.RateLimitError as error:
            if attempt == MAX_RATE_LIMIT_RETRIES:
                raise _stop(error, permission) from None
            sleep(retry_delay(error, attempt))
            continue
        except stripe.StripeError as error:
            raise _stop(error, permission) from None
        body = json.loads(response.body)
        return Page(data=list(body.get("data") or []), has_more=bool(body.get("has_more")))
    raise AssertionError("unreachable")  # pragma: no cover
