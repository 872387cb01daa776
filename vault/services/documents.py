"""Documents: registration with encrypted content, versions, search within scope,
metadata, content for those allowed, classification changes, explaining access.

Every function takes a `Ctx` (session, actor, time, infrastructure), asks
`vault.policy`, does the work and writes the audit event in the same unit of
work. A file outside the actor's scope answers `NotFound`, exactly like a file
that does not exist; the denied try is still audited.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, BinaryIO

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.orm import Session, selectinload

from vault import filetype, policy
from vault.actions import Action, Outcome
from vault.crypto import envelope
from vault.errors import Forbidden, IntegrityFailure, InvalidInput, NotFound
from vault.models import (
    ClassificationChange,
    Company,
    Department,
    Document,
    DocumentVersion,
    Grant,
    Tenant,
    User,
)
from vault.policy import Category, Level, Period
from vault.services import accounts, can_i, notifications, scope
from vault.services.content import StoredVersion, open_version, verify_version
from vault.services.context import Ctx, unit_of_work

#: Grant.basis of the registrant's own designation (绝密; 机密 not supervised by them).
REGISTRATION = can_i.REGISTRATION
CAN_I_ACTIONS = can_i.CAN_I_ACTIONS

# ---------------------------------------------------------------------------
# Parsing


def parse_level(text: str) -> Level:
    try:
        return Level(text)
    except ValueError:
        raise InvalidInput(
            f"Unknown level {text!r}; levels are: {', '.join(lv.value for lv in Level)}.",
            code="unknown_level",
        ) from None


def parse_category(text: str) -> Category:
    try:
        return Category(text)
    except ValueError:
        raise InvalidInput(
            f"Unknown category {text!r}; categories are: {', '.join(c.value for c in Category)}.",
            code="unknown_category",
        ) from None


def parse_period(text: str) -> Period:
    try:
        return policy.parse_period(text)
    except policy.PeriodError as exc:
        raise InvalidInput(str(exc), code="bad_period") from None


def _validate_period(issued_on: date, period: Period) -> None:
    try:
        policy.validate_period(issued_on, period)
    except policy.PeriodError as exc:
        raise InvalidInput(str(exc), code="bad_period") from None


def period_of(doc: Document) -> Period:
    return Period(
        years=doc.period_years,
        months=doc.period_months,
        days=doc.period_days,
        until=doc.period_until,
        condition=doc.condition,
    )


def period_words(spec: str | None, lang: str) -> str | None:
    """A stored period spec (a classification change, a requested new period) in
    words; a spec that no longer parses is shown as written."""
    if not spec:
        return None
    try:
        return policy.period_text(policy.parse_period(spec), lang)
    except policy.PeriodError:
        return spec


def _set_period(doc: Document, period: Period, tz: tzinfo) -> None:
    doc.period_years, doc.period_months, doc.period_days = (
        period.years,
        period.months,
        period.days,
    )
    doc.period_until = period.until
    doc.condition = period.condition
    doc.declassify_at = policy.declassify_at(doc.issued_on, period, tz)


def facts(doc: Document, tz: tzinfo = policy.GROUP_TZ) -> policy.DocumentFacts:
    """The policy's view of a document, grants included."""
    return policy.DocumentFacts(
        id=doc.id,
        category=Category(doc.category),
        level=Level(doc.level),
        period=period_of(doc),
        issued_on=doc.issued_on,
        company_id=doc.company_id,
        company_is_hq=doc.company.is_hq,
        department_id=doc.department_id,
        supervisor_id=doc.supervisor_id,
        registrant_id=doc.registrant_id,
        grants=tuple(
            policy.GrantFact(
                grantee_id=g.grantee_id,
                level=Level(g.level),
                until=g.until,
                revoked=g.revoked_at is not None,
                hq_confirmed=g.hq_confirmed_by_id is not None,
                by_registration=g.basis == REGISTRATION,
            )
            for g in doc.grants
        ),
        paper_original=doc.has_paper_original,
        tz=tz,
    )


def effective_level(ctx: Ctx, doc: Document) -> Level:
    return policy.effective_level(facts(doc, ctx.settings.tz), ctx.now)


# ---------------------------------------------------------------------------
# Loading with a check


