"""Security headers: a CSP without inline script, and no-store on customer data."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from tests.custory.test_isolation import WORKSPACE_ROUTES, _fill
from tests.dashboard_data import mixed_history
from tests.factories import CustomerFactory, RevenueSignalFactory, UserFactory

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
HANDLER = re.compile(r"""<[^>]*\s(on[a-z]+|hx-on[:\w-]*)\s*=""", re.I)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.I)
SIMPLE_ROUTES = [r for r in WORKSPACE_ROUTES if r.count("<") == 1]


def _inline_code(html: str) -> list[str]:
    return INLINE_SCRIPT.findall(html) + HANDLER.findall(html) + JS_URL.findall(html)


def _template_files():
    roots = [Path(settings.BASE_DIR) / "templates"]
    roots += [Path(settings.BASE_DIR) / app / "templates" for app in ("custory", "billing")]
    return sorted(path for root in roots if root.exists() for path in root.rglob("*.html"))


def test_the_policy_allows_scripts_from_our_own_files_only(client, db):
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"


@pytest.mark.parametrize("path", _template_files(), ids=lambda p: p.name)
def test_no_template_has_inline_script_or_event_handlers(path):
    assert _inline_code(path.read_text()) == []


@pytest.mark.parametrize("route", SIMPLE_ROUTES)
def test_every_workspace_page_is_no_store_and_free_of_inline_script(
    client_for, admin, workspace, route
):
    mixed_history(workspace)
    response = client_for(admin).get(_fill(route, workspace.slug, {}))
    assert "no-store" in response["Cache-Control"], route
    assert "script-src 'self'" in response["Content-Security-Policy"]
    if response.status_code == 200 and response["Content-Type"].startswith("text/html"):
        assert _inline_code(response.content.decode()) == [], route


def test_signal_and_customer_pages_are_no_store(client_for, member, workspace):
    customer = CustomerFactory(workspace=workspace)
    signal = RevenueSignalFactory(workspace=workspace, customer=customer)
    client = client_for(member)
    for url in (signal.get_absolute_url(), signal.customer.get_absolute_url()):
        response = client.get(url)
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        assert _inline_code(response.content.decode()) == []


def test_the_csv_export_is_no_store(client_for, member, workspace):
    mixed_history(workspace)
    response = client_for(member).get("/w/acme/signals/export.csv")
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Type"].startswith("text/csv")


def test_the_api_is_no_store(api_for, member, workspace):
    response = api_for(member).get("/api/v1/workspaces/acme/signals/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/", "/api/docs/"])
def test_public_pages_have_no_inline_script(client, db, path):
    response = client.get(path)
    assert response.status_code == 200
    assert _inline_code(response.content.decode()) == []


def test_the_api_docs_start_swagger_from_a_script_file(client, db):
    html = client.get("/api/docs/").content.decode()
    script = re.search(r'<script src="([^"]*script=[^"]*)"', html).group(1)
    assert client.get(script).status_code == 200


def test_the_django_admin_has_no_inline_script(client, db):
    client.force_login(UserFactory(email="ops@custory.test", is_staff=True, is_superuser=True))
    for path in ("/admin/", "/admin/custory/workspace/", "/admin/custory/workspace/add/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert _inline_code(response.content.decode()) == [], path
