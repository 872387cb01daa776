"""A person signs in in Chinese (zh-CN, the default) and the language switch turns
the page English."""

from __future__ import annotations

from collections.abc import Callable

from browsertools import sign_in  # noqa: I001 - tests/browser/browsertools.py
from people import PASSWORD  # noqa: I001 - tests/people.py
from playwright.sync_api import Page


def test_sign_in_in_chinese_then_switch_to_english(page: Page,
                                                   shot: Callable[[str], None]) -> None:
    page.goto("/")
    assert page.url.endswith("/login?next=%2F") or "/login" in page.url
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "登录" in page.inner_text("main h1")
    shot("login-page-zh")
    sign_in(page, "clerk", PASSWORD)
    assert page.url.rstrip("/").endswith(page.url.split("/")[2])  # home
    body = page.inner_text("body")
    assert "欢迎" in body and "退出" in body
    shot("home-zh")
    page.click("text=English")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    body = page.inner_text("body")
    assert "Welcome, clerk" in body and "Sign out" in body and "欢迎" not in body
    shot("home-en")
    page.click("text=中文")
    page.wait_for_load_state()
    assert "欢迎" in page.inner_text("body")
    shot("home-zh-again")
