"""Posting to outbound URLs without server-side request forgery.

The host is resolved once, every address it resolves to must be public, and the connection goes
to the address that was checked (no second lookup an attacker's DNS could answer differently).
Redirects are never followed. CUSTORY_OUTBOUND_ALLOW_PRIVATE=1 lifts the address check for local
development and tests.
"""

import http.client
import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

EXCERPT_BYTES = 500


class OutboundRefused(ValueError):
    """The URL may not be called: wrong scheme, unresolvable, or a non-public address."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str


@dataclass(frozen=True)
class Response:
    status: int
    excerpt: str
    duration_ms: int


def address_refusal(address: str) -> str:
    """Why an IP address may not be called, or "" when it is a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4-mapped (::ffff:a.b.c.d) and 6to4 (2002:…) addresses reach the IPv4 they embed.
        ip = ip.ipv4_mapped or ip.sixtofour or ip
    for test, reason in (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (not ip.is_global, "not public"),
    ):
        if test:
            return f"{ip} is a {reason} address"
    return ""


def target_resolve(url: str) -> Target:
    """Check the URL and pick the address to connect to; raises OutboundRefused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused("Use an http:// or https:// URL.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise OutboundRefused("The URL's port is not valid.") from error
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise OutboundRefused(f"{parts.hostname} does not resolve.") from error
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise OutboundRefused(f"{parts.hostname} does not resolve.")
    if not settings.CUSTORY_OUTBOUND_ALLOW_PRIVATE:
        for address in addresses:
            reason = address_refusal(address)
            if reason:
                raise OutboundRefused(f"Refused: {parts.hostname} resolves to {reason}.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, *, address, **kwargs):
        super().__init__(host, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, *, address, **kwargs):
        super().__init__(host, **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        # The certificate is checked against the host name, not the pinned address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Response:
    """POST once to the checked address; a 3xx is returned as it is, never followed."""
    target = target_resolve(url)
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(
        target.host, port=target.port, timeout=timeout, address=target.address
    )
    started = time.monotonic()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", "replace")
    finally:
        connection.close()
    duration_ms = int((time.monotonic() - started) * 1000)
    return Response(status=response.status, excerpt=excerpt, duration_ms=duration_ms)
