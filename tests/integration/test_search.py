"""Content search over the keyed index, on SQLite and PostgreSQL: extraction in the
background, BM25 in scope, snippets only for viewers (audited as views), OCR,
rotation, purge, and no plaintext in the database, its dump, the audit mirror or
the logs."""

from __future__ import annotations

import glob
import io
import itertools
import json
import logging
import os
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from people import PEOPLE  # noqa: I001 - tests/people.py
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import Column, event, func, select
from sqlalchemy import text as sql_text
from sqlalchemy.engine import make_url
from sqlalchemy.sql import visitors

from vault import db, filetype, textindex
from vault.actions import Action
from vault.audit.models import AuditEvent
from vault.errors import InvalidInput
from vault.models import Document, DocumentText, IndexKey, Posting, Recording
from vault.policy import Category, Level, Period
from vault.services import documents, grants, keys, search, search_index, tenants
from vault.services.context import Infra, unit_of_work

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"

# Distinctive words: in no title, no file name, nowhere but the files' content.
SECRET_ZH = "螺旋桨维修"
SECRET_EN = "Quixotrona"
PUBLIC_ZH = "电梯钢缆更换"
TITLE = "附件甲乙丙"


def register(infra: Infra, body: bytes | None, actor: str = "boss", filename: str = "f.txt",
             **kwargs: object) -> int:
    kwargs.setdefault("title", "文件")
    kwargs.setdefault("category", Category.NOTICE)
    with unit_of_work(infra, actor, NOW) as ctx:
        doc = documents.register(
            ctx, content=io.BytesIO(body) if body is not None else None,
            filename=filename if body is not None else None, **kwargs,  # type: ignore[arg-type]
        )
        return doc.id


def find(infra: Infra, actor: str, text: str, **kwargs: object) -> search.Results:
    with unit_of_work(infra, actor, NOW) as ctx:
        return search.search(ctx, documents.Query(text=text, **kwargs))  # type: ignore[arg-type]


def ids(found: search.Results) -> list[int]:
    return [h.id for h in found.hits]


def events(infra: Infra, action: Action) -> list[AuditEvent]:
    with infra.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action.value)
                              .order_by(AuditEvent.seq)))


def test_registration_queues_and_the_worker_indexes(org: Infra) -> None:
    doc_id = register(org, f"关于{PUBLIC_ZH}的通知。Lift cables, phase 2.".encode())
    with org.sessions() as s:
        row = s.get(DocumentText, doc_id)
        assert row is not None and (row.state, row.version) == ("pending", 1)
        assert s.scalar(select(func.count()).select_from(Posting)) == 0
    assert find(org, "clerk", "钢缆").total == 0  # not yet: registration did not wait
    assert find(org, "clerk", "钢缆").unindexed == 1
    done = search_index.work(org, now=lambda: NOW)
    assert [(o.document_id, o.state, o.method) for o in done] == [(doc_id, "done", "text")]
    with org.sessions() as s:
        row = s.get(DocumentText, doc_id)
        assert row is not None and row.state == "done" and row.ciphertext is not None
        assert row.wrapped_key is not None and row.master_key_id == org.keyring.active_id
        assert search_index.read_text(org, row) == f"关于{PUBLIC_ZH}的通知。Lift cables, phase 2."
    for query in ("钢缆", "电梯钢缆", "梯", "LIFT", "ｌｉｆｔ", "Phase 2", "通知"):
        assert ids(find(org, "clerk", query)) == [doc_id], query
    assert find(org, "clerk", "钢筋").total == 0
    assert find(org, "clerk", "lift elevator").total == 0  # every token must be there
    # A new version is queued and replaces the postings once extracted.
    with unit_of_work(org, "boss", NOW) as ctx:
        documents.add_version(ctx, doc_id, io.BytesIO("换成了新的内容".encode()), "g.txt")
    assert ids(find(org, "clerk", "钢缆")) == [doc_id]  # the old text until the new is in
    search_index.work(org, now=lambda: NOW)
    assert find(org, "clerk", "钢缆").total == 0
    assert ids(find(org, "clerk", "新的内容")) == [doc_id]
    with org.sessions() as s:
        assert set(s.scalars(select(Posting.version))) == {2}
    assert [e.object_id for e in events(org, Action.DOCUMENT_INDEX)] == [str(doc_id)] * 2


def test_titles_and_paper_originals_are_found(org: Infra) -> None:
    paper = register(org, None, title="房产证原件 B座", category=Category.OTHER_CERTIFICATE)
    search_index.work(org, now=lambda: NOW)
    assert ids(find(org, "boss", "房产证")) == [paper]
    assert ids(find(org, "boss", "b座")) == [paper]


