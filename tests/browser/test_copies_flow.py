"""Issue 6's browser flow: a staff member asks for a copy of a 机密 (secret) PDF; the
company's general manager sees it on the home page, confirms it is them again and
approves; the staff member downloads the PDF once — every page stamped with the copy
number and the recipient — and a second download is refused; the custodian records
the copy destroyed; a compliance officer finds each step in the audit trail."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from browsertools import enrol_second_factor, later_code, nav_to, sign_in  # noqa: I001
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from people import PASSWORD  # noqa: I001 - tests/people.py
from playwright.sync_api import Page
from pypdf import PdfReader

from vault.policy import Category, Level
from vault.services import accounts, documents, samples
from vault.services.context import Infra, unit_of_work

TITLE = "2026年度经营计划（浏览器测试）"
PURPOSE = "向外部审计师提供第三季度审计资料"


def register_secret_pdf(org: Infra) -> int:
    """A three-page 机密 PDF registered by the clerk (who may therefore read it)."""
    with unit_of_work(org, "clerk") as ctx:
        doc = documents.register(
            ctx, title=TITLE, category=Category.OPERATIONS_REPORT, level=Level.SECRET,
            supervisor=accounts.get_user(ctx.session, "boss"), department_code="CS",
            content=io.BytesIO(samples.pdf_pages(TITLE, pages=3)), filename="经营计划.pdf",
        )
        return doc.id


def age_sign_in(page: Page, org: Infra, minutes: int = 10) -> None:
    """Make the browser's last sign-in ``minutes`` old, as if the approver had signed in
    earlier and left the page open (the session cookie is signed with the app's key)."""
    # Requests still under way (the icon, scripts) would write the fresh session back.
    page.wait_for_load_state("networkidle")
    app = Flask("age-session")
    app.secret_key = org.settings.effective_secret_key()
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    cookie = next(c for c in page.context.cookies() if c["name"] == "vault_session")
    data = serializer.loads(cookie["value"])
    data["reauth"] = time.time() - minutes * 60
    page.context.add_cookies([{**cookie, "value": serializer.dumps(data)}])


def sign_out(page: Page) -> None:
    page.click("header form button[type=submit]")
    page.wait_for_url(re.compile(r"/login"))


def test_copy_request_approval_download_destroy_and_trail(
        page: Page, shot: Callable[[str], None], org: Infra, tmp_path: Path) -> None:
    doc_id = register_secret_pdf(org)
    label = f"机密-{datetime.now(UTC).year}-{doc_id:04d} 副本 1"

    # The clerk asks for a copy from the document's page.
    sign_in(page, "clerk", PASSWORD)
    page.goto(f"/documents/{doc_id}")
    assert "机密★20年" in page.inner_text(".marking.banner-top")
    page.click("#request-links a[data-kind=copy]")
    page.wait_for_selector("#request-form")
    assert "所属公司总经理" in page.inner_text("#route")
    page.fill("#purpose", PURPOSE)
    shot("clerk-request-form")
    page.click("#request-submit")
    page.wait_for_url(re.compile(r"/copies/\d+$"))
    request_url = page.url
    assert "待审批" in page.inner_text("#request-state")
    assert "您的申请已提交审批" in page.inner_text(".flashes")
    shot("clerk-request-sent")
    sign_out(page)

    # The general manager signs in (enrolling the required second factor) and sees it.
    sign_in(page, "gm", PASSWORD)
    secret = enrol_second_factor(page)
    assert "有 1 个申请等待您审批" in page.inner_text("#pending-decisions")
    shot("gm-home-pending")
    page.click("#pending-decisions a")
    page.wait_for_selector("#to-decide")
    page.click(f"#to-decide a:has-text('{TITLE}')")
    page.wait_for_selector("#approve-form")
    assert page.url == request_url
    assert PURPOSE in page.inner_text("#purpose")
    assert "clerk" in page.inner_text("#requester")
    assert page.locator("#open-viewer, img").count() == 0  # metadata only, no content
    shot("gm-request-page")

    # The sign-in is no longer fresh: approving asks for the password and a code.
    age_sign_in(page, org)
    page.reload()
    page.click("#approve")
    page.wait_for_url(re.compile(r"/reauth\?next="))
    assert "确认身份" in page.inner_text("main")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=code]", later_code(secret))
    shot("gm-reauth")
    page.click("main form button[type=submit]")
    page.wait_for_url(request_url)
    page.click("#approve")
    page.wait_for_selector(".flashes")
    assert "申请已批准" in page.inner_text(".flashes")
    assert "已批准" in page.inner_text("#request-state")
    shot("gm-approved")
    sign_out(page)

    # The clerk downloads the registered copy once.
    sign_in(page, "clerk", PASSWORD)
    page.goto(request_url)
    with page.expect_download() as info:
        page.click("#download-copy")
    download = info.value
    assert download.suggested_filename == f"{TITLE} (副本 1).pdf"  # named by its title
    saved = tmp_path / "copy.pdf"
    download.save_as(saved)
    reader = PdfReader(saved)
    assert len(reader.pages) == 3
    # The stamp sits in the bottom margin, below every line of the page's own text
    # (issue 16: a box at the top right covered the title's closing bracket).
    heights: dict[str, list[float]] = {"stamp": [], "content": []}

    def where(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        y = tm[5] * cm[3] + cm[5]
        if text.strip() == f"{label}（复印件视同原件）":  # the box (not the faint diagonal)
            heights["stamp"].append(y)
        elif TITLE in text or "本文件" in text:  # the page's own text
            heights["content"].append(y)

    reader.pages[0].extract_text(visitor_text=where)
    assert heights["stamp"] and heights["content"], heights
    assert max(heights["stamp"]) < min(heights["content"]), heights
    assert max(heights["stamp"]) < 0.08 * float(reader.pages[0].mediabox.height)
    for number, pdf_page in enumerate(reader.pages, 1):
        text = pdf_page.extract_text()
        assert label in text, (number, text)
        assert "领取人 clerk（clerk）" in text, (number, text)
        assert "机密★20年" in text, (number, text)
    page.reload()
    assert label in page.inner_text("#copy-label")
    assert page.locator("#download-copy").count() == 0
    shot("clerk-downloaded")
    # Send the same form again (as a second click would): refused.
    with page.expect_response(lambda r: r.url.endswith("/download")) as second:
        page.evaluate("""url => {
            const form = document.createElement("form");
            form.method = "post";
            form.action = url;
            const token = document.createElement("input");
            token.type = "hidden";
            token.name = "csrf_token";
            token.value = document.querySelector("input[name=csrf_token]").value;
            form.appendChild(token);
            document.body.appendChild(form);
            form.submit();
        }""", request_url + "/download")
    assert second.value.status == 409
    page.wait_for_load_state()
    assert "只能领取一次" in page.inner_text("main")
    shot("clerk-second-download-refused")
    sign_out(page)

    # The custodian records the copy destroyed, then looks the number up.
    sign_in(page, "keeper", PASSWORD)
    nav_to(page, "登记簿")
    page.wait_for_selector("#copy-register")
    row = page.locator(f"#copy-register tr:has-text('{label}')")
    assert row.count() == 1 and "已发放" in row.inner_text()
    shot("keeper-register")
    row.locator("input[name=note]").fill("已碎纸销毁")
    row.locator("button[value=destroyed]").click()
    page.wait_for_selector(".flashes")
    assert f"副本 {label} 已登记为已销毁" in page.inner_text(".flashes")
    row = page.locator(f"#copy-register tr:has-text('{label}')")
    assert "已销毁" in row.inner_text() and "已碎纸销毁" in row.inner_text()
    shot("keeper-destroyed")
    page.fill("#lookup-box input[name=number]", label)
    page.click("#lookup-box button[type=submit]")
    page.wait_for_selector("#lookup-result")
    assert "clerk (clerk)" in page.inner_text("#lookup-recipient")
    assert "gm (gm)" in page.inner_text("#lookup-approver")
    assert "已销毁" in page.inner_text("#lookup-status")
    shot("keeper-lookup")
    sign_out(page)

    # A compliance officer finds each step in the trail: by document, then by action.
    sign_in(page, "auditor", PASSWORD)
    enrol_second_factor(page)
    nav_to(page, "合规审查")
    page.wait_for_selector("#trail-filters")
    page.fill("#trail-filters input[name=document]", str(doc_id))
    page.click("#trail-filters button[type=submit]")
    page.wait_for_load_state()
    assert f"document={doc_id}" in page.url
    history = page.inner_text("table.events tbody")
    for action in ("提交申请", "批准申请", "下载已批准的副本", "登记副本销毁"):
        assert action in history, action
    shot("trail-by-document")
    found: dict[str, list[str]] = {}
    for action in ("copy:request", "copy:approve", "copy:download", "copy:destroy"):
        page.select_option("#trail-filters select[name=action]", action)
        page.click("#trail-filters button[type=submit]")
        page.wait_for_load_state()
        rows = page.locator("table.events tbody tr")
        found[action] = [rows.nth(i).inner_text() for i in range(rows.count())]
        shot(f"trail-{action.replace(':', '-')}")
    assert len(found["copy:request"]) == 1 and "clerk" in found["copy:request"][0]
    assert len(found["copy:approve"]) == 1 and "gm" in found["copy:approve"][0]
    downloads = found["copy:download"]  # newest first: the refusal, then the release
    assert len(downloads) == 2
    assert "拒绝" in downloads[0] and "已下载过一次" in downloads[0]
    assert "允许" in downloads[1] and "已提供" in downloads[1]
    assert len(found["copy:destroy"]) == 1 and "keeper" in found["copy:destroy"][0]
    for rows_text in found.values():
        for text in rows_text:
            assert f"文件 {doc_id}" in text, text  # each belongs to the file's history
    assert label in found["copy:destroy"][0]
