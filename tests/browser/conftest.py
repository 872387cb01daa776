"""Browser tests: the real app served by werkzeug on 127.0.0.1:<free port> in a
background thread, over the `org` of tests/conftest.py (SQLite only here), driven by
Debian's chromium (its headless shell) through Playwright's sync API. A test that
fails leaves a screenshot of its page as it was,
tests/browser/artifacts/<test>/failed-after-<step>.png (git-ignored); with
VAULT_BROWSER_SHOTS=every-step each step's screenshot is kept too, as
artifacts/<test>/<n>-<step>.png."""

from __future__ import annotations

import os
import re
import shutil
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from apppool import SERVED_APPS  # noqa: I001 - tests/apppool.py
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from werkzeug.serving import make_server

from vault.services.context import Infra

# Debian's chromium-headless-shell: the same Blink as the chromium package, without the
# browser's own windows, profile services and extensions (what Playwright itself runs for
# headless chromium). The whole browser (/usr/bin/chromium, in its "new" headless mode)
# cost about 60 % more CPU: tests/browser alone, every process counted, 150 -> 94 s.
CHROMIUM = "/usr/lib/chromium/chromium-headless-shell"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# Every step's screenshot, not only a failed test's last page: 60-110 ms each, about 6 %
# of the flows' CPU time, for pictures nothing compares.
EVERY_STEP = os.environ.get("VAULT_BROWSER_SHOTS", "") == "every-step"

_FAILED = pytest.StashKey[bool]()  # a phase of the test (setup, call) failed
_STEP = pytest.StashKey[str]()  # the last step the test's `shot` named


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        item.stash[_FAILED] = True
    return report


def artifacts(request: pytest.FixtureRequest) -> Path:
    """This test's folder of screenshots (tests/browser/artifacts/<test>)."""
    return ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)


def _step_slug(step: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", step)


def keep_failure(request: pytest.FixtureRequest, context: BrowserContext) -> None:
    """If the test failed, save the page it was on (the context's newest open tab) as
    artifacts/<test>/failed[-after-<step>].png. Call before closing the context."""
    if not request.node.stash.get(_FAILED, False) or not context.pages:
        return
    step = request.node.stash.get(_STEP, "")
    folder = artifacts(request)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (f"failed-after-{_step_slug(step)}.png" if step else "failed.png")
    try:
        context.pages[-1].screenshot(path=str(path), full_page=True, timeout=10_000)
    except PlaywrightError as exc:  # a crashed page: the test's own failure says more
        print(f"no screenshot of the failed page: {exc}", file=sys.stderr)


@pytest.fixture
def database_url(new_database: Callable[[str], str]) -> str:
    """SQLite only: the browser flows are about pages, not databases (the web and
    integration suites cover PostgreSQL)."""
    return new_database("sqlite")


def _static_read_whole(app: Any) -> Callable[[dict[str, Any], Any], Iterable[bytes]]:
    """werkzeug's development server does not close a response when the browser drops
    the connection while the server drains the request (a ConnectionResetError inside its
    `finally`, before `close()`): a static file is left open, a ResourceWarning that fails
    the test under `-W error`. Static files are read whole and closed here instead."""
    def wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = app(environ, start_response)
        if not str(environ.get("PATH_INFO", "")).startswith("/static/"):
            return body  # type: ignore[no-any-return]
        try:
            return [b"".join(body)]
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
    return wsgi


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``app`` served on a free loopback port by a background thread; yields its base
    URL. The server looks for the request to stop every 50 ms: werkzeug's default of
    0.5 s was half a second of every browser test's teardown, spent waiting."""
    server = make_server("127.0.0.1", 0, _static_read_whole(app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="vault-live", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def live_server(org: Infra) -> Iterator[str]:
    """The real application on a free loopback port; yields its base URL. The app is
    this process's pooled one (tests/apppool.py), as `create_app` builds it for `org`:
    built, and its templates compiled, once per process rather than per test."""
    app = SERVED_APPS.take(org)
    try:
        with serve(app) as url:
            yield url
    finally:
        app.extensions["vault.engine"].dispose()
        SERVED_APPS.give_back(app)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's "
                    "chromium-headless-shell.")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser, live_server: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser profile that prefers Chinese (zh-CN), as the group's people do.
    A failed test leaves a screenshot of the page it was on (`keep_failure`)."""
    shutil.rmtree(artifacts(request), ignore_errors=True)
    context = browser.new_context(locale="zh-CN", accept_downloads=True, base_url=live_server,
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        keep_failure(request, context)
        context.close()


@pytest.fixture
def shot(request: pytest.FixtureRequest, page: Page) -> Callable[[str], None]:
    """``shot("step")`` names the step the test has reached (a failure's screenshot is
    called after it); under VAULT_BROWSER_SHOTS=every-step it also saves the whole page
    as artifacts/<test>/<n>-<step>.png."""
    folder = artifacts(request)
    count = iter(range(1, 1000))

    def take(step: str) -> None:
        request.node.stash[_STEP] = f"{next(count):02d}-{step}"
        if EVERY_STEP:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{_step_slug(request.node.stash[_STEP])}.png"
            page.screenshot(path=str(path), full_page=True)

    return take