def test_ranking_is_bm25(org: Infra) -> None:
    once = register(org, ("水管" + "。其他内容" * 40).encode())
    often = register(org, ("水管检修，水管更换，水管。" + "其他" * 5).encode())
    search_index.work(org, now=lambda: NOW)
    found = find(org, "clerk", "水管")
    assert ids(found) == [often, once]
    assert found.hits[0].score > found.hits[1].score > 0


def test_bad_queries_are_refused_clearly(org: Infra) -> None:
    for text, code in (("", "empty_query"), ("  ，。！ ", "empty_query"),
                       ("字" * 201, "query_too_long")):
        with pytest.raises(InvalidInput) as err:
            find(org, "clerk", text)
        assert err.value.code == code


def test_scope_out_of_scope_words_return_and_count_nothing(org: Infra) -> None:
    """A word only in a file outside the reader's scope: no result, no count, no facet,
    and the scores of what the reader does see do not move."""
    mine = register(org, f"{PUBLIC_ZH} 维修记录".encode(), actor="clerk",
                    category=Category.ADMINISTRATIVE)
    search_index.work(org, now=lambda: NOW)
    before = find(org, "outsider", "维修")
    assert ids(before) == [mine]
    hidden = register(org, f"{SECRET_ZH} {SECRET_EN} 维修 维修 维修".encode(), actor="boss",
                      category=Category.CONTRACT, level=Level.SECRET)
    search_index.work(org, now=lambda: NOW)
    for who in ("outsider", "clerk", "accountant"):
        for word in (SECRET_ZH, SECRET_EN, "螺旋"):
            found = find(org, who, word)
            assert (found.total, found.hits, found.facets, found.unindexed) == (0, (), {}, 0)
    after = find(org, "outsider", "维修")
    assert ids(after) == [mine] and after.total == 1
    assert after.hits[0].score == before.hits[0].score  # N, df, avgdl: in scope only
    assert {f.value: f.count for f in after.facets["level"]} == {"internal": 1}
    # Those in scope find it: the responsible supervisor with a snippet, the GM
    # (approving office, metadata only) without one.
    assert ids(find(org, "boss", SECRET_EN)) == [hidden]
    gm = find(org, "gm", SECRET_EN)
    assert ids(gm) == [hidden] and gm.hits[0].snippet is None and not gm.hits[0].may_view


def test_snippets_only_for_viewers_and_audited_as_views(org: Infra) -> None:
    body = ("第一段无关内容。" * 20 + f"本月将进行{PUBLIC_ZH}工作，请住户配合。" + "结尾。" * 20)
    doc_id = register(org, body.encode(), actor="boss", category=Category.CONTRACT,
                      level=Level.CONFIDENTIAL)  # 秘密: the owning department may view
    search_index.work(org, now=lambda: NOW)
    found = find(org, "clerk", "钢缆更换")
    hit = found.hits[0]
    assert hit.may_view and hit.snippet is not None
    marked = "".join(f"[{p.text}]" if p.hit else p.text for p in hit.snippet)
    assert "[钢缆更换]" in marked and marked.startswith("…")
    views = events(org, Action.DOCUMENT_VIEW)
    assert [(e.actor, e.object_id, e.reason) for e in views] == [
        ("clerk", str(doc_id), "snippet")]
    keeper = find(org, "keeper", "钢缆更换")  # custodian: knows of it, may not read it
    assert ids(keeper) == [doc_id] and keeper.hits[0].snippet is None
    assert len(events(org, Action.DOCUMENT_VIEW)) == 1
    searches = events(org, Action.DOCUMENT_SEARCH)
    assert searches and all("钢缆" not in json.dumps(e.detail, ensure_ascii=False)
                            for e in searches)


def test_filters_and_facets(org: Infra) -> None:
    a = register(org, "停车场收费标准".encode(), category=Category.NOTICE)
    b = register(org, "停车场租赁合同".encode(), category=Category.CONTRACT)
    search_index.work(org, now=lambda: NOW)
    found = find(org, "boss", "停车场")
    assert sorted(ids(found)) == sorted([a, b])
    assert {f.value: f.count for f in found.facets["category"]} == {"notice": 1, "contract": 1}
    assert {f.value: f.count for f in found.facets["level"]} == {"internal": 1,
                                                                 "confidential": 1}
    assert ids(find(org, "boss", "停车场", category=Category.CONTRACT)) == [b]
    assert ids(find(org, "boss", "停车场", level=Level.INTERNAL)) == [a]