def load(ctx: Ctx, doc_id: int, action: Action, need: str = "metadata") -> Document:
    """The document, if the actor may ``need`` ("metadata", "view", "download") it.

    Out of scope and absent look the same (404); a document the actor may know
    of but not read answers `Forbidden` with the policy's reason. Either
    refusal is audited.
    """
    doc = ctx.session.get(Document, doc_id)
    subject = ctx.subject
    not_found = NotFound(f"No document {doc_id}.", code="unknown_document")
    if doc is None:
        raise ctx.refuse(not_found, action, object_type="document", object_id=str(doc_id),
                         reason="unknown_document")
    doc_facts = facts(doc, ctx.settings.tz)
    level = policy.effective_level(doc_facts, ctx.now).value
    meta = policy.can_see_metadata(subject, doc_facts, ctx.now)
    if not meta.allowed:
        raise ctx.refuse(not_found, action, object_type="document", object_id=str(doc_id),
                         level=level, reason=meta.reason.value)
    check = {"metadata": None, "view": policy.can_view, "download": policy.can_download}[need]
    if check is not None:
        decision = check(subject, doc_facts, ctx.now)
        if not decision.allowed:
            raise ctx.refuse(
                Forbidden(_refusal_text(decision.reason), code=decision.reason.value),
                action, object_type="document", object_id=str(doc_id), level=level,
            )
    return doc


_REFUSALS = {
    policy.Reason.COPY_APPROVAL_REQUIRED: (
        "The content of this file leaves Vault only as an approved, registered copy "
        "(classified files and certificates). Request a copy, or read it in the viewer."
    ),
}


def get(session: Session, doc_id: int) -> Document:
    """Load a document by id without any check: for `vault can-i`, which explains
    access from metadata and releases no content."""
    doc = session.get(Document, doc_id)
    if doc is None:
        raise NotFound(f"No document {doc_id}.", code="unknown_document")
    return doc


def _refusal_text(reason: policy.Reason) -> str:
    return _REFUSALS.get(reason, f"Not allowed ({reason.value}).")


# ---------------------------------------------------------------------------
# Content


def _store_version(
    ctx: Ctx, doc: Document, number: int, content: BinaryIO, filename: str
) -> DocumentVersion:
    """Encrypt ``content`` into a new blob and add the version row (not committed)."""
    name = filetype.check_name(filename)
    settings = ctx.settings
    key = envelope.new_data_key()

    def sniff(first: bytes) -> None:
        # Refuse a wrong type after the first 64 KiB, not after the whole upload
        # (an empty file is refused as empty by check_content below).
        if first:
            filetype.check_type(doc.category, name, first)

    with ctx.infra.blobs.new_writer() as writer:
        result = envelope.encrypt_stream(
            key,
            content,
            writer,
            document_id=doc.id,
            version=number,
            segment_size=settings.segment_size,
            max_plaintext_size=settings.max_upload_bytes,
            on_first_bytes=sniff,
        )
        media_type = filetype.check_content(
            doc.category, name, result.first_bytes, result.plaintext_size,
            settings.max_upload_bytes,
        )
        blob_id = writer.commit()
    # A row that never commits leaves an orphan blob: remove it on rollback.
    blobs = ctx.infra.blobs
    ctx.on_rollback(lambda: blobs.delete(blob_id))
    with blobs.open(blob_id) as fh:
        # The first bytes said what it is; the whole file must agree (a PDF parses).
        reader = envelope.RandomAccessReader(key, fh, document_id=doc.id, version=number)
        plain = io.BufferedReader(envelope.PlaintextFile(reader), reader.segment_size)
        filetype.check_structure(media_type, plain)
    master_id, wrapped = ctx.infra.keyring.wrap(key)
    version = DocumentVersion(
        document_id=doc.id,
        number=number,
        blob_id=blob_id,
        size=result.plaintext_size,
        media_type=media_type,
        original_name=name,
        wrapped_key=wrapped,
        master_key_id=master_id,
        created_at=ctx.now,
        created_by_id=ctx.actor.id if ctx.actor else None,
    )
    ctx.session.add(version)
    ctx.session.flush()
    return version


def _queue_text(ctx: Ctx, doc_id: int, version: int) -> None:
    """Queue the version's text for extraction and indexing (in the background)."""
    from vault.services import search_index

    search_index.enqueue(ctx, doc_id, version)


