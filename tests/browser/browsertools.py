"""Steps the browser tests share: signing in, enrolling the second factor."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pyotp
from pagetext import csrf_of, recovery_codes_of, secret_of  # noqa: I001 - tests/pagetext.py
from playwright.sync_api import Page


def sign_in(page: Page, username: str, password: str) -> None:
    """Fill in and send the sign-in form (whatever comes next: home, code, enrolment)."""
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()


def enrol_second_factor(page: Page, shot: Callable[[str], None] | None = None) -> str:
    """On the enrolment page: read the key it shows, answer with a code computed from
    it, keep the recovery codes page, continue. Returns the secret."""
    secret = page.inner_text("#totp-secret").strip()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    if shot:
        shot("enrol-second-factor")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#recovery-codes")
    assert page.locator("#recovery-codes li").count() == 10
    if shot:
        shot("recovery-codes")
    page.click("a.button")
    page.wait_for_load_state()
    return secret


def sign_in_by_request(page: Page, username: str, password: str) -> str | None:
    """Sign in through the real pages over HTTP with the context's own request client
    (`page.request` shares the tab's cookies), without the tab rendering them: for tests
    about the pages behind the sign-in. Someone who must enrol does so on the way (the
    secret is read from the enrolment page; the recovery codes page is checked and left).
    Returns the secret, or None when no second factor was involved. The pages themselves
    in the browser: test_sign_in_flow (password), `enrol_second_factor` (the flows)."""
    login = page.request.get("/login")
    assert login.ok, login.status
    resp = page.request.post("/login", form={"username": username, "password": password,
                                             "csrf_token": csrf_of(login.text())})
    assert resp.ok, resp.status
    if not resp.url.split("?")[0].endswith("/login/enrol"):
        assert "/login" not in resp.url, f"not signed in: {resp.url}"
        return None
    enrol = resp.text()
    secret = secret_of(enrol)
    assert len(secret) == 32, secret
    done = page.request.post("/login/enrol", form={"code": pyotp.TOTP(secret).now(),
                                                   "csrf_token": csrf_of(enrol)})
    assert done.ok, done.status
    assert len(recovery_codes_of(done.text())) == 10
    return secret


def later_code(secret: str) -> str:
    """A code the server has not seen: one step ahead (it accepts ±1 step)."""
    return pyotp.TOTP(secret).at(int(time.time()) + 30)


def nav_to(page: Page, label: str) -> None:
    """Follow the menu entry called ``label``: open its task group, then click it
    (as a person does; on a phone the menu button first unfolds the menu)."""
    toggle = page.locator("header.top .nav-toggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    link = page.locator("header nav.main-nav a").filter(
        has_text=re.compile(rf"^{re.escape(label)}")).first
    if not link.is_visible():
        link.locator("xpath=ancestor::details[1]/summary").click()
    link.click()
    page.wait_for_load_state()


def open_personal(page: Page, label: str) -> None:
    """Follow an entry of the person's own menu (security, tokens, password)."""
    page.click("header .who details.me summary")
    page.click(f"header .who details.me a:text-is('{label}')")
    page.wait_for_load_state()
