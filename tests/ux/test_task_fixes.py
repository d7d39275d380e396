"""Tasks open on the person's own queue for support."""

from tests.factories import FollowUpTaskFactory


def test_support_opens_on_my_tasks(client_for, support, workspace):
    response = client_for(support).get("/w/acme/tasks/")
    assert response.status_code == 302
    assert response["Location"] == "/w/acme/tasks/?assignee=me"


def test_members_open_on_all_open_tasks_and_support_can_still_see_them(
    client_for, member, support, workspace
):
    FollowUpTaskFactory(workspace=workspace, title="Nobody's task")
    assert client_for(member).get("/w/acme/tasks/").status_code == 200
    body = client_for(support).get("/w/acme/tasks/?status=active").content.decode()
    assert "Nobody&#x27;s task" in body
    assert '<a href="?status=active" aria-current="page">All open</a>' in body