def test_large_matched_sets_are_bounded_newest_first(
        org: Infra, monkeypatch: pytest.MonkeyPatch) -> None:
    """Up to `search.CAP` matches are ranked, counted and faceted exactly — effective
    levels included (a secret file whose period ended counts as internal),
    categories and tenants. Past CAP the newest CAP matches in the reader's scope
    are ranked and counted, the total says "more than" (``total_capped``) and the
    facets count those; files out of scope take no place among them."""
    with db.transaction(org.sessions) as s:
        tenants.add_tenant(s, "T1", "一号租户")
        tenants.add_tenant(s, "T2", "二号租户")
    kinds: list[dict[str, object]] = [
        {"category": Category.NOTICE}, {"category": Category.CONTRACT},
        {"category": Category.NOTICE, "tenant_code": "T1"},
        {"category": Category.CONTRACT, "level": Level.SECRET, "tenant_code": "T2"},
        {"category": Category.CONTRACT, "level": Level.SECRET, "tenant_code": "T2",
         "issued_on": date(2020, 1, 1), "period": Period(until=date(2021, 1, 1))},
        {"category": Category.AGREEMENT, "level": Level.CONFIDENTIAL},
    ]
    made = [register(org, f"停车场第{i}号通知{'停车场' * i}".encode(), **kw)
            for i, kw in enumerate(kinds)]
    search_index.work(org, now=lambda: NOW)

    def counts(found: search.Results, name: str) -> dict[str, int]:
        return {f.value: f.count for f in found.facets[name]}

    exact = find(org, "boss", "停车场", per_page=10)
    assert sorted(ids(exact)) == made and (exact.total, exact.total_capped) == (6, False)
    assert counts(exact, "level") == {"internal": 3, "secret": 1, "confidential": 2}
    assert counts(exact, "tenant") == {"T1": 1, "T2": 2}
    assert counts(exact, "category") == {"notice": 2, "contract": 3, "agreement": 1}
    monkeypatch.setattr(search, "CAP", 6)  # exactly CAP matches: still exact
    at_cap = find(org, "boss", "停车场", per_page=10)
    assert (ids(at_cap), at_cap.total, at_cap.total_capped) == (ids(exact), 6, False)
    assert at_cap.facets == exact.facets
    monkeypatch.setattr(search, "CAP", 4)
    newest = made[2:]
    pages = [find(org, "boss", "停车场", per_page=3, page=p) for p in (1, 2, 3)]
    assert [(f.total, f.total_capped, f.pages) for f in pages] == [(4, True, 2)] * 3
    # The newest four, in BM25 order (as they rank among all six), over the pages.
    assert ids(pages[0]) + ids(pages[1]) == [i for i in ids(exact) if i in newest]
    assert ids(pages[2]) == []
    assert counts(pages[0], "level") == {"internal": 2, "secret": 1, "confidential": 1}
    assert counts(pages[0], "tenant") == {"T1": 1, "T2": 2}
    assert counts(pages[0], "category") == {"notice": 1, "contract": 2, "agreement": 1}
    # Someone who may know of the internal ones only (and the one whose period
    # ended): the newer classified files are not among "the newest".
    monkeypatch.setattr(search, "CAP", 2)
    outsider = find(org, "outsider", "停车场", per_page=10)
    assert (outsider.total, outsider.total_capped) == (2, True)
    assert sorted(ids(outsider)) == [made[2], made[4]]
    assert counts(outsider, "level") == {"internal": 2}
    # Without tenants in the set, no tenants' facet.
    monkeypatch.setattr(search, "CAP", 1)
    assert find(org, "boss", "停车场 第0号").facets["tenant"] == ()


