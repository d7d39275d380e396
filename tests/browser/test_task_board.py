"""The task list's bulk bar and the task board's drag and drop, in a real browser."""

from playwright.sync_api import expect

from tests.factories import FollowUpTaskFactory


def test_the_bulk_bar_shows_only_while_rows_are_selected(page, sign_in, member, workspace):
    task = FollowUpTaskFactory(workspace=workspace, title="Call Acme", assignee=member)
    sign_in(member)
    page.goto("/w/acme/tasks/")
    bar = page.locator("#bulk-form")
    expect(bar).to_be_hidden()
    page.get_by_label("Select “Call Acme”").check()
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("1 task selected")
    page.get_by_label("Select “Call Acme”").uncheck()
    expect(bar).to_be_hidden()
    assert task.status == "open"


def test_a_card_dragged_to_another_column_changes_status(page, sign_in, member, workspace):
    task = FollowUpTaskFactory(workspace=workspace, title="Call Acme", assignee=member)
    sign_in(member)
    page.goto("/w/acme/tasks/?view=board")
    card = page.locator(f"#card-{task.uuid}")
    target = page.locator('ul.task-drop[data-status="done"]')
    # Grab the card by its edge: its links and menus are not drag handles.
    card.drag_to(target, source_position={"x": 4, "y": 4})
    expect(page.locator(f'ul.task-drop[data-status="done"] #card-{task.uuid}')).to_be_visible()
    expect(page.locator("#col-done .badge")).to_have_text("1")
    task.refresh_from_db()
    assert task.status == "done"
    # The status menu stays the keyboard path.
    card = page.locator(f"#card-{task.uuid}")
    card.get_by_label("Status of “Call Acme”").select_option("in_progress")
    expect(page.locator(f"#card-{task.uuid}").get_by_label("Status of “Call Acme”")).to_have_value(
        "in_progress"
    )
