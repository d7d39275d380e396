"""The cast: an admin, a member and a support user of one workspace; an outsider in another."""

from importlib import import_module

import pytest
from django.db.backends.sqlite3.base import DatabaseOperations as SQLiteOperations
from django.test import Client

from custory.models import Role
from custory.services import api_token_create
from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory

PASSWORD = "correct-horse-battery"

_AUDIT_TRIGGERS = import_module("custory.migrations.0006_audit_append_only")
_sqlite_flush = SQLiteOperations.sql_flush


def _sql_flush_past_the_audit_triggers(self, style, tables, **kwargs):
    """SQLite empties tables with DELETE, which the append-only audit triggers refuse: between
    transactional tests (live server, concurrency) the triggers are dropped and made again."""
    statements = _sqlite_flush(self, style, tables, **kwargs)
    if "custory_auditevent" not in tables:
        return statements
    return [*_AUDIT_TRIGGERS.SQLITE_DROP, *statements, *_AUDIT_TRIGGERS.SQLITE_CREATE]


SQLiteOperations.sql_flush = _sql_flush_past_the_audit_triggers


@pytest.fixture
def workspace(db):
    return WorkspaceFactory(name="Acme SaaS", slug="acme")


@pytest.fixture
def other_workspace(db):
    return WorkspaceFactory(name="Other Co", slug="other")


@pytest.fixture
def admin(workspace):
    return MembershipFactory(
        workspace=workspace, role=Role.ADMIN, user__email="admin@acme.test"
    ).user


@pytest.fixture
def member(workspace):
    return MembershipFactory(
        workspace=workspace, role=Role.MEMBER, user__email="member@acme.test"
    ).user


@pytest.fixture
def support(workspace):
    return MembershipFactory(
        workspace=workspace, role=Role.SUPPORT, user__email="support@acme.test"
    ).user


@pytest.fixture
def outsider(other_workspace):
    """An admin of another workspace: everything of `workspace` must be a 404 to them."""
    return MembershipFactory(
        workspace=other_workspace, role=Role.ADMIN, user__email="outsider@other.test"
    ).user


@pytest.fixture
def stranger(db):
    """Signed in, but a member of no workspace."""
    return UserFactory(email="stranger@nowhere.test")


@pytest.fixture
def client_for(client):
    """client_for(user) signs the test client in as that user."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def pytest_collection_modifyitems(items):
    """Browser tests are slow too, so `-m "not slow"` is the quick loop."""
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def api_for(workspace):
    """api_for(user, scope="write") is a client sending a new token of that user for `workspace`."""

    def client_with_token(user, scope="write", for_workspace=None):
        _, key = api_token_create(
            workspace=for_workspace or workspace, user=user, name="tests", scope=scope
        )
        return Client(headers={"Authorization": f"Bearer {key}"})

    return client_with_token