def test_merged_tokens_find_what_looked_up_tokens_find(
        org: Infra, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bounded pass finds the same matches, scores, totals and facets whether
    the other tokens are looked up per candidate or (PostgreSQL) merged with the
    driving token's postings (`search._merged`), capped or not, for a reader of
    everything in the company and for one who may know of a part: exactly the
    files in the reader's scope that hold every word (the newest CAP of them when
    capped), none twice."""
    words = ["海鸥", "灯塔", "码头", "渔船", "潮汐", "礁石"]
    holds = [  # which files hold each word: every one, most, some, few, one
        lambda i: True, lambda i: i % 4 != 0, lambda i: i % 2 == 0, lambda i: i % 3 == 0,
        lambda i: i in (3, 6, 9), lambda i: i % 2 == 1]
    tokens: dict[int, set[str]] = {}  # each file's tokens (the title's are other ones)
    for i in range(12):
        held = [w for w, has in zip(words, holds, strict=True) if has(i)]
        body = "，".join(w * (1 + (i + n) % 3) for n, w in enumerate(held))  # tf 1-3
        level = (Level.INTERNAL, Level.CONFIDENTIAL, Level.SECRET)[i % 3]
        tokens[register(org, body.encode(), level=level)] = set(textindex.document_tokens(body))
    search_index.work(org, now=lambda: NOW)
    engine = org.sessions.kw["bind"]
    postgres = engine.dialect.name == "postgresql"
    statements: list[str] = []

    def note(_conn: object, _cur: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    queries = ["，".join(q) for n in (2, 3) for q in itertools.combinations(words, n)][::3]
    full = search.CAP
    for who in ("boss", "outsider"):
        monkeypatch.setattr(search, "CAP", full)
        visible = set(ids(find(org, who, words[0], per_page=100)))  # a word in every file
        assert visible == set(tokens) if who == "boss" else set() < visible < set(tokens)
        for cap in (full, 3):
            monkeypatch.setattr(search, "CAP", cap)
            for query in queries:
                asked = set(textindex.query_tokens(query))
                wanted = sorted((d for d in visible if asked <= tokens[d]), reverse=True)
                # The pass runs when every token is in some file in scope.
                passes = all(any(t in tokens[d] for d in visible) for t in asked)
                seen: list[tuple[Any, ...]] = []
                for ratio in ((0, 10**6) if postgres else (search.MERGE_RATIO,)):
                    monkeypatch.setattr(search, "MERGE_RATIO", ratio)
                    statements.clear()
                    event.listen(engine, "before_cursor_execute", note)
                    try:
                        found = find(org, who, query, per_page=100)
                    finally:
                        event.remove(engine, "before_cursor_execute", note)
                    lateral = any("LATERAL" in st for st in statements)
                    assert lateral == (postgres and ratio > 0 and passes), (query, ratio)
                    assert sorted(ids(found), reverse=True) == wanted[:cap], (who, cap, query)
                    assert (found.total, found.total_capped) == (min(len(wanted), cap),
                                                                 len(wanted) > cap)
                    seen.append((ids(found), [h.score for h in found.hits], found.facets))
                assert seen.count(seen[0]) == len(seen), (who, cap, query)


def test_the_cached_corpus_follows_every_change_at_once(
        org: Infra, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader's corpus statistics (files in scope, their length, each token's
    document frequency in scope) are kept in memory between searches. After each
    change the next search's total, scores and facets are those computed afresh,
    and they moved: a file indexed, a grant given and revoked, a level raised, a
    period ending and a grant ending by the clock alone (searching at a later
    moment, and back)."""
    computed: list[int] = []
    real = search._corpus

    def counted(*args: Any) -> tuple[int, float]:
        computed.append(1)
        return real(*args)

    monkeypatch.setattr(search, "_corpus", counted)

    def seen(who: str, at: datetime = NOW) -> tuple[int, list[tuple[int, float]], object]:
        with unit_of_work(org, who, at) as ctx:
            cached = search.search(ctx, documents.Query(text="停车场", per_page=50))
        search._corpora.clear()
        with unit_of_work(org, who, at) as ctx:
            fresh = search.search(ctx, documents.Query(text="停车场", per_page=50))
        shown = (cached.total, [(h.id, h.score) for h in cached.hits], cached.facets)
        assert shown == (fresh.total, [(h.id, h.score) for h in fresh.hits], fresh.facets)
        return shown

    def found(shown: tuple[int, list[tuple[int, float]], object]) -> set[int]:
        return {i for i, _ in shown[1]}

    first = register(org, "停车场收费标准，停车场".encode(), actor="clerk")
    ended = register(org, "停车场租赁合同".encode(), actor="boss", category=Category.CONTRACT,
                     level=Level.SECRET, issued_on=date(2025, 1, 1),
                     period=Period(until=date(2026, 12, 31)))
    dept = register(org, "停车场维修合同".encode(), actor="boss", category=Category.CONTRACT,
                    level=Level.CONFIDENTIAL)
    search_index.work(org, now=lambda: NOW)
    start = seen("clerk")
    assert found(start) == {first, dept}  # the internal file and the department's 秘密 one
    before = len(computed)
    assert seen("clerk") == start and len(computed) == before + 1  # cached: only afresh
    second = register(org, "停车场".encode(), actor="clerk")
    search_index.work(org, now=lambda: NOW)
    indexed = seen("clerk")
    assert found(indexed) == {first, dept, second}
    assert dict(indexed[1])[first] != dict(start[1])[first]  # N and the frequency moved
    with unit_of_work(org, "boss", NOW) as ctx:
        grants.grant(ctx, ended, "clerk")
    assert found(seen("clerk")) == {first, dept, second, ended}
    with unit_of_work(org, "boss", NOW) as ctx:
        grants.revoke(ctx, ended, "clerk")
    assert seen("clerk") == indexed
    with unit_of_work(org, "gm", NOW) as ctx:
        documents.change_classification(ctx, dept, level=Level.SECRET)
    raised = seen("clerk")
    assert found(raised) == {first, second}
    # The clock alone: the period ends on 2026-12-31, and back; a grant ends.
    assert found(seen("clerk", NOW + timedelta(days=40))) == {first, second, ended}
    assert seen("clerk") == raised
    with unit_of_work(org, "boss", NOW) as ctx:
        grants.grant(ctx, ended, "clerk", NOW + timedelta(days=1))
    assert found(seen("clerk")) == {first, second, ended}
    assert seen("clerk", NOW + timedelta(days=2)) == raised


