"""Asking for a copy, excerpt, print, loan or classification change, and reading
requests (one, mine, to decide, a document's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import or_, select

from vault import policy, stamping
from vault.actions import Action
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import (
    CopyRequest,
    Document,
    Loan,
    RegisteredCopy,
    User,
)
from vault.policy import CopyKind, Level, Period
from vault.services import documents, notifications
from vault.services.context import Ctx
from vault.services.copies.common import (
    APPROVED,
    DELIVERING,
    KIND_EN,
    KIND_ZH,
    MAX_LOAN_DAYS,
    PENDING,
    _current_version,
    _event,
    _facts,
    _keeps_loans,
    _pages,
    _purpose,
    approvers_for,
    copy_facts,
    state,
    window_open,
)

# ---------------------------------------------------------------------------
# Asking


def request(
    ctx: Ctx,
    doc_id: int,
    kind: CopyKind,
    purpose: str | None,
    *,
    pages: str | None = None,
    new_level: Level | None = None,
    new_period: Period | None = None,
    due_on: date | None = None,
) -> CopyRequest:
    """Ask for a copy, excerpt, print, loan or classification change of ``doc_id``."""
    doc = documents.load(ctx, doc_id, Action.COPY_REQUEST)
    doc_facts = _facts(ctx, doc)
    subject = ctx.subject
    level = policy.effective_level(doc_facts, ctx.now)

    def refuse(error: Exception, reason: str) -> Exception:
        assert isinstance(error, (Forbidden, InvalidInput, Conflict))
        return ctx.refuse(error, Action.COPY_REQUEST, object_type="document",
                          object_id=str(doc.id), level=level.value, reason=reason,
                          detail={"kind": kind.value})

    decision = policy.can_request(subject, doc_facts, kind, ctx.now)
    if not decision.allowed:
        raise refuse(Forbidden(_REQUEST_REFUSALS.get(
            decision.reason, f"You may not ask for this ({decision.reason.value})."),
            code=decision.reason.value), decision.reason.value)
    route = policy.copy_route(doc_facts, kind, ctx.now, subject)
    if route.refused:
        raise refuse(Forbidden(f"This cannot be asked for ({route.reason.value}).",
                               code=route.reason.value), route.reason.value)
    if not route.required:
        raise refuse(InvalidInput(
            "This file needs no approval: download it directly from its page.",
            code="no_approval_needed"), "no_approval_needed")
    text = _purpose(purpose)
    version = _current_version(doc)
    fields: dict[str, Any] = {}
    # What is asked must exist (the rest of policy.can_ask was checked above).
    ask = policy.can_ask(subject, doc_facts, kind, version is not None, ctx.now)
    if ask.reason is policy.Reason.NO_CONTENT:
        raise refuse(InvalidInput(
            "This record is a paper original with no stored file; ask for a loan instead.",
            code="no_content"), "no_content")
    if kind in DELIVERING and version is None:  # a photocopy of a paper-only certificate
        if pages:
            raise InvalidInput("Pages are given only for an excerpt.", code="bad_pages")
    elif kind in DELIVERING:
        assert version is not None
        if kind is CopyKind.EXCERPT:
            if not stamping.can_stamp(version.media_type):
                raise refuse(InvalidInput(
                    "Excerpts are page ranges of PDF files and pictures; ask for a copy instead.",
                    code="excerpt_needs_pages"), "excerpt_needs_pages")
            fields["pages"] = stamping.pages_text(_pages(pages, None))
        elif pages:
            raise InvalidInput("Pages are given only for an excerpt.", code="bad_pages")
    elif pages:
        raise InvalidInput("Pages are given only for an excerpt.", code="bad_pages")
    if kind is CopyKind.LEND:
        if ask.reason is policy.Reason.NOTHING_TO_LEND:
            raise refuse(InvalidInput(
                "Only certificates and paper originals are lent; ask for a copy instead.",
                code="nothing_to_lend"), "nothing_to_lend")
        today = ctx.now.astimezone(ctx.settings.tz).date()
        if due_on is None or not policy.loan_due_ok(today, due_on):
            raise InvalidInput(
                f"Give the return date, from today up to {MAX_LOAN_DAYS} days ahead.",
                code="bad_due_date")
        fields["due_on"] = due_on
    elif due_on is not None:
        raise InvalidInput("A return date is given only for a loan.", code="bad_due_date")
    fields.update(_classification_fields(ctx, doc, doc_facts, level, kind, new_level, new_period))
    req = CopyRequest(
        document_id=doc.id, version_number=version.number if version else None,
        kind=kind.value, requester_id=subject.user_id, purpose=text,
        level_at_request=level.value, default_no=route.default_no, status=PENDING,
        created_at=ctx.now, **fields,
    )
    ctx.session.add(req)
    ctx.session.flush()
    ctx.record(Action.COPY_REQUEST, level=level.value, reason="requested",
               **_event(req, default_no=route.default_no,
                        approvers=[s.value for s in route.approvers]))
    approvers = approvers_for(ctx, req)
    kind_zh, kind_en = KIND_ZH[kind], KIND_EN[kind]
    assert ctx.actor is not None
    notifications.notify(ctx, approvers, notifications.Message(
        kind="request_pending",
        subject_zh=f"待审批：{ctx.actor.name} 申请{kind_zh}《{doc.title}》",
        subject_en=f"To decide: {ctx.actor.name} asks for a {kind_en} of “{doc.title}”",
        link=f"/copies/{req.id}", document_id=doc.id, request_id=req.id,
    ))
    return req


_REQUEST_REFUSALS = {
    policy.Reason.CANNOT_VIEW: "Only people who may read a file may ask for a copy of it.",
    policy.Reason.PERIOD_ALREADY_ENDED: (
        "The secrecy period has already ended; an extension must be asked for before the end."
    ),
    policy.Reason.NOT_RESPONSIBLE: (
        "Changes to a file's classification are asked for by its responsible supervisor, "
        "its drafter or an HQ executive."
    ),
}


def _classification_fields(
    ctx: Ctx, doc: Document, doc_facts: policy.DocumentFacts, level: Level, kind: CopyKind,
    new_level: Level | None, new_period: Period | None,
) -> dict[str, Any]:
    if kind is CopyKind.EXTEND:
        if new_period is None or new_period.kind == "none":
            raise InvalidInput("Give the new, longer period.", code="bad_period")
        documents._validate_period(doc.issued_on, new_period)
        old_end = policy.add_period(doc.issued_on, doc_facts.period)
        new_end = policy.add_period(doc.issued_on, new_period)
        if old_end is not None and new_end is not None and new_end <= old_end:
            raise InvalidInput("An extension must end later than the current period.",
                               code="not_longer")
        return {"new_period": new_period.spec(), "new_level": level.value}
    if kind is CopyKind.DOWNGRADE:
        if new_level is None or new_level.rank >= level.rank or not new_level.classified:
            raise InvalidInput(
                "A downgrade names a lower classified level (to end secrecy, ask to declassify).",
                code="bad_level")
        return {"new_level": new_level.value}
    if kind is CopyKind.DECLASSIFY:
        return {"new_level": Level.INTERNAL.value}
    if new_level is not None or new_period is not None:
        raise InvalidInput("A level or period is given only for a classification change.",
                           code="bad_level")
    return {}


# ---------------------------------------------------------------------------
# Reading requests


def _reads_register_of(ctx: Ctx, doc: Document) -> bool:
    """A register reader sees a file's requests, copies and loans only if they may
    know the file exists (a subsidiary GM never learns of its 绝密 files)."""
    subject = ctx.subject
    return (policy.can_read_register(subject, doc.company_id).allowed
            and policy.can_see_metadata(subject, _facts(ctx, doc), ctx.now).allowed)


def _load_request(ctx: Ctx, req_id: int, action: Action) -> CopyRequest:
    """The request, if the actor is its requester, can decide it now, decided it, or
    reads the owning company's registers (custodian, GM, HQ executive, compliance)."""
    req = ctx.session.get(CopyRequest, req_id)
    subject = ctx.subject
    missing = NotFound(f"No request {req_id}.", code="unknown_request")
    if req is None:
        raise ctx.refuse(missing, action, object_type="copy_request", object_id=str(req_id))
    if (subject.user_id in (req.requester_id, req.decided_by_id)
            or _reads_register_of(ctx, req.document)
            or policy.can_approve(subject, copy_facts(ctx, req), ctx.now).allowed):
        return req
    raise ctx.refuse(missing, action, object_type="copy_request", object_id=str(req_id))


