"""Support staff go from a failed payment to an assigned task in one step, and find it again."""

import re
import time

from playwright.sync_api import expect

from billing.models import SignalKind
from journeys.placement import place_signals
from journeys.services import journey_install_default
from tasks.models import FollowUpTask
from tests.factories import CustomerFactory, RevenueSignalFactory


def test_support_creates_a_task_from_a_failed_payment_and_finds_it_under_my_tasks(
    page, sign_in, support, workspace
):
    journey_install_default(workspace=workspace)
    customer = CustomerFactory(workspace=workspace, name="Acme Inc", mrr=4900, currency="eur")
    signal = RevenueSignalFactory(
        workspace=workspace,
        customer=customer,
        kind=SignalKind.PAYMENT_FAILED,
        amount=4900,
        currency="eur",
        details={"attempt_count": 2, "decline_code": "insufficient_funds"},
    )
    place_signals(signals=[signal])
    sign_in(support)

    started = time.monotonic()
    page.goto(f"/w/acme/signals/{signal.uuid}/tasks/")
    title = page.get_by_label("Title")
    expect(title).to_have_value("Follow up: failed payment — Acme Inc (€49.00)")
    expect(page.get_by_label("Description")).to_contain_text("Amount: €49.00 (attempt 2)")
    page.get_by_role("button", name="Create follow-up task").click()

    panel = page.locator("#signal-tasks")
    expect(panel.get_by_role("status")).to_contain_text("Task created")
    expect(
        panel.get_by_role("listitem").get_by_role(
            "link", name="Follow up: failed payment — Acme Inc (€49.00)"
        )
    ).to_be_visible()
    expect(page.locator("#nav-task-count")).to_have_text("1 open, yours")
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"creating the task took {elapsed:.1f}s"

    task = FollowUpTask.objects.get()
    assert (task.assignee, task.signal, task.customer) == (support, signal, customer)
    assert task.step.name == "Recurring payment"

    page.get_by_role("link", name="Tasks").click()
    page.get_by_role("link", name="My tasks").click()
    expect(page).to_have_url(f"{page.url.split('?')[0]}?assignee=me")
    row = page.locator(f"#task-{task.uuid}")
    expect(row.get_by_role("link", name=task.title)).to_be_visible()
    expect(row).to_contain_text("SaaS customer journey › Pay & retain › Recurring payment")


def test_a_member_works_the_list_with_htmx_and_the_count_follows(page, sign_in, member, workspace):
    from tests.factories import FollowUpTaskFactory

    first = FollowUpTaskFactory(workspace=workspace, title="Call Acme", assignee=member)
    FollowUpTaskFactory(workspace=workspace, title="Email Globex", assignee=member)
    FollowUpTaskFactory(workspace=workspace, title="Nobody's task")
    sign_in(member)
    page.goto("/w/acme/tasks/")
    expect(page.locator("#nav-task-count")).to_have_text("2 open, yours")

    row = page.locator(f"#task-{first.uuid}")
    row.get_by_label("Status of “Call Acme”").select_option("done")
    expect(page.locator("#nav-task-count")).to_have_text("1 open, yours")
    expect(page.locator(f"#task-{first.uuid}").get_by_label("Status of “Call Acme”")).to_have_value(
        "done"
    )
    first.refresh_from_db()
    assert first.status == "done"

    page.get_by_label("Assignee", exact=True).select_option(label="Unassigned")
    expect(page).to_have_url(re.compile(r"assignee=none"))
    expect(page.get_by_role("link", name="Nobody's task")).to_be_visible()
    expect(page.get_by_role("link", name="Email Globex")).to_have_count(0)