def register(
    ctx: Ctx,
    *,
    title: str,
    category: Category,
    level: Level | None = None,
    period: Period | None = None,
    issued_on: date | None = None,
    supervisor: User | None = None,
    department_code: str | None = None,
    tenant_code: str | None = None,
    paper_original: bool = False,
    content: BinaryIO | None = None,
    filename: str | None = None,
) -> Document:
    """Register a document for the actor's company, with its first version if given.

    A classified file must carry a period: the level's default is used when none
    is given, as the form pre-fills it. An internal file carries none. Without
    content the record stands for a paper original held by a custodian.
    """
    actor = ctx.actor
    if actor is None or not actor.active:
        raise InvalidInput("A deactivated user cannot register documents.", code="inactive_user")
    title = title.strip()
    if not title or len(title) > 500 or any(ord(c) < 32 for c in title):
        raise InvalidInput("The title must be 1–500 printable characters.", code="bad_title")
    level = level or policy.DEFAULT_LEVEL[category]
    if level.classified:
        period = period or policy.DEFAULT_PERIOD[level]
    elif period is not None and period.kind != "none":
        raise InvalidInput("An internal document has no secrecy period.", code="period_on_internal")
    else:
        period = policy.NO_PERIOD
    tz = ctx.settings.tz
    issued_on = issued_on or ctx.now.astimezone(tz).date()
    _validate_period(issued_on, period)
    if period.kind == "date" and period.until is not None and period.until < issued_on:
        raise InvalidInput(
            f"The period ends ({period.until}) before the issue date ({issued_on}).",
            code="period_before_issue",
        )
    if content is not None and not filename:
        raise InvalidInput("A file needs its name.", code="bad_filename")
    company = actor.company
    department: Department | None = actor.department
    if department_code:
        department = accounts.get_department(ctx.session, company, department_code)
    supervisor = supervisor or actor
    if supervisor.company_id != company.id or not supervisor.active:
        raise InvalidInput(
            f"The responsible supervisor must be an active person of {company.code}.",
            code="bad_supervisor",
        )
    tenant = None
    if tenant_code:
        tenant = ctx.session.scalar(select(Tenant).where(Tenant.code == tenant_code))
        if tenant is None:
            raise NotFound(f"No tenant with code {tenant_code!r}.", code="unknown_tenant")
    doc = Document(
        title=title,
        category=category.value,
        level=level.value,
        issued_on=issued_on,
        company_id=company.id,
        department_id=department.id if department else None,
        supervisor_id=supervisor.id,
        registrant_id=actor.id,
        tenant_id=tenant.id if tenant else None,
        has_paper_original=paper_original or content is None,
        created_at=ctx.now,
        reviewed_at=ctx.now,
    )
    _set_period(doc, period, tz)
    ctx.session.add(doc)
    ctx.session.flush()
    ctx.session.add(
        ClassificationChange(
            document_id=doc.id,
            at=ctx.now,
            actor_id=actor.id,
            kind="register",
            old_level=None,
            new_level=level.value,
            new_period=period.spec(),
        )
    )
    if content is not None:
        assert filename is not None
        _store_version(ctx, doc, 1, content, filename)
    _queue_text(ctx, doc.id, 1 if content is not None else 0)
    ctx.record(
        Action.DOCUMENT_REGISTER,
        object_type="document",
        object_id=str(doc.id),
        level=level.value,
        reason="registered",
        detail={"category": category.value, "period": period.spec(),
                "content": content is not None},
    )
    level_changed(ctx, doc, None, level)
    return doc


