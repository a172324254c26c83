"""Browser fixtures: the session's app served on a free local port, and headless
Debian Chromium driven through Playwright (its own browser download is not used).

A browser that cannot be started is a failure, never a skip: the suite must not
pass quietly without having run in a real browser.
"""
from __future__ import annotations

import re
import threading

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import PASSWORD
from tests.views.test_security_walk import ids  # noqa: F401 (a fixture: the accessibility walk's objects)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 10_000


class _QuietHandler(WSGIRequestHandler):
    """No line per request in the test output; errors are still logged."""

    def log_request(self, *args, **kwargs):
        pass


@pytest.fixture(scope="session")
def live_server(app):
    """The app on 127.0.0.1 and a port the OS picks (port 0 is always free)."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def chromium():
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:  # never a skip
        pytest.fail(f"the Python playwright package is required for the browser tests: {exc}",
                    pytrace=False)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Error as exc:
        playwright.stop()
        pytest.fail(f"Chromium could not be launched from {CHROMIUM}: {exc}", pytrace=False)
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    yield browser
    browser.close()
    playwright.stop()


class Ui:
    """Opens pages in fresh browser contexts and remembers every console error."""

    def __init__(self, browser, base_url):
        self.browser, self.base_url = browser, base_url
        self.contexts = []
        self.errors: list[str] = []

    def new_page(self, locale: str = "en-US", **context_options):
        context = self.browser.new_context(base_url=self.base_url, locale=locale,
                                           viewport={"width": 1280, "height": 900}, **context_options)
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", lambda msg: self._console(page, msg))
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: uncaught: {exc}"))
        return page

    def _console(self, page, msg):
        if msg.type != "error":
            return
        source = (msg.location or {}).get("url", "")
        # The app has no favicon: Chromium's own automatic request for it 404s. That is
        # not an error of the page under test (see the report; a <link rel="icon"> fixes it).
        if source.endswith("/favicon.ico"):
            return
        self.errors.append(f"{page.url}: console error: {msg.text} ({source})")

    def login(self, page, user, password: str = PASSWORD):
        """Log in through the real form; ends on the home page."""
        page.goto("/login")
        form = page.locator("article.login form")
        form.locator("input[name=email]").fill(user.email)
        form.locator("input[name=password]").fill(password)
        form.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r"/$"))
        return page

    def assert_no_console_errors(self):
        assert self.errors == [], "\n".join(self.errors)

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def ui(chromium, live_server):
    ui = Ui(chromium, live_server)
    yield ui
    # Closing the contexts before the database cleanup (an autouse fixture, so torn
    # down after this one) means no request of this test is still being served.
    ui.close()
