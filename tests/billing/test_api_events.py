"""The event log over the API: admins only, as on the settings page."""

from tests.factories import StripeEventFactory

BASE = "/api/v1/workspaces/acme/events/"


def test_it_works(api_for, admin, workspace):
    event = StripeEventFactory(workspace=workspace, status="failed", last_error="boom")
    StripeEventFactory(workspace=workspace)
    client = api_for(admin, "read")
    body = client.get(BASE, {"status": "failed"}).json()
    assert [e["stripe_id"] for e in body["results"]] == [event.stripe_id]
    assert "payload" not in body["results"][0]
    detail = client.get(f"{BASE}{event.pk}/").json()
    assert detail["payload"]["id"] == event.stripe_id


def test_it_checks_role(api_for, member, support, workspace):
    event = StripeEventFactory(workspace=workspace)
    for user in (member, support):
        assert api_for(user).get(BASE).status_code == 404
        assert api_for(user).get(f"{BASE}{event.pk}/").status_code == 404


def test_it_checks_workspace(api_for, admin, outsider, other_workspace, workspace):
    theirs = StripeEventFactory(workspace=other_workspace)
    assert api_for(admin).get(f"{BASE}{theirs.pk}/").status_code == 404
    assert api_for(outsider, for_workspace=other_workspace).get(BASE).status_code == 404