def level_changed(ctx: Ctx, doc: Document, old: Level | None, new: Level) -> None:
    """What a file's new level (at registration, or raised or lowered) means for who
    knows it (regulation §保密范围 and 密级):

    - 绝密 ("只限总公司副/总经理指定的人员"): every HQ executive is told at once; a
      registrant who is not an HQ executive holds a designation "by registration",
      which any HQ executive may end. Raised to 绝密, a file keeps in scope only the
      HQ executives and designations an HQ executive made or confirmed: every other
      designation ends at that moment (the registrant's, the supervisor's designees').
    - 机密 ("只限主管人员及其认为必须知道的人员"): a registrant who is not the
      responsible supervisor holds a designation "by registration" in the supervisor's
      name, which the supervisor sees and may revoke (once ended, it is not renewed).
    """
    registrant = doc.registrant
    if registrant is None:
        return
    if new is Level.TOP_SECRET and old is not Level.TOP_SECRET:
        if old is not None:
            _end_undesignated(ctx, doc)
        _tell_hq_executives(ctx, doc, old)
        if not accounts.subject_of(registrant).is_hq_executive and old is None:
            _designate_registrant(ctx, doc, registrant, registrant, new)
    elif new is Level.SECRET and (old is None or old.rank < Level.SECRET.rank):
        supervisor = doc.supervisor or registrant
        if (registrant.id != supervisor.id
                and not accounts.subject_of(registrant).is_hq_executive):
            _designate_registrant(ctx, doc, registrant, supervisor, new)


def _designate_registrant(ctx: Ctx, doc: Document, registrant: User, grantor: User,
                          level: Level) -> None:
    ever = ctx.session.scalar(select(Grant.id).where(
        Grant.document_id == doc.id, Grant.grantee_id == registrant.id,
        Grant.basis == REGISTRATION))
    if ever is not None:
        return  # ended once (by the supervisor or an HQ executive): not renewed
    ctx.session.add(Grant(document_id=doc.id, grantee_id=registrant.id, grantor_id=grantor.id,
                          level=level.value, created_at=ctx.now, basis=REGISTRATION))
    ctx.session.flush()
    ctx.session.expire(doc, ["grants"])
    ctx.record(Action.GRANT_CREATE, object_type="document", object_id=str(doc.id),
               level=level.value, reason="by_registration",
               detail={"grantee": registrant.username, "in_the_name_of": grantor.username})


def _end_undesignated(ctx: Ctx, doc: Document) -> None:
    """Raised to 绝密: end every designation no HQ executive made or confirmed."""
    ended = [g for g in doc.grants if g.revoked_at is None and g.hq_confirmed_by_id is None]
    for g in ended:
        g.revoked_at = ctx.now
        g.revoked_by_id = ctx.actor.id if ctx.actor else None
        ctx.record(Action.GRANT_REVOKE, object_type="document", object_id=str(doc.id),
                   level=Level.TOP_SECRET.value, reason="raised_to_top_secret",
                   detail={"grantee": g.grantee.username, "basis": g.basis})
    if ended:
        ctx.session.flush()
        ctx.session.expire(doc, ["grants"])


def _tell_hq_executives(ctx: Ctx, doc: Document, old: Level | None) -> None:
    registrant = doc.registrant
    assert registrant is not None
    mark_zh = policy.marking(Level.TOP_SECRET, period_of(doc), "zh")
    mark_en = policy.marking(Level.TOP_SECRET, period_of(doc), "en")
    dept = doc.department.name if doc.department else "—"
    actor = ctx.actor.name if ctx.actor else "system"
    if old is None:
        zh = (f"绝密文件登记：《{doc.title}》[{mark_zh}]，登记人 {registrant.name}，"
              f"部门 {dept}；请指定知悉人员")
        en = (f"Top-secret file registered: “{doc.title}” [{mark_en}] by {registrant.name}, "
              f"department {dept}; designate who may know it")
    else:
        zh = (f"文件升为绝密：《{doc.title}》[{mark_zh}]，由 {actor} 变更；登记人 "
              f"{registrant.name}，部门 {dept}；请指定知悉人员")
        en = (f"File raised to top secret: “{doc.title}” [{mark_en}] by {actor}; registrant "
              f"{registrant.name}, department {dept}; designate who may know it")
    others = [u for u in accounts.hq_executives(ctx.session)
              if ctx.actor is None or u.id != ctx.actor.id]
    notifications.notify(ctx, others, notifications.Message(
        kind="top_secret", subject_zh=zh, subject_en=en, link=f"/documents/{doc.id}",
        document_id=doc.id))


