"""Every page under /w/<slug>/ is found from the URL resolver and checked for tenant isolation.

Pages added later are covered without editing this test.
"""

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from custory.models import Invitation, OutboundWebhook
from tasks.models import AlertRule
from tests.factories import (
    CustomerFactory,
    FollowUpTaskFactory,
    MappingRuleFactory,
    RevenueSignalFactory,
    TaskRuleFactory,
)


def _workspace_patterns():
    """Yield (route, pattern) for every URL pattern below w/<slug:slug>/."""

    def walk(patterns, prefix):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern):
                yield route, entry

    for route, pattern in walk(get_resolver().url_patterns, ""):
        if route.startswith("w/<slug:slug>/"):
            yield route, pattern


WORKSPACE_ROUTES = sorted({route for route, _ in _workspace_patterns()})


def _fill(route: str, slug: str, values: dict[str, str]) -> str:
    path = route.replace("<slug:slug>", slug)
    for converter_name in ("uuid", "int", "str", "slug"):
        while f"<{converter_name}:" in path:
            start = path.index(f"<{converter_name}:")
            end = path.index(">", start)
            name = path[start + len(converter_name) + 2 : end]
            path = path[:start] + values.get(name, values[converter_name]) + path[end + 1 :]
    return "/" + path


@pytest.fixture
def workspace_objects(workspace, admin):
    """One object of every kind that has a page, all in `workspace`."""
    signal = RevenueSignalFactory(workspace=workspace)
    rule = MappingRuleFactory(step__stage__journey__workspace=workspace)
    return [
        signal,
        signal.customer,
        signal.event,
        signal.event.connection,
        CustomerFactory(workspace=workspace),
        rule,
        rule.step,
        rule.step.stage,
        rule.journey,
        FollowUpTaskFactory(workspace=workspace),
        TaskRuleFactory(workspace=workspace),
        admin.memberships.get(workspace=workspace),
        Invitation.objects.create(workspace=workspace, email="someone@example.com"),
        OutboundWebhook.objects.create(workspace=workspace, url="https://hooks.example.com/"),
        AlertRule.objects.create(workspace=workspace, metric="failed_payments", threshold=1),
    ]


def test_the_resolver_finds_workspace_pages():
    assert len(WORKSPACE_ROUTES) >= 10


@pytest.mark.parametrize("route", WORKSPACE_ROUTES)
def test_anonymous_users_are_sent_to_sign_in(client, workspace, route):
    url = _fill(route, workspace.slug, {"uuid": str(uuid.uuid4()), "int": "1", "str": "x"})
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url


@pytest.mark.parametrize("route", WORKSPACE_ROUTES)
def test_members_of_another_workspace_get_404(client, workspace, outsider, route):
    client.force_login(outsider)
    url = _fill(route, workspace.slug, {"uuid": str(uuid.uuid4()), "int": "1", "str": "x"})
    assert client.get(url).status_code == 404, url
    assert client.post(url).status_code == 404, url


@pytest.mark.parametrize("route", [r for r in WORKSPACE_ROUTES if "<uuid:" in r or "<int:" in r])
def test_objects_of_another_workspace_are_404_under_ones_own_slug(
    client, workspace, other_workspace, outsider, workspace_objects, route
):
    """The outsider is an admin of other_workspace: they try workspace's ids under their slug."""
    client.force_login(outsider)
    for obj in workspace_objects:
        ids = {"uuid": str(getattr(obj, "uuid", uuid.uuid4())), "int": str(obj.pk), "str": "x"}
        url = _fill(route, other_workspace.slug, ids)
        response = client.get(url)
        if response.status_code == 405:
            # A POST-only action: the object lookup must still answer 404.
            response = client.post(url)
        assert response.status_code == 404, (url, obj)


def test_an_unknown_slug_is_404(client, outsider):
    client.force_login(outsider)
    assert client.get("/w/no-such-workspace/").status_code == 404
