"""The annual review (年度审核, SPEC.md §1): every classified file is looked at once a
year by the people responsible for it, who confirm it as it is, change its level
or period, or declassify it.

Who reviews what is `policy.can_review`: HQ executives for top-secret and
HQ-owned files; the responsible supervisor, the registrant and the owning
company's general manager for secret and confidential files, and for
confidential ones also the owning department's manager. The queue lists the
files a person reviews whose last review (or registration) is 365 days old or
more, judged by the *effective* level (a file whose period has ended is no
longer classified and is not reviewed).

Confirming records a history entry of kind ``review`` and a ``review:confirm``
event. A change or a declassification goes through
`documents.change_classification` (history, audit, and `can_reclassify`: only
the approving office changes a classification directly; the others ask through
a request) and then records ``review:confirm`` too, with what was decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, union
from sqlalchemy.orm import selectinload

from vault import policy
from vault.actions import Action
from vault.errors import Forbidden, InvalidInput
from vault.models import ClassificationChange, Company, Document
from vault.policy import Level, Period, Role
from vault.services import documents, scope
from vault.services.context import Ctx

MAX_NOTE = 1000
#: The queue shows the files longest unreviewed first, this many at a time: a general
#: manager of a large subsidiary can have thousands due, and reviewing the first ones
#: brings up the next.
QUEUE_LIMIT = 200
#: Rows read at a time while filling the queue (the policy may leave some out).
QUEUE_BATCH = 100

_REFUSALS = {
    policy.Reason.NOT_CLASSIFIED: "Only classified files are reviewed; this one is internal.",
    policy.Reason.NOT_RESPONSIBLE: (
        "The review is for the file's responsible supervisor, its registrant, the owning "
        "department's manager (秘密), the owning company's general manager, and HQ "
        "executives (绝密 and HQ-owned files)."
    ),
}


@dataclass(frozen=True)
class Item:
    """A file in the review queue, as plain data."""

    document: Document
    level: Level
    marking: str
    last_reviewed: datetime
    reviewed_before: bool  # False: never reviewed; ``last_reviewed`` is the registration
    reason: policy.Reason  # why this person reviews it
    may_reclassify: bool  # may change level or period directly
    may_declassify: bool  # may declassify directly


def last_reviewed(doc: Document) -> datetime:
    return doc.reviewed_at or doc.created_at


def _note(text: str | None) -> str | None:
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > MAX_NOTE or any(ord(c) < 32 and c not in "\n\r\t" for c in text):
        raise InvalidInput(f"The note must be at most {MAX_NOTE} printable characters.",
                           code="bad_note")
    return text


def _item(ctx: Ctx, doc: Document, lang: str) -> Item | None:
    doc_facts = documents.facts(doc, ctx.settings.tz)
    decision = policy.can_review(ctx.subject, doc_facts, ctx.now)
    if not decision.allowed:
        return None
    level = policy.effective_level(doc_facts, ctx.now)
    subject = ctx.subject
    return Item(
        document=doc,
        level=level,
        marking=policy.marking(level, documents.period_of(doc), lang),
        last_reviewed=last_reviewed(doc),
        reviewed_before=doc.reviewed_at is not None and doc.reviewed_at > doc.created_at,
        reason=decision.reason,
        may_reclassify=policy.can_reclassify(subject, doc_facts, level, False, ctx.now).allowed,
        may_declassify=policy.can_reclassify(subject, doc_facts, Level.INTERNAL, False,
                                             ctx.now).allowed,
    )


def _ways(ctx: Ctx) -> list[ColumnElement[bool]]:
    """Conditions that together cover `scope.review_scope` for the actor, each with an
    index that reads it in queue order (migration 0011_scale: (supervisor_id |
    registrant_id | company_id | level, coalesce(reviewed_at, created_at), id))."""
    subject = ctx.subject
    uid = subject.user_id
    ways = [Document.supervisor_id == uid, Document.registrant_id == uid]
    if subject.has(Role.DEPT_MANAGER) or subject.has(Role.COMPANY_GM):
        ways.append(Document.company_id == subject.company_id)
    if subject.is_hq_executive:
        ways.append(Document.level == Level.TOP_SECRET.value)
        ways.extend(Document.company_id == hq for hq in ctx.session.scalars(
            select(Company.id).where(Company.is_hq.is_(True))))
    return ways


def queue(ctx: Ctx, lang: str = "zh", limit: int | None = QUEUE_LIMIT) -> list[Item]:
    """The classified files the actor reviews that are due, longest unreviewed first
    (the first ``limit`` of them; ``None``: all)."""
    assert ctx.actor is not None
    cutoff = ctx.now - policy.REVIEW_INTERVAL
    last = func.coalesce(Document.reviewed_at, Document.created_at)
    # SQL narrows to the files the policy lets the actor review (scope.review_scope is
    # checked against policy.can_review); the policy still decides each one.
    due = (scope.review_scope(ctx.subject, ctx.now), last <= cutoff)
    ways = _ways(ctx)

    def page(offset: int, size: int | None) -> list[Document]:
        """Each way read in its index's order and cut at the page's end, then merged:
        one OR of the ways would read every due file of the group to sort them."""
        parts = []
        for way in ways:
            one = select(Document.id, last.label("last")).where(way, *due).order_by(
                last, Document.id)
            if size is not None:
                one = one.limit(offset + size)
            parts.append(select(one.subquery()))
        merged = union(*parts).subquery()
        stmt = (select(Document).join(merged, merged.c.id == Document.id)
                .options(selectinload(Document.company), selectinload(Document.department),
                         selectinload(Document.supervisor))
                .order_by(merged.c.last, Document.id).offset(offset).limit(size))
        return list(ctx.session.scalars(stmt))

    batch = max(limit, QUEUE_BATCH) if limit is not None else None
    items: list[Item] = []
    offset = 0
    while True:
        docs = page(offset, batch)
        for doc in docs:
            item = _item(ctx, doc, lang)
            if item is not None:
                items.append(item)
                if limit is not None and len(items) == limit:
                    return items
        if batch is None or len(docs) < batch:
            return items
        offset += batch



@dataclass(frozen=True)
class QueueRow:
    """A file of the review queue as the review page and `vault review queue` show it."""

    id: int
    title: str
    level: str  # in force now
    marking: str
    last_reviewed: datetime
    reviewed_before: bool  # False: never reviewed; ``last_reviewed`` is the registration
    company: str  # its name
    company_code: str
    department: str | None  # its name
    department_code: str | None
    supervisor: str | None  # the responsible supervisor's name
    reason: str  # why this person reviews it (a policy reason code)
    may_reclassify: bool
    may_declassify: bool
    period: str  # the stored period, as a spec (e.g. 10y)
    condition: bool  # the period is a condition, not a term


def queue_rows(ctx: Ctx, lang: str = "zh", limit: int | None = QUEUE_LIMIT
               ) -> tuple[QueueRow, ...]:
    """`queue` as read models."""
    rows = []
    for item in queue(ctx, lang, limit):
        doc = item.document
        period = documents.period_of(doc)
        rows.append(QueueRow(
            id=doc.id, title=doc.title, level=item.level.value, marking=item.marking,
            last_reviewed=item.last_reviewed, reviewed_before=item.reviewed_before,
            company=doc.company.name, company_code=doc.company.code,
            department=doc.department.name if doc.department else None,
            department_code=doc.department.code if doc.department else None,
            supervisor=doc.supervisor.name if doc.supervisor else None,
            reason=item.reason.value, may_reclassify=item.may_reclassify,
            may_declassify=item.may_declassify, period=period.spec(),
            condition=period.kind == "condition"))
    return tuple(rows)

def _reviewable(ctx: Ctx, doc_id: int) -> tuple[Document, policy.Decision, Level]:
    """The document, if the actor reviews it (404 when out of scope, 403 otherwise)."""
    doc = documents.load(ctx, doc_id, Action.REVIEW_CONFIRM)
    doc_facts = documents.facts(doc, ctx.settings.tz)
    level = policy.effective_level(doc_facts, ctx.now)
    decision = policy.can_review(ctx.subject, doc_facts, ctx.now)
    if not decision.allowed:
        raise ctx.refuse(
            Forbidden(_REFUSALS.get(decision.reason, f"Not allowed ({decision.reason.value})."),
                      code=decision.reason.value),
            Action.REVIEW_CONFIRM, object_type="document", object_id=str(doc.id),
            level=level.value,
        )
    return doc, decision, level


def _done(ctx: Ctx, doc: Document, decision: policy.Decision, outcome: str,
          note: str | None) -> None:
    before = last_reviewed(doc)
    doc.reviewed_at = ctx.now
    level = documents.effective_level(ctx, doc)
    ctx.record(Action.REVIEW_CONFIRM, object_type="document", object_id=str(doc.id),
               level=level.value, reason=outcome,
               detail={"as": decision.reason.value, "period": documents.period_of(doc).spec(),
                       "previous_review": before.isoformat(), "note": note or ""})


def confirm(ctx: Ctx, doc_id: int, note: str | None = None) -> Document:
    """Keep the file as it is, reviewed now."""
    text = _note(note)
    doc, decision, level = _reviewable(ctx, doc_id)
    period = documents.period_of(doc).spec()
    assert ctx.actor is not None
    ctx.session.add(ClassificationChange(
        document_id=doc.id, at=ctx.now, actor_id=ctx.actor.id, kind="review",
        old_level=level.value, new_level=level.value, old_period=period, new_period=period,
        note=text,
    ))
    _done(ctx, doc, decision, "confirmed", text)
    return doc


def change(ctx: Ctx, doc_id: int, *, level: Level | None = None, period: Period | None = None,
           note: str | None = None) -> Document:
    """Change the level and/or the period as the review's outcome (approving office only)."""
    text = _note(note)
    doc, decision, current = _reviewable(ctx, doc_id)
    if level is not None and not level.classified:
        raise InvalidInput("To end secrecy, declassify the file.", code="use_declassify")
    if level is current:
        level = None
    if period is not None and period == documents.period_of(doc):
        period = None
    if level is None and period is None:
        raise InvalidInput("Nothing to change: confirm the file instead.", code="no_change")
    doc = documents.change_classification(ctx, doc.id, level=level, period=period, note=text)
    _done(ctx, doc, decision, "changed", text)
    return doc


def declassify(ctx: Ctx, doc_id: int, note: str | None = None) -> Document:
    """Declassify the file as the review's outcome (approving office only)."""
    text = _note(note)
    doc, decision, _level = _reviewable(ctx, doc_id)
    doc = documents.change_classification(ctx, doc.id, level=Level.INTERNAL, note=text)
    _done(ctx, doc, decision, "declassified", text)
    return doc
