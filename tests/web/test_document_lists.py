"""The documents list (issue 16): thumbnails of the first page for files the person
may view (watermarked for them, audited, private to their browser), sortable columns
(whitelisted keys, ordered in SQL) and pages that keep the filters and the order."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from datetime import date

from doctools import events, make_doc  # noqa: I001 - tests/web/doctools.py
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from vault.policy import Category, Level
from vault.services import documents, samples, viewer
from vault.services.context import unit_of_work

Login = Callable[[str], FlaskClient]
ROW = re.compile(r'<a href="/documents/(\d+)">')


def _ids(client: FlaskClient, query: str) -> list[int]:
    return [int(x) for x in ROW.findall(client.get("/documents/" + query).get_data(as_text=True))]


def test_thumbnails_for_what_the_person_may_view_only(app: Flask, login_as: Login) -> None:
    secret = make_doc(app, Level.SECRET, title="机密方案", registrant="boss")  # not for clerk
    conf = make_doc(app, Level.CONFIDENTIAL, title="秘密合同")
    text = make_doc(app, Level.INTERNAL, title="内部通知", category=Category.NOTICE,
                    content=b"hello\n", filename="n.txt")
    png = make_doc(app, Level.INTERNAL, title="营业执照扫描", category=Category.NOTICE,
                   content=samples.png_card("营业执照"), filename="licence.png")
    clerk = login_as("clerk")
    page = clerk.get("/documents/").get_data(as_text=True)
    shown = {int(x) for x in re.findall(r'src="/documents/(\d+)/thumbnail.png"', page)}
    assert shown == {conf, png}  # not the text file, not the secret file clerk may not read
    assert 'loading="lazy"' in page
    boss = login_as("boss").get("/documents/").get_data(as_text=True)
    assert f'src="/documents/{secret}/thumbnail.png"' in boss  # the supervisor reads it

    before = len(events(app, action="document:view", document_id=conf))
    resp = clerk.get(f"/documents/{conf}/thumbnail.png")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert resp.headers["Cache-Control"] == "private, max-age=60"
    img = Image.open(io.BytesIO(resp.data)).convert("RGB")
    assert img.width == viewer.THUMB_WIDTH
    # Watermarked for this viewer: differs from the bare page scaled down the same way.
    bare = viewer.render_page("application/pdf", samples.pdf_pages("秘密合同"), 1).copy()
    bare.thumbnail((viewer.THUMB_WIDTH, viewer.THUMB_WIDTH * 2))
    assert img.size == bare.size and img.tobytes() != bare.tobytes()
    seen = events(app, action="document:view", document_id=conf)
    assert len(seen) == before + 1
    assert (seen[-1].actor, seen[-1].reason, seen[-1].outcome) == ("clerk", "thumbnail",
                                                                   "allowed")

    # Compliance knows of every file but reads no classified one: no thumbnail, and
    # asking for one is refused and on the trail; out of scope is as if missing.
    auditor = login_as("auditor")
    listed = auditor.get("/documents/").get_data(as_text=True)
    assert f'href="/documents/{conf}"' in listed
    assert f"/documents/{conf}/thumbnail.png" not in listed
    refused = auditor.get(f"/documents/{conf}/thumbnail.png")
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert events(app, action="document:view", document_id=conf)[-1].outcome == "denied"
    assert clerk.get(f"/documents/{secret}/thumbnail.png").status_code == 404
    assert login_as("outsider").get(f"/documents/{conf}/thumbnail.png").status_code == 404
    assert clerk.get(f"/documents/{text}/thumbnail.png").status_code == 400
    assert clerk.head(f"/documents/{conf}/thumbnail.png").status_code == 405


def test_columns_sort_in_sql_and_unknown_keys_are_ignored(app: Flask, login_as: Login) -> None:
    infra = app.extensions["vault.infra"]
    made = {}
    with unit_of_work(infra, "clerk") as ctx:
        for title, level, issued in (("乙", Level.SECRET, date(2026, 1, 5)),
                                     ("甲", Level.INTERNAL, date(2026, 3, 1)),
                                     ("丙", Level.CONFIDENTIAL, date(2025, 12, 1))):
            made[title] = documents.register(
                ctx, title=title, category=Category.ADMINISTRATIVE, level=level,
                issued_on=issued, paper_original=True).id
    client = login_as("ceo")
    newest_first = sorted(made.values(), reverse=True)
    assert _ids(client, "") == newest_first
    assert _ids(client, "?sort=registered") == sorted(made.values())
    assert _ids(client, "?sort=issued") == [made["丙"], made["乙"], made["甲"]]
    assert _ids(client, "?sort=-issued") == [made["甲"], made["乙"], made["丙"]]
    assert _ids(client, "?sort=level") == [made["甲"], made["丙"], made["乙"]]
    assert _ids(client, "?sort=-level") == [made["乙"], made["丙"], made["甲"]]
    # Not a column: the default order, no error, nothing of it reaches the SQL.
    assert _ids(client, "?sort=id;drop table documents") == newest_first
    assert _ids(client, "?sort=-password_hash") == newest_first
    page = client.get("/documents/?sort=-issued").get_data(as_text=True)
    assert re.search(r'aria-sort="descending"[^>]*><a href="[^"]*sort=issued"', html.unescape(page))
    assert 'aria-sort="none"' in page
    with unit_of_work(infra, "ceo") as ctx:
        try:
            documents.search(ctx, documents.Query(sort="password_hash"))
        except Exception as exc:  # noqa: BLE001 - the service refuses with a code
            assert getattr(exc, "code", None) == "bad_sort"
        else:
            raise AssertionError("an unknown sort key was accepted")


def test_pages_keep_the_filters_and_the_order(app: Flask, login_as: Login) -> None:
    infra = app.extensions["vault.infra"]
    with unit_of_work(infra, "clerk") as ctx:
        for i in range(30):
            documents.register(ctx, title=f"档案 {i:02d}", category=Category.NOTICE,
                               paper_original=True)
        documents.register(ctx, title="其他 合同", category=Category.ADMINISTRATIVE,
                           paper_original=True)
    client = login_as("clerk")
    first = html.unescape(client.get("/documents/?q=档案&sort=title").get_data(as_text=True))
    nxt = re.search(r'<a href="([^"]+)" rel="next"', first)
    assert nxt and "q=" in nxt.group(1) and "sort=title" in nxt.group(1)
    second = client.get(nxt.group(1)).get_data(as_text=True)
    titles = re.findall(r'<a href="/documents/\d+">([^<]+)</a>', second)
    assert titles == [f"档案 {i:02d}" for i in range(25, 30)]
    # The filter form carries the order along; a column's link keeps the filters and
    # starts again at page 1.
    assert '<input type="hidden" name="sort" value="title">' in first
    title_link = re.search(r'data-sort="title"', first)
    assert title_link
    links = re.findall(r'<a href="([^"]+)" data-sort="(\w+)"', first)
    for url, _key in links:
        assert "q=" in url and "page=" not in url
