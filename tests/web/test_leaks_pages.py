"""The leak report pages (report form with its document picker, the receipt, the list,
the incident page with its deadline banner, trace and handling form) and the
certificate register with its edit form, in Chinese and English; the JSON API for
both; and that no page, route or operation deletes an incident."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from webtools import csrf_token  # noqa: I001 - tests/web/webtools.py

from vault.models import Certificate, LeakReport, Notification, User
from vault.policy import Category, CopyKind, Level
from vault.services import copies, documents, tokens
from vault.services.context import unit_of_work

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in
# tests/integration/test_leaks.py and test_certificates.py.
DATABASES = ("sqlite",)

Login = Callable[[str], FlaskClient]
TITLE = "D座物业服务合同"
UNKNOWN_NUMBER = "秘密-2026-9999 副本 7"


def _text(resp: Any) -> str:
    return str(resp.get_data(as_text=True))


def _english(client: FlaskClient) -> None:
    assert client.get("/lang/en").status_code == 302


def _post(client: FlaskClient, path: str, data: dict[str, str]) -> Any:
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/leaks/new")})


def _scene(app: Flask) -> tuple[int, dict[str, str]]:
    """A confidential SZ contract with two registered copies (clerk, manager)."""
    infra = app.extensions["vault.infra"]
    with unit_of_work(infra, "boss") as ctx:
        doc = documents.register(ctx, title=TITLE, category=Category.CONTRACT,
                                 level=Level.CONFIDENTIAL,
                                 content=io.BytesIO(b"Service fee.\n"), filename="c.txt").id
    labels = {}
    for holder in ("clerk", "manager"):
        with unit_of_work(infra, holder) as ctx:
            req = copies.request(ctx, doc, CopyKind.COPY, "核对").id
        with unit_of_work(infra, "gm") as ctx:
            copies.approve(ctx, req)
        with unit_of_work(infra, holder) as ctx:
            labels[holder] = copies.download(ctx, req).copy.label
    return doc, labels


def _report(client: FlaskClient, **data: str) -> int:
    data.setdefault("description", "在停车场捡到复印件")
    resp = _post(client, "/leaks/new", data)
    assert resp.status_code == 302, _text(resp)
    match = re.fullmatch(r"/leaks/(\d+)", resp.headers["Location"])
    assert match, resp.headers["Location"]
    return int(match.group(1))


def _main(html: str) -> str:
    """The page's main part without times and CSRF tokens."""
    body = html[html.index("<main"):]
    body = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "TIME", body)
    return re.sub(r"\d+ 小时 \d+ 分|\d+ h \d+ min", "LEFT", body)


# ---------------------------------------------------------------------------
# Reporting


def test_report_form_picker_and_receipt(app: Flask, login_as: Login) -> None:
    doc, labels = _scene(app)
    clerk = login_as("clerk")
    page = _text(clerk.get("/leaks/new"))
    assert "报告疑似泄密" in page and "或在外部发现的副本编号" in page
    # The picker searches the person's own scope.
    found = _text(clerk.get("/leaks/new?q=D座"))
    assert f'href="/leaks/new?document={doc}' in found and TITLE in found
    outsider = login_as("outsider")
    assert TITLE not in _text(outsider.get("/leaks/new?q=D座"))
    chosen = _text(clerk.get(f"/leaks/new?document={doc}"))
    assert f'value="{doc}"' in chosen and TITLE in chosen
    # The outsider's form does not reveal a document they may not know of.
    assert TITLE not in _text(outsider.get(f"/leaks/new?document={doc}"))

    leak_id = _report(clerk, document=str(doc))
    receipt = _text(clerk.get(f"/leaks/{leak_id}"))
    assert "报告已收到，已通知全体总公司领导。" in receipt  # the flash
    assert 'id="receipt"' in receipt and 'id="deadline"' in receipt
    assert "剩余处理时间" in receipt
    assert 'id="trace-now"' not in receipt and 'id="trace-snapshot"' not in receipt
    assert labels["manager"] not in receipt and 'id="handle"' not in receipt
    # Both HQ executives' inboxes; the link is the incident page.
    with app.extensions["vault.infra"].sessions() as s:
        notes = s.execute(select(User.username, Notification.link).join(
            User, Notification.user_id == User.id).where(Notification.kind == "leak_report")).all()
    assert sorted(notes) == [("ceo", f"/leaks/{leak_id}")]


