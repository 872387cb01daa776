"""Search by title and content over the keyed index, within the reader's scope.

The query is cut into tokens like a document (`vault.textindex`), each token
hashed under the index key; a document matches when it holds every token (its
title is indexed with its text). The scope (`vault.services.scope`, the SQL form
of `policy.can_see_metadata`) and today's filters are conditions of every
statement, so files outside them are never counted — not in the number of
results, not in the facets, not in BM25's document frequencies or average
length. Ranking is BM25 over the keyed tokens, computed in SQL.

For the hits on the page the policy is asked again per document; a reader who
may view the file gets a snippet with the hits marked, decrypted now and
audited as a view of that file (``document:view``, reason ``snippet``); the
others get title and marking only. The search itself is audited without its
words: the trail must not become a copy of what people look for.
"""

from __future__ import annotations

import functools
import logging
import operator
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    LargeBinary,
    Select,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session, aliased, join, selectinload
from sqlalchemy.sql.elements import True_

from vault import policy, textindex
from vault.actions import Action
from vault.errors import InvalidInput
from vault.models import Company, Department, Document, DocumentText, Grant, Posting, Tenant
from vault.policy import Level
from vault.services import documents, scope, search_index
from vault.services.context import Ctx

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
MAX_QUERY_TOKENS = 32
#: Matched sets up to this size are ranked, counted and faceted exactly; of a larger
#: one the newest CAP matches are ranked and the total and the facets are lower
#: bounds (`Results.total_capped`: "more than CAP").
CAP = 2000


@dataclass(frozen=True)
class Facet:
    value: str
    label: str
    count: int


@dataclass(frozen=True)
class Hit:
    id: int
    title: str
    category: str
    level: str
    marking: str
    company: str
    tenant: str | None
    issued_on: date
    score: float
    may_view: bool
    snippet: tuple[textindex.Piece, ...] | None  # None: not for this reader


@dataclass(frozen=True)
class Results:
    hits: tuple[Hit, ...]
    total: int
    page: int
    per_page: int
    facets: dict[str, tuple[Facet, ...]] = field(default_factory=dict)
    unindexed: int = 0  # files in scope whose text is still queued
    #: More than ``total`` (`CAP`) match: the total and the facets' counts are those
    #: of the newest ``total`` matches, which are the ones ranked.
    total_capped: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def as_dict(found: Results) -> dict[str, Any]:
    """Results as plain data (the CLI's --json and the API)."""
    return {
        "total": found.total,
        "total_is_lower_bound": found.total_capped,
        "page": found.page,
        "per_page": found.per_page,
        "unindexed": found.unindexed,
        "results": [
            {"id": h.id, "title": h.title, "category": h.category, "level": h.level,
             "marking": h.marking, "company": h.company, "tenant": h.tenant,
             "issued_on": h.issued_on.isoformat(), "score": h.score, "may_view": h.may_view,
             "snippet": ([{"text": p.text, "hit": p.hit} for p in h.snippet]
                         if h.snippet is not None else None)}
            for h in found.hits
        ],
        "facets": {name: [{"value": f.value, "label": f.label, "count": f.count}
                          for f in facets]
                   for name, facets in found.facets.items()},
    }


def tokens_of(text: str | None) -> list[str]:
    text = (text or "").strip()
    if not text:
        raise InvalidInput("Type something to search for.", code="empty_query")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidInput(f"A search is at most {MAX_QUERY_CHARS} characters.",
                           code="query_too_long")
    tokens = textindex.query_tokens(text)
    if not tokens:
        raise InvalidInput("Search for words, numbers or Chinese characters.",
                           code="empty_query")
    if len(tokens) > MAX_QUERY_TOKENS:
        raise InvalidInput(f"A search is at most {MAX_QUERY_TOKENS} words or character pairs.",
                           code="query_too_long")
    return tokens


