"""What a search keeps between searches (`search.corpus_stats`): the members of the
reader's corpus — the files in scope under the filters, found once per corpus —
count each token's document frequency, and they only narrow: the scope's
conditions still decide what is matched, counted and shown. Also the search's
audit event when the count is capped, and PostgreSQL's settings of a search's
transaction. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import pytest
from people import PEOPLE  # noqa: I001 - tests/people.py
from sqlalchemy import func, select
from sqlalchemy import text as sql_text

from vault import policy, textindex
from vault.actions import Action
from vault.audit.models import AuditEvent
from vault.models import Document, Posting
from vault.policy import Category, Level, Period
from vault.services import documents, grants, search, search_index
from vault.services.context import Infra, unit_of_work

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
WORDS = ("停车场", "电梯", "合同")


def _register(infra: Infra, body: str, actor: str, **kwargs: object) -> int:
    kwargs.setdefault("title", "文件")
    kwargs.setdefault("category", Category.NOTICE)
    with unit_of_work(infra, actor, NOW) as ctx:
        return documents.register(ctx, content=io.BytesIO(body.encode()), filename="f.txt",
                                  **kwargs).id  # type: ignore[arg-type]


@pytest.fixture
def corpus(org: Infra) -> dict[str, int]:
    """Files of every level, of both subsidiaries, one whose period has ended and one
    granted: each reader's scope holds a different part of them."""
    made = {
        "internal": _register(org, "停车场 电梯 合同", "clerk"),
        "internal_gz": _register(org, "停车场 停车场", "outsider"),
        "secret_dept": _register(org, "停车场 电梯", "boss", category=Category.CONTRACT,
                                 level=Level.CONFIDENTIAL),
        "confidential": _register(org, "停车场 合同", "boss", category=Category.CONTRACT,
                                  level=Level.SECRET),
        "top": _register(org, "电梯 合同", "boss", category=Category.CONTRACT,
                         level=Level.TOP_SECRET),
        "ended": _register(org, "停车场 合同 合同", "boss", category=Category.CONTRACT,
                           level=Level.SECRET, issued_on=date(2020, 1, 1),
                           period=Period(until=date(2021, 1, 1))),
        "granted": _register(org, "电梯 停车场", "boss", category=Category.CONTRACT,
                             level=Level.SECRET),
    }
    with unit_of_work(org, "boss", NOW) as ctx:
        grants.grant(ctx, made["granted"], "accountant")
    search_index.work(org, now=lambda: NOW)
    return made


def _hashes(infra: Infra) -> dict[str, int]:
    key = search_index.index_key(infra)
    assert key is not None
    return {t: textindex.token_hash(key, t)
            for word in WORDS for t in textindex.query_tokens(word)}


def test_document_frequencies_count_exactly_the_files_in_scope(
        org: Infra, corpus: dict[str, int]) -> None:
    """For every reader, with and without a filter, N and each token's document
    frequency from the cached members are those of the files the policy lets the
    reader know of (counted here from the policy and the postings, file by file),
    before and after a grant changes the scope."""
    hashes = _hashes(org)

    def expected(who: str, category: Category | None) -> tuple[int, dict[int, int]]:
        with unit_of_work(org, who, NOW) as ctx:
            seen = [d.id for d in ctx.session.scalars(select(Document))
                    if policy.can_see_metadata(ctx.subject, documents.facts(d, ctx.settings.tz),
                                               NOW).allowed
                    and (category is None or d.category == category.value)]
            freq = dict(ctx.session.execute(  # type: ignore[arg-type]
                select(Posting.token, func.count()).where(
                    Posting.token.in_(list(hashes.values())), Posting.document_id.in_(seen))
                .group_by(Posting.token)).all())
        return len(seen), {int(h): int(n) for h, n in freq.items()}

    def cached(who: str, category: Category | None) -> tuple[int, dict[int, int]]:
        q = documents.Query(text="停车场", category=category)
        with unit_of_work(org, who, NOW) as ctx:
            reads_all = search._reads_all(ctx)
            conds = search._conditions(ctx, q, reads_all)
            n_docs, _avg, freq, _members = search.corpus_stats(
                ctx, q, conds, list(hashes.values()), reads_all)
        return n_docs, freq

    def check() -> set[tuple[int, tuple[tuple[int, int], ...]]]:
        shapes = set()
        for who in PEOPLE:
            for category in (None, Category.CONTRACT):
                want = expected(who, category)
                assert cached(who, category) == want, (who, category)
                assert cached(who, category) == want, (who, category)  # from the cache
                shapes.add((want[0], tuple(sorted(want[1].items()))))
        return shapes

    search._corpora.clear()
    assert len(check()) >= 5  # the readers' corpora differ
    before = expected("accountant", None)
    with unit_of_work(org, "boss", NOW) as ctx:
        grants.revoke(ctx, corpus["granted"], "accountant")
    after = expected("accountant", None)
    assert after[0] == before[0] - 1
    check()


