"""The compliance console: compliance officers only, filters and pages of the trail,
denied attempts, a document's history and knowers, exports (audited), chain status
and verification that names the first broken event."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text
from webtools import csrf_token, sign_in  # noqa: I001 - tests/web/webtools.py

from vault.actions import Action
from vault.audit.models import AuditEvent
from vault.policy import Category
from vault.services import documents
from vault.services.context import Infra, unit_of_work

ROUTES = ["/compliance/", "/compliance/denied", "/compliance/documents",
          "/compliance/documents/1", "/compliance/chain", "/compliance/?outcome=nonsense"]


def _infra(app: Flask) -> Infra:
    return app.extensions["vault.infra"]


def _events(app: Flask, action: str) -> list[AuditEvent]:
    with _infra(app).sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.seq)))


def _register(app: Flask, title: str = "租户合同") -> int:
    with unit_of_work(_infra(app), "boss") as ctx:
        doc = documents.register(ctx, title=title, category=Category.CONTRACT)
        doc_id = doc.id
    with unit_of_work(_infra(app), "boss") as ctx:
        ctx.record(Action.DOCUMENT_VIEW, object_type="document", object_id=doc_id,
                   level="confidential", reason="owning_department")
    return doc_id


def _export(client: FlaskClient, data: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    token = csrf_token(client, "/compliance/")
    resp = client.post("/compliance/export", data={**data, "csrf_token": token})
    return resp.status_code, dict(resp.headers), resp.get_data()


@pytest.mark.parametrize("who", ["ceo", "root", "gm", "clerk", "keeper"])
def test_compliance_only(login_as: Callable[[str], FlaskClient], app: Flask, who: str) -> None:
    client = login_as(who)
    for path in ROUTES:
        assert client.get(path).status_code == 403, path
    assert _export(client, {"format": "csv"})[0] == 403
    assert _export(client, {"format": "nonsense"})[0] == 403  # 403 before any 400
    token = csrf_token(client, "/security")
    assert client.post("/compliance/chain/verify", data={"csrf_token": token}).status_code == 403
    denied = [e for e in _events(app, "audit:view") if e.actor == who]
    assert len(denied) >= len(ROUTES) and {e.reason for e in denied} == {"not_compliance"}
    exports = _events(app, "audit:export")
    assert exports and {(e.actor, e.outcome) for e in exports} == {(who, "denied")}
    assert {(e.actor, e.outcome) for e in _events(app, "audit:verify")} == {(who, "denied")}
    assert 'href="/compliance/"' not in client.get("/").get_data(as_text=True)


def test_trail_filters_and_pages(app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    for _ in range(3):
        sign_in(app.test_client(), "clerk", "wrong password!")
    auditor = login_as("auditor")
    page = auditor.get("/compliance/").get_data(as_text=True)
    assert "审计记录" in page and "合规审查" in page and "最新的在前" in page
    page = auditor.get("/compliance/?actor=clerk&action=auth:sign_in_failed").get_data(
        as_text=True)
    assert "共 3 个事件" in page and page.count('title="auth:sign_in_failed"') == 3
    page = auditor.get("/compliance/?actor=clerk&outcome=allowed").get_data(as_text=True)
    assert "共 0 个事件" in page and "没有符合条件的事件" in page
    page = auditor.get("/compliance/?since=2000-01-01&until=2000-12-31").get_data(as_text=True)
    assert "共 0 个事件" in page
    page = auditor.get("/compliance/?since=2000-01-01&until=2999-12-31&actor=clerk").get_data(
        as_text=True)
    assert "共 3 个事件" in page
    # Pages of 50, newest first; links keep the filters.
    with unit_of_work(_infra(app), "clerk") as ctx:
        for _ in range(60):
            ctx.record(Action.DOCUMENT_SEARCH, reason="searched")
    page = auditor.get("/compliance/?actor=clerk").get_data(as_text=True)
    assert "共 63 个事件；第 1 / 2 页" in page
    assert "page=2" in page and "actor=clerk" in page
    second = auditor.get("/compliance/?actor=clerk&page=2").get_data(as_text=True)
    assert "第 2 / 2 页" in second and second.count('title="auth:sign_in_failed"') == 3
    # Reading the trail is itself on the trail.
    views = _events(app, "audit:view")
    assert views and views[-1].actor == "auditor" and views[-1].detail is not None
    assert '"actor":"clerk"' in views[-1].detail


@pytest.mark.parametrize(
    "query",
    ["document=abc", "document=-1", "document=99999999999999", "action=document:eat",
     "outcome=maybe", "since=yesterday", "until=2024-02-30", "since=2025-02-01&until=2025-01-01",
     "page=-3", "page=abc", "page=99999999999", "actor=" + "x" * 5000, "document=%00",
     "actor=clerk%00", "action=%00", "since=0001-01-01", "until=9999-12-31",
     "since=2025-01-01T00:00", "document=１２"],
)
def test_bad_filters_are_explained_not_crashed(login_as: Callable[[str], FlaskClient],
                                               query: str) -> None:
    auditor = login_as("auditor")
    resp = auditor.get(f"/compliance/?{query}")
    assert resp.status_code in (200, 400), query
    if resp.status_code == 400:
        assert 'class="error"' in resp.get_data(as_text=True)


def test_denied_attempts(app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    clerk = login_as("clerk")
    clerk.get("/admin/")
    clerk.get("/compliance/")
    sign_in(app.test_client(), "nobody", "whatever pass")
    auditor = login_as("auditor")
    page = auditor.get("/compliance/denied").get_data(as_text=True)
    assert "被拒绝的尝试" in page
    assert 'title="org:view"' in page and 'title="audit:view"' in page
    assert 'title="auth:sign_in_failed"' in page
    assert 'class="outcome allowed"' not in page
    assert "共 3 个事件" in page
    page = auditor.get("/compliance/denied?actor=clerk").get_data(as_text=True)
    assert "共 2 个事件" in page


def test_a_documents_history_and_knowers(app: Flask,
                                         login_as: Callable[[str], FlaskClient]) -> None:
    doc_id = _register(app)
    auditor = login_as("auditor")
    resp = auditor.get(f"/compliance/documents?id={doc_id}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(
        f"/compliance/documents/{doc_id}")
    page = auditor.get(f"/compliance/documents/{doc_id}").get_data(as_text=True)
    assert "租户合同" in page and "知悉记录" in page
    assert 'title="document:register"' in page and 'title="document:view"' in page
    knowers = page[page.index("知悉记录"):page.index("全部事件")]
    assert "boss" in knowers and "阅读文件" in knowers
    assert "/view" not in page and "/content" not in page  # no way to the content
    page = auditor.get("/compliance/documents/999999").get_data(as_text=True)
    assert "目前没有此编号的文件" in page
    assert auditor.get("/compliance/documents?id=abc").status_code == 400
    assert auditor.get("/compliance/documents/99999999999").status_code == 404
    assert auditor.get("/compliance/documents?id=99999999999").status_code == 400
    last = _events(app, "audit:view")[-1]
    assert last.reason == "document_history" and last.document_id == 999999


def test_export_csv_and_jsonl(app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    for _ in range(2):
        sign_in(app.test_client(), "clerk", "wrong password!")
    auditor = login_as("auditor")
    status, headers, body = _export(auditor, {"format": "csv", "actor": "clerk",
                                              "outcome": "denied"})
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert "attachment" in headers["Content-Disposition"] and ".csv" in headers[
        "Content-Disposition"]
    assert headers["Cache-Control"] == "no-store"
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == 2 and headers["X-Vault-Events"] == "2"
    assert {(r["actor"], r["action"], r["outcome"]) for r in rows} == {
        ("clerk", "auth:sign_in_failed", "denied")}
    assert all(len(r["mac"]) == 64 for r in rows)
    status, headers, body = _export(auditor, {"format": "jsonl", "action": "auth:sign_in"})
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert status == 200 and lines and {d["action"] for d in lines} == {"auth:sign_in"}
    exports = _events(app, "audit:export")
    assert [(e.actor, e.outcome) for e in exports] == [("auditor", "allowed")] * 2
    assert exports[0].detail is not None and '"format":"csv"' in exports[0].detail
    status, _headers, body = _export(auditor, {"format": "xml"})
    assert status == 400 and "请选择 CSV 或 JSON lines" in body.decode()
    status, _headers, body = _export(auditor, {"format": "csv", "since": "soon"})
    assert status == 400
    # The export form (Flask-WTF): each bad filter is explained, in the reader's language;
    # without its CSRF token the post is refused before anything is read.
    for bad, message in (({"document": "abc"}, "请填写文件编号（数字）"),
                         ({"action": "document:eat"}, "未知操作"),
                         ({"until": "2026-02-30"}, "日期格式为 YYYY-MM-DD。"),
                         ({"since": "2026-05-02", "until": "2026-05-01"}, "时间范围")):
        status, _headers, body = _export(auditor, {"format": "csv", **bad})
        assert status == 400 and message in body.decode(), bad
    assert auditor.post("/compliance/export", data={"format": "csv"}).status_code == 400
    auditor.get("/lang/en")
    status, _headers, body = _export(auditor, {"format": "pdf"})
    assert status == 400 and "Choose CSV or JSON lines." in body.decode()
    assert len(_events(app, "audit:export")) == 2  # none of the refused ones exported


def test_chain_status_and_verification(app: Flask,
                                       login_as: Callable[[str], FlaskClient]) -> None:
    infra = _infra(app)
    auditor = login_as("auditor")
    page = auditor.get("/compliance/chain").get_data(as_text=True)
    assert "链状态" in page and "从未校验" in page and "尚无" in page
    with infra.sessions() as s:
        checkpoint = infra.audit.maybe_checkpoint(s, force=True)
        assert checkpoint is not None
        seq = checkpoint.seq
        s.commit()
    page = auditor.get("/compliance/chain").get_data(as_text=True)
    assert f"事件 {seq}，签名于" in page  # the last checkpoint, with its time
    token = csrf_token(auditor, "/compliance/chain")
    page = auditor.post("/compliance/chain/verify", data={"csrf_token": token}).get_data(
        as_text=True)
    assert "审计链完整" in page and 'id="verify-result"' in page
    assert "auditor:" in page and "完整" in page  # the last verification, just run
    assert _events(app, "audit:verify")[-1].outcome == "allowed"
    # Someone edits an event in the database: the console names it.
    with infra.sessions() as s:
        s.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
        s.commit()
    page = auditor.post("/compliance/chain/verify", data={"csrf_token": token}).get_data(
        as_text=True)
    assert "审计链已被破坏" in page and "第一个异常事件为第 2 号" in page
    assert _events(app, "audit:verify")[-1].outcome == "failed"
    page = auditor.get("/compliance/chain").get_data(as_text=True)
    assert "在事件 2 处被破坏" in page


def test_english(login_as: Callable[[str], FlaskClient]) -> None:
    auditor = login_as("auditor")
    auditor.get("/lang/en")
    page = auditor.get("/compliance/").get_data(as_text=True)
    assert "Audit trail" in page and "newest first" in page and "Denied attempts" in page