def add_version(ctx: Ctx, doc_id: int, content: BinaryIO, filename: str) -> DocumentVersion:
    """A new version: by the registrant, the responsible supervisor or an HQ executive."""
    doc = load(ctx, doc_id, Action.DOCUMENT_VERSION_ADD, need="view")
    if not policy.can_add_version(ctx.subject, facts(doc, ctx.settings.tz), ctx.now).allowed:
        raise ctx.refuse(
            Forbidden("Only the registrant or the responsible supervisor adds versions.",
                      code="not_responsible"),
            Action.DOCUMENT_VERSION_ADD, object_type="document", object_id=str(doc.id),
        )
    number = (max((v.number for v in doc.versions), default=0)) + 1
    version = _store_version(ctx, doc, number, content, filename)
    doc.has_paper_original = doc.has_paper_original and number == 1
    _queue_text(ctx, doc.id, number)
    ctx.record(
        Action.DOCUMENT_VERSION_ADD, object_type="document", object_id=str(doc.id),
        level=effective_level(ctx, doc).value, reason="version_added",
        detail={"version": number, "size": version.size},
    )
    return version


def _version(doc: Document, number: int | None) -> DocumentVersion:
    versions = [v for v in doc.versions if v.blob_id is not None]
    if not versions:
        raise NotFound(
            "This document has no stored content (a paper original).", code="no_content"
        )
    if number is None:
        return versions[-1]
    for v in versions:
        if v.number == number:
            return v
    raise NotFound(f"Document {doc.id} has no version {number}.", code="unknown_version")


@dataclass
class Content:
    """Plaintext being released: metadata plus an iterator of verified chunks."""

    document: Document
    version: DocumentVersion
    chunks: Iterator[bytes]


def open_content(
    ctx: Ctx, doc_id: int, version: int | None = None, action: Action = Action.DOCUMENT_DOWNLOAD
) -> Content:
    """Raw content, for internal files in scope (classified ones need an approved copy).

    The audit event is written in this unit of work before any byte is released:
    the caller commits, then streams ``chunks``. Each chunk is authenticated
    before it is yielded; a failure raises `IntegrityFailure` mid-stream.
    """
    doc = load(ctx, doc_id, action, need="download")
    return _release(ctx, doc, _version(doc, version), action)


def _release(ctx: Ctx, doc: Document, ver: DocumentVersion, action: Action) -> Content:
    stored = StoredVersion.of(ver)
    level = effective_level(ctx, doc).value
    number = ver.number
    where: dict[str, Any] = {"object_type": "document", "object_id": str(doc.id),
                             "level": level}
    if ver.size <= ctx.settings.verify_before_send_bytes:
        # Authenticated whole before the first byte: a damaged file answers an error,
        # never a 200 cut off midway. Nothing is kept; the stream below reads again.
        try:
            verify_version(ctx, stored)
        except IntegrityFailure as exc:
            raise ctx.fail(exc, action, **where, detail={"version": number, "whole": True}) \
                from None
    ctx.record(action, **where, reason="released",
               detail={"version": ver.number, "size": ver.size})
    infra, who = ctx.infra, ctx.actor.username if ctx.actor else None
    source, request_id = ctx.source, ctx.request_id

    stream = open_version(ctx, stored)

    def chunks() -> Iterator[bytes]:
        try:
            yield from stream
        except IntegrityFailure as exc:
            # Too large to check before sending: the status is gone and the
            # connection is cut; the trail says the release failed, and where.
            with unit_of_work(infra, who, source=source, request_id=request_id) as late:
                late.record(action, Outcome.FAILED, **where, reason=exc.code,
                            detail={"version": number, "error": exc.message[:200]})
            raise

    return Content(doc, ver, chunks())


# ---------------------------------------------------------------------------
# Search and metadata


@dataclass
class Query:
    text: str | None = None
    category: Category | None = None
    level: Level | None = None
    tenant: str | None = None
    company: str | None = None
    department: str | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    page: int = 1
    per_page: int = 50
    #: One of `SORT_KEYS`, "-" in front for descending; "" = newest registered first.
    sort: str = ""
    #: Count at most this many matches (``None``: count them all). A million files
    #: in scope take seconds to count and nobody pages through them: the list says
    #: "1,000+" and asks for a narrower search.
    count_cap: int | None = None


#: The columns a list may be sorted by (anything else is refused, never put in SQL);
#: ties fall back to the newest registered first.
SORT_KEYS = ("registered", "title", "category", "level", "issued")
_CLASSIFIED = tuple(lv.value for lv in Level if lv.classified)


