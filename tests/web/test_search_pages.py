"""The search box (home, /search), results with snippets and facets, the document
page's indexing state, and GET /api/v1/search — on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from doctools import events, make_doc  # noqa: I001 - tests/web/doctools.py
from flask import Flask
from flask.testing import FlaskClient
from webtools import csrf_token  # noqa: I001 - tests/web/webtools.py

from vault.actions import Action
from vault.policy import Category, Level
from vault.services import search_index, tokens
from vault.services.context import unit_of_work
from vault.web import openapi

WORD = "泵房检修"


def _docs(app: Flask) -> tuple[int, int]:
    open_doc = make_doc(app, Level.INTERNAL, category=Category.NOTICE, title="停水通知",
                        content=f"本周六{WORD}，请储水。".encode(), filename="n.txt")
    secret = make_doc(app, Level.SECRET, category=Category.CONTRACT, title="维保合同",
                      registrant="boss",
                      content=f"合同约定{WORD}费用。".encode(), filename="c.txt")
    search_index.work(app.extensions["vault.infra"])
    return open_doc, secret


def _search(client: FlaskClient, **fields: str) -> str:
    token = csrf_token(client, "/search")
    resp = client.post("/search", data={"csrf_token": token, **fields})
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_search_from_home_with_snippets_facets_and_scope(
        app: Flask, login_as: Callable[[str], FlaskClient]) -> None:
    open_doc, secret = _docs(app)
    clerk = login_as("clerk")
    home = clerk.get("/").get_data(as_text=True)
    assert 'action="/search"' in home and 'method="post"' in home
    page = _search(clerk, q=WORD)
    assert f"/documents/{open_doc}" in page and f"/documents/{secret}" not in page
    assert f"<mark>{WORD[:2]}" in page or f"<mark>{WORD}</mark>" in page
    assert "共找到 1 份文件" in page
    boss = login_as("boss")  # the responsible supervisor reads both
    page = _search(boss, q=WORD)
    assert f"/documents/{open_doc}" in page and f"/documents/{secret}" in page
    assert re.search(r'name="level" value="secret"', page)
    only_secret = _search(boss, q=WORD, level="secret")
    assert f"/documents/{secret}" in only_secret and f"/documents/{open_doc}" not in only_secret
    # Pressing another level's facet on that page: the pressed value is sent first.
    facets = only_secret[only_secret.index('id="facets"'):]
    assert facets.index('name="level" value="secret"') < facets.index('type="hidden" name="level"')
    gm = login_as("gm")  # approving office: title and marking, no text
    page = _search(gm, q="合同约定")
    assert f"/documents/{secret}" in page and "<mark>" not in page
    assert "仅显示标题和密级标志" in page
    views = [e.actor for e in events(app, action=Action.DOCUMENT_VIEW.value)]
    assert sorted(views) == ["boss", "boss", "boss", "clerk"]  # a view per snippet shown


def test_more_than_the_bound_says_so(app: Flask, login_as: Callable[[str], FlaskClient],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Past `search.CAP` matches the page says "more than" and the facets' counts are
    lower bounds; the API says total_is_lower_bound."""
    from vault.services import search

    _docs(app)
    boss = login_as("boss")  # both files are in the supervisor's scope
    assert "共找到 2 份文件" in _search(boss, q=WORD)
    monkeypatch.setattr(search, "CAP", 1)
    page = _search(boss, q=WORD)
    assert "找到的文件超过 1 份" in page and "共找到" not in page
    assert re.search(r"\(1\+\)</button>", page)
    with unit_of_work(app.extensions["vault.infra"], "boss") as ctx:
        token = tokens.create(ctx, "t")[1]
    body = app.test_client().get("/api/v1/search", query_string={"q": WORD},
                                 headers={"Authorization": f"Bearer {token}"}).get_json()
    assert (body["total"], body["total_is_lower_bound"], len(body["results"])) == (1, True, 1)


def test_bad_search_is_a_clear_message(app: Flask,
                                       login_as: Callable[[str], FlaskClient]) -> None:
    clerk = login_as("clerk")
    page = _search(clerk, q="，，")
    assert "请输入要搜索的词语、数字或汉字" in page
    assert clerk.get("/search").status_code == 200
    assert clerk.post("/search", data={"q": WORD}).status_code == 400  # no CSRF token
    # The search form (Flask-WTF): a bad date is explained (not a 500); values that are
    # no category, level or page are ignored, as before.
    for field in ("from", "to"):
        assert "日期格式为 YYYY-MM-DD。" in _search(clerk, q=WORD, **{field: "2026-02-30"})
    page = _search(clerk, q=WORD, category="nonsense", level="x", page="abc",
                   tenant=" " * 40, **{"from": "", "to": ""})
    assert "日期格式为" not in page
    clerk.get("/lang/en")
    assert "Dates are written YYYY-MM-DD." in _search(clerk, q=WORD, to="soon")


def test_document_page_shows_indexing_state(app: Flask,
                                            login_as: Callable[[str], FlaskClient]) -> None:
    doc = make_doc(app, Level.INTERNAL, category=Category.NOTICE, content=b"water",
                   filename="w.txt")
    clerk = login_as("clerk")
    assert "正在排队等待建立索引" in clerk.get(f"/documents/{doc}").get_data(as_text=True)
    search_index.work(app.extensions["vault.infra"])
    assert "第 1 版已建立索引" in clerk.get(f"/documents/{doc}").get_data(as_text=True)


def test_api_search(app: Flask) -> None:
    open_doc, secret = _docs(app)
    with unit_of_work(app.extensions["vault.infra"], "clerk") as ctx:
        token = tokens.create(ctx, "t")[1]
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    resp = client.get("/api/v1/search", query_string={"q": WORD}, headers=auth)
    assert resp.status_code == 200
    body = resp.get_json()
    assert [r["id"] for r in body["results"]] == [open_doc] and body["total"] == 1
    assert body["total_is_lower_bound"] is False
    assert body["results"][0]["snippet"] and body["facets"]["category"][0]["value"] == "notice"
    bad = client.get("/api/v1/search", query_string={"q": "，"}, headers=auth)
    assert bad.status_code == 400 and bad.get_json()["code"] == "empty_query"
    missing = client.get("/api/v1/search", headers=auth)
    assert missing.status_code == 400 and missing.get_json()["code"] == "invalid_input"
    assert client.get("/api/v1/search", query_string={"q": WORD}).status_code == 401
    assert client.head("/api/v1/search", query_string={"q": WORD},
                       headers=auth).status_code == 405
    assert "/api/v1/search" in openapi.document()["paths"]


def test_recent_imports_page(app: Flask, login_as: Callable[[str], FlaskClient],
                             tmp_path: Path) -> None:
    from vault.services import watch

    inbox = tmp_path / "scans"
    inbox.mkdir()
    (inbox / "boss-notice.txt").write_text("通知", encoding="utf-8")
    infra = app.extensions["vault.infra"]
    done = watch.scan(infra, inbox, "boss", watch.Options(Category.CONTRACT, settle=0))
    assert [d.outcome for d in done] == ["imported"] and not (inbox / "boss-notice.txt").exists()
    page = login_as("boss").get("/search/imports").get_data(as_text=True)
    assert "boss-notice.txt" in page and f"/documents/{done[0].document_id}" in page
    other = login_as("outsider").get("/search/imports").get_data(as_text=True)
    assert "boss-notice.txt" not in other  # a 秘密 contract of another company
