"""The audit table is append-only in the database (triggers on PostgreSQL and SQLite)."""

import pytest
from django.db import DatabaseError, connection, transaction

from custory.audit import audit_record
from custory.models import AuditEvent, AuditPurge, Membership, Workspace
from custory.services import workspace_delete
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(workspace, admin):
    return audit_record(workspace=workspace, actor=admin, action="task.create", data={"a": 1})


def _refused(action):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        action()


def test_an_audit_event_cannot_be_changed(event):
    _refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(action="nothing.happened"))
    event.data = {"a": 2}
    _refused(event.save)
    event.refresh_from_db()
    assert (event.action, event.data) == ("task.create", {"a": 1})


def test_an_audit_event_cannot_be_deleted(event):
    _refused(lambda: AuditEvent.objects.filter(pk=event.pk).delete())
    _refused(event.delete)
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_raw_sql_is_refused_too(event):
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        _refused(lambda: cursor.execute(f"UPDATE {table} SET action = 'x'"))  # noqa: S608
        _refused(lambda: cursor.execute(f"DELETE FROM {table}"))  # noqa: S608
    assert AuditEvent.objects.count() == 1


def test_deleting_a_user_keeps_their_events_under_their_name(workspace):
    leaver = UserFactory(email="leaver@example.com")
    event = audit_record(workspace=workspace, actor=leaver, action="task.create")
    leaver.delete()
    event.refresh_from_db()
    assert event.actor is None
    assert event.actor_label == "leaver@example.com" or event.actor_label


def test_deleting_a_workspace_the_plain_way_is_refused_with_a_clear_message(event, workspace):
    with pytest.raises(DatabaseError, match="workspace_delete"), transaction.atomic():
        workspace.delete()
    assert Workspace.objects.filter(pk=workspace.pk).exists()


def test_the_workspace_delete_service_removes_the_workspace_with_its_trail(
    event, workspace, other_workspace, outsider
):
    kept = audit_record(workspace=other_workspace, actor=outsider, action="task.create")
    workspace_delete(workspace=workspace)
    assert not Workspace.objects.filter(pk=workspace.pk).exists()
    assert not Membership.objects.filter(workspace_id=workspace.pk).exists()
    assert list(AuditEvent.objects.all()) == [kept]
    assert not AuditPurge.objects.exists()
    _refused(lambda: AuditEvent.objects.filter(pk=kept.pk).delete())


def test_the_django_admin_deletes_workspaces_through_the_service(client, event, workspace):
    client.force_login(UserFactory(email="ops@custory.test", is_staff=True, is_superuser=True))
    url = f"/admin/custory/workspace/{workspace.pk}/delete/"
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Workspace.objects.filter(pk=workspace.pk).exists()


def test_the_django_admin_shows_audit_events_read_only(client, event):
    client.force_login(UserFactory(email="ops@custory.test", is_staff=True, is_superuser=True))
    assert client.get(f"/admin/custory/auditevent/{event.pk}/change/").status_code == 200
    assert client.post(f"/admin/custory/auditevent/{event.pk}/delete/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_transactional_tests_still_empty_the_table_between_tests(workspace, admin):
    # The flush after this test (DELETE on SQLite, TRUNCATE on PostgreSQL) must get through.
    audit_record(workspace=workspace, actor=admin, action="task.create")
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_triggers_are_back_after_a_flush(workspace, admin):
    event = audit_record(workspace=workspace, actor=admin, action="task.create")
    _refused(event.delete)
