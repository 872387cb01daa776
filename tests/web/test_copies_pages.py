"""The copy pages: asking (every kind's form, field errors in the reader's language),
the approver's view with a fresh sign-in before deciding, the one download of a
stamped copy, the copy register with its lookup, the lending register with its
overdue list, the inbox and the home page's counts, and what a person without
rights gets from each page."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from doctools import events, make_doc  # noqa: I001 - tests/web/doctools.py
from flask import Flask
from flask.testing import FlaskClient
from people import PASSWORD  # noqa: I001 - tests/people.py
from pypdf import PdfReader
from twofactor import code  # noqa: I001 - tests/web/twofactor.py
from webtools import csrf_token  # noqa: I001 - tests/web/webtools.py

from vault.models import CopyRequest, Loan, RegisteredCopy
from vault.policy import Category, CopyKind, Level
from vault.services import copies, samples
from vault.services.context import unit_of_work

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in
# tests/integration/test_copies_service.py.
DATABASES = ("sqlite",)

Login = Callable[[str], FlaskClient]


def _token(client: FlaskClient) -> str:
    return csrf_token(client, "/documents/new")


def _post(client: FlaskClient, path: str, data: dict[str, str] | None = None) -> Any:
    return client.post(path, data={**(data or {}), "csrf_token": _token(client)})


def _text(resp: Any) -> str:
    return str(resp.get_data(as_text=True))


def _stale(client: FlaskClient) -> None:
    with client.session_transaction() as sess:
        sess["reauth"] = time.time() - 3600


def _ask(client: FlaskClient, doc_id: int, kind: str = "copy", **fields: str) -> int:
    resp = _post(client, f"/documents/{doc_id}/request?kind={kind}",
                 {"purpose": "向审计师提供", **fields})
    assert resp.status_code == 302, _text(resp)
    match = re.search(r"/copies/(\d+)$", resp.headers["Location"])
    assert match, resp.headers["Location"]
    return int(match.group(1))


def _row(app: Flask, model: type, **where: Any) -> Any:
    with app.extensions["vault.infra"].sessions() as s:
        query = s.query(model)
        for name, value in where.items():
            query = query.filter(getattr(model, name) == value)
        return query.one()


# ---------------------------------------------------------------------------
# Asking


def test_request_form_in_chinese_and_english(app: Flask, login_as: Login) -> None:
    doc_id = make_doc(app, Level.SECRET, title="机密会议纪要")
    clerk = login_as("clerk")
    page = _text(clerk.get(f"/documents/{doc_id}"))
    assert "复制、借出与密级变更" in page and f"/documents/{doc_id}/request?kind=copy" in page
    assert "下载" not in page  # still no direct download of a classified file
    resp = clerk.get(f"/documents/{doc_id}/request?kind=copy")
    page = _text(resp)
    assert resp.status_code == 200
    assert "申请：复制" in page and "用途" in page and "所属公司总经理" in page
    assert "机密★20年" in page and "机密会议纪要" in page
    assert "原则上不允许" not in page
    excerpt = _text(clerk.get(f"/documents/{doc_id}/request?kind=excerpt"))
    assert 'name="pages"' in excerpt and "页码" in excerpt
    extend = _text(clerk.get(f"/documents/{doc_id}/request?kind=extend"))
    assert 'name="period_kind"' in extend and "当前期限：20年" in extend
    downgrade = _text(clerk.get(f"/documents/{doc_id}/request?kind=downgrade"))
    assert '<option value="confidential"' in downgrade
    assert '<option value="top_secret"' not in downgrade
    # A contract with a stored file is not lent: the form says so instead.
    lend = clerk.get(f"/documents/{doc_id}/request?kind=lend")
    assert lend.status_code == 200 and "只有证照和纸质原件可以借出" in _text(lend)
    assert 'id="request-form"' not in _text(lend)
    assert clerk.get(f"/documents/{doc_id}/request?kind=photocopy").status_code == 400

    clerk.get("/lang/en")
    page = _text(clerk.get(f"/documents/{doc_id}/request?kind=copy"))
    assert "Request: Copy" in page and "Purpose" in page
    assert "the owning company&#39;s general manager" in page
    assert "SECRET★20 years" in page
    resp = _post(clerk, f"/documents/{doc_id}/request?kind=copy", {"purpose": "  "})
    assert resp.status_code == 400
    assert "State the purpose of the request." in _text(resp)
    licence = make_doc(app, Level.CONFIDENTIAL, category=Category.BUSINESS_LICENCE)
    page = _text(clerk.get(f"/documents/{licence}/request?kind=lend"))
    assert 'type="date" name="due_on"' in page and "Return date" in page
    resp = _post(clerk, f"/documents/{licence}/request?kind=lend", {"purpose": "x",
                                                                    "due_on": "tomorrow"})
    assert resp.status_code == 400 and "Give the return date as a date." in _text(resp)
    resp = _post(clerk, f"/documents/{licence}/request?kind=lend", {"purpose": "x",
                                                                    "due_on": "2001-01-01"})
    assert resp.status_code == 400
    assert "Give the return date, from today up to 366 days ahead." in _text(resp)


def test_top_secret_form_says_the_answer_is_no_and_only_hq_decides(
        app: Flask, login_as: Login) -> None:
    doc_id = make_doc(app, Level.TOP_SECRET, category=Category.STRATEGY, title="战略规划")
    clerk = login_as("clerk")  # the registrant reads it
    page = _text(clerk.get(f"/documents/{doc_id}/request?kind=copy"))
    assert 'id="default-no"' in page and "原则上不允许" in page and "总公司总经理或副总经理" in page
    rid = _ask(clerk, doc_id)
    assert "原则上不允许" in _text(clerk.get(f"/copies/{rid}"))
    gm = login_as("gm")
    # The subsidiary's GM reads SZ's registers, but never learns of a top-secret file,
    # let alone decides a request for it: the request looks absent.
    assert gm.get(f"/copies/{rid}").status_code == 404
    resp = _post(gm, f"/copies/{rid}/approve")
    assert resp.status_code == 404 and "战略规划" not in _text(resp)
    assert _row(app, CopyRequest, id=rid).status == "pending"
    assert "没有等待您审批的申请" in _text(gm.get("/"))
    ceo = login_as("ceo")
    page = _text(ceo.get(f"/copies/{rid}"))
    assert 'id="approve-form"' in page and "原则上不允许" in page
    resp = _post(ceo, f"/copies/{rid}/approve", {"window_hours": "2"})
    assert resp.status_code == 302
    with app.extensions["vault.infra"].sessions() as s:
        req = s.get(CopyRequest, rid)
        assert req is not None and req.status == "approved"
        assert req.decided_by is not None and req.decided_by.username == "ceo"
        assert req.window_until is not None


def test_field_errors_of_the_service_land_next_to_their_field(app: Flask,
                                                               login_as: Login) -> None:
    doc_id = make_doc(app, Level.SECRET)
    clerk = login_as("clerk")
    for kind, fields, message in (
        ("excerpt", {"pages": "3-1"}, "页码无法接受"),
        ("excerpt", {"pages": ""}, "页码无法接受"),
        ("extend", {"period_kind": "duration", "period_years": "5"}, "延长后的期限必须晚于"),
        ("extend", {"period_kind": "duration"}, "请填写新的、更长的保密期限"),
        ("downgrade", {"new_level": "secret"}, "降密须选择较低的密级"),
        ("downgrade", {"new_level": "nonsense"}, "请选择新的密级"),
    ):
        resp = _post(clerk, f"/documents/{doc_id}/request?kind={kind}",
                     {"purpose": "需要", **fields})
        assert resp.status_code == 400, (kind, fields)
        page = _text(resp)
        assert message in page, (kind, fields)
        assert 'class="field-error"' in page
    assert events(app, action="copy:request", outcome="allowed") == []
    rid = _ask(clerk, doc_id, "excerpt", pages="1")
    assert _row(app, CopyRequest, id=rid).pages == "1"


# ---------------------------------------------------------------------------
# The whole way of a copy


def test_request_fresh_approval_one_download_register_and_lookup(app: Flask,
                                                                 login_as: Login) -> None:
    pdf = samples.pdf_pages("机密合同", pages=3)
    doc_id = make_doc(app, Level.SECRET, title="机密合同", content=pdf, filename="合同.pdf")
    clerk = login_as("clerk")
    rid = _ask(clerk, doc_id)
    page = _text(clerk.get(f"/copies/{rid}"))
    assert "待审批" in page and "向审计师提供" in page and 'id="cancel-request"' in page
    assert 'id="approve-form"' not in page and 'id="download-copy"' not in page
    assert "向审计师提供" in _text(clerk.get("/copies"))

    gm = login_as("gm")
    home = _text(gm.get("/"))
    assert "有 1 个申请等待您审批" in home and 'href="/copies#to-decide"' in home
    assert "1 条未读消息" in home
    listing = _text(gm.get("/copies"))
    assert f'href="/copies/{rid}"' in listing and "机密合同" in listing
    page = _text(gm.get(f"/copies/{rid}"))
    assert "向审计师提供" in page and "clerk" in page and 'id="approve-form"' in page
    assert "审批人只看到这些信息，看不到文件内容" in page
    assert f"/documents/{doc_id}/view" not in page and "/pages/" not in page
    assert "目前没有登记副本" in page  # the requester's copy history

    # Deciding needs a sign-in within the last minutes.
    _stale(gm)
    resp = _post(gm, f"/copies/{rid}/approve")
    assert resp.status_code == 302
    assert f"/reauth?next=/copies/{rid}" in resp.headers["Location"]
    assert _row(app, CopyRequest, id=rid).status == "pending"
    assert "再次输入密码" in _text(gm.get(f"/copies/{rid}"))
    secret = gm.totp_secret  # type: ignore[attr-defined]
    resp = gm.post(f"/reauth?next=/copies/{rid}", data={
        "password": PASSWORD, "code": code(secret, 1), "csrf_token": _token(gm)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/copies/{rid}")
    # A window longer than the default is refused next to its field, not with a 500.
    resp = _post(gm, f"/copies/{rid}/approve", {"window_hours": "48"})
    assert resp.status_code == 400 and "领取时限为 1 至 24 小时" in _text(resp)
    resp = _post(gm, f"/copies/{rid}/approve", {"window_hours": "二"})
    assert resp.status_code == 400 and "领取时限须为整数小时" in _text(resp)
    resp = _post(gm, f"/copies/{rid}/approve", {"window_hours": "4", "note": "仅限审计"})
    assert resp.status_code == 302
    page = _text(gm.get(f"/copies/{rid}"))
    assert "已批准" in page and "仅限审计" in page and 'id="approve-form"' not in page
    assert _post(gm, f"/copies/{rid}/approve").status_code == 409  # decided once

    # The requester downloads once; the file is stamped on every page.
    page = _text(clerk.get(f"/copies/{rid}"))
    assert 'id="download-copy"' in page and 'id="cancel-request"' not in page
    other = login_as("outsider")
    assert _post(other, f"/copies/{rid}/download").status_code == 404
    resp = _post(clerk, f"/copies/{rid}/download")
    assert resp.status_code == 200, _text(resp)
    assert resp.mimetype == "application/pdf"
    assert resp.headers["Cache-Control"] == "no-store"
    assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    assert "%E5%89%AF%E6%9C%AC%201" in resp.headers["Content-Disposition"]  # "副本 1"
    label = f"机密-{datetime.now(UTC).year}-{doc_id:04d} 副本 1"
    reader = PdfReader(io.BytesIO(resp.data))
    assert len(reader.pages) == 3
    for number, pdf_page in enumerate(reader.pages, 1):
        text = pdf_page.extract_text()
        assert label in text, (number, text)
        assert "领取人 clerk" in text and "机密★20年" in text
    second = _post(clerk, f"/copies/{rid}/download")
    assert second.status_code == 409 and second.mimetype == "text/html"
    assert "批准的副本只能领取一次" in _text(second)
    page = _text(clerk.get(f"/copies/{rid}"))
    assert label in page and "已领取" in page and 'id="download-copy"' not in page
    downloads = events(app, action="copy:download")
    assert [e.outcome for e in downloads] == ["denied", "allowed", "denied"]
    assert [e.actor for e in downloads] == ["outsider", "clerk", "clerk"]

    # The custodian closes the copy; the lookup tells who, who approved, when.
    keeper = login_as("keeper")
    register = _text(keeper.get("/registers/copies"))
    assert label in register and "机密合同" in register and "已发放" in register
    copy = _row(app, RegisteredCopy, document_id=doc_id)
    assert copy.sha256[:12] in register and "已加盖标记" in register
    resp = _post(keeper, f"/registers/copies/{copy.id}/close",
                 {"status": "destroyed", "note": "碎纸机", "back": "/registers/copies?status="})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(
        "/registers/copies?status=")
    assert _row(app, RegisteredCopy, id=copy.id).status == "destroyed"
    register = _text(keeper.get("/registers/copies?status=destroyed"))
    assert label in register and "已销毁" in register and "碎纸机" in register
    assert label not in _text(keeper.get("/registers/copies?status=issued"))
    assert _post(keeper, f"/registers/copies/{copy.id}/close",
                 {"status": "returned"}).status_code == 409
    found = keeper.get("/registers/copies/lookup", query_string={"number": label})
    page = _text(found)
    assert found.status_code == 200
    for fact in ("clerk (clerk)", "gm (gm)", "已销毁", "机密合同", "向审计师提供"):
        assert fact in page, fact
    # Written the English way, or short: the same copy.
    assert "lookup-result" in _text(keeper.get(
        "/registers/copies/lookup", query_string={"number": f"{doc_id}-1"}))
    missing = keeper.get("/registers/copies/lookup", query_string={"number": f"{doc_id}-9"})
    assert missing.status_code == 404 and "没有这个编号的登记副本" in _text(missing)
    bad = keeper.get("/registers/copies/lookup", query_string={"number": "副本"})
    assert bad.status_code == 400 and "不是副本编号" in _text(bad)

    actions = {e.action for e in events(app, outcome="allowed")}
    assert {"copy:request", "copy:approve", "copy:download", "copy:destroy",
            "copy:lookup"} <= actions


def test_reject_needs_a_reason_and_the_requester_is_told(app: Flask, login_as: Login) -> None:
    doc_id = make_doc(app, Level.CONFIDENTIAL, title="客户名单")
    clerk = login_as("clerk")
    rid = _ask(clerk, doc_id, "print")
    gm = login_as("gm")
    resp = _post(gm, f"/copies/{rid}/reject", {"reason": "   "})
    assert resp.status_code == 400
    page = _text(resp)
    assert "请说明驳回理由" in page and 'class="field-error"' in page
    resp = _post(gm, f"/copies/{rid}/approve", {"note": "长" * 2001})
    assert resp.status_code == 400 and "备注太长" in _text(resp)
    assert _row(app, CopyRequest, id=rid).status == "pending"
    _stale(gm)
    resp = _post(gm, f"/copies/{rid}/reject", {"reason": "没有必要"})
    assert resp.status_code == 302 and "/reauth" in resp.headers["Location"]
    gm.post(f"/reauth?next=/copies/{rid}", data={
        "password": PASSWORD, "code": code(gm.totp_secret, 1),  # type: ignore[attr-defined]
        "csrf_token": _token(gm)})
    assert _post(gm, f"/copies/{rid}/reject", {"reason": "没有必要"}).status_code == 302
    page = _text(clerk.get(f"/copies/{rid}"))
    assert "已驳回" in page and "没有必要" in page and "驳回理由" in page
    inbox = _text(clerk.get("/inbox"))
    assert "未批准：您的打印申请《客户名单》" in inbox
    assert _post(clerk, f"/copies/{rid}/download").status_code == 403


def test_requester_withdraws_a_pending_request(app: Flask, login_as: Login) -> None:
    doc_id = make_doc(app, Level.SECRET)
    clerk = login_as("clerk")
    rid = _ask(clerk, doc_id)
    assert _post(login_as("boss"), f"/copies/{rid}/cancel").status_code == 404
    resp = _post(clerk, f"/copies/{rid}/cancel")
    assert resp.status_code == 302
    assert "已撤回" in _text(clerk.get(f"/copies/{rid}"))
    assert _post(clerk, f"/copies/{rid}/cancel").status_code == 409
    assert "没有等待您审批的申请" in _text(login_as("gm").get("/copies"))


# ---------------------------------------------------------------------------
# The lending register


def test_lending_register_lists_overdue_loans_and_records_the_return(
        app: Flask, login_as: Login) -> None:
    infra = app.extensions["vault.infra"]
    doc_id = make_doc(app, Level.CONFIDENTIAL, category=Category.BUSINESS_LICENCE,
                      title="营业执照正本", supervisor="gm", department="ADM")
    past = datetime.now(UTC) - timedelta(days=30)
    with unit_of_work(infra, "clerk", now=past) as ctx:
        rid = copies.request(ctx, doc_id, CopyKind.LEND, "银行开户",
                             due_on=(past + timedelta(days=5)).date()).id
    with unit_of_work(infra, "gm", now=past) as ctx:
        copies.approve(ctx, rid)
    loan_id = _row(app, Loan, request_id=rid).id
    with unit_of_work(infra, "keeper", now=past + timedelta(hours=1)) as ctx:
        copies.hand_over(ctx, loan_id, "柜台交付")

    keeper = login_as("keeper")
    page = _text(keeper.get("/registers/loans?overdue=1"))
    assert "营业执照正本" in page and "clerk (clerk)" in page and "gm (gm)" in page
    assert f'<tr id="loan-{loan_id}" class="loan-overdue outcome-denied"' in page
    assert '<strong class="outcome denied">逾期</strong>' in page
    assert "共 1 条借出记录" in page
    resp = _post(keeper, f"/registers/loans/{loan_id}/return", {"note": "完好"})
    assert resp.status_code == 302
    assert "共 0 条借出记录" in _text(keeper.get("/registers/loans?overdue=1"))
    page = _text(keeper.get("/registers/loans"))
    assert "已归还" in page and "完好" in page
    assert _post(keeper, f"/registers/loans/{loan_id}/return").status_code == 409
    # The borrower's request page shows the register line.
    assert "借出登记簿" in _text(login_as("clerk").get(f"/copies/{rid}"))
    # The GM reads the register but does not keep it.
    gm = login_as("gm")
    assert gm.get("/registers/loans").status_code == 200
    assert _post(gm, f"/registers/loans/{loan_id}/hand-over").status_code == 403


def test_lend_through_the_pages_then_hand_over(app: Flask, login_as: Login) -> None:
    doc_id = make_doc(app, Level.CONFIDENTIAL, category=Category.TAX_REGISTRATION,
                      title="税务登记证", supervisor="gm", department="ADM")
    clerk = login_as("clerk")
    due = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    rid = _ask(clerk, doc_id, "lend", due_on=due)
    assert _post(login_as("gm"), f"/copies/{rid}/approve").status_code == 302
    keeper = login_as("keeper")
    loan_id = _row(app, Loan, request_id=rid).id
    assert "已批准，尚未交付" in _text(keeper.get("/registers/loans"))
    assert _post(keeper, f"/registers/loans/{loan_id}/return").status_code == 409
    assert _post(keeper, f"/registers/loans/{loan_id}/hand-over").status_code == 302
    assert "已借出" in _text(keeper.get("/registers/loans?open=1"))


# ---------------------------------------------------------------------------
# Inbox and navigation


def test_inbox_lists_and_marks_read(app: Flask, login_as: Login) -> None:
    doc_id = make_doc(app, Level.SECRET, title="年度规划")
    _ask(login_as("clerk"), doc_id)
    gm = login_as("gm")
    page = _text(gm.get("/inbox"))
    assert re.search(r"<strong>\s*<a href=\"/copies/\d+\">待审批：clerk 申请复制《年度规划》</a>",
                     page)
    assert "消息 (1)" in page
    gm.get("/lang/en")
    page = _text(gm.get("/inbox"))
    assert "To decide: clerk asks for a copy of “年度规划”" in page and "Inbox (1)" in page
    assert _post(gm, "/inbox/read").status_code == 302
    page = _text(gm.get("/inbox"))
    assert "<strong>" not in page and "Inbox (1)" not in page
    assert "To decide: clerk asks" in page  # still listed, now read
    assert "No unread messages." in _text(gm.get("/"))


def test_registers_in_the_menu_only_for_those_who_read_them(login_as: Login) -> None:
    for person, shown in (("keeper", True), ("gm", True), ("ceo", True), ("auditor", True),
                          ("clerk", False), ("manager", False), ("outsider", False)):
        page = _text(login_as(person).get("/"))
        nav = re.search(r"<nav class=\"main-nav\".*?</nav>", page, re.S)
        assert nav, person
        assert ('href="/registers/copies"' in nav.group(0)) is shown, person
        assert 'href="/copies"' in nav.group(0) and 'href="/inbox"' in nav.group(0)


def test_hq_reads_every_companys_register_with_a_selector(app: Flask,
                                                          login_as: Login) -> None:
    ceo = login_as("ceo")
    page = _text(ceo.get("/registers/copies"))
    assert '<select name="company">' in page and 'value="GZ"' in page
    assert ceo.get("/registers/copies?company=SZ").status_code == 200
    assert ceo.get("/registers/loans?company=GZ").status_code == 200
    assert ceo.get("/registers/copies?company=NOPE").status_code == 400
    assert ceo.get("/registers/copies?status=lost").status_code == 400
    assert ceo.get("/registers/copies?document=abc").status_code == 400
    keeper = login_as("keeper")
    assert '<select name="company">' not in _text(keeper.get("/registers/copies"))
    assert keeper.get("/registers/copies?company=GZ").status_code == 403


# ---------------------------------------------------------------------------
# Someone without rights


@pytest.mark.parametrize("person", ["outsider", "accountant"])
def test_a_person_without_rights_gets_404_or_403(app: Flask, login_as: Login,
                                                  person: str) -> None:
    doc_id = make_doc(app, Level.SECRET, title="不可知的机密文件")
    rid = _ask(login_as("clerk"), doc_id)
    assert _post(login_as("gm"), f"/copies/{rid}/approve").status_code == 302
    assert _post(login_as("clerk"), f"/copies/{rid}/download").status_code == 200
    copy_id = _row(app, RegisteredCopy, request_id=rid).id
    label = _row(app, RegisteredCopy, request_id=rid).label
    client = login_as(person)
    expected = {
        ("GET", "/copies"): 200,
        ("GET", "/inbox"): 200,
        ("GET", "/registers/copies/lookup"): 200,
        ("GET", f"/registers/copies/lookup?number={label}"): 404,
        ("GET", f"/copies/{rid}"): 404,
        ("POST", f"/copies/{rid}/download"): 404,
        ("GET", f"/documents/{doc_id}/request?kind=copy"): 404,
        ("GET", "/registers/copies"): 403,
        ("GET", "/registers/loans"): 403,
        ("GET", "/registers/loans?overdue=1"): 403,
        ("GET", "/copies/99999"): 404,
        ("GET", "/copies/99999999999"): 404,
        ("POST", f"/copies/{rid}/approve"): 404,
        ("POST", f"/copies/{rid}/reject"): 404,
        ("POST", f"/copies/{rid}/cancel"): 404,
        ("POST", f"/documents/{doc_id}/request?kind=copy"): 404,
        ("POST", f"/registers/copies/{copy_id}/close"): 404,
        ("POST", "/registers/loans/1/hand-over"): 404,
        ("POST", "/registers/loans/1/return"): 404,
    }
    got = {}
    for (method, path), _status in expected.items():
        if method == "GET":
            resp = client.get(path)
        else:
            resp = _post(client, path, {"status": "destroyed", "reason": "x", "purpose": "x"})
        got[(method, path)] = resp.status_code
        assert "不可知的机密文件" not in _text(resp), path
    assert got == expected
    # The download is a form: no link from elsewhere can spend it.
    assert client.get(f"/copies/{rid}/download").status_code == 405
    # Not a single form posted without its token goes through.
    assert client.post(f"/copies/{rid}/cancel").status_code == 400
    # Signed out: to the sign-in page.
    anonymous = app.test_client()
    for path in ("/copies", f"/copies/{rid}", "/registers/copies", "/inbox"):
        resp = anonymous.get(path)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]
