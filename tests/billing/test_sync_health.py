"""The sync health page and stripe_reconcile: what we hold against what Stripe lists now."""

import io
import time

import pytest
from django.core.management import call_command
from django.urls import reverse

from billing.models import ImportStatus, StripeEvent
from billing.pipeline import connections
from tests.billing.history_support import generated_history, run_import, serve
from tests.stripe_fake import RK_TEST, WHSEC_OLD, serve_fake_stripe


@pytest.fixture
def fake_stripe(settings):
    yield from serve_fake_stripe(settings)


@pytest.fixture(scope="module")
def history():
    return generated_history(seed=3, customers=6, months=6)


@pytest.fixture
def imported(workspace, admin, fake_stripe, history):
    """A connection whose import from objects has run against the fake account."""
    events, objects = history
    serve(fake_stripe, objects)
    fake_stripe.add_key(RK_TEST)
    connection = connections.connection_create(
        workspace=workspace, actor=admin, webhook_secret=WHSEC_OLD, api_key=RK_TEST
    )
    history_import = connections.history_import_start(
        connection=connection, actor=admin, enqueue=False
    )
    assert run_import(history_import) == ImportStatus.DONE
    return connection


def _reconcile(connection) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("stripe_reconcile", connection.workspace.slug, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def _live_subscription(fake_stripe) -> dict:
    return next(
        s for s in fake_stripe.lists.by_path["/v1/subscriptions"] if s["status"] == "active"
    )


@pytest.mark.django_db
def test_after_an_import_we_are_in_sync_with_stripe(imported):
    code, out = _reconcile(imported)
    assert code == 0, out
    assert "In sync with Stripe." in out


@pytest.mark.django_db
def test_a_missed_plan_change_and_a_missed_event_are_explained_and_exit_non_zero(
    imported, fake_stripe
):
    sub = _live_subscription(fake_stripe)
    sub["items"]["data"][0]["quantity"] += 4
    missed = fake_stripe.add_event(type="invoice.paid", created=int(time.time()) - 3600)

    code, out = _reconcile(imported)
    assert code == 1
    assert f"{sub['customer']} {sub['id']}: MRR differs" in out
    assert missed["id"] in out
    assert "Differences found." in out


@pytest.mark.django_db
def test_the_page_shows_members_the_health_and_the_check(client_for, member, imported):
    url = reverse("billing:sync_health", args=[imported.workspace.slug, imported.uuid])
    client = client_for(member)
    html = client.get(url).content.decode()
    assert "Period covered" in html and "Delivery lag" in html
    assert "customers read by the import" in html
    html = client.post(url).content.decode()
    assert "In sync with Stripe." in html
    index = reverse("billing:sync_health_index", args=[imported.workspace.slug])
    assert client.get(index)["Location"] == url


@pytest.mark.django_db
def test_an_admin_fetches_the_missing_events(client_for, admin, imported, fake_stripe):
    missed = fake_stripe.add_event(type="invoice.paid", created=int(time.time()) - 3600)
    url = reverse("billing:gaps_fetch", args=[imported.workspace.slug, imported.uuid])
    response = client_for(admin).post(url, follow=True)
    assert "Fetched 1 missing event" in response.content.decode()
    assert StripeEvent.objects.filter(stripe_id=missed["id"]).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["support", "outsider"])
def test_it_checks_role_and_workspace(request, client_for, imported, who):
    client = client_for(request.getfixturevalue(who))
    args = [imported.workspace.slug, imported.uuid]
    assert client.get(reverse("billing:sync_health", args=args)).status_code == 404
    assert client.post(reverse("billing:gaps_fetch", args=args)).status_code == 404


@pytest.mark.django_db
def test_members_may_look_but_not_fetch(client_for, member, imported):
    url = reverse("billing:gaps_fetch", args=[imported.workspace.slug, imported.uuid])
    assert client_for(member).post(url).status_code == 404