@dataclass
class RequestView:
    request: CopyRequest
    state: str
    may_decide: bool
    decide_reason: str
    is_requester: bool
    may_download: bool
    approvers: list[User]
    history: list[RegisteredCopy]
    copy: RegisteredCopy | None
    loan: Loan | None
    may_issue: bool = False  # the custodian issues an approved paper photocopy


def show(ctx: Ctx, req_id: int) -> RequestView:
    """A request with what the actor may do with it (audited as a view of metadata)."""
    req = _load_request(ctx, req_id, Action.COPY_VIEW)
    subject = ctx.subject
    decision = policy.can_approve(subject, copy_facts(ctx, req), ctx.now)
    may_decide = req.status == PENDING and decision.allowed
    ctx.record(Action.COPY_VIEW, level=req.level_at_request, reason="shown", **_event(req))
    return RequestView(
        request=req, state=state(req, ctx.now), may_decide=may_decide,
        decide_reason=decision.reason.value,
        is_requester=subject.user_id == req.requester_id,
        may_download=(subject.user_id == req.requester_id and window_open(req, ctx.now)
                      and CopyKind(req.kind) in DELIVERING),
        approvers=approvers_for(ctx, req) if req.status == PENDING else [],
        history=requester_history(ctx, req.requester_id),
        copy=ctx.session.scalar(select(RegisteredCopy).where(RegisteredCopy.request_id == req.id)),
        loan=ctx.session.scalar(select(Loan).where(Loan.request_id == req.id)),
        may_issue=(req.status == APPROVED and req.kind == CopyKind.COPY.value
                   and req.version_number is None and _reads_register_of(ctx, req.document)
                   and _keeps_loans(ctx, req.document).allowed),
    )