def test_known_and_unknown_copy_numbers_get_the_same_pages(app: Flask, login_as: Login) -> None:
    _doc, labels = _scene(app)
    accountant = login_as("accountant")  # may not know of the contract
    pages = []
    for number in (labels["manager"], UNKNOWN_NUMBER):
        resp = _post(accountant, "/leaks/new", {"copy_number": number,
                                                "description": "门口发现"})
        assert resp.status_code == 302
        leak_id = int(resp.headers["Location"].rsplit("/", 1)[1])
        page = _text(accountant.get(resp.headers["Location"]))
        assert number in page
        pages.append(_main(page).replace(number, "NUMBER").replace(
            f"{leak_id} 号", "ID 号").replace(f"/leaks/{leak_id}", "/leaks/ID"))
    assert pages[0] == pages[1]
    assert TITLE not in pages[0] and "manager" not in pages[0]
    listed = _text(accountant.get("/leaks/"))
    assert "我的泄密报告" in listed and TITLE not in listed
    assert len(re.findall(r'id="leak-\d+"', listed)) == 2


def test_form_errors_in_both_languages(app: Flask, login_as: Login) -> None:
    doc, labels = _scene(app)
    clerk = login_as("clerk")
    cases = [
        ({"document": str(doc), "copy_number": labels["clerk"]}, 400, "不要二者都填",
         "not both"),
        ({"copy_number": "hello"}, 400, "不是副本编号", "Not a copy number"),
        ({"document": "abc"}, 400, "请填写文件页面上显示的文件编号", "number as shown on its page"),
        ({"document": str(doc), "description": " "}, 400, "请说明发现了什么",
         "Describe what was found"),
    ]
    for data, status, zh, _en in cases:
        data.setdefault("description", "发现")
        resp = _post(clerk, "/leaks/new", data)
        assert resp.status_code == status, data
        assert zh in _text(resp) and 'id="leak-form"' in _text(resp)
    _english(clerk)
    for data, status, _zh, en in cases:
        resp = _post(clerk, "/leaks/new", data)
        assert resp.status_code == status and en in _text(resp), data
    with app.extensions["vault.infra"].sessions() as s:
        assert s.scalar(select(func.count(LeakReport.id))) == 0
    # Anyone reports anything (issue 11): a file outside one's scope, an id that names
    # no file, or nothing but a description — each simply received.
    outsider = login_as("outsider")
    for data in ({"document": str(doc)}, {"document": "999999"}, {}):
        resp = _post(outsider, "/leaks/new", {**data, "description": "门口发现文件"})
        assert resp.status_code in (302, 303), data
    with app.extensions["vault.infra"].sessions() as s:
        assert s.scalar(select(func.count(LeakReport.id))) == 3


# ---------------------------------------------------------------------------
# The incident page, the list, handling


def test_incident_page_with_deadline_trace_and_handling(app: Flask, login_as: Login) -> None:
    doc, labels = _scene(app)
    leak_id = _report(login_as("accountant"), copy_number=labels["clerk"])
    ceo = login_as("ceo")
    page = _text(ceo.get(f"/leaks/{leak_id}"))
    assert re.search(r'class="deadline open"[^>]*>剩余处理时间：2[34] 小时 \d\d 分', page)
    for section in ("trace-now", "trace-snapshot", "now-copies", "snapshot-copies",
                    "now-knowers", "handle"):
        assert f'id="{section}"' in page, section
    snapshot = page[page.index('id="snapshot-copies"'):]
    for holder in ("clerk", "manager"):
        assert labels[holder] in snapshot and f"{holder} ({holder})" in snapshot
    assert "领取登记副本" in page and 'id="copy-match">登记簿中有此编号' in page
    assert TITLE in page and "accountant (accountant)" in page
    # Compliance reads it too, but does not handle; the form is not offered.
    auditor = login_as("auditor")
    audit_page = _text(auditor.get(f"/leaks/{leak_id}"))
    assert 'id="trace-now"' in audit_page and 'id="handle"' not in audit_page
    refused = auditor.post(f"/leaks/{leak_id}/handle",
                           data={"note": "x", "csrf_token": csrf_token(auditor, "/leaks/new")})
    assert refused.status_code == 403
    # Others: as if there were no report.
    for who in ("gm", "boss", "keeper"):
        assert login_as(who).get(f"/leaks/{leak_id}").status_code == 404
    # English.
    _english(ceo)
    english = _text(ceo.get(f"/leaks/{leak_id}"))
    assert re.search(r"Time left to act: 2[34] h \d\d min", english)
    assert "Registered copies and their holders" in english and "Trace when reported" in english
    # Handling: a note is needed; then it is handled and stays.
    token = csrf_token(ceo, "/leaks/new")
    empty = ceo.post(f"/leaks/{leak_id}/handle", data={"note": " ", "csrf_token": token})
    assert empty.status_code == 400 and "Note the remedial action taken." in _text(empty)
    done = ceo.post(f"/leaks/{leak_id}/handle",
                    data={"note": "Copies recalled; reported to the board.", "csrf_token": token})
    assert done.status_code == 302
    handled = _text(ceo.get(f"/leaks/{leak_id}"))
    assert "Handled within the 24-hour deadline" in handled and 'id="handle"' not in handled
    assert "Copies recalled; reported to the board." in handled
    again = ceo.post(f"/leaks/{leak_id}/handle", data={"note": "again", "csrf_token": token})
    assert again.status_code == 409
    with app.extensions["vault.infra"].sessions() as s:
        row = s.get(LeakReport, leak_id)
        assert row is not None and row.status == "handled" and row.trace_json