def test_the_members_narrow_and_the_conditions_decide(
        org: Infra, corpus: dict[str, int]) -> None:
    """Members that said every file is in scope (as a wrong cache would) change
    nothing of what is matched, counted, faceted or shown to an outsider: the
    scope's conditions are still in the statement. Members shorter than the ids
    of the postings (files added after they were found) count none of those."""
    search._corpora.clear()
    with unit_of_work(org, "outsider", NOW) as ctx:
        right = search.search(ctx, documents.Query(text="停车场"))
    assert sorted(h.id for h in right.hits) == sorted([corpus["internal"],
                                                       corpus["internal_gz"],
                                                       corpus["ended"]])
    assert len(search._corpora) == 1
    for kept in search._corpora.values():
        kept.members = b"\x01" * 1000
        kept.doc_freq.clear()
    with unit_of_work(org, "outsider", NOW) as ctx:
        wrong = search.search(ctx, documents.Query(text="停车场"))
    assert sorted(h.id for h in wrong.hits) == sorted(h.id for h in right.hits)
    assert wrong.total == right.total
    assert wrong.facets == right.facets
    hashes = sorted(set(_hashes(org).values()))
    with unit_of_work(org, "ceo", NOW) as ctx:
        everyone = search._doc_freq(ctx.session, None, hashes)
        first = min(corpus.values())
        # Only the first file is a member; ids past the end are not.
        only_first = search._doc_freq(ctx.session, bytes(first) + b"\x01", hashes)
    assert sum(everyone.values()) > sum(only_first.values()) > 0
    with unit_of_work(org, "ceo", NOW) as ctx:
        tokens = set(ctx.session.scalars(select(Posting.token).where(
            Posting.document_id == first, Posting.token.in_(hashes))))
    assert only_first == {h: int(h in tokens) for h in hashes}


def test_a_capped_count_says_so_in_the_audit_trail(
        org: Infra, corpus: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """The search's audit event counts the results; past `search.CAP` that count is
    of the newest CAP only, and the event says ``capped`` (and only then)."""
    def last_search() -> dict[str, object]:
        with org.sessions() as s:
            event = s.scalars(select(AuditEvent).where(
                AuditEvent.action == Action.DOCUMENT_SEARCH.value)
                .order_by(AuditEvent.seq.desc()).limit(1)).one()
            return dict(json.loads(event.detail or "{}"))

    with unit_of_work(org, "ceo", NOW) as ctx:
        assert search.search(ctx, documents.Query(text="停车场")).total == 6
    assert last_search()["results"] == 6 and "capped" not in last_search()
    monkeypatch.setattr(search, "CAP", 4)
    with unit_of_work(org, "ceo", NOW) as ctx:
        found = search.search(ctx, documents.Query(text="停车场"))
    assert (found.total, found.total_capped) == (4, True)
    detail = last_search()
    assert (detail["results"], detail["capped"]) == (4, True)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_postgresql_search_transactions_run_alone_and_in_key_order(
        org: Infra, corpus: dict[str, int]) -> None:
    """A search's transaction on PostgreSQL starts no parallel workers and sorts only
    when nothing else will do (the bounded pass reads the postings' key in order
    and stops); the next transaction has the server's settings again."""
    settings = sql_text("SELECT current_setting('max_parallel_workers_per_gather'), "
                        "current_setting('enable_sort')")
    with unit_of_work(org, "clerk", NOW) as ctx:
        assert search.search(ctx, documents.Query(text="停车场")).total > 0
        during = tuple(ctx.session.execute(settings).one())
    with unit_of_work(org, "clerk", NOW) as ctx:
        after = tuple(ctx.session.execute(settings).one())
    assert during == ("0", "off")
    assert after == ("2", "on")