def requester_history(ctx: Ctx, user_id: int, limit: int = 10) -> list[RegisteredCopy]:
    """The requester's recent registered copies (what an approver weighs)."""
    return list(ctx.session.scalars(
        select(RegisteredCopy).where(RegisteredCopy.recipient_id == user_id)
        .order_by(RegisteredCopy.id.desc()).limit(limit)
    ))


def mine(ctx: Ctx, limit: int = 100) -> list[CopyRequest]:
    assert ctx.actor is not None
    return list(ctx.session.scalars(
        select(CopyRequest).where(CopyRequest.requester_id == ctx.actor.id)
        .order_by(CopyRequest.id.desc()).limit(limit)
    ))


def to_decide(ctx: Ctx) -> list[CopyRequest]:
    """Pending requests the actor may decide now (checked one by one by the policy)."""
    subject = ctx.subject
    if not policy.may_approve_some(subject):
        return []
    pending = ctx.session.scalars(
        select(CopyRequest).where(CopyRequest.status == PENDING).order_by(CopyRequest.id)
    )
    return [r for r in pending
            if policy.can_approve(subject, copy_facts(ctx, r), ctx.now).allowed]


def pending_count(ctx: Ctx) -> int:
    return len(to_decide(ctx))


def requests_for_document(ctx: Ctx, doc_id: int) -> Sequence[CopyRequest]:
    """Requests on a document the actor may see (their own; all for register readers)."""
    doc = ctx.session.get(Document, doc_id)
    if doc is None:
        return []
    subject = ctx.subject
    stmt = select(CopyRequest).where(CopyRequest.document_id == doc_id)
    if not _reads_register_of(ctx, doc):
        stmt = stmt.where(or_(CopyRequest.requester_id == subject.user_id,
                              CopyRequest.decided_by_id == subject.user_id))
    return list(ctx.session.scalars(stmt.order_by(CopyRequest.id.desc())))
