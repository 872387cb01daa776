"""An outgoing letter from draft to sign-off (对外发文与用章申请): customer service
drafts it from the letterhead template, asks for the seal; the department's manager
approves, then the general manager (enrolling the required second factor); the
letter reads 已用印 with who and when; it is sent to two tenants and one signs off."""

from __future__ import annotations

from collections.abc import Callable

from browsertools import enrol_second_factor, nav_to, sign_in  # noqa: I001
from people import PASSWORD  # noqa: I001 - tests/people.py
from playwright.sync_api import Page
from sqlalchemy import select

from vault.models import Letter
from vault.services import letters, tenants
from vault.services.context import Infra, unit_of_work

TITLE = "关于电梯年度检修的通知"


def _sign_out(page: Page) -> None:
    # Requests still under way (the icon, scripts) would write the session back after
    # the cookies are cleared; the step screenshots used to give them time to finish.
    page.wait_for_load_state("networkidle")
    page.context.clear_cookies()


def test_letter_drafted_sealed_by_manager_and_gm_sent_and_signed_off(
        page: Page, shot: Callable[[str], None], org: Infra) -> None:
    with unit_of_work(org, "keeper") as ctx:
        tenants.create_tenant(ctx, "T1", "华南贸易有限公司", "A座1201", "张先生")
        tenants.create_tenant(ctx, "T2", "北方科技有限公司", "B座0301", "李女士")
    with unit_of_work(org, "root") as ctx:
        letters.save_template(ctx, name="深圳公司函头", letterhead="深圳公司\n深圳市福田区",
                              closing="客户服务部\n深圳公司", company_code="SZ")

    # Customer service drafts the letter and asks for the seal.
    sign_in(page, "clerk", PASSWORD)
    nav_to(page, "发文")
    page.wait_for_selector("#letters")
    page.click("text=起草发文")
    page.fill("#title", TITLE)
    page.fill("#addressee", "各位租户")
    page.fill("#body", "因大厦电梯年度检修，十日九时至十二时停用。\n如有不便，敬请谅解。")
    shot("draft")
    page.click("#draft-button")
    page.wait_for_selector("#letter-facts")
    assert page.get_attribute("#letter-status", "data-status") == "draft"
    assert page.locator("#send-form").count() == 0
    assert "用章申请获批（已用印）后即可发出" in page.inner_text("#not-sealed-hint")
    letter_url = page.url
    page.fill("#seal-purpose", "通知全体租户电梯检修安排")
    page.click("#seal-button")
    page.wait_for_selector("#letter-status[data-status=pending]")
    shot("seal-requested")
    _sign_out(page)

    # The department's manager approves the first step.
    sign_in(page, "manager", PASSWORD)
    nav_to(page, "发文")
    page.wait_for_selector("#seals-to-decide")
    page.click("#seals-to-decide a")
    page.wait_for_selector("#approve-form")
    assert page.url == letter_url
    page.fill("#approve-note", "同意发文")
    shot("manager-approves")
    page.click("#approve-button")
    page.wait_for_selector(".flashes")
    assert "总经理" in page.inner_text(".flashes")
    assert "同意发文" in page.inner_text("#seal-requests")
    assert page.locator("#approve-form").count() == 0
    _sign_out(page)

    # The general manager (second factor enrolled on the way in) approves: 已用印.
    sign_in(page, "gm", PASSWORD)
    enrol_second_factor(page)
    page.goto(letter_url)
    page.wait_for_selector("#approve-form")
    page.click("#approve-button")
    page.wait_for_selector("#letter-sealed")
    assert page.get_attribute("#letter-status", "data-status") == "sealed"
    assert "gm" in page.inner_text("#letter-sealed")
    shot("sealed")
    _sign_out(page)

    # Sent to two tenants; one signs off on the notice sign-off page.
    sign_in(page, "clerk", PASSWORD)
    page.goto(letter_url)
    page.wait_for_selector("#send-form")
    page.check("#send-T1")
    page.check("#send-T2")
    page.click("#send-button")
    page.wait_for_load_state()
    assert "/sign-offs" in page.url
    shot("sent")
    with org.sessions() as s:
        letter = s.scalars(select(Letter)).one()
        assert letter.status == "sealed" and letter.sealed_by is not None
        assert letter.sealed_by.username == "gm"
    assert "已签收 0 / 2" in page.inner_text("#progress-figure")
    page.select_option("#sign-off-tenant", "T1")
    page.fill("#sign-off-signer", "张先生")
    page.click("#sign-off-submit")
    page.wait_for_selector("#signed")
    assert "已签收 1 / 2" in page.inner_text("#progress-figure")
    assert "张先生" in page.inner_text("#signed")
    shot("signed-off")