def test_overdue_banner(app: Flask, login_as: Login) -> None:
    doc, _labels = _scene(app)
    leak_id = _report(login_as("clerk"), document=str(doc))
    with app.extensions["vault.infra"].sessions() as s:
        row = s.get(LeakReport, leak_id)
        assert row is not None
        row.reported_at -= timedelta(hours=30)
        row.deadline_at -= timedelta(hours=30)
        s.commit()
    ceo = login_as("ceo")
    page = _text(ceo.get(f"/leaks/{leak_id}"))
    assert re.search(r'class="deadline overdue"[^>]*>已逾期 [56] 小时 \d\d 分', page)
    assert 'class="leak-state overdue">逾期<' in _text(ceo.get("/leaks/?open=1"))


def test_list_and_navigation(app: Flask, login_as: Login) -> None:
    doc, labels = _scene(app)
    first = _report(login_as("clerk"), document=str(doc))
    second = _report(login_as("accountant"), copy_number=UNKNOWN_NUMBER)
    ceo = login_as("ceo")
    listed = _text(ceo.get("/leaks/"))
    assert f'id="leak-{first}"' in listed and f'id="leak-{second}"' in listed
    assert TITLE in listed and UNKNOWN_NUMBER in listed
    nav = listed[:listed.index("</nav>")]
    assert 'href="/leaks/"' in nav and 'href="/leaks/new"' in nav and 'href="/certificates/"' in nav
    clerk = login_as("clerk")
    mine = _text(clerk.get("/leaks/"))
    assert f'id="leak-{first}"' in mine and f'id="leak-{second}"' not in mine
    clerk_nav = mine[:mine.index("</nav>")]
    assert 'href="/leaks/new"' in clerk_nav and 'href="/leaks/"' not in clerk_nav
    assert 'href="/certificates/"' not in clerk_nav
    assert "泄密报告" in _text(login_as("auditor").get("/leaks/"))


def test_no_route_deletes_an_incident(app: Flask, login_as: Login) -> None:
    for rule in app.url_map.iter_rules():
        if "leak" in rule.rule:
            assert "DELETE" not in (rule.methods or set()), rule.rule
            assert not re.search(r"delete|remove|destroy|purge", rule.rule + rule.endpoint)
    doc, _labels = _scene(app)
    leak_id = _report(login_as("clerk"), document=str(doc))
    ceo = login_as("ceo")
    token = csrf_token(ceo, "/leaks/new")
    assert ceo.delete(f"/leaks/{leak_id}").status_code == 405
    assert ceo.post(f"/leaks/{leak_id}/delete", data={"csrf_token": token}).status_code == 404
    infra = app.extensions["vault.infra"]
    with unit_of_work(infra, "ceo") as ctx:
        token_text = tokens.create(ctx, "t")[1]
    api = app.test_client()
    assert api.delete(f"/api/v1/leaks/{leak_id}",
                      headers={"Authorization": f"Bearer {token_text}"}).status_code == 405
    with infra.sessions() as s:
        assert s.get(LeakReport, leak_id) is not None


# ---------------------------------------------------------------------------
# Certificates


def _licence(app: Flask) -> int:
    with unit_of_work(app.extensions["vault.infra"], "accountant") as ctx:
        return documents.register(ctx, title="营业执照（深圳公司）",
                                  category=Category.BUSINESS_LICENCE).id