def _order(sort: str) -> tuple[str, bool, list[Any]]:
    """The sort key, whether it is descending, and the ORDER BY of every key but the
    level (which `_by_level` reads one level at a time). Each has an index in that
    order (0011_scale, 0014_scale_sort: category and id both ways), so a page is the
    first rows of an index scan, not a sort of every file in scope."""
    key = sort.removeprefix("-")
    if key not in SORT_KEYS and sort:
        raise InvalidInput(f"Cannot sort by {sort!r}.", code="bad_sort")
    column: Any = {
        "registered": Document.id,
        "title": Document.title,
        "category": Document.category,
        "issued": Document.issued_on,
    }.get(key, Document.id)
    descending = sort.startswith("-") or not sort
    return key, descending, [column.desc() if descending else column.asc(),
                             Document.id.desc()]


def _by_level(stmt: Select[Any], subject: policy.Subject, now: datetime, descending: bool,
              upto: int) -> Select[Any]:
    """``stmt`` ordered by the effective level (`scope.effective_level`), newest first
    within a level, for pages up to row ``upto``. The effective level depends on
    ``now`` (a period that has ended makes a file internal), so no index holds that
    order: sorting by it sorted every file in scope (4–6 s for a staff member at a
    million files). Instead each level is read newest first on its own, from
    documents(level, id) for the live classified levels (or, for a person who knows of
    few of them, from the ways `scope.classified_candidates` names) and from the
    primary key for the rest (internal or ended), cut at ``upto``, and the four short
    reads merged."""
    ended = scope.ended(now)
    buckets: list[tuple[int, ColumnElement[bool]]] = [
        (0, or_(Document.level.not_in(_CLASSIFIED), ended))]
    for level in Level:
        if level.classified:
            candidates = scope.classified_candidates(subject, level)
            buckets.append((level.rank, and_(Document.level == level.value, ~ended,
                                             true() if candidates is None else candidates)))
    parts = [
        select(stmt.where(condition)
               .with_only_columns(Document.id, literal(rank, Integer).label("rank"))
               .order_by(Document.id.desc()).limit(upto).subquery())
        for rank, condition in buckets
    ]
    merged = union_all(*parts).subquery()
    rank = merged.c.rank.desc() if descending else merged.c.rank.asc()
    return (select(Document).join(merged, merged.c.id == Document.id)
            .order_by(rank, Document.id.desc()))


#: The cap of the lists people page through (web document list, `vault ls`): 20
#: pages of 50. Counting 10,000 of a staff member's files in scope took ~3x as long
#: (400 vs 150 ms at 1M documents, load average 14), over the 200 ms target.
COUNT_CAP = 1_000


@dataclass
class Page:
    items: list[Document]
    total: int
    page: int
    per_page: int
    levels: dict[int, Level] = field(default_factory=dict)
    #: More than ``total`` (= the query's ``count_cap``) match; they were not counted.
    total_capped: bool = False


