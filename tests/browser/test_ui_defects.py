"""Issue 16's defects, each seen again in the browser as a person meets it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pyotp
from browsertools import (  # noqa: I001
    enrol_second_factor,
    later_code,
    nav_to,
    sign_in,
    sign_in_by_request,
)
from people import PASSWORD  # noqa: I001 - tests/people.py
from playwright.sync_api import Page, Response
from sqlalchemy import func, select
from test_copies_flow import age_sign_in, register_secret_pdf, sign_out  # noqa: I001

from vault.audit.models import AuditEvent
from vault.models import Recording, TotpFactor, User
from vault.services import copies, samples
from vault.services.context import Infra, unit_of_work


def events(org: Infra, action: str, document_id: int) -> int:
    with org.sessions() as s:
        return int(s.scalar(select(func.count(AuditEvent.seq)).where(
            AuditEvent.action == action, AuditEvent.document_id == document_id)) or 0)


def test_1_a_recording_registered_by_the_document_form_is_a_recording(
        page: Page, shot: Callable[[str], None], org: Infra, tmp_path: Path) -> None:
    audio = tmp_path / "热线录音.wav"
    audio.write_bytes(samples.wav_tone(1.0))
    sign_in(page, "clerk", PASSWORD)
    nav_to(page, "登记文件")
    assert page.locator("#call-fields").is_hidden()
    page.fill("input[name=title]", "热线录音 2026-11-20 10:32（漏水报修）")
    page.select_option("#category", "call_recording")
    assert page.locator("#call-fields").is_visible()  # the call's own fields appear
    page.fill("input[name=request_ref]", "SR-2026-1120-01")
    page.fill("input[name=caller_number]", "138-0000-0002")
    page.set_input_files("#file", str(audio))
    shot("register-recording")
    page.click("#register-submit")
    page.wait_for_url(re.compile(r"/recordings/\d+$"))
    assert "录音已登记" in page.inner_text(".flashes")
    doc_id = int(page.url.rsplit("/", 1)[1])
    with org.sessions() as s:
        rec = s.get(Recording, doc_id)
        assert rec is not None and rec.request_ref == "SR-2026-1120-01"
    nav_to(page, "录音")
    assert "共 1 条录音" in page.inner_text("#recording-count")
    assert "SR-2026-1120-01" in page.inner_text("main")
    shot("recordings")


def test_1_the_document_form_asks_a_recording_for_its_call(page: Page, org: Infra,
                                                           tmp_path: Path) -> None:
    audio = tmp_path / "call.wav"
    audio.write_bytes(samples.wav_tone(0.5))
    sign_in(page, "clerk", PASSWORD)
    page.goto("/documents/new")
    page.fill("input[name=title]", "热线录音")
    page.select_option("#category", "call_recording")
    page.set_input_files("#file", str(audio))
    page.click("#register-submit")
    page.wait_for_selector("#form-errors")
    assert "请填写来电号码" in page.inner_text("#call-fields") or \
        "来电" in page.inner_text("#call-fields")
    assert page.locator("#call-fields").is_visible()
    with org.sessions() as s:
        assert s.scalar(select(func.count(Recording.document_id))) == 0


def test_2_uploads_say_they_succeeded_and_load_the_page_once(
        page: Page, shot: Callable[[str], None], org: Infra, tmp_path: Path) -> None:
    pdf = tmp_path / "合同.pdf"
    pdf.write_bytes(samples.pdf_pages("合同"))
    sign_in(page, "clerk", PASSWORD)
    page.goto("/documents/new")
    page.fill("input[name=title]", "A座物业服务合同")
    page.select_option("#category", "contract")
    page.set_input_files("#file", str(pdf))
    page.click("#register-submit")
    page.wait_for_url(re.compile(r"/documents/\d+$"))
    assert "文件已登记" in page.inner_text(".flashes")
    doc_id = int(page.url.rsplit("/", 1)[1])
    assert events(org, "document:view_metadata", doc_id) == 1
    shot("registered")
    # A new version: the same.
    page.set_input_files("form.add-version input[type=file]", str(pdf))
    page.click("form.add-version button[type=submit]")
    page.wait_for_selector(".flashes:has-text('版')")
    assert "已添加第 2 版" in page.inner_text(".flashes")
    assert events(org, "document:view_metadata", doc_id) == 2
    shot("version-added")


def test_5_the_menu_fits_in_one_line_and_folds_on_a_phone(
        page: Page, shot: Callable[[str], None], org: Infra) -> None:
    assert sign_in_by_request(page, "ceo", PASSWORD)  # an HQ executive: the longest menu
    page.goto("/")
    header = page.locator("header.top").bounding_box()
    assert header is not None and header["height"] < 60  # one line at 1280 px
    for summary in page.locator("header nav.main-nav summary").all():
        box = summary.bounding_box()
        assert box is not None and box["height"] < 40, summary.inner_text()
    labels = [s.inner_text() for s in page.locator("header nav.main-nav summary").all()]
    assert labels[:3] == ["文件", "审批", "登记簿"]
    nav = page.inner_text("header nav.main-nav")
    assert "泄密报告\n报告泄密" not in nav
    shot("ceo-menu-1280")
    page.click("header nav.main-nav summary:text-is('合规')")
    assert page.locator("header nav.main-nav a:text-is('处理泄密报告')").is_visible()
    assert page.locator("header nav.main-nav a:text-is('报告泄密')").is_visible()
    shot("ceo-menu-open")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.locator("header nav.main-nav").is_hidden()
    page.click("header .nav-toggle")
    assert page.locator("header nav.main-nav").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot("ceo-menu-390")
    nav_to(page, "文件")
    assert page.url.endswith("/documents/")


def test_6_reauthentication_keeps_what_the_approver_typed(
        page: Page, shot: Callable[[str], None], org: Infra) -> None:
    doc_id = register_secret_pdf(org)
    with unit_of_work(org, "clerk") as ctx:
        req = copies.request(ctx, doc_id, copies.CopyKind.COPY, purpose="审计资料")
        req_id = req.id
    sign_in(page, "gm", PASSWORD)
    secret = enrol_second_factor(page)
    page.goto(f"/copies/{req_id}")
    age_sign_in(page, org)
    page.reload()
    page.fill("input[name=window_hours]", "12")
    page.fill("#approve-form textarea[name=note]", "仅限审计使用，用后销毁")
    page.click("#approve")
    page.wait_for_url(re.compile(r"/reauth\?next="))
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=code]", later_code(secret))
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(rf"/copies/{req_id}$"))
    assert "请再按一次按钮完成" in page.inner_text(".flashes")
    assert page.input_value("input[name=window_hours]") == "12"
    assert page.input_value("#approve-form textarea[name=note]") == "仅限审计使用，用后销毁"
    shot("back-with-the-form")
    page.click("#approve")
    page.wait_for_selector("#request-state:has-text('已批准')")
    with unit_of_work(org, "gm") as ctx:
        shown = copies.show(ctx, req_id)
        assert shown.request.decision_note == "仅限审计使用，用后销毁"


def test_7_wording(page: Page, shot: Callable[[str], None], org: Infra,
                   tmp_path: Path) -> None:
    doc_id = register_secret_pdf(org)
    with unit_of_work(org, "clerk") as ctx:
        req_id = copies.request(ctx, doc_id, copies.CopyKind.COPY, purpose="审计资料").id
    sign_in(page, "clerk", PASSWORD)
    page.goto(f"/copies/{req_id}")
    heading = page.inner_text("main h1")
    assert f"申请 {req_id}：复制" in heading and ":" not in heading
    page.goto("/documents/999999")
    text = page.inner_text("main")
    assert "unknown_document" not in text and "供管理员查询的编号：" in text
    shot("not-found")
    exe = tmp_path / "tool.pdf"
    exe.write_bytes(b"MZ\x90\x00" + bytes(200))
    page.goto("/documents/new")
    page.fill("input[name=title]", "工具")
    page.select_option("#category", "contract")
    page.set_input_files("#file", str(exe))
    page.click("#register-submit")
    page.wait_for_selector("#form-errors")
    message = page.inner_text("main")
    assert "application/" not in message
    assert "可上传的文件：PDF、图片" in message
    shot("wrong-kind")
    sign_out(page)
    sign_in(page, "root", PASSWORD)
    enrol_second_factor(page)
    page.goto("/admin/organisation")
    labels = page.inner_text("main")
    assert "公司名称" in labels and "部门名称" in labels and "姓名" not in labels
    shot("organisation")


def test_8_a_decided_request_leaves_the_approvers_unread_list(
        page: Page, shot: Callable[[str], None], org: Infra) -> None:
    doc_id = register_secret_pdf(org)
    with unit_of_work(org, "clerk") as ctx:
        req_id = copies.request(ctx, doc_id, copies.CopyKind.COPY, purpose="审计资料").id
    assert sign_in_by_request(page, "gm", PASSWORD)
    page.goto("/")
    assert "待审批" in page.inner_text("#approvals")
    page.goto(f"/copies/{req_id}")
    page.click("#approve")  # the enrolment just now counts as a fresh sign-in
    page.wait_for_selector("#request-state:has-text('已批准')")
    page.goto("/")
    approvals = page.inner_text("#approvals")
    assert "待审批" not in approvals and "没有未读消息" in approvals
    shot("gm-home-after")


def test_10_the_document_page_shows_the_number_the_leak_form_asks_for(
        page: Page, org: Infra) -> None:
    doc_id = register_secret_pdf(org)
    sign_in(page, "clerk", PASSWORD)
    page.goto(f"/documents/{doc_id}")
    assert page.inner_text("#doc-number") == str(doc_id)
    assert "文件编号" in page.inner_text("dl.meta")


def test_11_a_code_used_moments_ago_is_named_kindly(page: Page, org: Infra) -> None:
    sign_in(page, "gm", PASSWORD)
    secret = enrol_second_factor(page)
    sign_out(page)
    with org.sessions() as s:  # the very code the enrolment spent
        spent = s.scalar(select(TotpFactor.last_step).join(User, User.id == TotpFactor.user_id)
                         .where(User.username == "gm"))
    assert spent is not None
    sign_in(page, "gm", PASSWORD)
    page.fill("input[name=code]", pyotp.TOTP(secret).at(spent * 30))
    page.click("main form button[type=submit]")
    page.wait_for_selector("p.error")
    assert "刚才已经用过" in page.inner_text("p.error")
    page.fill("input[name=code]", later_code(secret))
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def test_13_no_request_goes_unanswered_for_a_favicon(page: Page, org: Infra) -> None:
    missing: list[str] = []

    def note(resp: Response) -> None:
        if resp.status == 404:
            missing.append(resp.url)

    page.on("response", note)
    sign_in(page, "clerk", PASSWORD)
    for path in ("/", "/documents/", "/documents/new", "/copies", "/recordings/"):
        page.goto(path)
    href = page.get_attribute("link[rel=icon]", "href")
    assert href is not None
    assert page.request.get(href).status == 200
    assert page.request.get("/favicon.ico").status == 200  # redirected to the icon
    assert missing == []


def test_12_an_admin_changes_a_persons_name_email_company_and_department(
        page: Page, shot: Callable[[str], None], org: Infra) -> None:
    assert sign_in_by_request(page, "root", PASSWORD)
    page.goto("/admin/users/clerk")
    page.fill("#details-form input[name=name]", "王小红")
    page.fill("#details-form input[name=email]", "xiaohong@example.com")
    page.select_option("#details-form select[name=department]", "GZ/CS")
    shot("details-form")
    page.click("#save-details")
    page.wait_for_selector(".flashes:has-text('已保存')")
    facts = page.inner_text("dl.facts")
    assert "xiaohong@example.com" in facts and "GZ / CS" in facts
    assert page.inner_text("main h1").startswith("王小红")
    shot("details-saved")
    with org.sessions() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "user:update")
                          .order_by(AuditEvent.seq.desc())).first()
        assert event is not None and event.actor == "root" and event.reason == "details_changed"
        assert event.object_id == "clerk"
        detail = json.loads(event.detail or "{}")
        assert detail["from"] == {"name": "clerk", "email": "", "company": "SZ"}
        assert detail["to"] == {"name": "王小红", "email": "xiaohong@example.com",
                                "company": "GZ"}
    # A bad address is refused in words, and nothing changes.
    page.fill("#details-form input[name=email]", "not an address")
    page.evaluate("document.querySelector('#details-form input[name=email]').type = 'text'")
    page.click("#save-details")
    page.wait_for_selector(".flashes:has-text('电子邮件')")
    assert "xiaohong@example.com" in page.inner_text("dl.facts")


RAW_CODE = re.compile(r"\b[a-z]+:[a-z_]+\b|\b[a-z]+_[a-z_]+\b")


def test_3_and_4_the_audit_trail_speaks_words_and_fits_1280(
        page: Page, shot: Callable[[str], None], org: Infra) -> None:
    doc_id = register_secret_pdf(org)
    with unit_of_work(org, "clerk") as ctx:
        copies.request(ctx, doc_id, copies.CopyKind.COPY, purpose="审计资料")
    assert sign_in_by_request(page, "auditor", PASSWORD)
    page.goto("/compliance/")
    page.wait_for_selector("table.events")
    text = page.inner_text("main")
    assert RAW_CODE.findall(text) == []
    rows = page.inner_text("table.events")
    assert "提交申请" in rows and "设置双重验证" in rows and "登记文件" in rows
    assert "人员 auditor" in rows and "经营情况" in rows
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    for badge in page.locator("table.events .level").all():
        box = badge.bounding_box()
        assert box is not None and box["height"] < 30  # one line, not a character a line
    shot("trail-1280")
    page.goto(f"/compliance/documents/{doc_id}")
    assert RAW_CODE.findall(page.inner_text("main")) == []
    shot("document-history")