def test_certificate_register_and_edit(app: Flask, login_as: Login) -> None:
    licence = _licence(app)
    infra = app.extensions["vault.infra"]
    with unit_of_work(infra, "accountant") as ctx:
        req = copies.request(ctx, licence, CopyKind.LEND, "工商年检",
                             due_on=ctx.now.date() + timedelta(days=3)).id
    with unit_of_work(infra, "gm") as ctx:
        copies.approve(ctx, req)
    keeper = login_as("keeper")
    page = _text(keeper.get("/certificates/"))
    assert "证照登记簿" in page and "营业执照（深圳公司）" in page
    row = page[page.index(f'id="certificate-{licence}"'):]
    row = row[:row.index("</tr>")]
    assert "accountant (accountant)" in row and "尚未交付" in row
    assert f"/documents/{licence}/request?kind=lend" in row
    assert f"/certificates/{licence}/edit" in row
    form = _text(keeper.get(f"/certificates/{licence}/edit"))
    assert 'id="certificate-form"' in form and "保管人（保管原件）" in form
    token = csrf_token(keeper, f"/certificates/{licence}/edit")
    bad = keeper.post(f"/certificates/{licence}/edit",
                      data={"number": "L-1", "custodian": "outsider", "location": "柜 A",
                            "valid_until": "2030-01-01", "csrf_token": token})
    assert bad.status_code == 400 and "保管人必须是所属公司的在职人员" in _text(bad)
    bad_date = keeper.post(f"/certificates/{licence}/edit",
                           data={"valid_until": "someday", "csrf_token": token})
    assert bad_date.status_code == 400 and "有效期截止日期" in _text(bad_date)
    saved = keeper.post(f"/certificates/{licence}/edit",
                        data={"number": "L-1", "custodian": "keeper", "location": "柜 A",
                              "valid_until": "2030-01-01", "csrf_token": token})
    assert saved.status_code == 302
    with infra.sessions() as s:
        cert = s.get(Certificate, licence)
        assert cert is not None and cert.custodian is not None
        assert (cert.number, cert.custodian.username, cert.original_location,
                cert.valid_until) == ("L-1", "keeper", "柜 A", date(2030, 1, 1))
    _english(keeper)
    english = _text(keeper.get("/certificates/"))
    assert "Certificate register" in english and "L-1" in english and "柜 A" in english
    assert "Ask to borrow" in english
    # Who may not: a reader who does not keep it, and people outside the register.
    gm = login_as("gm")
    assert gm.get("/certificates/").status_code == 200
    assert gm.get(f"/certificates/{licence}/edit").status_code == 200
    ceo = login_as("ceo")
    assert "营业执照（深圳公司）" in _text(ceo.get("/certificates/?company=SZ"))
    assert ceo.get(f"/certificates/{licence}/edit").status_code == 403
    assert ceo.get("/certificates/?company=XX").status_code == 400
    for who, status in (("clerk", 403), ("accountant", 403), ("outsider", 403)):
        assert login_as(who).get("/certificates/").status_code == status
    assert login_as("outsider").get(f"/certificates/{licence}/edit").status_code == 404


# ---------------------------------------------------------------------------
# The API


def _api(app: Flask, username: str) -> Callable[..., Any]:
    with unit_of_work(app.extensions["vault.infra"], username) as ctx:
        token = tokens.create(ctx, "test")[1]
    client = app.test_client()

    def call(method: str, path: str, **kw: Any) -> Any:
        return client.open(path, method=method,
                           headers={"Authorization": f"Bearer {token}"}, **kw)

    return call