def search(ctx: Ctx, query: Query) -> Page:
    """Documents in the actor's scope matching ``query``; the rest is absent, counts included."""
    if query.page < 1 or not 1 <= query.per_page <= 500:
        raise InvalidInput("page must be ≥ 1 and per_page 1–500.", code="bad_page")
    key, descending, order = _order(query.sort)
    stmt = select(Document)
    if query.text:
        stmt = stmt.where(Document.title.contains(query.text.strip(), autoescape=True))
    if query.category:
        stmt = stmt.where(Document.category == query.category.value)
    if query.tenant:
        stmt = stmt.join(Tenant, Document.tenant_id == Tenant.id).where(Tenant.code == query.tenant)
    if query.company:
        stmt = stmt.join(Company, Document.company_id == Company.id).where(
            Company.code == query.company
        )
    if query.department:
        stmt = stmt.join(Department, Document.department_id == Department.id).where(
            Department.code == query.department
        )
    if query.issued_from:
        stmt = stmt.where(Document.issued_on >= query.issued_from)
    if query.issued_to:
        stmt = stmt.where(Document.issued_on <= query.issued_to)
    subject = ctx.subject
    tz = ctx.settings.tz
    # The scope in SQL (vault/services/scope.py, `policy.can_see_metadata` translated
    # and checked against it over the policy tables), so the database counts and
    # pages: with a million files, loading every match to filter it here took
    # seconds per page. The policy still decides each row shown (defence in depth).
    stmt = stmt.where(scope.metadata_scope(subject, ctx.now))
    if query.level:
        stmt = stmt.where(scope.effective_level(ctx.now) == query.level.value)
    counted = stmt.with_only_columns(Document.id)
    if query.count_cap is not None:
        counted = counted.limit(query.count_cap + 1)
    total = ctx.session.scalar(select(func.count()).select_from(counted.subquery())) or 0
    capped = False
    if query.count_cap is not None and total > query.count_cap:
        total, capped = query.count_cap, True
    start = (query.page - 1) * query.per_page
    visible: list[Document] = []
    levels: dict[int, Level] = {}
    # A page spans companies, departments and tenants: one query each for them, not
    # one lazy load per row (the list shows all three; the policy reads the company).
    ordered = (_by_level(stmt, subject, ctx.now, descending, start + query.per_page)
               if key == "level" else stmt.order_by(*order))
    rows = ordered.options(selectinload(Document.company), selectinload(Document.department),
                           selectinload(Document.tenant))
    for doc in ctx.session.scalars(rows.offset(start).limit(query.per_page)):
        doc_facts = facts(doc, tz)
        if not policy.can_see_metadata(subject, doc_facts, ctx.now).allowed:
            continue
        level = policy.effective_level(doc_facts, ctx.now)
        if query.level and level is not query.level:
            continue
        visible.append(doc)
        levels[doc.id] = level
    return Page(visible, total, query.page, query.per_page, levels, capped)


def describe(ctx: Ctx, doc: Document, lang: str = "zh") -> dict[str, Any]:
    """Metadata as plain data (for `vault show --json` and the API)."""
    tz = ctx.settings.tz
    doc_facts = facts(doc, tz)
    level = policy.effective_level(doc_facts, ctx.now)
    period = period_of(doc)
    return {
        "id": doc.id,
        "title": doc.title,
        "category": doc.category,
        "level": doc.level,
        "effective_level": level.value,
        "marking": policy.marking(level, period, lang),
        "period": period.spec(),
        "issued_on": doc.issued_on.isoformat(),
        "declassify_at": (
            doc.declassify_at.astimezone(tz).isoformat() if doc.declassify_at else None
        ),
        "condition": doc.condition,
        "company": doc.company.code,
        "department": doc.department.code if doc.department else None,
        "supervisor": doc.supervisor.username if doc.supervisor else None,
        "registrant": doc.registrant.username if doc.registrant else None,
        "tenant": doc.tenant.code if doc.tenant else None,
        "paper_original": doc.has_paper_original,
        "versions": [
            {"number": v.number, "size": v.size, "media_type": v.media_type,
             "name": v.original_name, "created_at": v.created_at.isoformat()}
            for v in doc.versions
        ],
        "grants": [
            {"grantee": g.grantee.username, "grantor": g.grantor.username, "level": g.level,
             "until": g.until.isoformat() if g.until else None,
             "revoked": g.revoked_at is not None, "basis": g.basis,
             "hq_confirmed_by": g.hq_confirmed_by.username if g.hq_confirmed_by else None}
            for g in doc.grants
        ],
        "may_view": who_may_view(ctx.session, doc_facts, ctx.now),
    }


def who_may_view(session: Session, doc_facts: policy.DocumentFacts, now: datetime) -> Any:
    """Everyone who may view, with the reason; for internal files, everyone."""
    if not policy.effective_level(doc_facts, now).classified:
        return "all active employees"
    out = []
    for user in session.scalars(select(User).where(User.active.is_(True)).order_by(User.username)):
        decision = policy.can_view(accounts.subject_of(user), doc_facts, now)
        if decision.allowed:
            out.append({"user": user.username, "reason": decision.reason.value})
    return out


def show(ctx: Ctx, doc_id: int, lang: str = "zh") -> dict[str, Any]:
    doc = load(ctx, doc_id, Action.DOCUMENT_VIEW_METADATA)
    info = describe(ctx, doc, lang)
    ctx.record(Action.DOCUMENT_VIEW_METADATA, object_type="document", object_id=str(doc.id),
               level=info["effective_level"], reason="metadata")
    return info


