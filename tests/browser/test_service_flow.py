"""A hotline complaint from start to the monthly report: customer service records it
from the register, takes it in hand and closes it with the reply; the follow-up
then shows as due; the on-site visit is recorded with a signature drawn on the
page's signature pad (stored encrypted as an image document); the supervisor
signs the review; the monthly report shows the complaint follow-up rate against
its 50 % target."""

from __future__ import annotations

from collections.abc import Callable

from browsertools import nav_to, sign_in  # noqa: I001 - tests/browser/browsertools.py
from people import PASSWORD  # noqa: I001 - tests/people.py
from playwright.sync_api import Page
from sqlalchemy import select

from vault.models import DocumentVersion, FollowUp
from vault.services import tenants
from vault.services.context import Infra, unit_of_work

CONTENT = "A座电梯多次停运，租户来电投诉"


def test_hotline_complaint_visit_with_drawn_signature_review_and_report(
        page: Page, shot: Callable[[str], None], org: Infra) -> None:
    with unit_of_work(org, "keeper") as ctx:
        tenants.create_tenant(ctx, "T1", "华南贸易有限公司", "A座1201", "张先生 138-0000-0001")

    sign_in(page, "clerk", PASSWORD)
    nav_to(page, "诉求记录")
    page.wait_for_selector("#requests")
    page.click("text=登记诉求")
    page.select_option("#kind", "complaint")
    page.select_option("#grade", "normal")
    page.select_option("#channel", "hotline")
    page.select_option("#tenant", "T1")
    page.fill("#content", CONTENT)
    shot("record-complaint")
    page.click("#request-submit")
    page.wait_for_selector("#request-facts")
    assert CONTENT in page.inner_text("#request-content")
    assert page.get_attribute("#request-status", "data-status") == "open"

    page.click("#start-submit")
    page.wait_for_selector("#request-status[data-status=in_progress]")
    page.fill("#reply", "已联系电梯维保单位检修，并向租户致歉")
    shot("close-with-reply")
    page.click("#close-submit")
    page.wait_for_selector("#request-status[data-status=closed]")
    assert "物业助理" in page.inner_text("#request-facts")  # who follows up an ordinary one
    page.click("#follow-ups a")
    page.wait_for_selector("#visit-facts")
    assert "待回访" in page.inner_text("h1")
    shot("follow-up-due")

    # The visit, on site, with a signature drawn on the pad.
    page.fill("#notes", "客户对处理结果满意")
    page.locator("#signature-canvas").scroll_into_view_if_needed()
    box = page.locator("#signature-canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 30, box["y"] + 100)
    page.mouse.down()
    for i in range(1, 30):
        page.mouse.move(box["x"] + 30 + i * 12, box["y"] + 100 - (i % 6) * 12)
    page.mouse.up()
    shot("signature-drawn")
    page.click("#record-submit")
    page.wait_for_selector("#signature-link")
    assert "上门回访" in page.inner_text("#visit-method")
    with org.sessions() as s:
        visit = s.scalars(select(FollowUp)).one()
        version = s.scalars(select(DocumentVersion).where(
            DocumentVersion.document_id == visit.signature_document_id)).one()
        assert version.media_type == "image/png" and version.size > 1000
        month = visit.due_on.strftime("%Y-%m")
        visit_id = visit.id
    shot("visit-recorded")

    # The supervisor reviews and signs an opinion, then reads the monthly report.
    page.wait_for_load_state("networkidle")  # nothing under way writes the session back
    page.context.clear_cookies()
    sign_in(page, "boss", PASSWORD)
    page.goto(f"/visits/{visit_id}")
    page.fill("#opinion", "回访及时，记录完整")
    page.click("#review-submit")
    page.wait_for_selector("#visit-opinion")
    assert "回访及时" in page.inner_text("#visit-opinion")
    shot("reviewed")
    page.goto(f"/visits/report?company=SZ&month={month}")
    page.wait_for_selector("#report-lines")
    row = page.locator("#line-complaint")
    assert row.get_attribute("data-rate") == "100.0"
    assert "100.0%" in row.inner_text() and "50%" in row.inner_text()
    assert "达标" in row.inner_text()
    shot("monthly-report")
