"""Every page, for each role, in one browser: no console errors, no horizontal overflow at 1280
and 1440 px, and no serious or critical axe-core violations (axe vendored under tests/)."""

import os
from pathlib import Path

import pytest

from billing.models import StripeEvent
from custory.audit import audit_record
from custory.models import Invitation
from tests.dashboard_data import mixed_history
from tests.factories import CustomerFactory, FollowUpTaskFactory, RevenueSignalFactory

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe-4.14.1.min.js"
WIDTHS = (1280, 1440)
LONG = "Renegotiate" + "X" * 180  # one unbroken word, as long as a task title may be
# What a person may open, by the least role that opens it.
ADMIN_ONLY = ("/settings/stripe/", "/settings/members/", "/settings/audit/", "/settings/webhooks/")
EDITORS_ONLY = (
    "/settings/journeys/",
    "/settings/task-rules/",
    "/settings/alerts/",
    "/settings/sync-health/",
)

RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.id} (${v.impact}): ` + v.nodes.slice(0, 3).map(n => n.target.join(" ")));
}"""
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
# The board scrolls inside itself when a journey has many stages; the default one fits 1440 px.
BOARD_CUT = (
    "() => [...document.querySelectorAll('.board')].some(b => b.scrollWidth > b.clientWidth)"
)
SHOTS = os.environ.get("SWEEP_SCREENSHOTS")  # a folder: save a screenshot of every page there


@pytest.fixture
def pages(workspace, admin, member, support):
    mixed_history(workspace)
    journey = workspace.journeys.get()
    step = journey.steps.get(name="Recurring payment")
    customer = CustomerFactory(workspace=workspace, name=LONG[:120], email="long@example.org")
    signal = RevenueSignalFactory(workspace=workspace, customer=customer, kind="payment_failed")
    task = FollowUpTaskFactory(workspace=workspace, title=LONG, assignee=support, step=step)
    event = StripeEvent.objects.filter(workspace=workspace).first()
    Invitation.objects.create(workspace=workspace, email="new@example.org")
    audit_record(workspace=workspace, actor=admin, action="task.create", target_label=LONG)
    w = "/w/acme"
    return [
        f"{w}/",
        f"{w}/?period=365&kind=payment_failed",
        step.get_absolute_url(),
        f"{w}/signals/",
        signal.get_absolute_url(),
        f"{w}/signals/{signal.uuid}/tasks/",
        f"{w}/customers/",
        customer.get_absolute_url(),
        f"{w}/tasks/?assignee=me",
        f"{w}/tasks/?view=board",
        task.get_absolute_url(),
        f"{w}/settings/",
        f"{w}/settings/alerts/",
        f"{w}/settings/tokens/",
        f"{w}/settings/journeys/",
        f"{w}/settings/journeys/{journey.uuid}/",
        f"{w}/settings/journeys/{journey.uuid}/rules/",
        f"{w}/settings/journeys/rules/{journey.mapping_rules.first().uuid}/",
        f"{w}/settings/journeys/{journey.uuid}/unmapped/",
        f"{w}/settings/task-rules/",
        f"{w}/settings/stripe/",
        f"{w}/settings/stripe/events/",
        f"{w}/settings/sync-health/",
        f"{w}/settings/stripe/events/{event.pk}/" if event else f"{w}/settings/stripe/events/",
        f"{w}/settings/members/",
        f"{w}/settings/audit/",
        f"{w}/settings/webhooks/",
    ]


def _allowed(path: str, role: str) -> bool:
    tail = path.removeprefix("/w/acme")
    if tail.startswith(ADMIN_ONLY):
        return role == "admin"
    if tail.startswith(EDITORS_ONLY):
        return role != "support"
    return True


def _check(page, path: str, errors: list[str]) -> list[str]:
    problems = []
    errors.clear()
    response = page.goto(path)
    if response is None or response.status != 200:
        return [f"{path}: HTTP {response.status if response else 'none'}"]
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate(OVERFLOW)
        if overflow > 0:
            problems.append(f"{path}: {overflow}px of horizontal overflow at {width}px")
        if width == 1440 and page.evaluate(BOARD_CUT):
            problems.append(f"{path}: the board's lanes (Unmapped last) do not fit {width}px")
        if SHOTS:
            name = path.strip("/").replace("/", "_").replace("?", "_")[:80] or "root"
            page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
    problems += [f"{path}: axe {v}" for v in page.evaluate(RUN_AXE)]
    problems += [f"{path}: console {e}" for e in errors]
    errors.clear()
    return problems


def test_every_page_passes_the_browser_checks(browser, live_server, pages, admin, member, support):
    problems = []
    for role, user in [("admin", admin), ("member", member), ("support", support)]:
        problems += _sweep(browser, live_server, pages, role, user)
    assert not problems, "\n".join(problems)


def _sweep(browser, live_server, pages, role, user) -> list[str]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    # Loaded into every page by the browser itself (not an inline script: the CSP stays in force).
    context.add_init_script(path=AXE)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "response",
        lambda r: errors.append(f"HTTP {r.status} for {r.url}") if r.status >= 400 else None,
    )
    try:
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill("correct-horse-battery")
        page.get_by_role("button", name="Sign In").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        problems = []
        for path in pages:
            if _allowed(path, role):
                problems += [f"{role} {p}" for p in _check(page, path, errors)]
        return problems
    finally:
        context.close()