def history(session: Session, doc_id: int) -> list[ClassificationChange]:
    return list(
        session.scalars(
            select(ClassificationChange)
            .where(ClassificationChange.document_id == doc_id)
            .order_by(ClassificationChange.id)
        )
    )


# ---------------------------------------------------------------------------
# Classification changes


def change_classification(
    ctx: Ctx,
    doc_id: int,
    *,
    level: Level | None = None,
    period: Period | None = None,
    note: str | None = None,
) -> Document:
    """Change level and/or period directly (by the approving office), recorded in history."""
    doc = load(ctx, doc_id, Action.DOCUMENT_LEVEL_CHANGE)
    doc_facts = facts(doc, ctx.settings.tz)
    current = policy.effective_level(doc_facts, ctx.now)
    new_level = level or current
    old_period = period_of(doc)
    new_period = period or (old_period if new_level.classified else policy.NO_PERIOD)
    if not new_level.classified and new_period.kind != "none":
        raise InvalidInput("An internal document has no secrecy period.", code="period_on_internal")
    if new_level.classified and new_period.kind == "none":
        new_period = policy.DEFAULT_PERIOD[new_level]
    old_end = policy.add_period(doc.issued_on, old_period)
    new_end = policy.add_period(doc.issued_on, new_period)
    extends = period is not None and (
        old_end is not None and (new_end is None or new_end > old_end)
    )
    action = Action.DOCUMENT_PERIOD_CHANGE if level is None else Action.DOCUMENT_LEVEL_CHANGE
    decision = policy.can_reclassify(ctx.subject, doc_facts, new_level, extends, ctx.now)
    if not decision.allowed:
        raise ctx.refuse(
            Forbidden(f"Not allowed to change this classification ({decision.reason.value}).",
                      code=decision.reason.value),
            action, object_type="document", object_id=str(doc.id), level=current.value,
        )
    if new_level is current and new_period == old_period:
        raise InvalidInput("Nothing to change.", code="no_change")
    _validate_period(doc.issued_on, new_period)
    if new_period.kind == "date" and new_period.until and new_period.until < doc.issued_on:
        raise InvalidInput("The period ends before the issue date.", code="period_before_issue")
    kind = "declassify" if not new_level.classified else ("extend" if extends else "change")
    ctx.session.add(
        ClassificationChange(
            document_id=doc.id, at=ctx.now, actor_id=ctx.actor.id if ctx.actor else None,
            kind=kind, old_level=current.value, new_level=new_level.value,
            old_period=old_period.spec(), new_period=new_period.spec(), note=note,
        )
    )
    doc.level = new_level.value
    _set_period(doc, new_period, ctx.settings.tz)
    ctx.record(
        action, object_type="document", object_id=str(doc.id), level=new_level.value,
        reason=kind, detail={"from": f"{current.value} {old_period.spec()}",
                             "to": f"{new_level.value} {new_period.spec()}"},
    )
    level_changed(ctx, doc, current, new_level)
    return doc


# ---------------------------------------------------------------------------
# Explaining access (`vault can-i`)

@dataclass(frozen=True)
class Explanation:
    action: str
    allowed: bool
    reason: str
    effective_level: Level
    approval_required: bool
    default_no: bool
    approvers: list[User]


def explain(session: Session, user: User, doc: Document, action: str, now: datetime,
            tz: tzinfo = policy.GROUP_TZ) -> Explanation:
    """Answer "may USER do ACTION to DOC at NOW?" with the reason and, for requests,
    who may approve. The administrator's tool: it reads metadata only."""

    def active_people() -> Iterator[tuple[policy.Subject, User]]:
        active = session.scalars(
            select(User).where(User.active.is_(True)).order_by(User.username)
        )
        return ((accounts.subject_of(u), u) for u in active)

    verdict = can_i.decide(accounts.subject_of(user), facts(doc, tz), action, now, active_people)
    return Explanation(
        action=action,
        allowed=verdict.allowed,
        reason=verdict.reason,
        effective_level=verdict.effective_level,
        approval_required=verdict.approval_required,
        default_no=verdict.default_no,
        approvers=list(verdict.approvers),
    )