def _reads_all(ctx: Ctx) -> bool:
    """Whether the reader's scope is every document (no scope condition at all)."""
    return isinstance(scope.metadata_scope(ctx.subject, ctx.now), True_)


def _conditions(ctx: Ctx, q: documents.Query, reads_all: bool
                ) -> list[ColumnElement[bool]]:
    """The scope and the filters as conditions on `Document`; none at all for a
    reader of everything who filters nothing (the statements then skip the join)."""
    now = ctx.now
    out = [] if reads_all else [scope.metadata_scope(ctx.subject, now)]
    if q.category:
        out.append(Document.category == q.category.value)
    if q.level:
        out.append(scope.effective_level(now) == q.level.value)
    if q.tenant:
        out.append(Document.tenant_id.in_(select(Tenant.id).where(Tenant.code == q.tenant)))
    if q.company:
        out.append(Document.company_id.in_(select(Company.id).where(Company.code == q.company)))
    if q.department:
        out.append(Document.department_id.in_(
            select(Department.id).where(Department.code == q.department)))
    if q.issued_from:
        out.append(Document.issued_on >= q.issued_from)
    if q.issued_to:
        out.append(Document.issued_on <= q.issued_to)
    return out


def _corpus(session: Session, conds: list[ColumnElement[bool]]
            ) -> tuple[int, float, bytes | None]:
    """(documents, their average length, the members) over the documents the
    conditions let through — the whole index when there are none. The members are
    one byte per document id up to the highest let through, 1 for each let through
    (`_in`); None when there are no conditions (every document)."""
    if not conds:
        n_docs, avg_len = session.execute(select(func.count(), func.avg(DocumentText.tokens))
                                          .where(DocumentText.tokens > 0)).one()  # its index
        return int(n_docs or 0), float(avg_len or 1.0) or 1.0, None
    # The length is read beside the scope's columns (documents.text_tokens); the ids
    # come as one string (a row per file cost three times the statement).
    indexed = Document.text_tokens > 0
    ids = (func.string_agg(cast(Document.id, String), ",")
           if session.get_bind().dialect.name == "postgresql"
           else func.group_concat(Document.id, ","))
    n_docs, avg_len, listed = session.execute(
        select(func.coalesce(func.sum(case((indexed, 1), else_=0)), 0),
               func.avg(case((indexed, Document.text_tokens))), ids).where(*conds)).one()
    found = [int(i) for i in listed.split(",")] if listed else []
    members = bytearray(max(found, default=-1) + 1)
    for doc_id in found:
        members[doc_id] = 1
    return int(n_docs), float(avg_len or 1.0) or 1.0, bytes(members)


def _in(session: Session, members: bytes, doc_id: Any = Posting.document_id
        ) -> ColumnElement[bool]:
    """The document ``doc_id`` is one of ``members`` (`_corpus`): a lookup of one byte
    by the document's id, in a parameter of the statement."""
    flags = bindparam("members", members, type_=LargeBinary)
    if session.get_bind().dialect.name == "postgresql":
        return case((doc_id < len(members), func.get_byte(flags, doc_id)), else_=0) == 1
    return func.substr(flags, doc_id + 1, 1) == bindparam("member", b"\x01", type_=LargeBinary)


def _doc_freq(session: Session, members: bytes | None, hashes: list[int]) -> dict[int, int]:
    """Document frequency of each hash over ``members`` (`_corpus`; None: every
    document), 0 for a hash in none of them.

    The postings' primary key (token, document) is read alone and each posting's
    document looked up in the members, a byte in memory. The scope is evaluated
    once per corpus (`_corpus`), not once per posting: a token in most of 100,000
    files used to cost a staff member a join of its postings to the documents and
    the scope per posting (SQLite 130 ms; PostgreSQL read the files in scope into
    a hashed set per query)."""
    freq = select(Posting.token, func.count()).where(Posting.token.in_(hashes))
    if members is not None:
        freq = freq.where(_in(session, members))
    found = {int(h): int(n) for h, n in session.execute(freq.group_by(Posting.token))}
    return {h: found.get(h, 0) for h in hashes}


