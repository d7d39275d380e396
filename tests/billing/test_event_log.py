"""The event log page: admins only, filters in the URL, health, retries, the raw payload."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import EventStatus, StripeEvent
from custory.models import AuditEvent
from tests.billing.pipeline_helpers import connection_with_secret
from tests.factories import StripeEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def stub_apply(monkeypatch):
    """Events here are factory-made: apply nothing, this is about the log and retries."""
    monkeypatch.setattr("billing.pipeline.jobs.event_apply", lambda *, event: [])


@pytest.fixture
def connection(workspace):
    return connection_with_secret(workspace)


def url(workspace, **query):
    base = reverse("billing:event_list", kwargs={"slug": workspace.slug})
    if query:
        from urllib.parse import urlencode

        base += "?" + urlencode(query)
    return base


def make(connection, **kwargs):
    return StripeEventFactory(workspace=connection.workspace, connection=connection, **kwargs)


def test_it_works(client_for, admin, workspace, connection):
    event = make(connection, type="invoice.paid")
    response = client_for(admin).get(url(workspace))
    assert response.status_code == 200
    assert event.stripe_id in response.content.decode()
    assert 'hx-trigger="every 5s"' in response.content.decode()


@pytest.mark.parametrize("role", ["member", "support"])
def test_it_checks_role(client_for, workspace, connection, role, request):
    user = request.getfixturevalue(role)
    event = make(connection)
    client = client_for(user)
    assert client.get(url(workspace)).status_code == 404
    assert client.get(event.get_absolute_url()).status_code == 404
    retry = reverse("billing:event_retry", kwargs={"slug": workspace.slug, "event_id": event.pk})
    assert client.post(retry).status_code == 404


def test_it_checks_workspace(client_for, outsider, workspace, other_workspace, connection):
    event = make(connection)
    client = client_for(outsider)
    detail = reverse(
        "billing:event_detail", kwargs={"slug": other_workspace.slug, "event_id": event.pk}
    )
    assert client.get(detail).status_code == 404
    assert event.stripe_id not in client.get(url(other_workspace)).content.decode()


def test_filters_by_status_type_and_date(client_for, admin, workspace, connection):
    failed = make(connection, type="invoice.payment_failed", status=EventStatus.FAILED)
    paid = make(connection, type="invoice.paid", status=EventStatus.PROCESSED)
    old = make(
        connection,
        type="invoice.paid",
        status=EventStatus.PROCESSED,
        received_at=timezone.now() - timedelta(days=3),
    )
    client = client_for(admin)

    def shown(**query):
        body = client.get(url(workspace, **query)).content.decode()
        return {e.stripe_id for e in (failed, paid, old) if e.stripe_id in body}

    assert shown(status="failed") == {failed.stripe_id}
    assert shown(type="invoice.paid") == {paid.stripe_id, old.stripe_id}
    assert shown(type="invoice.") == {failed.stripe_id, paid.stripe_id, old.stripe_id}
    day = old.received_at.date().isoformat()
    assert shown(date=day) == {old.stripe_id}
    assert shown(status="nonsense", date="not-a-date") == {
        failed.stripe_id,
        paid.stripe_id,
        old.stripe_id,
    }


def test_htmx_gets_the_fragment_only(client_for, admin, workspace, connection):
    make(connection)
    response = client_for(admin).get(url(workspace, status="processed"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'id="event-log"' in body
    assert "<html" not in body
    assert "status=processed" in body  # the refresh keeps the filters
    assert response["Vary"].count("HX-Request")


def test_pages_of_fifty(client_for, admin, workspace, connection):
    for _ in range(55):
        make(connection)
    client = client_for(admin)
    first = client.get(url(workspace)).content.decode()
    assert "Page 1 of 2" in first
    second = client.get(url(workspace, page=2)).content.decode()
    assert second.count('class="event-row') == 5


def test_the_page_queries_do_not_grow_with_events(
    client_for, admin, workspace, connection, django_assert_max_num_queries
):
    for _ in range(30):
        make(connection)
    client = client_for(admin)
    with django_assert_max_num_queries(14):
        client.get(url(workspace))


def test_health_shows_last_event_failures_and_lag(client_for, admin, workspace, connection):
    now = timezone.now()
    make(connection, status=EventStatus.FAILED, next_attempt_at=None, last_error="KeyError: x")
    make(
        connection,
        status=EventStatus.PROCESSED,
        source="webhook",
        created=now - timedelta(seconds=4),
        received_at=now - timedelta(seconds=3),
        processed_at=now,
    )
    body = client_for(admin).get(url(workspace)).content.decode()
    assert 'data-testid="events-last-hour">2<' in body
    assert 'data-testid="failed">1' in body
    assert "1 gave up" in body
    assert "median 4.0 s" in body
    assert "median 3.0 s" in body
    assert "Retry all failed (1)" in body


def test_retry_one_failed_event(
    client_for, admin, workspace, connection, django_capture_on_commit_callbacks
):
    event = make(connection, status=EventStatus.FAILED, next_attempt_at=None, attempts=8)
    retry = reverse("billing:event_retry", kwargs={"slug": workspace.slug, "event_id": event.pk})
    client = client_for(admin)
    assert client.get(retry).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry)
    assert response.status_code == 302
    assert response["Location"] == event.get_absolute_url()
    event.refresh_from_db()
    # Jobs run inline in tests: the stub apply processed it at once.
    assert event.status == EventStatus.PROCESSED
    assert AuditEvent.objects.filter(action="stripe.event_retry", workspace=workspace).exists()


def test_retry_all_failed(
    client_for, admin, workspace, connection, django_capture_on_commit_callbacks
):
    for _ in range(3):
        make(connection, status=EventStatus.FAILED, next_attempt_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin).post(
            reverse("billing:events_retry_failed", kwargs={"slug": workspace.slug})
        )
    assert response.status_code == 302
    assert not StripeEvent.objects.filter(status=EventStatus.FAILED).exists()


def test_the_detail_page_shows_the_escaped_pretty_payload(client_for, admin, connection):
    event = make(
        connection,
        payload={
            "id": "evt_x",
            "object": "event",
            "data": {"object": {"name": "<script>x</script>"}},
        },
    )
    body = client_for(admin).get(event.get_absolute_url()).content.decode()
    assert "&lt;script&gt;x&lt;/script&gt;" in body
    assert "<script>x</script>" not in body
    assert '\n  "data": {' in body.replace("&quot;", '"')
