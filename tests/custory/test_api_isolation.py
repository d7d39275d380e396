"""Every endpoint under /api/v1/workspaces/<slug>/ is found from the URL resolver and checked:
401 without credentials, 404 for outsiders (session or token), 404 for another workspace's ids.

Endpoints added later are covered without editing this test.
"""

import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from custory.services import api_token_create
from journeys.models import EvidenceRule
from tests.factories import (
    FollowUpTaskFactory,
    MappingRuleFactory,
    RevenueSignalFactory,
    TaskRuleFactory,
)

PREFIX = "api/v1/workspaces/<slug:slug>/"
METHODS = ("get", "post", "patch", "delete")


def _api_routes():
    def walk(patterns, prefix):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern):
                yield route

    return sorted({r for r in walk(get_resolver().url_patterns, "") if r.startswith(PREFIX)})


API_ROUTES = _api_routes()


def _fill(route: str, slug: str, values: dict[str, str]) -> str:
    path = route.replace("<slug:slug>", slug)
    for converter in ("uuid", "int"):
        while f"<{converter}:" in path:
            start = path.index(f"<{converter}:")
            end = path.index(">", start)
            name = path[start + len(converter) + 2 : end]
            path = path[:start] + values.get(name, values[converter]) + path[end + 1 :]
    return "/" + path


def _call(client, method, url):
    return getattr(client, method)(url, {}, content_type="application/json")


@pytest.fixture
def acme_objects(workspace):
    """One object behind every detail endpoint, all in `workspace`."""
    signal = RevenueSignalFactory(workspace=workspace)
    rule = MappingRuleFactory(step__stage__journey__workspace=workspace)
    evidence_rule = EvidenceRule.objects.create(
        workspace=workspace, journey=rule.journey, step=rule.step, kind="login"
    )
    return [
        signal,
        signal.customer,
        signal.event,
        rule,
        rule.step,
        rule.journey,
        evidence_rule,
        FollowUpTaskFactory(workspace=workspace),
        TaskRuleFactory(workspace=workspace),
    ]


def test_the_resolver_finds_the_api():
    assert len(API_ROUTES) >= 19


@pytest.mark.parametrize("route", API_ROUTES)
def test_no_credentials_is_a_401(workspace, route):
    url = _fill(route, "acme", {"uuid": str(uuid.uuid4()), "int": "1"})
    for method in METHODS:
        response = _call(Client(), method, url)
        assert response.status_code in (401, 405), (method, url)


@pytest.mark.parametrize("route", API_ROUTES)
def test_outsiders_get_404_by_session_and_by_token(
    client_for, workspace, other_workspace, outsider, route
):
    url = _fill(route, "acme", {"uuid": str(uuid.uuid4()), "int": "1"})
    _, key = api_token_create(workspace=other_workspace, user=outsider, name="x", scope="write")
    for client in (client_for(outsider), Client(headers={"Authorization": f"Bearer {key}"})):
        for method in METHODS:
            response = _call(client, method, url)
            assert response.status_code in (404, 405), (method, url)
            if response.status_code == 404:
                assert response["Content-Type"] == "application/json", url


@pytest.mark.parametrize("route", [r for r in API_ROUTES if "<uuid:" in r or "<int:" in r])
def test_another_workspaces_ids_are_404_under_ones_own_slug(
    workspace, other_workspace, outsider, acme_objects, route
):
    """The outsider, admin of other_workspace with a write token, tries acme's ids."""
    _, key = api_token_create(workspace=other_workspace, user=outsider, name="x", scope="write")
    client = Client(headers={"Authorization": f"Bearer {key}"})
    for obj in acme_objects:
        ids = {"uuid": str(getattr(obj, "uuid", uuid.uuid4())), "int": str(obj.pk)}
        url = _fill(route, other_workspace.slug, ids)
        for method in METHODS:
            response = _call(client, method, url)
            assert response.status_code in (404, 405), (method, url, obj)


def test_a_token_of_one_workspace_is_a_404_in_another_of_its_users(
    workspace, other_workspace, admin
):
    from tests.factories import MembershipFactory

    MembershipFactory(workspace=other_workspace, user=admin, role="admin")
    _, key = api_token_create(workspace=other_workspace, user=admin, name="x")
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get("/api/v1/workspaces/acme/signals/").status_code == 404
    assert client.get("/api/v1/workspaces/other/signals/").status_code == 200


def test_an_unknown_api_path_answers_json(client_for, member):
    response = client_for(member).get("/api/v1/workspaces/acme/nothing-here/")
    assert response.status_code == 404
    assert response.json() == {"detail": "No such API endpoint; see /api/docs/."}
