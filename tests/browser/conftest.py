"""Playwright driving Debian's Chromium against pytest-django's live server.

Where /usr/bin/chromium is missing the browser tests are skipped with a printed reason; in CI
(CI=true) a missing browser is a failure instead, so they can never be silently skipped there.
"""

import os
import shutil
import threading

import pytest
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection
from django.test.testcases import LiveServerThread

# Playwright's sync API runs an event loop in this thread; the ORM calls in fixtures are safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class OneRequestAtATimeServer(ThreadedWSGIServer):
    """The live server, answering one request at a time when the test database is in-memory SQLite.

    There every request thread shares the test's one sqlite3 connection, and two requests using
    it at once (a page and its htmx fragment) can deadlock inside SQLite: CI once hung an hour so.
    """

    request_lock = threading.Lock()

    def set_app(self, application):
        if not (connection.vendor == "sqlite" and connection.is_in_memory_db()):
            return super().set_app(application)

        def one_at_a_time(environ, start_response):
            # A request that waits this long is reported by the test's own timeouts anyway.
            acquired = self.request_lock.acquire(timeout=30)
            try:
                result = application(environ, start_response)
                try:
                    return list(result)
                finally:
                    if hasattr(result, "close"):
                        result.close()
            finally:
                if acquired:
                    self.request_lock.release()

        return super().set_app(one_at_a_time)


LiveServerThread.server_class = OneRequestAtATimeServer


def pytest_collection_modifyitems(config, items):
    browser_items = [item for item in items if "tests/browser/" in str(item.fspath)]
    for item in browser_items:
        item.add_marker(pytest.mark.browser)
    if browser_items and not (os.path.exists(CHROMIUM) and shutil.which(CHROMIUM)):
        reason = f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            raise pytest.UsageError(f"CI must run the browser tests, but {reason}.")
        print(f"\nSKIPPING {len(browser_items)} browser tests: {reason}.")
        for item in browser_items:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def sign_in(page):
    """sign_in(user) signs in through the real login form."""

    def do_sign_in(user, password="correct-horse-battery"):
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign In").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    return do_sign_in