def _horizon(session: Session, now: datetime) -> tuple[datetime | None, datetime | None]:
    """The moments around ``now`` at which the scope changes by itself: the latest
    period end or grant end at or before it, the first after it (None: none). The
    scope is the same at every moment from the first (included) to the second
    (excluded): `scope.metadata_scope` reads the time only as ``declassify_at <=
    now`` and ``until > now``."""
    def last(col: Any) -> Any:
        return select(func.max(col)).where(col <= now).scalar_subquery()

    def next_(col: Any) -> Any:
        return select(func.min(col)).where(col > now).scalar_subquery()

    row = session.execute(select(last(Document.declassify_at), last(Grant.until),
                                 next_(Document.declassify_at), next_(Grant.until))).one()
    before = [t for t in row[:2] if t is not None]
    after = [t for t in row[2:] if t is not None]
    return (max(before) if before else None), (min(after) if after else None)


@dataclass
class _Corpus:
    """A reader's corpus statistics at one epoch, for the moments [since, until)."""

    since: datetime | None
    until: datetime | None
    n_docs: int
    avg_len: float
    doc_freq: dict[int, int]
    members: bytes | None  # `_corpus`

    def holds(self, now: datetime) -> bool:
        return ((self.since is None or self.since <= now)
                and (self.until is None or now < self.until))


#: Cached corpora (LRU) and the document frequencies kept per corpus.
CORPORA = 128
FREQS_PER_CORPUS = 4096
_corpora: OrderedDict[tuple[Any, ...], _Corpus] = OrderedDict()
_corpora_lock = threading.Lock()
_EPOCH = text("SELECT value FROM search_epoch WHERE id = 1")


def corpus_stats(ctx: Ctx, q: documents.Query, conds: list[ColumnElement[bool]],
                 hashes: list[int], reads_all: bool
                 ) -> tuple[int, float, dict[int, int], bytes | None]:
    """(documents, average length, document frequency of each hash found, the
    members) in the reader's scope under the query's filters: the corpus BM25 ranks
    in (`_corpus`).

    Kept in memory (per process, `CORPORA` corpora of up to `FREQS_PER_CORPUS`
    tokens) under the database's ``search_epoch`` (a new random value in the
    transaction of any change of what these statistics read: migration
    0016_search_epoch), the reader's scope (nobody's, for a reader of everything)
    and the filters, and used only at moments when the scope is the one it was
    computed for (`_horizon`). A value is kept only if the epoch read after
    computing it is the one read before (nothing committed in between)."""
    session = ctx.session
    epoch = session.scalar(_EPOCH)
    # Everyone who reads everything has the same scope, which `_conditions` leaves out.
    who = None if reads_all else ctx.subject
    key = (str(session.get_bind().engine.url), epoch, who, q.category, q.level, q.tenant, q.company,
           q.department, q.issued_from, q.issued_to)
    now = ctx.now
    with _corpora_lock:
        cached = _corpora.get(key)
        if cached is not None and cached.holds(now):
            _corpora.move_to_end(key)
            known = {h: cached.doc_freq[h] for h in hashes if h in cached.doc_freq}
            found = cached
        else:
            found, known = None, {}
    if found is None:
        since, until = _horizon(session, now)
        n_docs, avg_len, members = _corpus(session, conds)
        found = _Corpus(since, until, n_docs, avg_len, {}, members)
    missing = [h for h in hashes if h not in known]
    if missing:
        known.update(_doc_freq(session, found.members, missing) if found.n_docs
                     else dict.fromkeys(missing, 0))
        if epoch is not None and session.scalar(_EPOCH) == epoch:
            with _corpora_lock:
                kept = _corpora.get(key)
                if kept is None or not kept.holds(now):
                    _corpora[key] = kept = found
                kept.doc_freq.update({h: known[h] for h in missing})
                while len(kept.doc_freq) > FREQS_PER_CORPUS:
                    del kept.doc_freq[next(iter(kept.doc_freq))]
                _corpora.move_to_end(key)
                while len(_corpora) > CORPORA:
                    _corpora.popitem(last=False)
    return (found.n_docs, found.avg_len, {h: n for h, n in known.items() if n},
            found.members)


