"""seed_demo: idempotent, and its users can sign in."""

import pytest
from django.core.management import call_command

from custory.models import AuditEvent, Membership, Role, User, Workspace

# Each test seeds six months of demo history (tens of seconds).
pytestmark = pytest.mark.slow


def _counts():
    return (
        User.objects.count(),
        Workspace.objects.count(),
        Membership.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.mark.django_db
def test_seed_demo_twice_creates_everything_once(capsys):
    call_command("seed_demo")
    first = _counts()
    call_command("seed_demo")
    assert _counts() == first
    workspace = Workspace.objects.get(slug="demo")
    assert workspace.name == "Demo SaaS"
    roles = dict(workspace.memberships.values_list("user__email", "role"))
    assert roles == {
        "demo@custory.local": Role.ADMIN,
        "member@custory.local": Role.MEMBER,
        "support@custory.local": Role.SUPPORT,
    }
    out = capsys.readouterr().out
    assert "/w/demo/" in out
    assert "demo@custory.local / custory-demo" in out


@pytest.mark.django_db
def test_demo_users_sign_in_through_the_login_form(client):
    # One seeding for the three users: seeding is what takes the time.
    call_command("seed_demo", password="another-secret-pw")
    for email in ["demo@custory.local", "member@custory.local", "support@custory.local"]:
        client.logout()
        response = client.post(
            "/accounts/login/", {"login": email, "password": "another-secret-pw"}
        )
        assert response.status_code == 302, email
        assert client.get("/").url == "/w/demo/"
        assert client.get("/w/demo/").status_code == 200