def _epoch(infra: Infra) -> str:
    with infra.sessions() as s:
        return str(s.scalar(sql_text("SELECT value FROM search_epoch WHERE id = 1")))


def test_the_epoch_moves_with_what_the_statistics_read(org: Infra) -> None:
    """The cache's key (search_epoch, migration 0016) changes with every committed
    change of what the scope, the filters and BM25's statistics read, not with a
    search, a rolled-back change or a column they do not read; the documents'
    columns it watches hold every column the scope and the filters read, for
    every kind of reader."""
    doc = register(org, "停车场".encode(), actor="clerk")
    moved = _epoch(org)
    search_index.work(org, now=lambda: NOW)  # postings and documents.text_tokens
    assert _epoch(org) != moved
    moved = _epoch(org)
    find(org, "clerk", "停车场")
    assert _epoch(org) == moved  # the search's own audit event
    with db.transaction(org.sessions) as s:
        s.execute(sql_text("UPDATE documents SET title = 'x' WHERE id = :d"), {"d": doc})
    assert _epoch(org) == moved  # not read by the statistics
    with pytest.raises(RuntimeError), db.transaction(org.sessions) as s:
        s.execute(sql_text("UPDATE documents SET level = 'secret' WHERE id = :d"), {"d": doc})
        raise RuntimeError
    assert _epoch(org) == moved
    for change in ("UPDATE documents SET supervisor_id = NULL WHERE id = :d",
                   "UPDATE document_texts SET tokens = tokens + 1 WHERE document_id = :d",
                   "DELETE FROM grants WHERE document_id = :d",
                   "UPDATE tenants SET code = code WHERE id = :d"):
        with db.transaction(org.sessions) as s:
            s.execute(sql_text(change), {"d": doc})
        assert _epoch(org) != moved or change.startswith(("DELETE", "UPDATE tenants")), change
        moved = _epoch(org)
    with db.transaction(org.sessions) as s:
        tenants.add_tenant(s, "T9", "九号租户")
    assert _epoch(org) != moved
    # Every column of `documents` the conditions read, for every reader and filter.
    engine = org.sessions.kw["bind"]
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            watched = set(conn.execute(sql_text(
                "SELECT event_object_column FROM information_schema.triggered_update_columns "
                "WHERE event_object_table = 'documents' AND trigger_name = 'search_epoch'"
            )).scalars())
        else:
            ddl = str(conn.execute(sql_text(
                "SELECT sql FROM sqlite_master WHERE name = 'search_epoch_documents_update'"
            )).scalar_one())
            watched = {c.strip() for c in ddl.split("UPDATE OF", 1)[1].split(" ON ")[0]
                       .split(",")}
    read: set[str] = {"text_tokens"}
    query = documents.Query(text="x", category=Category.CONTRACT, level=Level.SECRET,
                            tenant="T9", company="SZ", department="CS",
                            issued_from=date(2026, 1, 1), issued_to=date(2026, 12, 31))
    for who in PEOPLE:
        with unit_of_work(org, who, NOW) as ctx:
            for cond in search._conditions(ctx, query, search._reads_all(ctx)):
                read |= {el.name for el in visitors.iterate(cond)
                         if isinstance(el, Column) and el.table is Document.__table__}
    assert "declassify_at" in read and "supervisor_id" in read
    assert read <= watched, read - watched


