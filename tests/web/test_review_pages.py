"""The annual review page (/review): the queue in Chinese and English, confirm for
every reviewer, change and declassify for the approving office after a fresh
sign-in, errors next to the file in the reader's language, and refusals."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from doctools import events  # noqa: I001 - tests/web/doctools.py
from flask import Flask
from flask.testing import FlaskClient
from webtools import csrf_token  # noqa: I001 - tests/web/webtools.py

from vault.models import Document
from vault.policy import Category, Level
from vault.services import accounts, annual_review, documents, samples
from vault.services.context import unit_of_work

# SQLite only (DATABASES, read by tests/conftest.py): these tests are about the web
# layer (routes, forms, messages, status codes, languages, what a refusal shows); the
# services and the storage behind them run on both databases in
# tests/integration/test_review.py.
DATABASES = ("sqlite",)

Login = Callable[[str], FlaskClient]


def _old_doc(app: Flask, title: str, level: Level, *, registrant: str = "clerk",
             supervisor: str = "boss") -> int:
    """A file registered 400 days ago (and never reviewed since)."""
    infra = app.extensions["vault.infra"]
    with unit_of_work(infra, registrant, datetime.now(UTC) - timedelta(days=400)) as ctx:
        return documents.register(
            ctx, title=title, category=Category.CONTRACT, level=level,
            supervisor=accounts.get_user(ctx.session, supervisor), department_code="CS",
            content=io.BytesIO(samples.pdf_pages(title)), filename="doc.pdf").id


def _post(client: FlaskClient, path: str, data: dict[str, str] | None = None) -> Any:
    return client.post(path, data={**(data or {}),
                                   "csrf_token": csrf_token(client, "/review")})


def _text(resp: Any) -> str:
    return str(resp.get_data(as_text=True))


def _fresh(client: FlaskClient, ago: float = 0) -> None:
    with client.session_transaction() as sess:
        sess["reauth"] = time.time() - ago


def _doc(app: Flask, doc_id: int) -> Document:
    with app.extensions["vault.infra"].sessions() as s:
        doc = s.get(Document, doc_id)
        assert doc is not None
        return doc


def test_the_queue_in_chinese_and_english(app: Flask, login_as: Login) -> None:
    doc = _old_doc(app, "A座租赁合同", Level.CONFIDENTIAL)
    boss = login_as("boss")
    page = _text(boss.get("/"))
    assert 'href="/review"' in page and "年度审核" in page  # in the menu
    resp = boss.get("/review")
    page = _text(resp)
    assert resp.status_code == 200
    assert "年度审核" in page and "待审核文件 1 份" in page
    assert f'id="review-{doc}"' in page and "A座租赁合同" in page and "秘密★10年" in page
    assert "从未审核" in page and "主管人员" in page and "按原样确认" in page
    # The supervisor confirms but does not change a classification directly.
    assert f"/review/{doc}/change" not in page and f"/review/{doc}/declassify" not in page
    assert "只有审批人可以直接变更密级" in page
    boss.get("/lang/en")
    page = _text(boss.get("/review"))
    assert "Annual review" in page and "1 files to review" in page
    assert "CONFIDENTIAL★10 years" in page and "Confirm as it is" in page
    assert "never (registered" in page and "responsible supervisor" in page


def test_a_long_queue_shows_its_first_files(app: Flask, login_as: Login,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    docs = [_old_doc(app, f"合同 {i}", Level.CONFIDENTIAL) for i in range(3)]
    boss = login_as("boss")
    assert "review-more" not in _text(boss.get("/review"))
    monkeypatch.setattr(annual_review, "QUEUE_LIMIT", 2)
    page = _text(boss.get("/review"))
    assert "待审核文件 2 份" in page and 'id="review-more"' in page
    assert "以下是最久未审核的 2 份文件" in page
    assert [f'id="review-{d}"' in page for d in docs] == [True, True, False]


def test_nothing_to_review(app: Flask, login_as: Login) -> None:
    _old_doc(app, "A座租赁合同", Level.CONFIDENTIAL)
    page = _text(login_as("accountant").get("/review"))
    assert "没有待审核的文件" in page and "A座租赁合同" not in page


def test_confirm(app: Flask, login_as: Login) -> None:
    doc = _old_doc(app, "A座租赁合同", Level.CONFIDENTIAL)
    clerk = login_as("clerk")
    resp = _post(clerk, f"/review/{doc}/confirm", {"note": "仍在履行"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/review")
    page = _text(clerk.get("/review"))
    assert "已审核：《A座租赁合同》维持原密级和期限。" in page
    assert f'id="review-{doc}"' not in page and "没有待审核的文件" in page
    assert _doc(app, doc).reviewed_at is not None
    (event,) = events(app, action="review:confirm")
    assert (event.actor, event.reason, event.document_id) == ("clerk", "confirmed", doc)
    history = _text(clerk.get(f"/documents/{doc}"))
    assert "仍在履行" in history


def test_change_and_declassify_need_a_fresh_sign_in(app: Flask, login_as: Login) -> None:
    minutes = _old_doc(app, "经营分析纪要", Level.SECRET)
    contract = _old_doc(app, "B座租赁合同", Level.CONFIDENTIAL)
    gm = login_as("gm")
    page = _text(gm.get("/review"))
    assert f"/review/{minutes}/change" in page and f"/review/{contract}/declassify" in page
    assert "所属公司总经理" in page
    _fresh(gm, ago=3600)
    resp = _post(gm, f"/review/{minutes}/change", {"level": "confidential", "period": "5y"})
    assert resp.status_code == 302 and "/reauth" in resp.headers["Location"]
    assert _doc(app, minutes).level == "secret"
    _fresh(gm)
    resp = _post(gm, f"/review/{minutes}/change",
                 {"level": "confidential", "period": "5y", "note": "降密"})
    assert resp.status_code == 302, _text(resp)
    assert "《经营分析纪要》的密级或期限已变更" in _text(gm.get("/review"))
    changed = _doc(app, minutes)
    assert (changed.level, changed.period_years) == ("confidential", 5)
    resp = _post(gm, f"/review/{contract}/declassify", {"note": "合同已公开"})
    assert resp.status_code == 302
    assert _doc(app, contract).level == "internal"
    page = _text(gm.get("/review"))
    assert "《B座租赁合同》已解密（内部）" in page and "没有待审核的文件" in page
    reviews = events(app, action="review:confirm")
    assert [(e.document_id, e.reason) for e in reviews] == [
        (minutes, "changed"), (contract, "declassified")]


def test_errors_are_shown_next_to_the_file(app: Flask, login_as: Login) -> None:
    doc = _old_doc(app, "经营分析纪要", Level.SECRET)
    gm = login_as("gm")
    _fresh(gm)
    cases = [
        ({"level": "secret", "period": "20y"}, "没有变更"),
        ({"level": "secret", "period": "不久"}, "无法识别保密期限"),
        ({"level": "classified", "period": "20y"}, "请从列表中选择密级"),
        ({"level": "secret", "period": "20y", "note": "x" * 1200}, "备注最多 1000 个可打印字符"),
    ]
    for form, message in cases:
        resp = _post(gm, f"/review/{doc}/change", form)
        page = _text(resp)
        assert resp.status_code == 400, page
        assert message in page and 'id="review-error"' in page
        assert "<details class=\"review-change\" open>" in page
    resp = _post(gm, f"/review/{doc}/confirm", {"note": "坏\x01备注"})
    assert resp.status_code == 400 and "备注最多 1000 个可打印字符" in _text(resp)
    resp = _post(gm, f"/review/{doc}/declassify", {"note": "x" * 1001})
    assert resp.status_code == 400 and "备注最多 1000 个可打印字符" in _text(resp)
    gm.get("/lang/en")
    resp = _post(gm, f"/review/{doc}/change", {"level": "secret", "period": "20y"})
    assert resp.status_code == 400 and "Nothing to change" in _text(resp)
    assert _doc(app, doc).level == "secret"
    assert events(app, action="review:confirm") == []


def test_refusals(app: Flask, login_as: Login) -> None:
    doc = _old_doc(app, "经营分析纪要", Level.SECRET)
    boss = login_as("boss")
    _fresh(boss)
    resp = _post(boss, f"/review/{doc}/change", {"level": "confidential", "period": "20y"})
    assert resp.status_code == 403
    assert "只有审批人（所属公司总经理或总公司领导）可以直接变更密级" in _text(resp)
    resp = _post(login_as("keeper"), f"/review/{doc}/confirm")
    assert resp.status_code == 403 and "您不负责审核此文件" in _text(resp)
    outsider = login_as("outsider")
    assert _post(outsider, f"/review/{doc}/confirm").status_code == 404
    assert _post(outsider, "/review/999999/confirm").status_code == 404
    assert _post(outsider, f"/review/{2**40}/confirm").status_code == 404
    assert outsider.post(f"/review/{doc}/confirm").status_code == 400  # no CSRF token
    assert _doc(app, doc).reviewed_at == _doc(app, doc).created_at
    denied = events(app, action="review:confirm", outcome="denied")
    assert [e.actor for e in denied] == ["keeper", "outsider", "outsider"]
