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

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, case, cast, func, literal, select

from vault import policy, textindex
from vault.actions import Action
from vault.errors import InvalidInput
from vault.models import Company, Department, Document, DocumentText, Posting, Tenant
from vault.policy import Level
from vault.services import documents, scope, search_index
from vault.services.context import Ctx

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
MAX_QUERY_TOKENS = 32
#: Matched sets up to this size are ranked and counted in one statement.
FETCH_ALL = 2000


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

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def as_dict(found: Results) -> dict[str, Any]:
    """Results as plain data (the CLI's --json and the API)."""
    return {
        "total": found.total,
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


def _conditions(ctx: Ctx, q: documents.Query) -> list[ColumnElement[bool]]:
    now = ctx.now
    out = [scope.metadata_scope(ctx.subject, now)]
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


def search(ctx: Ctx, q: documents.Query, lang: str = "zh") -> Results:
    """One page of documents in scope holding every token of ``q.text``, best first."""
    if q.page < 1 or not 1 <= q.per_page <= 100:
        raise InvalidInput("page must be ≥ 1 and per_page 1–100.", code="bad_page")
    tokens = tokens_of(q.text)
    key = search_index.index_key(ctx.infra, ctx.session)
    # Before the first file is indexed there is no key: nothing matches anything.
    hashes = sorted({textindex.token_hash(key, t) for t in tokens}) if key else [0]
    where = and_(*_conditions(ctx, q))
    session = ctx.session

    # The corpus is what this reader may search: N and the average length in scope.
    n_docs, avg_len = session.execute(
        select(func.count(), func.avg(DocumentText.tokens))
        .select_from(DocumentText).join(Document, Document.id == DocumentText.document_id)
        .where(DocumentText.tokens > 0, where)
    ).one()
    n_docs = int(n_docs or 0)
    avg_len = float(avg_len or 1.0) or 1.0
    doc_freq = dict(session.execute(
        select(Posting.token, func.count())
        .join(Document, Document.id == Posting.document_id)
        .where(Posting.token.in_(hashes), where)
        .group_by(Posting.token)
    ).all()) if n_docs else {}
    results: list[tuple[int, float]] = []
    total = 0
    facets: dict[str, tuple[Facet, ...]] = {}
    if n_docs and len(doc_freq) == len(hashes):
        weights = {h: textindex.idf(n_docs, int(doc_freq[h])) for h in hashes}
        idf = case({h: literal(w, Float) for h, w in weights.items()}, value=Posting.token,
                   else_=literal(0.0, Float))
        tf = cast(Posting.tf, Float)
        k1, b = textindex.K1, textindex.B
        norm = literal(k1 * (1 - b), Float) + literal(k1 * b / avg_len, Float) * cast(
            DocumentText.tokens, Float)
        score = func.sum(idf * tf * literal(k1 + 1, Float) / (tf + norm)).label("score")
        level = scope.effective_level(ctx.now)
        grouped = (
            select(Posting.document_id.label("document_id"), score,
                   level.label("level"), Document.category, Document.tenant_id)
            .join(Document, Document.id == Posting.document_id)
            .join(DocumentText, DocumentText.document_id == Posting.document_id)
            .where(Posting.token.in_(hashes), where)
            .group_by(Posting.document_id, level, Document.category, Document.tenant_id)
            .having(func.count() == len(hashes))
        )
        # Usually the whole matched set is small: one statement ranks it and the
        # facets are counted from it. A large one is counted by the database.
        rows = session.execute(
            grouped.order_by(score.desc(), Posting.document_id.desc()).limit(FETCH_ALL + 1)
        ).all()
        start = (q.page - 1) * q.per_page
        if len(rows) <= FETCH_ALL:
            total = len(rows)
            results = [(int(r.document_id), float(r.score))
                       for r in rows[start : start + q.per_page]]
            facets = _facets_of(ctx, rows, lang) if rows else {}
        else:
            matched = grouped.subquery()
            total = int(session.scalar(select(func.count()).select_from(matched)) or 0)
            page_rows: Sequence[Any]
            if start + q.per_page <= len(rows):
                page_rows = rows[start : start + q.per_page]
            else:
                page_rows = session.execute(
                    select(matched.c.document_id, matched.c.score)
                    .order_by(matched.c.score.desc(), matched.c.document_id.desc())
                    .limit(q.per_page).offset(start)
                ).all()
            results = [(int(r.document_id), float(r.score)) for r in page_rows]
            facets = _facets_of(ctx, session.execute(
                select(matched.c.level, matched.c.category, matched.c.tenant_id, func.count())
                .group_by(matched.c.level, matched.c.category, matched.c.tenant_id)
            ).all(), lang, counted=True)
    hits = _hits(ctx, results, tokens, lang)
    unindexed = int(session.scalar(
        select(func.count()).select_from(Document)
        .join(DocumentText, DocumentText.document_id == Document.id)
        .where(DocumentText.state.in_((search_index.PENDING, search_index.RUNNING)), where)
    ) or 0)
    ctx.record(Action.DOCUMENT_SEARCH, object_type="search", reason="content_search",
               detail={"results": total, "page": q.page, "tokens": len(tokens),
                       "filters": sorted(k for k, v in vars(q).items()
                                         if v and k not in ("page", "per_page", "text"))})
    return Results(tuple(hits), total, q.page, q.per_page, facets, unindexed)


def _facets_of(ctx: Ctx, rows: Any, lang: str, counted: bool = False
               ) -> dict[str, tuple[Facet, ...]]:
    """Counts by effective level, category and tenant: from matched rows (level,
    category, tenant_id), or from (level, category, tenant_id, count) groups."""
    by_level: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    by_tenant: Counter[int] = Counter()
    for row in rows:
        n = int(row[3]) if counted else 1
        by_level[str(row.level)] += n
        by_category[str(row.category)] += n
        if row.tenant_id is not None:
            by_tenant[int(row.tenant_id)] += n
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
        select(Document).where(Document.id.in_([i for i, _ in ranked])))}
    texts = {t.document_id: t for t in session.scalars(
        select(DocumentText).where(DocumentText.document_id.in_(list(docs))))}
    subject = ctx.subject
    tz = ctx.settings.tz
    hits: list[Hit] = []
    for doc_id, score in ranked:
        doc = docs[doc_id]
        doc_facts = documents.facts(doc, tz)
        if not policy.can_see_metadata(subject, doc_facts, ctx.now).allowed:
            # The SQL scope and the policy disagree: never show it, and say so in the log.
            log.error("search scope let through document %s it must not", doc_id)
            continue
        level = policy.effective_level(doc_facts, ctx.now)
        may_view = policy.can_view(subject, doc_facts, ctx.now).allowed
        snippet = None
        text_row = texts.get(doc_id)
        if may_view and text_row is not None and text_row.ciphertext is not None:
            text = search_index.read_text(ctx.infra, text_row)
            if text:
                snippet = tuple(textindex.snippet(text, tokens))
                ctx.record(Action.DOCUMENT_VIEW, object_type="document", object_id=str(doc_id),
                           level=level.value, reason="snippet",
                           detail={"version": text_row.indexed_version})
        hits.append(Hit(
            id=doc.id, title=doc.title, category=doc.category, level=level.value,
            marking=policy.marking(level, documents.period_of(doc), lang),
            company=doc.company.name, tenant=doc.tenant.name if doc.tenant else None,
            issued_on=doc.issued_on, score=round(score, 4), may_view=may_view,
            snippet=snippet,
        ))
    return hits
