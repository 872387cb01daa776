"""A compliance officer enrols the second factor required by the role (codes from
the key the page shows), filters the trail, exports it as CSV and checks the rows;
then signs in again with a code."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

from browsertools import enrol_second_factor, later_code, nav_to, open_personal, sign_in  # noqa: I001
from people import PASSWORD  # noqa: I001 - tests/people.py
from playwright.sync_api import Page


def test_compliance_officer_filters_and_exports(page: Page, shot: Callable[[str], None],
                                                tmp_path: Path) -> None:
    # Three failed sign-ins of the clerk, for the officer to find.
    for _ in range(3):
        sign_in(page, "clerk", "not the password")
        assert page.locator("p.error").count() == 1
    sign_in(page, "auditor", PASSWORD)
    assert page.url.endswith("/login/enrol")
    assert "您的角色要求使用双重验证" in page.inner_text("main")
    assert page.locator("img.qr").get_attribute("src", timeout=5000).startswith(  # type: ignore[union-attr]
        "data:image/svg+xml")
    secret = enrol_second_factor(page, shot)
    assert "欢迎" in page.inner_text("main")
    open_personal(page, "账户安全")
    assert "剩余恢复码：10" in page.inner_text("main")
    shot("security-page")

    nav_to(page, "合规审查")
    page.wait_for_selector("#trail-filters")
    shot("trail")
    page.fill("#trail-filters input[name=actor]", "clerk")
    page.select_option("#trail-filters select[name=action]", "auth:sign_in_failed")
    page.click("#trail-filters button[type=submit]")
    page.wait_for_load_state()
    assert "actor=clerk" in page.url
    assert "共 3 个事件" in page.inner_text("#trail-count")
    assert page.locator("table.events tbody tr").count() == 3
    shot("trail-filtered")

    with page.expect_download() as info:
        page.click("#trail-export button[type=submit]")
    download = info.value
    assert re.fullmatch(r"audit-\d{8}-\d{6}\.csv", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with saved.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3
    assert {(r["actor"], r["action"], r["outcome"], r["reason"]) for r in rows} == {
        ("clerk", "auth:sign_in_failed", "denied", "wrong_password")}
    assert [int(r["seq"]) for r in rows] == sorted(int(r["seq"]) for r in rows)

    # The export is on the trail too.
    page.goto("/compliance/?action=audit:export")
    assert "共 1 个事件" in page.inner_text("#trail-count")
    shot("export-recorded")

    page.click("text=链状态")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#verify-result")
    assert "审计链完整" in page.inner_text("#verify-result")
    shot("chain-verified")

    # Signing in again asks for a code from the app.
    page.click("header form button[type=submit]")  # sign out
    sign_in(page, "auditor", PASSWORD)
    assert page.url.endswith("/login/second-factor")
    page.fill("input[name=code]", later_code(secret))
    shot("second-factor")
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    assert "欢迎" in page.inner_text("main")
