"""Creating workspaces, switching between them, and pages that must never be a stack trace."""

import pytest

from custory.models import AuditEvent, Membership, Role, Workspace
from tests.factories import MembershipFactory


def test_a_signed_in_user_creates_a_workspace_and_becomes_its_admin(client_for, stranger):
    response = client_for(stranger).post("/workspaces/new/", {"name": "  Rocket Labs  "})
    workspace = Workspace.objects.get(name="Rocket Labs")
    assert response.status_code == 302
    assert response.url == f"/w/{workspace.slug}/"
    assert workspace.slug == "rocket-labs"
    assert Membership.objects.get(workspace=workspace, user=stranger).role == Role.ADMIN
    assert AuditEvent.objects.filter(workspace=workspace, action="workspace.create").exists()
    assert workspace.journeys.exists()


def test_two_workspaces_with_one_name_get_distinct_slugs(client_for, stranger):
    client = client_for(stranger)
    client.post("/workspaces/new/", {"name": "Same"})
    client.post("/workspaces/new/", {"name": "Same"})
    assert sorted(Workspace.objects.values_list("slug", flat=True)) == ["same", "same-2"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "This field is required."),
        ("    ", "This field is required."),
        ("x" * 101, "Ensure this value has at most 100 characters"),
    ],
)
def test_a_bad_workspace_name_gets_a_field_error_and_saves_nothing(
    client_for, stranger, name, message
):
    response = client_for(stranger).post("/workspaces/new/", {"name": name})
    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors["name"])
    assert 'class="field has-error"' in response.content.decode()
    assert not Workspace.objects.exists()


def test_creating_a_workspace_needs_sign_in(client, db):
    response = client.post("/workspaces/new/", {"name": "Nope"})
    assert response.url.startswith("/accounts/login/")
    assert not Workspace.objects.exists()


def test_a_user_without_workspace_is_asked_to_create_one(client_for, stranger):
    assert client_for(stranger).get("/").url == "/workspaces/new/"


def test_the_switcher_lists_only_my_workspaces_and_links_to_them(
    client_for, admin, workspace, other_workspace
):
    third = MembershipFactory(user=admin, workspace__name="Beta Corp", workspace__slug="beta")
    html = client_for(admin).get("/w/acme/").content.decode()
    switcher = html[html.index('<details class="switcher">') : html.index("</details>")]
    assert 'href="/w/acme/" aria-current="true">Acme SaaS' in switcher
    assert 'href="/w/beta/" >Beta Corp' in switcher
    assert "Other Co" not in switcher
    assert "/workspaces/new/" in switcher
    assert client_for(admin).get("/w/beta/").status_code == 200
    assert third.workspace.slug == "beta"


def test_switching_to_a_workspace_shows_my_role_there(client_for, admin, workspace):
    MembershipFactory(user=admin, role=Role.SUPPORT, workspace__slug="beta")
    html = client_for(admin).get("/w/beta/").content.decode()
    assert "admin@acme.test · Support" in html


def test_an_unknown_slug_is_404_in_our_layout(client_for, admin):
    response = client_for(admin).get("/w/does-not-exist/settings/members/")
    assert response.status_code == 404
    assert 'class="brand"' in response.content.decode()


def test_a_missing_page_renders_404_in_our_layout(client_for, admin, workspace, settings):
    assert settings.DEBUG is False
    response = client_for(admin).get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert 'class="brand"' in html
    assert 'class="switcher"' in html


def test_a_csrf_failure_renders_403_in_our_layout(db):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"login": "a@b.c"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "Not allowed" in html
    assert 'class="brand"' in html


def test_the_403_handler_renders_in_our_layout(rf, admin):
    from django.core.exceptions import PermissionDenied

    from custory.views import permission_denied

    request = rf.get("/")
    request.user = admin
    response = permission_denied(request, PermissionDenied())
    assert response.status_code == 403
    assert 'class="brand"' in response.content.decode()


@pytest.mark.parametrize("url", ["/w/acme/signals/", "/w/acme/customers/", "/w/acme/tasks/"])
def test_nav_pages_render_for_a_fresh_workspace(client_for, admin, workspace, url):
    response = client_for(admin).get(url)
    assert response.status_code == 200
    assert 'class="mainnav"' in response.content.decode()


def test_the_500_handler_renders_in_our_layout(rf, admin):
    from custory.views import server_error

    request = rf.get("/")
    request.user = admin
    response = server_error(request)
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert 'class="brand"' in html
