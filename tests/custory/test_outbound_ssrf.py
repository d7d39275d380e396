"""Outbound URLs are refused when they resolve to non-public addresses, and the connection goes
to the address that was checked."""

import socket

import pytest
from django.core.exceptions import ValidationError

from custory.outbound import outbound_webhook_create
from custory.outbound_http import OutboundRefused, address_refusal, post, target_resolve
from tests.outbound_receiver import start_receiver


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not public"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),
        ("2002:a00:1::", "private"),
        ("64:ff9b::7f00:1", "reserved"),
    ],
)
def test_non_public_addresses_are_refused(address, reason):
    assert reason in address_refusal(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert address_refusal(address) == ""


def resolving_to(monkeypatch, *addresses):
    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port) if ":" not in a else (a, port, 0, 0),
            )
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)


@pytest.mark.parametrize("address", ["10.0.0.5", "fd12::5", "::ffff:192.168.0.1", "169.254.1.1"])
def test_a_host_name_resolving_to_a_private_address_is_refused(monkeypatch, address):
    resolving_to(monkeypatch, address)
    with pytest.raises(OutboundRefused, match="hooks.example.com resolves to"):
        target_resolve("https://hooks.example.com/in")


def test_one_private_address_among_public_ones_is_enough_to_refuse(monkeypatch):
    resolving_to(monkeypatch, "93.184.216.34", "127.0.0.1")
    with pytest.raises(OutboundRefused, match="loopback"):
        target_resolve("https://hooks.example.com/in")


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "http:///x", "nope"])
def test_other_schemes_are_refused(url):
    with pytest.raises(OutboundRefused):
        target_resolve(url)


def test_private_addresses_are_refused_by_default(settings):
    assert settings.CUSTORY_OUTBOUND_ALLOW_PRIVATE is False
    receiver = start_receiver()
    try:
        with pytest.raises(OutboundRefused, match="loopback"):
            post(receiver.url, b"{}", {}, timeout=1)
        assert receiver.received == []
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_adding_an_endpoint_on_a_private_address_is_refused(workspace, admin):
    with pytest.raises(ValidationError, match="loopback"):
        outbound_webhook_create(
            workspace=workspace, actor=admin, url="http://127.0.0.1:8000/", event_types=[]
        )


def test_the_connection_goes_to_the_checked_address_with_the_host_name(monkeypatch, settings):
    settings.CUSTORY_OUTBOUND_ALLOW_PRIVATE = True
    receiver = start_receiver()
    port = receiver.server.server_address[1]
    resolving_to(monkeypatch, "127.0.0.1")
    try:
        response = post(f"http://hooks.example.test:{port}/in?x=1", b"{}", {}, timeout=2)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
    assert response.status == 200
    (request,) = receiver.received
    assert request.headers["Host"] == f"hooks.example.test:{port}"
    assert request.path == "/in?x=1"
