"""API tokens: shown once, stored hashed, scoped to one workspace and role, revocable, throttled."""

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from custory.api_auth import TokenRateThrottle
from custory.models import ApiToken, AuditEvent
from custory.services import api_token_create, api_token_revoke

WORKSPACES = "/api/v1/workspaces/"


def bearer(key):
    return Client(headers={"Authorization": f"Bearer {key}"})


def test_a_token_is_stored_as_its_sha256_with_a_visible_prefix(workspace, member):
    token, key = api_token_create(workspace=workspace, user=member, name="export")
    assert key.startswith("cst_") and len(key) > 40
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(token.prefix) and len(token.prefix) == 12
    assert not ApiToken.objects.filter(key_hash=key).exists()


def test_a_bearer_token_reads_its_workspace(workspace, member):
    _, key = api_token_create(workspace=workspace, user=member, name="export")
    response = bearer(key).get(WORKSPACES)
    assert response.status_code == 200
    assert response.json() == [{"slug": "acme", "name": "Acme SaaS", "role": "member"}]


def test_a_token_sees_only_its_own_workspace(workspace, other_workspace, member):
    from tests.factories import MembershipFactory

    MembershipFactory(workspace=other_workspace, user=member)
    _, key = api_token_create(workspace=workspace, user=member, name="export")
    assert [w["slug"] for w in bearer(key).get(WORKSPACES).json()] == ["acme"]
    assert bearer(key).get(f"{WORKSPACES}other/signals/").status_code == 404


def test_a_wrong_or_revoked_token_is_refused_with_401(workspace, member):
    token, key = api_token_create(workspace=workspace, user=member, name="export")
    assert bearer("cst_nope").get(WORKSPACES).status_code == 401
    api_token_revoke(token=token, actor=member)
    response = bearer(key).get(WORKSPACES)
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked token."}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


def test_no_credentials_is_a_401(db):
    assert Client().get(WORKSPACES).status_code == 401


def test_a_session_works_too(client_for, member):
    assert client_for(member).get(WORKSPACES).status_code == 200


def test_last_use_is_written_at_most_once_a_minute(workspace, member):
    token, key = api_token_create(workspace=workspace, user=member, name="export")
    with time_machine.travel("2026-12-01 10:00:00Z", tick=False):
        bearer(key).get(WORKSPACES)
        token.refresh_from_db()
        first = token.last_used_at
        bearer(key).get(WORKSPACES)
        token.refresh_from_db()
        assert token.last_used_at == first
    with time_machine.travel("2026-12-01 10:01:30Z", tick=False):
        bearer(key).get(WORKSPACES)
        token.refresh_from_db()
        assert token.last_used_at - first == timedelta(seconds=90)


def test_a_read_token_cannot_write(workspace, member):
    _, key = api_token_create(workspace=workspace, user=member, name="read", scope="read")
    response = bearer(key).post(
        f"{WORKSPACES}acme/tasks/", {"title": "Call"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]


def test_requests_are_throttled_per_token(workspace, member, monkeypatch):
    cache.clear()
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "3/min"})
    _, first = api_token_create(workspace=workspace, user=member, name="one")
    _, second = api_token_create(workspace=workspace, user=member, name="two")
    codes = [bearer(first).get(WORKSPACES).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert "Too many requests" in bearer(first).get(WORKSPACES).json()["detail"]
    assert bearer(second).get(WORKSPACES).status_code == 200


def test_the_command_prints_the_token_alone_on_its_last_line(workspace, admin, capsys):
    call_command("api_token_create", "acme", "ADMIN@acme.test", "--scope", "write", "--name", "ci")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    token = ApiToken.objects.get()
    assert (token.name, token.scope, token.user) == ("ci", "write", admin)
    assert bearer(key).get(f"{WORKSPACES}acme/signals/").status_code == 200


def test_the_command_refuses_someone_outside_the_workspace(workspace, outsider):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="not a member"):
        call_command("api_token_create", "acme", "outsider@other.test")


# The settings page -----------------------------------------------------------------------------


def test_the_page_shows_a_new_token_once_and_audits_it(client_for, support):
    client = client_for(support)
    url = reverse("workspace:api_tokens", kwargs={"slug": "acme"})
    response = client.post(url, {"name": "my script", "scope": "read"})
    assert response.status_code == 200
    key = response.context["new_key"]
    assert key in response.content.decode()
    assert key not in client.get(url).content.decode()
    assert ApiToken.objects.get().prefix in client.get(url).content.decode()
    assert AuditEvent.objects.filter(action="api_token.create").count() == 1


def test_a_member_sees_and_revokes_only_their_own_tokens(client_for, workspace, member, admin):
    theirs, _ = api_token_create(workspace=workspace, user=admin, name="admin's")
    mine, _ = api_token_create(workspace=workspace, user=member, name="mine")
    client = client_for(member)
    page = client.get(reverse("workspace:api_tokens", kwargs={"slug": "acme"})).content.decode()
    assert "mine" in page and "admin&#x27;s" not in page
    revoke = "workspace:api_token_revoke"
    url = reverse(revoke, kwargs={"slug": "acme", "token": theirs.uuid})
    assert client.post(url).status_code == 404
    url = reverse(revoke, kwargs={"slug": "acme", "token": mine.uuid})
    assert client.post(url).status_code == 302
    mine.refresh_from_db()
    assert mine.revoked_at is not None
    assert AuditEvent.objects.filter(action="api_token.revoke").count() == 1


def test_an_admin_can_revoke_anyones_token(client_for, workspace, member, admin):
    token, _ = api_token_create(workspace=workspace, user=member, name="theirs")
    url = reverse("workspace:api_token_revoke", kwargs={"slug": "acme", "token": token.uuid})
    assert client_for(admin).post(url).status_code == 302


def test_the_page_checks_workspace(client_for, outsider):
    url = reverse("workspace:api_tokens", kwargs={"slug": "acme"})
    assert client_for(outsider).get(url).status_code == 404