#: PostgreSQL settings of a search's transaction (`_plan_for_this_query`).
PG_SETTINGS = ("SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
               "set_config('join_collapse_limit', '1', true), "
               "set_config('max_parallel_workers_per_gather', '0', true), "
               "set_config('enable_sort', 'off', true)")


#: PostgreSQL: another token is merged with the driving token's postings (`_merged`)
#: when its postings in the corpus are at most this many times the driving token's.
MERGE_RATIO = 8
#: The settings of the bounded pass when it merges (`_merged`), and back after it.
PG_MERGE = "SET LOCAL enable_nestloop = off; SET LOCAL enable_hashjoin = off"
PG_MERGE_DONE = "SET LOCAL enable_nestloop TO DEFAULT; SET LOCAL enable_hashjoin TO DEFAULT"


def _merged(session: Session, doc_freq: dict[int, int], driving: int) -> set[int]:
    """The other tokens whose postings PostgreSQL merges with the driving token's.

    The bounded pass reads the driving token's postings newest first. Each other
    token is a lookup of (token, document) in the postings' primary key per
    candidate (about 2 µs: a descent of four pages and the row), or, merged, its
    own postings are read alongside in the same order, document id descending (a
    tenth of that per posting, but every posting of the token over the documents
    the pass goes through). A lookup wins when the other token is in many more
    files than the driving one; when every token of a query is common, the
    lookups were the tail of a staff member's searches at 100,000 files (2,001
    matches × 2 lookups: 38 ms against 9 ms merged).

    PostgreSQL is told to merge (no nested loop, no hash join, in
    this statement only: `PG_MERGE`); the lookups and the documents are joined as
    lateral subqueries, which it can only join by a nested loop."""
    if session.get_bind().dialect.name != "postgresql":
        return set()
    bound = MERGE_RATIO * doc_freq[driving]
    return {h for h in doc_freq if h != driving and doc_freq[h] <= bound}


