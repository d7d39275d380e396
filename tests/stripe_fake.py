"""A small local HTTP server that answers like Stripe's API, for tests through the real library.

It knows a few restricted keys (each with an account and permissions), a list of events, and can
be told to fail: 401 for an unknown or expired key, 403 for a missing permission, 429, or (with
`refused_url`) a port where nothing listens. Point settings.STRIPE_API_BASE at `server.url`.
"""

import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from tests.stripe_fake_lists import LIST_PATHS, ObjectLists

MAX_TYPES = 20


@dataclass
class FakeKey:
    account_id: str
    account_name: str = "Acme SaaS"
    livemode: bool = False
    can_read_account: bool = True
    can_read_events: bool = True
    can_write_endpoints: bool = False
    expired: bool = False
    # Resources of LIST_PATHS this key may not read ("invoices", "charges", ...).
    denied: set = field(default_factory=set)


@dataclass
class Recorded:
    method: str
    path: str
    params: list[tuple[str, str]]
    api_key: str


@dataclass
class FakeStripe:
    """The fake's state; tests add keys and events and read what was requested."""

    keys: dict[str, FakeKey] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    # (path, status, type, code, message, retry_after), served once each for the next
    # matching requests.
    failures: list[tuple] = field(default_factory=list)
    # Stripe objects served by the list endpoints (LIST_PATHS).
    lists: ObjectLists = field(default_factory=ObjectLists)
    # Called with the 1-based number of each GET /v1/events request before it is answered.
    on_events_request: object = None
    url: str = ""

    def add_key(self, api_key: str, **kwargs) -> FakeKey:
        kwargs.setdefault("account_id", f"acct_{uuid.uuid4().hex[:16]}")
        kwargs.setdefault("livemode", api_key.startswith("rk_live_"))
        self.keys[api_key] = FakeKey(**kwargs)
        return self.keys[api_key]

    def add_event(self, *, type: str, created: int | None = None, **extra) -> dict:
        event = {
            "id": f"evt_{uuid.uuid4().hex[:24]}",
            "object": "event",
            "api_version": "2024-06-20",
            "created": created if created is not None else int(time.time()) - len(self.events),
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None},
            "type": type,
            "data": {"object": {"id": f"obj_{uuid.uuid4().hex[:12]}", "object": "unknown"}},
            **extra,
        }
        self.events.append(event)
        return event

    def fail_next(
        self,
        path: str,
        status: int,
        *,
        type: str,
        code: str = "",
        message: str = "",
        retry_after: str | None = None,
    ):
        message = message or f"{type} ({status})"
        self.failures.append((path, status, type, code, message, retry_after))

    def add_object(self, path: str, obj: dict) -> dict:
        """Serve `obj` from the list endpoint at `path` (e.g. "/v1/customers")."""
        return self.lists.add(path, obj)

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]


def _error(status: int, type_: str, code: str, message: str) -> tuple[int, dict]:
    body = {"error": {"type": type_, "message": message}}
    if code:
        body["error"]["code"] = code
    return status, body