def test_postgresql_plans_each_search_for_its_tokens(org: Infra) -> None:
    """On PostgreSQL a search's transaction plans for its own tokens (no generic plan
    of a prepared statement) in the order written (no search over the orders of
    one join per token) and compiles nothing (no JIT, as on every connection);
    a merged pass's settings end with its statement; the next transaction has
    the server's settings again. SQLite gets no such
    statement."""
    register(org, "停车场管理规定".encode())
    search_index.work(org, now=lambda: NOW)
    engine = org.sessions.kw["bind"]
    postgres = engine.dialect.name == "postgresql"
    settings = sql_text("SELECT current_setting('jit'), current_setting('plan_cache_mode'), "
                        "current_setting('join_collapse_limit'), "
                        "current_setting('enable_nestloop'), current_setting('enable_hashjoin')")
    seen: list[str] = []

    def note(_conn: object, _cur: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        with unit_of_work(org, "boss", NOW) as ctx:
            assert ids(search.search(ctx, documents.Query(text="停车场"))) != []
            during = tuple(ctx.session.execute(settings).one()) if postgres else ()
        with unit_of_work(org, "boss", NOW) as ctx:
            after = tuple(ctx.session.execute(settings).one()) if postgres else ()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert len([st for st in seen if "set_config" in st]) == (1 if postgres else 0)
    if postgres:
        # The merged pass (its two tokens are in as many files) turns nested loops and
        # hash joins off for its own statement only.
        assert any(st.startswith(search.PG_MERGE) for st in seen)
        assert during == ("off", "force_custom_plan", "1", "on", "on")
        assert after == ("off", "auto", "8", "on", "on")


def test_batches_share_the_queue_and_lose_nothing_superseded(org: Infra) -> None:
    """Workers claim batches with one conditional UPDATE each: no document twice; a
    version queued while its batch runs is not overwritten by the older one; a
    batch written together keeps one audit event and its own postings per file."""
    made = [register(org, f"巡检记录第{i}号 Batch{i}".encode()) for i in range(7)]
    first = search_index.claim_batch(org, "worker-a", NOW, 3)
    second = search_index.claim_batch(org, "worker-b", NOW, 10)
    assert [d for d, _ in first] == made[:3] and [d for d, _ in second] == made[3:]
    assert search_index.claim_batch(org, "worker-c", NOW, 10) == []
    # A new version of a file worker a holds arrives while it extracts.
    with unit_of_work(org, "boss", NOW) as ctx:
        documents.add_version(ctx, made[1], io.BytesIO("第二版内容".encode()), "g.txt")
    key = search_index.index_key(org)
    assert key is not None
    hasher = search_index._Hasher(key)
    prepared = [search_index._prepare(org, src, hasher, "worker-a", True)
                for src in search_index._sources(org, first)]
    outcomes = search_index._write_or_split(org, "worker-a", NOW, prepared)
    assert [(o.document_id, o.state) for o in outcomes] == [
        (made[0], "done"), (made[1], "superseded"), (made[2], "done")]
    # Worker b died; its lease runs out and another worker takes its rows over, in
    # batches of two, with the new version of made[1].
    later = NOW + search_index.LEASE + timedelta(seconds=1)
    done = search_index.work(org, holder="worker-d", now=lambda: later, batch=2)
    assert sorted(o.document_id for o in done) == sorted([made[1], *made[3:]])
    assert {o.state for o in done} == {"done"}
    with org.sessions() as s:
        assert s.scalar(select(func.count()).select_from(DocumentText)
                        .where(DocumentText.state != "done")) == 0
    for i, doc_id in enumerate(made):
        assert ids(find(org, "boss", f"Batch{i}")) == ([] if i == 1 else [doc_id])
    assert ids(find(org, "boss", "第二版")) == [made[1]]
    indexed = [e.object_id for e in events(org, Action.DOCUMENT_INDEX)]
    assert sorted(indexed) == sorted(str(d) for d in made)


def test_a_batch_that_cannot_be_written_is_written_one_by_one(
        org: Infra, monkeypatch: pytest.MonkeyPatch) -> None:
    made = [register(org, f"消防通道{i}".encode()) for i in range(3)]
    real = search_index._write

    def refuse_batches(infra: Infra, holder: str, now: datetime,
                       batch: list[object]) -> list[search_index.IndexOutcome]:
        if len(batch) > 1 or batch[0].source.document_id == made[1]:  # type: ignore[attr-defined]
            raise RuntimeError("refused")
        return real(infra, holder, now, batch)  # type: ignore[arg-type]

    monkeypatch.setattr(search_index, "_write", refuse_batches)
    done = search_index.work(org, now=lambda: NOW)
    assert [(o.document_id, o.state) for o in done] == [
        (made[0], "done"), (made[1], "failed"), (made[2], "done")]
    with org.sessions() as s:
        row = s.get(DocumentText, made[1])
        assert row is not None and (row.state, row.holder) == ("failed", None)
    assert sorted(ids(find(org, "boss", "消防通道"))) == [made[0], made[2]]


def _png_of(text: str) -> bytes:
    font = ImageFont.truetype(FONT, 48)
    img = Image.new("L", (1600, 220), 255)
    ImageDraw.Draw(img).text((40, 70), text, font=font, fill=0)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_ocr_of_a_scanned_chinese_sentence(org: Infra) -> None:
    sentence = "物业公司决定下月更换三号楼电梯钢缆"
    image = register(org, _png_of(sentence), filename="scan.png", title="扫描件")
    pdf_buf = io.BytesIO()
    Image.open(io.BytesIO(_png_of("租户须在月底前缴清物业管理费"))).convert("RGB").save(
        pdf_buf, "PDF", resolution=150)
    scanned_pdf = register(org, pdf_buf.getvalue(), filename="scan.pdf", title="扫描合同")
    done = {o.document_id: o for o in search_index.work(org, now=lambda: NOW)}
    assert done[image].method == "ocr" and done[scanned_pdf].method == "pdf+ocr"
    assert ids(find(org, "clerk", "更换三号楼电梯")) == [image]
    assert ids(find(org, "clerk", "缴清物业管理费")) == [scanned_pdf]
    with org.sessions() as s:
        row = s.get(DocumentText, scanned_pdf)
        assert row is not None and (row.pages_total, row.ocr_pages) == (1, 1)


def test_rotation_rewraps_the_index_key_and_text_keys(org: Infra) -> None:
    doc_id = register(org, f"{PUBLIC_ZH}".encode())
    search_index.work(org, now=lambda: NOW)
    old = org.keyring.active_id
    with org.sessions() as s:
        before = s.get(IndexKey, search_index.INDEX_KEY_ID)
        assert before is not None and before.master_key_id == old
        old_wrapped = bytes(before.wrapped_key)
    assert keys.usage(org)[old] == 3  # the version, its text, the index key
    keys.rotate(org)
    new = org.keyring.active_id
    assert new != old
    with org.sessions() as s:
        after = s.get(IndexKey, search_index.INDEX_KEY_ID)
        text = s.get(DocumentText, doc_id)
        assert after is not None and text is not None
        assert after.master_key_id == new and bytes(after.wrapped_key) != old_wrapped
        assert text.master_key_id == new
    assert keys.usage(org).get(old, 0) == 0
    search_index._keys.clear()  # no cached key: unwrap with the new master key
    assert ids(find(org, "clerk", "钢缆")) == [doc_id]  # same key, same hashes
    keys.retire(org, old)
    assert ids(find(org, "clerk", "钢缆")) == [doc_id]


def test_recording_purge_destroys_text_and_postings(org: Infra) -> None:
    doc_id = register(org, "通话记录的文字".encode(), filename="call.txt", title="通话",
                      category=Category.NOTICE)
    search_index.work(org, now=lambda: NOW)
    with unit_of_work(org, None, NOW) as ctx:
        ctx.session.add(Recording(document_id=doc_id, caller_number="1", agent="a",
                                  called_at=NOW - timedelta(days=400), request_ref="R1"))
    from vault.services import recordings

    with unit_of_work(org, None, NOW) as ctx:
        assert [p.document_id for p in recordings.purge(ctx)] == [doc_id]
    with org.sessions() as s:
        row = s.get(DocumentText, doc_id)
        assert row is not None and row.state == "purged"
        assert (row.ciphertext, row.wrapped_key) == (None, None)
        assert s.scalar(select(func.count()).select_from(Posting)
                        .where(Posting.document_id == doc_id)) == 0
        assert s.get(Document, doc_id).text_tokens == 0  # type: ignore[union-attr]
    assert find(org, "boss", "通话").total == 0


def test_the_document_length_beside_the_scope_is_the_text_rows(org: Infra) -> None:
    """documents.text_tokens (BM25's length, read with the scope's columns) is the
    text row's token count after indexing, a new version and a rebuild."""
    first = register(org, "电梯钢缆更换通知".encode())
    second = register(org, "停车场".encode(), title="短")
    search_index.work(org, now=lambda: NOW)
    with unit_of_work(org, "boss", NOW) as ctx:
        documents.add_version(ctx, first, io.BytesIO("电梯钢缆更换通知，第二版更长一些".encode()),
                              "g.txt")
    search_index.work(org, now=lambda: NOW)

    def lengths() -> dict[int, tuple[int, int]]:
        with org.sessions() as s:
            return {d: (s.get(Document, d).text_tokens,  # type: ignore[union-attr]
                        s.get(DocumentText, d).tokens)  # type: ignore[union-attr]
                    for d in (first, second)}

    got = lengths()
    assert all(a == b > 0 for a, b in got.values()) and got[first][0] > got[second][0]
    search_index.enqueue_all(org, now=NOW)
    search_index.work(org, now=lambda: NOW)
    assert lengths() == got


def test_a_damaged_file_fails_cleanly_and_keeps_its_title(
        org: Infra, monkeypatch: pytest.MonkeyPatch) -> None:
    # Uploads are parsed whole now (issue 12); a file stored before that may not parse.
    monkeypatch.setattr(filetype, "check_structure", lambda *_args: None)
    doc_id = register(org, b"%PDF-1.4\n garbage", filename="bad.pdf", title="损坏的文件")
    done = search_index.work(org, now=lambda: NOW)
    assert [(o.document_id, o.state) for o in done] == [(doc_id, "failed")]
    with org.sessions() as s:
        st = search_index.status(s, doc_id)
    assert st.state == "failed" and st.error == "the PDF could not be opened"
    assert ids(find(org, "boss", "损坏")) == [doc_id]


# ---------------------------------------------------------------------------
# No plaintext anywhere


def _needles() -> list[bytes]:
    words = [SECRET_ZH, SECRET_EN, SECRET_EN.lower(), SECRET_ZH[:2], SECRET_ZH[2:4],
             SECRET_ZH[4:6]]
    return [w.encode("utf-8") for w in words] + [w.encode("utf-16-le") for w in words[:2]]


def _hits_in(data: bytes) -> list[bytes]:
    return [n for n in _needles() if n in data]


def _pg_dump(url: str) -> bytes:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_dump"))
    assert found, "pg_dump not installed"
    u = make_url(url)
    host, port = u.query["host"], u.query["port"]
    assert isinstance(host, str) and isinstance(port, str)
    cmd = [found[-1], "-h", host, "-p", port, "-U", str(u.username), "-d", str(u.database)]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=True, capture_output=True).stdout