def _plan_for_this_query(session: Session) -> None:
    """PostgreSQL plans each search for its own tokens, in the order written.

    - The statements join one alias of the postings per token, rarest first. Left
      to itself the planner searches every order of those joins: for 7 tokens
      130 ms of planning for 0.4 ms of execution (300 documents), seconds on a
      loaded machine. ``join_collapse_limit = 1`` keeps the written order (the
      rarest token's postings drive, the others are looked up) and leaves the
      planner the choice of each join's method.
    - A token's postings run from a handful to most of the corpus, so a plan made
      for the statement's shape alone (the generic plan PostgreSQL may switch to
      once the driver has prepared a statement used five times) is wrong for one
      end or the other: ``plan_cache_mode = force_custom_plan``.
    - No parallel workers (``max_parallel_workers_per_gather = 0``): the bounded
      pass stops after `CAP` + 1 rows, a few milliseconds of work, and the planner
      chose to share it between two workers whose start cost 40 ms (a Gather
      Merge's start at load 4 for 9 ms of work per worker; 100,000 documents).
    - The bounded pass reads the driving postings newest first in their primary
      key and stops at `CAP` + 1 matches. The planner, estimating a few dozen
      matches (a common token's postings are far more than its statistics say,
      and each lookup of another token looks selective), read all of them and
      sorted: 49,157 postings, 3 lookups each, 240 ms against 22 ms for a staff
      member's two-word query at 100,000 documents. ``enable_sort = off`` makes a
      sort the last resort (the statements of a search have no other use for one).

    Both for this transaction only. (JIT is off for every connection:
    `vault.db.make_engine`.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(PG_SETTINGS))


def search(ctx: Ctx, q: documents.Query, lang: str = "zh") -> Results:
    """One page of documents in scope holding every token of ``q.text``, best first."""
    if q.page < 1 or not 1 <= q.per_page <= 100:
        raise InvalidInput("page must be ≥ 1 and per_page 1–100.", code="bad_page")
    tokens = tokens_of(q.text)
    key = search_index.index_key(ctx.infra, ctx.session)
    # Before the first file is indexed there is no key: nothing matches anything.
    hashes = sorted({textindex.token_hash(key, t) for t in tokens}) if key else [0]
    reads_all = _reads_all(ctx)
    conds = _conditions(ctx, q, reads_all)
    session = ctx.session
    _plan_for_this_query(session)

    # The corpus is what this reader may search: N, the average length and the
    # document frequencies, in scope.
    n_docs, avg_len, doc_freq, members = corpus_stats(ctx, q, conds, hashes, reads_all)
    results: list[tuple[int, float]] = []
    total = 0
    capped = False
    facets: dict[str, tuple[Facet, ...]] = {}
    if n_docs and len(doc_freq) == len(hashes):
        rows = _bounded_pass(ctx, conds, hashes, doc_freq, members, n_docs, avg_len)
        if len(rows) > CAP:
            rows, capped = rows[:CAP], True
        total = len(rows)
        ranked = sorted(rows, key=lambda r: (-float(r.score), -int(r.document_id)))
        start = (q.page - 1) * q.per_page
        results = [(int(r.document_id), float(r.score))
                   for r in ranked[start : start + q.per_page]]
        facets = _facets_of(ctx, rows, lang) if rows else {}
    hits = _hits(ctx, results, tokens, lang)
    queued = select(func.count()).select_from(DocumentText).where(
        DocumentText.state.in_((search_index.PENDING, search_index.RUNNING)))
    if conds:
        queued = queued.join(Document, Document.id == DocumentText.document_id).where(*conds)
    unindexed = int(session.scalar(queued) or 0)
    ctx.record(Action.DOCUMENT_SEARCH, object_type="search", reason="content_search",
               detail={"results": total, "page": q.page, "tokens": len(tokens),
                       "filters": sorted(k for k, v in vars(q).items()
                                         if v and k not in ("page", "per_page", "text")),
                       # ``results`` is then "at least": the newest CAP were counted.
                       **({"capped": True} if capped else {})})
    return Results(tuple(hits), total, q.page, q.per_page, facets, unindexed, capped)


def _bounded_pass(ctx: Ctx, conds: list[ColumnElement[bool]], hashes: list[int],
                  doc_freq: dict[int, int], members: bytes | None, n_docs: int,
                  avg_len: float) -> list[Any]:
    """Up to CAP + 1 files in scope holding every token, newest first, each with its
    score, level, category and tenant (for the facets).

    The rarest token drives: its postings are the candidates, and each other token is
    a lookup of (token, document) in the postings' primary key; on PostgreSQL a token
    whose postings are not many more than the driving token's is merged with them
    instead (`_merged`). One bounded pass, newest first in the driving postings' own
    order (no sort of the matched set): up to CAP matches are all ranked, counted and
    faceted; past CAP the newest CAP are, and the total and the facets say "more
    than" (a common word in most of 100,000 files no longer costs a ranking and a
    count of all of them)."""
    session = ctx.session
    driving = min(hashes, key=lambda h: (doc_freq[h], h))
    merge = _merged(session, doc_freq, driving)
    order = [driving, *sorted((h for h in hashes if h != driving),
                              key=lambda h: (h not in merge, doc_freq[h], h))]
    postings = [aliased(Posting, name=f"p{i}") for i in range(len(order))]
    first = postings[0]
    level = scope.effective_level(ctx.now)

    def score(tfs: list[Any], length: Any) -> Any:
        k1, b = textindex.K1, textindex.B
        norm = literal(k1 * (1 - b), Float) + literal(k1 * b / avg_len, Float) * cast(
            length, Float)
        terms = [literal(textindex.idf(n_docs, doc_freq[h]) * (k1 + 1), Float)
                 * cast(tf, Float) / (cast(tf, Float) + norm)
                 for h, tf in zip(order, tfs, strict=True)]
        return functools.reduce(operator.add, terms).label("score")

    if merge:
        matched = _merging(order, postings, merge, conds, level, score)
    else:
        matched = _looking_up(session, order, postings, level, score)
    if members is not None:
        # The driving postings of files out of the (cached) corpus go before
        # their documents are read; the conditions stay, and decide.
        matched = matched.where(_in(session, members, first.document_id))
    if not merge:
        matched = matched.where(*conds)
    bounded = (matched.where(first.token == driving)
               .order_by(first.document_id.desc()).limit(CAP + 1))
    if not merge:
        return list(session.execute(bounded).all())
    # (a failed statement rolls the transaction and the settings back)
    session.execute(text(PG_MERGE))
    rows = list(session.execute(bounded).all())
    session.execute(text(PG_MERGE_DONE))
    return rows


def _looking_up(session: Session, order: list[int], postings: list[Any], level: Any,
                score: Callable[[list[Any], Any], Any]) -> Select[Any]:
    """The bounded pass's statement, every other token looked up by document (the
    conditions are added by the caller)."""
    first = postings[0]
    matched = select(first.document_id.label("document_id"),
                     score([p.tf for p in postings], Document.text_tokens),
                     level.label("level"), Document.category,
                     Document.tenant_id).select_from(first)
    # The rarest token's postings drive and the others are looked up, in the
    # postings' primary key. SQLite chose otherwise when free to: "+ 0" keeps
    # the rarest token's rows from being looked up by document (so they come
    # first), and reading tf (never 0) keeps the others in the primary key,
    # whose pages every statement shares (for the counts it used the
    # document-id index, a second tree: 2.7 s against 0.2 s for a 3-token query
    # matching 88,723 of 100,000 files). PostgreSQL keeps the written order
    # (`_plan_for_this_query`).
    anchor = (first.document_id + 0 if session.get_bind().dialect.name == "sqlite"
              else first.document_id)
    for h, p in zip(order[1:], postings[1:], strict=True):
        matched = matched.join(p, and_(p.token == h, p.document_id == anchor, p.tf > 0))
    return matched.join(Document, Document.id == first.document_id)


def _merging(order: list[int], postings: list[Any], merge: set[int],
             conds: list[ColumnElement[bool]], level: Any,
             score: Callable[[list[Any], Any], Any]) -> Select[Any]:
    """The bounded pass's statement on PostgreSQL when some tokens are merged
    (`_merged`). Every other join is a lookup by the row before it: the documents
    (the conditions, evaluated for matched postings only) and the tokens too common
    to merge. A lateral subquery that PostgreSQL may not flatten (OFFSET 0) is joined
    by a nested loop whatever the settings say."""
    first = postings[0]
    doc = (select(Document.id, level.label("level"), Document.category,
                  Document.tenant_id, Document.text_tokens)
           .where(Document.id == first.document_id, *conds).offset(0).lateral("d"))
    tfs: list[Any] = [first.tf]
    joined: Any = first
    for h, p in zip(order[1:], postings[1:], strict=True):
        if h in merge:
            joined = join(joined, p, and_(p.token == h, p.document_id == first.document_id))
            tfs.append(p.tf)
        else:
            probe = (select(p.tf).where(p.token == h, p.document_id == first.document_id)
                     .offset(0).lateral(f"l{len(tfs)}"))
            joined = join(joined, probe, true())
            tfs.append(probe.c.tf)
    joined = join(joined, doc, true())
    return select(first.document_id.label("document_id"),
                  score(tfs, doc.c.text_tokens), doc.c.level, doc.c.category,
                  doc.c.tenant_id).select_from(joined)


def _facets_of(ctx: Ctx, rows: Any, lang: str) -> dict[str, tuple[Facet, ...]]:
    """Counts by effective level, category and tenant of matched rows (level,
    category, tenant_id)."""
    by_level: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    by_tenant: Counter[int] = Counter()
    for row in rows:
        by_level[str(row.level)] += 1
        by_category[str(row.category)] += 1
        if row.tenant_id is not None:
            by_tenant[int(row.tenant_id)] += 1
    tenants = {t.id: t for t in ctx.session.scalars(
        select(Tenant).where(Tenant.id.in_(list(by_tenant))))} if by_tenant else {}
    order = [lv.value for lv in reversed(Level)]
    labels = policy.LEVEL_LABELS["en" if lang.startswith("en") else "zh"]
    return {
        "level": tuple(sorted((Facet(v, labels[Level(v)], n) for v, n in by_level.items()),
                              key=lambda f: order.index(f.value))),
        "category": tuple(sorted((Facet(v, v, n) for v, n in by_category.items()),
                                 key=lambda f: (-f.count, f.value))),
        "tenant": tuple(sorted((Facet(tenants[t].code, tenants[t].name, n)
                                for t, n in by_tenant.items() if t in tenants),
                               key=lambda f: (-f.count, f.value))),
    }


def _hits(ctx: Ctx, ranked: list[tuple[int, float]], tokens: list[str], lang: str) -> list[Hit]:
    if not ranked:
        return []
    session = ctx.session
    docs = {d.id: d for d in session.scalars(
        select(Document).where(Document.id.in_([i for i, _ in ranked]))
        .options(selectinload(Document.company), selectinload(Document.tenant),
                 selectinload(Document.grants)))}
    subject = ctx.subject
    tz = ctx.settings.tz
    shown: list[tuple[Document, float, Level, bool]] = []
    for doc_id, score in ranked:
        doc = docs[doc_id]
        doc_facts = documents.facts(doc, tz)
        if not policy.can_see_metadata(subject, doc_facts, ctx.now).allowed:
            # The SQL scope and the policy disagree: never show it, and say so in the log.
            log.error("search scope let through document %s it must not", doc_id)
            continue
        shown.append((doc, score, policy.effective_level(doc_facts, ctx.now),
                      policy.can_view(subject, doc_facts, ctx.now).allowed))
    # Only the texts of the files on this page the reader may view are read.
    viewable = [doc.id for doc, _, _, may_view in shown if may_view]
    texts = {t.document_id: t for t in session.scalars(
        select(DocumentText).where(DocumentText.document_id.in_(viewable),
                                   DocumentText.ciphertext.is_not(None)))} if viewable else {}
    hits: list[Hit] = []
    views: list[dict[str, Any]] = []  # audited together: one batch of appends
    for doc, score, level, may_view in shown:
        snippet = None
        text_row = texts.get(doc.id)
        if may_view and text_row is not None:
            text = search_index.read_text(ctx.infra, text_row)
            if text:
                snippet = tuple(textindex.snippet(text, tokens))
                views.append({"object_type": "document", "object_id": str(doc.id),
                              "level": level.value, "reason": "snippet",
                              "detail": {"version": text_row.indexed_version}})
        hits.append(Hit(
            id=doc.id, title=doc.title, category=doc.category, level=level.value,
            marking=policy.marking(level, documents.period_of(doc), lang),
            company=doc.company.name, tenant=doc.tenant.name if doc.tenant else None,
            issued_on=doc.issued_on, score=round(score, 4), may_view=may_view,
            snippet=snippet,
        ))
    ctx.record_many(Action.DOCUMENT_VIEW, views)
    return hits
