"""The audit page: admin only, filtered by GET parameters, paginated, secrets masked."""

from datetime import UTC, datetime

import pytest
import time_machine

from custory.audit import audit_record
from custory.views import AUDIT_PAGE_SIZE


def _event(workspace, actor, action, at, **data):
    # The audit table is append-only: the event is written at that time rather than changed.
    with time_machine.travel(at, tick=False):
        return audit_record(workspace=workspace, actor=actor, action=action, data=data)


@pytest.fixture
def events(workspace, admin, member, other_workspace):
    _event(
        workspace, admin, "invitation.create", datetime(2026, 3, 1, 10, tzinfo=UTC), email="a@x.io"
    )
    _event(workspace, member, "task.create", datetime(2026, 3, 5, 12, tzinfo=UTC), title="Call")
    _event(workspace, "stripe", "connection.revoke", datetime(2026, 3, 9, 8, tzinfo=UTC))
    _event(other_workspace, None, "secret.other", datetime(2026, 3, 6, tzinfo=UTC))


def _actions(response):
    return [event.action for event, *_ in response.context["rows"]]


def test_admins_see_their_workspaces_events_newest_first(client_for, admin, events):
    response = client_for(admin).get("/w/acme/settings/audit/")
    assert response.status_code == 200
    assert _actions(response) == ["connection.revoke", "task.create", "invitation.create"]
    assert "secret.other" not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"action": "task.create"}, ["task.create"]),
        ({"actor": "admin@acme.test"}, ["invitation.create"]),
        ({"actor": "stripe"}, ["connection.revoke"]),
        ({"date_from": "2026-03-05"}, ["connection.revoke", "task.create"]),
        ({"date_to": "2026-03-05"}, ["task.create", "invitation.create"]),
        ({"date_from": "2026-03-02", "date_to": "2026-03-08"}, ["task.create"]),
        ({"action": "task.create", "actor": "admin@acme.test"}, []),
    ],
)
def test_filters_narrow_the_log(client_for, admin, events, query, expected):
    assert _actions(client_for(admin).get("/w/acme/settings/audit/", query)) == expected


@pytest.mark.parametrize(
    "query",
    [
        {"action": "no.such"},
        {"actor": "nobody@x.io"},
        {"date_from": "yesterday"},
        {"date_from": "2026-03-09", "date_to": "2026-03-01"},
    ],
)
def test_bad_filters_show_an_error_instead_of_failing(client_for, admin, events, query):
    response = client_for(admin).get("/w/acme/settings/audit/", query)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert 'class="error"' in response.content.decode()
    htmx = client_for(admin).get("/w/acme/settings/audit/", query, headers={"HX-Request": "true"})
    assert "Some filters were not applied" in htmx.content.decode()


def test_an_htmx_request_gets_only_the_table(client_for, admin, events):
    response = client_for(admin).get(
        "/w/acme/settings/audit/", {"action": "task.create"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="audit-table"')
    assert "<header" not in html
    assert "task.create" in html
    assert "HX-Request" in response["Vary"]


def test_the_log_is_paginated_and_keeps_filters_across_pages(
    client_for, admin, workspace, django_assert_max_num_queries
):
    for n in range(AUDIT_PAGE_SIZE + 5):
        audit_record(workspace=workspace, actor=admin, action="bulk.thing", data={"n": n})
    client = client_for(admin)
    with django_assert_max_num_queries(10):
        first = client.get("/w/acme/settings/audit/", {"action": "bulk.thing"})
    assert len(first.context["rows"]) == AUDIT_PAGE_SIZE
    assert "action=bulk.thing&amp;page=2" in first.content.decode()
    second = client.get("/w/acme/settings/audit/", {"action": "bulk.thing", "page": 2})
    assert len(second.context["rows"]) == 5
    assert client.get("/w/acme/settings/audit/", {"page": "999"}).status_code == 200


def test_secret_looking_data_is_masked(client_for, admin, workspace):
    audit_record(
        workspace=workspace,
        actor=admin,
        action="connection.rotate",
        data={"webhook_secret": "whsec_abc123", "api_key": "rk_test_zzz", "label": "Main"},
    )
    html = client_for(admin).get("/w/acme/settings/audit/").content.decode()
    assert "whsec_abc123" not in html
    assert "rk_test_zzz" not in html
    assert "Main" in html


def test_an_empty_log_says_so(client_for, admin):
    assert (
        "Nothing has been recorded yet"
        in client_for(admin).get("/w/acme/settings/audit/").content.decode()
    )


def test_a_bad_filter_does_not_drop_the_good_ones(client_for, admin, events):
    response = client_for(admin).get(
        "/w/acme/settings/audit/", {"action": "task.create", "date_from": "not-a-date"}
    )
    assert response.context["form"].errors["date_from"]
    assert _actions(response) == ["task.create"]