class _Handler(BaseHTTPRequestHandler):
    fake: FakeStripe
    # Keep-alive, as Stripe's API: a client reuses its connection for the next page.
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 — the base class's signature
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def _dispatch(self, method: str):
        parts = urlsplit(self.path)
        params = parse_qsl(parts.query, keep_blank_values=True)
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            params += parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)
        auth = self.headers.get("Authorization", "")
        api_key = auth.removeprefix("Bearer ").strip()
        fake = self.fake
        fake.requests.append(Recorded(method, parts.path, params, api_key))
        answer = self._answer(method, parts.path, params, api_key)
        status, body = answer[:2]
        payload = json.dumps(body).encode()
        self.send_response(status)
        if len(answer) > 2 and answer[2]:
            self.send_header("Retry-After", answer[2])
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Request-Id", f"req_{uuid.uuid4().hex[:14]}")
        self.end_headers()
        self.wfile.write(payload)

    def _answer(self, method, path, params, api_key) -> tuple:
        fake = self.fake
        for failure in list(fake.failures):
            if failure[0] == path:
                fake.failures.remove(failure)
                return (*_error(*failure[1:5]), failure[5])
        key = fake.keys.get(api_key)
        if key is None:
            return _error(
                401,
                "invalid_request_error",
                "",
                f"Invalid API Key provided: {api_key[:8]}{'*' * 10}{api_key[-4:]}",
            )
        if key.expired:
            return _error(401, "invalid_request_error", "api_key_expired", "Expired API Key")
        if method == "GET" and path == "/v1/account":
            return self._account(key)
        if method == "GET" and path == "/v1/events":
            return self._events(key, params)
        if method == "GET" and path in LIST_PATHS:
            resource, permission = LIST_PATHS[path]
            if resource in key.denied:
                return self._forbidden(permission)
            return fake.lists.page(path, params)
        if method == "POST" and path == "/v1/webhook_endpoints":
            return self._create_endpoint(key, params)
        return _error(404, "invalid_request_error", "", f"Unrecognized request URL ({path}).")

    def _forbidden(self, permission: str) -> tuple[int, dict]:
        return _error(
            403,
            "invalid_request_error",
            "",
            "The provided key does not have the required permissions for this endpoint. "
            f"Having the '{permission}' permission would allow this request to continue.",
        )

    def _account(self, key: FakeKey) -> tuple[int, dict]:
        if not key.can_read_account:
            return self._forbidden("rak_accounts_kyc_basic_read")
        return 200, {
            "id": key.account_id,
            "object": "account",
            "business_profile": {"name": key.account_name, "url": None},
            "country": "US",
            "default_currency": "usd",
            "email": "billing@acme.test",
            "settings": {"dashboard": {"display_name": key.account_name, "timezone": "Etc/UTC"}},
            "type": "standard",
        }

    def _events(self, key: FakeKey, params) -> tuple[int, dict]:
        if not key.can_read_events:
            return self._forbidden("rak_event_read")
        fake = self.fake
        number = len(fake.requests_to("/v1/events"))
        if callable(fake.on_events_request):
            fake.on_events_request(number)
        types = [value for name, value in params if re.fullmatch(r"types\[\d*\]", name)]
        if len(types) > MAX_TYPES:
            return _error(
                400,
                "invalid_request_error",
                "parameter_invalid_array_length",
                f"Invalid array: types must have at most {MAX_TYPES} elements.",
            )
        values = dict(params)
        limit = int(values.get("limit") or 10)
        gte = int(values.get("created[gte]") or 0)
        events = sorted(
            (e for e in fake.events if e["created"] >= gte and (not types or e["type"] in types)),
            key=lambda e: (-e["created"], e["id"]),
        )
        after = values.get("starting_after")
        if after:
            ids = [e["id"] for e in events]
            if after not in ids:
                return _error(
                    400, "invalid_request_error", "resource_missing", f"No such event: '{after}'"
                )
            events = events[ids.index(after) + 1 :]
        page = events[:limit]
        return 200, {
            "object": "list",
            "url": "/v1/events",
            "has_more": len(events) > limit,
            "data": page,
        }

    def _create_endpoint(self, key: FakeKey, params) -> tuple[int, dict]:
        if not key.can_write_endpoints:
            return self._forbidden("rak_webhook_write")
        values = dict(params)
        enabled = [value for name, value in params if re.fullmatch(r"enabled_events\[\d*\]", name)]
        return 200, {
            "id": f"we_{uuid.uuid4().hex[:24]}",
            "object": "webhook_endpoint",
            "api_version": None,
            "application": None,
            "created": int(time.time()),
            "description": values.get("description"),
            "enabled_events": enabled,
            "livemode": key.livemode,
            "metadata": {},
            "secret": f"whsec_{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}",
            "status": "enabled",
            "url": values.get("url"),
        }


class FakeStripeServer:
    """Runs a FakeStripe on 127.0.0.1:<free port> in a background thread."""

    def __init__(self):
        self.fake = FakeStripe()
        handler = type("Handler", (_Handler,), {"fake": self.fake})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.fake.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FakeStripe:
        self._thread.start()
        return self.fake

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def refused_url() -> str:
    """A base URL on which nothing listens, so connecting fails at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# Well-formed test credentials (never real): a restricted key per mode and two signing secrets.
RK_TEST = "rk_test_51AcmeRestrictedKeyForTests00009xQz"
RK_TEST_2 = "rk_test_51AcmeSecondRestrictedKey000007Lmn"
RK_LIVE = "rk_live_51AcmeRestrictedKeyForLive00004Pqr"
WHSEC_OLD = "whsec_0ldSigningSecretForTests0000000AbCd"
WHSEC_NEW = "whsec_NewSigningSecretForTests000000WxYz"


def serve_fake_stripe(settings):
    """Run a fake Stripe API and point the stripe library at it (without retries).

    Use it as a fixture body: `@pytest.fixture def fake_stripe(settings): yield from
    serve_fake_stripe(settings)`.
    """
    with FakeStripeServer() as fake:
        settings.STRIPE_API_BASE = fake.url
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        yield fake
