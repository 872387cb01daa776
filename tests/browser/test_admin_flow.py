"""An administrator (second factor required) adds a person; the person signs in with
the password shown once."""

from __future__ import annotations

from collections.abc import Callable

from browsertools import enrol_second_factor, nav_to, sign_in  # noqa: I001
from people import PASSWORD  # noqa: I001 - tests/people.py
from playwright.sync_api import Page


def test_admin_adds_a_person(page: Page, shot: Callable[[str], None]) -> None:
    sign_in(page, "root", PASSWORD)
    enrol_second_factor(page)
    nav_to(page, "系统管理")
    page.wait_for_selector("#people")
    shot("people")
    page.click("text=添加人员")
    page.fill("input[name=username]", "xiao.wang")
    page.fill("input[name=name]", "小王")
    page.fill("input[name=email]", "wang@example.com")
    page.select_option("select[name=department]", "SZ/CS")
    page.check("input[name=roles][value=staff]")
    shot("new-person-form")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#generated-password")
    password = page.inner_text("#generated-password").strip()
    assert len(password) >= 10 and "已添加 xiao.wang" in page.inner_text("main h1")
    shot("password-shown-once")
    page.click("text=全部人员")
    assert page.locator('#people a[href="/admin/users/xiao.wang"]').count() == 1
    shot("people-with-new-person")
    page.click('#people a[href="/admin/users/xiao.wang"]')
    assert page.is_checked("input[name=roles][value=staff]")
    assert "wang@example.com" in page.inner_text("main")
    shot("person-page")

    page.click("header form button[type=submit]")  # sign out
    sign_in(page, "xiao.wang", password)
    assert "欢迎，小王" in page.inner_text("main") or "小王" in page.inner_text("main")
    shot("new-person-signed-in")