def test_api_leaks(app: Flask) -> None:
    doc, labels = _scene(app)
    accountant = _api(app, "accountant")
    answers = []
    for number in (labels["manager"], UNKNOWN_NUMBER):
        resp = accountant("POST", "/api/v1/leaks", json={"copy_number": number,
                                                        "description": "门口发现"})
        assert resp.status_code == 201, resp.get_json()
        body = resp.get_json()
        assert resp.headers["Location"].endswith(f"/api/v1/leaks/{body['id']}")
        assert body["copy_number"] == number
        answers.append({k: v for k, v in body.items()
                        if k not in ("id", "copy_number", "reported_at", "deadline_at")})
    assert answers[0] == answers[1] and answers[0]["document"] is None
    assert answers[0]["state"] == "open" and "trace" not in answers[0]
    for body, code in (({"document": doc, "copy_number": "1-1", "description": "x"},
                        "leak_target_required"),
                       ({"document": "5", "description": "x"}, "invalid_input"),
                       ({"document": True, "description": "x"}, "invalid_input"),
                       ({"copy_number": "1-1", "description": 5}, "invalid_input"),
                       ({"copy_number": "1-1"}, "invalid_input")):
        resp = accountant("POST", "/api/v1/leaks", json=body)
        assert resp.status_code == 400 and resp.get_json()["code"] == code, body

    ceo = _api(app, "ceo")
    listed = ceo("GET", "/api/v1/leaks").get_json()
    assert [r["id"] for r in listed["items"]] == [2, 1] and listed["truncated"] is False
    assert listed["items"][1]["copy"] == labels["manager"]
    assert listed["items"][1]["reporter"] == {"username": "accountant", "name": "accountant"}
    detail = ceo("GET", "/api/v1/leaks/1").get_json()
    assert [c["recipient"]["username"] for c in detail["trace"]["copies"]] == [
        "clerk", "manager"]
    assert detail["live_trace"]["document"]["title"] == TITLE
    unknown = ceo("GET", "/api/v1/leaks/2").get_json()
    assert unknown["trace"]["document"] is None and unknown["copy"] is None
    mine = accountant("GET", "/api/v1/leaks/1").get_json()
    assert "trace" not in mine and mine["document"] is None
    assert [r["id"] for r in accountant("GET", "/api/v1/leaks").get_json()["items"]] == [2, 1]
    assert _api(app, "clerk")("GET", "/api/v1/leaks/1").status_code == 404
    assert ceo("GET", "/api/v1/leaks?open=maybe").status_code == 400
    assert ceo("GET", "/api/v1/leaks/0").status_code == 404
    # Anyone reports anything: a file outside one's scope, or none at all (issue 11).
    assert accountant("POST", "/api/v1/leaks", json={
        "document": doc, "description": "x"}).status_code == 201
    assert accountant("POST", "/api/v1/leaks", json={"description": "x"}).status_code == 201


def test_api_certificates(app: Flask) -> None:
    licence = _licence(app)
    keeper = _api(app, "keeper")
    resp = keeper("PUT", f"/api/v1/certificates/{licence}",
                  json={"number": "L-7", "custodian": "keeper", "valid_until": "2031-12-31"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert (body["number"], body["custodian"]["username"], body["valid_until"],
            body["original_location"], body["may_edit"]) == (
        "L-7", "keeper", "2031-12-31", None, True)
    # A field left out keeps its value; null clears it.
    body = keeper("PUT", f"/api/v1/certificates/{licence}",
                  json={"original_location": "柜 B", "number": None}).get_json()
    assert (body["number"], body["original_location"], body["valid_until"]) == (
        None, "柜 B", "2031-12-31")
    listed = keeper("GET", "/api/v1/certificates").get_json()
    assert [c["id"] for c in listed["items"]] == [licence]
    for payload, status in (({"valid_until": "2031-02-30"}, 400),
                            ({"custodian": "outsider"}, 400), ({"number": 5}, 400)):
        assert keeper("PUT", f"/api/v1/certificates/{licence}",
                      json=payload).status_code == status
    assert _api(app, "accountant")("PUT", f"/api/v1/certificates/{licence}",
                                   json={"number": "x"}).status_code == 403
    assert _api(app, "outsider")("PUT", f"/api/v1/certificates/{licence}",
                                 json={"number": "x"}).status_code == 404
    assert _api(app, "clerk")("GET", "/api/v1/certificates").status_code == 403
    ceo = _api(app, "ceo")
    assert [c["id"] for c in ceo("GET", "/api/v1/certificates?company=SZ").get_json()[
        "items"]] == [licence]
    assert ceo("GET", "/api/v1/certificates?company=NOPE").status_code == 400


def test_a_deactivated_reporter_cannot_report(app: Flask) -> None:
    """A reporter deactivated meanwhile cannot report (the token dies with them)."""
    caller = _api(app, "clerk")
    with app.extensions["vault.infra"].sessions() as s:
        user = s.scalar(select(User).where(User.username == "clerk"))
        assert user is not None
        user.active = False
        user.auth_epoch += 1
        s.commit()
    assert caller("POST", "/api/v1/leaks", json={"copy_number": "1-1",
                                                 "description": "x"}).status_code == 401