def test_no_plaintext_in_database_dump_audit_or_logs(
        org: Infra, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    body = f"合同附件：{SECRET_ZH}费用由{SECRET_EN}公司承担。\n".encode() * 50
    assert len(_hits_in(body)) == 5  # the needles find plaintext
    doc_id = register(org, body, filename="annex.txt", title=TITLE,
                      category=Category.CONTRACT, level=Level.SECRET)
    image = register(org, _png_of(f"{SECRET_ZH}方案"), filename="scan.png", title="扫描")
    search_index.work(org, now=lambda: NOW)
    assert sorted(ids(find(org, "boss", SECRET_ZH))) == sorted([image, doc_id])
    assert ids(find(org, "boss", SECRET_EN)) == [doc_id]  # with a snippet, decrypted now
    find(org, "outsider", SECRET_EN)
    keys.rotate(org)
    settings = org.settings
    url = settings.database_url
    if url.startswith("sqlite"):
        path = Path(make_url(url).database or "")
        files = [p for p in path.parent.glob(path.name + "*") if p.is_file()]  # and the WAL
        assert files
        # The grep sees the database's text: the (plaintext) title is there.
        assert any(TITLE.encode() in p.read_bytes() for p in files)
        for p in files:
            assert _hits_in(p.read_bytes()) == [], p
    else:
        dump = _pg_dump(url)
        assert b"COPY public.postings" in dump and TITLE.encode() in dump
        assert _hits_in(dump) == []
    audit_files = [p for p in Path(settings.audit_dir).rglob("*") if p.is_file()]
    assert audit_files
    for p in audit_files:
        assert _hits_in(p.read_bytes()) == [], p
    for p in Path(settings.storage_dir).rglob("*"):
        if p.is_file() and not p.name.startswith("vault.db"):
            assert _hits_in(p.read_bytes()) == [], p
    out, err = capfd.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records) + out + err
    assert _hits_in(logged.encode()) == []
