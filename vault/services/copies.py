"""Copies, excerpts, prints, loans and classification-change requests (SPEC.md §3).

A request is bound at creation to its requester, document, version and kind and
routed to the approvers `policy.copy_route` names. A decision re-checks the
approver with `policy.can_approve` at that moment (never the requester, never
someone who lost the office). An approved copy yields one download within its
window; the download is numbered, stamped and written to the copy register in
the same unit of work as its audit event, before a byte leaves. An approved loan
opens a line in the lending register; an approved extension, downgrade or early
declassification changes the file and its classification history.

Approvers and custodians see a request's metadata, never the file's content.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update

from vault import policy, stamping
from vault.actions import Action
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound, VaultError
from vault.models import (
    ClassificationChange,
    CopyRequest,
    Document,
    DocumentVersion,
    Loan,
    RegisteredCopy,
    User,
    UserRole,
)
from vault.policy import CopyKind, Level, Period
from vault.services import accounts, documents, notifications
from vault.services.content import StoredVersion, open_version, read_version
from vault.services.context import Ctx

PENDING, APPROVED, REJECTED, CANCELLED, SPENT, VOID = (
    "pending", "approved", "rejected", "cancelled", "spent", "void",
)
ISSUED, RETURNED, DESTROYED = "issued", "returned", "destroyed"

#: Kinds that deliver a file (a registered copy).
DELIVERING = frozenset({CopyKind.COPY, CopyKind.EXCERPT, CopyKind.PRINT})
MAX_PURPOSE = 2000
#: A file is stamped in memory; larger stampable files are refused rather than
#: delivered unstamped (a PDF or picture this big is not a document scan).
MAX_STAMP_BYTES = 256 * 1024 * 1024
MAX_LOAN_DAYS = policy.MAX_LOAN_DAYS
MAX_PAGES_TEXT = 200  # the column's width

KIND_ZH = {
    CopyKind.COPY: "复制", CopyKind.EXCERPT: "摘抄", CopyKind.PRINT: "打印",
    CopyKind.LEND: "借出", CopyKind.EXTEND: "延长保密期限", CopyKind.DOWNGRADE: "降密",
    CopyKind.DECLASSIFY: "提前解密",
}
KIND_EN = {
    CopyKind.COPY: "copy", CopyKind.EXCERPT: "excerpt", CopyKind.PRINT: "print",
    CopyKind.LEND: "loan", CopyKind.EXTEND: "extension", CopyKind.DOWNGRADE: "downgrade",
    CopyKind.DECLASSIFY: "early declassification",
}


# ---------------------------------------------------------------------------
# Small helpers


def parse_kind(text: str) -> CopyKind:
    try:
        return CopyKind(text)
    except ValueError:
        raise InvalidInput(
            f"Unknown request kind {text!r}; kinds are: {', '.join(k.value for k in CopyKind)}.",
            code="unknown_kind",
        ) from None


def label(level: Level, doc: Document, number: int, lang: str = "zh") -> str:
    """The copy number as people write it: ``机密-2026-0042 副本 3``
    (``SECRET-2026-0042 copy 3``)."""
    lang_key = "en" if lang.startswith("en") else "zh"
    name = policy.LEVEL_LABELS[lang_key][level]
    word = "copy" if lang_key == "en" else "副本"
    return f"{name}-{doc.issued_on.year}-{doc.id:04d} {word} {number}"


_LABEL = re.compile(r"(\d{4})-(\d{1,9})\s*(?:副本|copy|no\.?|#)?\s*(\d{1,9})\s*$", re.IGNORECASE)


def parse_label(text: str) -> tuple[int, int]:
    """(document id, copy number) from ``机密-2026-0042 副本 3``, ``SECRET-2026-0042 copy 3``
    or ``42-3``."""
    text = text.strip()
    m = _LABEL.search(text)
    if m is not None:
        return int(m.group(2)), int(m.group(3))
    short = re.fullmatch(r"(\d{1,9})\s*[-/#]\s*(\d{1,9})", text)
    if short is not None:
        return int(short.group(1)), int(short.group(2))
    raise InvalidInput(
        "Not a copy number; write it as printed on the copy, e.g. 机密-2026-0042 副本 3.",
        code="bad_copy_number",
    )


def _purpose(text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidInput("State the purpose of the request.", code="purpose_required")
    if len(text) > MAX_PURPOSE or any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise InvalidInput(f"The purpose must be at most {MAX_PURPOSE} printable characters.",
                           code="bad_purpose")
    return text


def _pages(text: str | None, limit: int | None) -> tuple[int, ...]:
    try:
        pages = stamping.parse_pages(text or "", limit)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="bad_pages") from None
    if len(stamping.pages_text(pages)) > MAX_PAGES_TEXT:
        raise InvalidInput("Too many separate page ranges; join them into fewer ranges.",
                           code="bad_pages")
    return pages


def _note(text: str | None, limit: int = 1000) -> str | None:
    text = (text or "").strip()
    if len(text) > limit:
        raise InvalidInput(f"A note is at most {limit} characters.", code="bad_note")
    return text or None


def _facts(ctx: Ctx, doc: Document) -> policy.DocumentFacts:
    return documents.facts(doc, ctx.settings.tz)


def copy_facts(ctx: Ctx, req: CopyRequest) -> policy.CopyFacts:
    return policy.CopyFacts(_facts(ctx, req.document), CopyKind(req.kind), req.requester_id,
                            accounts.subject_of(req.requester))


def approval_facts(ctx: Ctx, req: CopyRequest) -> policy.ApprovalFacts:
    """The approval as `policy.can_collect` weighs it: the file as it is now, the
    approver as they are now."""
    return policy.ApprovalFacts(
        request=copy_facts(ctx, req), state=policy.RequestState(req.status),
        asked_level=Level(req.level_at_request),
        approver=accounts.subject_of(req.decided_by) if req.decided_by is not None else None,
        window_until=req.window_until,
    )


#: What a void request shows (zh in the web's catalogue), by `policy.Reason`.
VOID_STATES = {
    policy.Reason.VOID_RECLASSIFIED: "void: reclassified",
    policy.Reason.VOID_APPROVER_LOST_OFFICE: "void: approver lost the office",
    policy.Reason.VOID_REQUESTER_LOST_ACCESS: "void: requester may no longer read the file",
}
_VOID_ZH = {
    policy.Reason.VOID_RECLASSIFIED: "密级已变更",
    policy.Reason.VOID_APPROVER_LOST_OFFICE: "审批人已不再担任该职务",
    policy.Reason.VOID_REQUESTER_LOST_ACCESS: "申请人已无权知悉该文件",
}
_VOID_MESSAGES = {
    policy.Reason.VOID_RECLASSIFIED: (
        "This approval is void: the file was reclassified since it was asked for. "
        "Nothing was released; ask again if you still need it."),
    policy.Reason.VOID_APPROVER_LOST_OFFICE: (
        "This approval is void: its approver no longer holds the approving office. "
        "Nothing was released; ask again if you still need it."),
    policy.Reason.VOID_REQUESTER_LOST_ACCESS: (
        "This approval is void: the requester may no longer read the file. "
        "Nothing was released."),
}


def _void(ctx: Ctx, req: CopyRequest, reason: policy.Reason, approver: User | None,
          action: Action) -> VaultError:
    """The approval no longer holds: nothing is released; the request turns void
    (in the refusal's own transaction, so the rollback of the attempt keeps it),
    its requester and approver are told, and both the attempt and the voiding are
    audited. The requester may ask again."""
    req_id, approver_id = req.id, approver.id if approver is not None else None
    event = _event(req, void=reason.value)
    level = req.level_at_request

    def mark() -> None:
        row = ctx.session.get(CopyRequest, req_id)
        assert row is not None
        done = ctx.session.execute(
            update(CopyRequest)
            .where(CopyRequest.id == req_id, CopyRequest.status.in_([PENDING, APPROVED]))
            .values(status=VOID, void_reason=reason.value, voided_at=ctx.now)
            .execution_options(synchronize_session=False))
        if getattr(done, "rowcount", 0) != 1:
            return
        ctx.session.refresh(row)
        ctx.record(Action.COPY_VOID, level=level, reason=reason.value, **event)
        people = [row.requester]
        if approver_id is not None:
            people.append(ctx.session.get(User, approver_id) or row.requester)
        kind = CopyKind(row.kind)
        for person in dict.fromkeys(people):
            knows = policy.can_see_metadata(accounts.subject_of(person), _facts(ctx, row.document),
                                            ctx.now).allowed
            if knows:
                zh = (f"已作废：{row.requester.name} 的{KIND_ZH[kind]}申请《{row.document.title}》"
                      f"——{_VOID_ZH[reason]}；未发放任何内容，如仍需要请重新申请")
                en = (f"Void: {row.requester.name}'s {KIND_EN[kind]} request for "
                      f"“{row.document.title}” — {VOID_STATES[reason]}; nothing was released, "
                      "it may be asked again")
            else:
                # Not a word about a file the person may no longer know of.
                zh = f"已作废：第 {row.id} 号申请的批准已不再有效，未发放任何内容"
                en = (f"Void: the approval of request #{row.id} no longer holds; "
                      "nothing was released")
            notifications.notify(ctx, [person], notifications.Message(
                kind="request_void", subject_zh=zh, subject_en=en, link=f"/copies/{row.id}",
                document_id=row.document_id if knows else None, request_id=row.id))

    ctx.on_refusal(mark)
    error = Conflict(_VOID_MESSAGES[reason], code=reason.value)
    return ctx.refuse(error, action, level=level, **event)


def window_open(req: CopyRequest, now: datetime) -> bool:
    return req.status == APPROVED and req.window_until is not None and now < req.window_until


def state(req: CopyRequest, now: datetime) -> str:
    """The status as people read it: ``expired`` once an unused window has passed;
    ``void: reclassified`` (or another void reason) once an approval no longer held."""
    if req.status == VOID:
        return VOID_STATES.get(policy.Reason(req.void_reason or "void_reclassified"), "void")
    if (req.status == APPROVED and CopyKind(req.kind) in DELIVERING
            and req.window_until is not None and now >= req.window_until):
        return "expired"
    return req.status


def _event(req: CopyRequest, **detail: Any) -> dict[str, Any]:
    # document_id puts the event in the file's history, and a copy download among
    # the file's knowers (知悉记录).
    return {"object_type": "copy_request", "object_id": str(req.id),
            "document_id": req.document_id,
            "detail": {"document": req.document_id, "kind": req.kind, **detail}}


def _current_version(doc: Document) -> DocumentVersion | None:
    stored = [v for v in doc.versions if v.blob_id is not None]
    return stored[-1] if stored else None


def _approver_candidates(ctx: Ctx) -> list[User]:
    roles = sorted(r.value for r in policy.APPROVING_ROLES)
    stmt = (
        select(User).join(UserRole).where(User.active.is_(True), UserRole.role.in_(roles))
        .order_by(User.id)
    )
    return list(ctx.session.scalars(stmt).unique())


def approvers_for(ctx: Ctx, req: CopyRequest) -> list[User]:
    """The people who may decide ``req`` now."""
    request = copy_facts(ctx, req)
    return [
        u for u in _approver_candidates(ctx)
        if policy.can_approve(accounts.subject_of(u), request, ctx.now).allowed
    ]


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


# ---------------------------------------------------------------------------
# Deciding


def _decidable(ctx: Ctx, req_id: int, action: Action) -> CopyRequest:
    req = _load_request(ctx, req_id, action)
    decision = policy.can_approve(ctx.subject, copy_facts(ctx, req), ctx.now)
    if not decision.allowed:
        raise ctx.refuse(
            Forbidden(_DECIDE_REFUSALS.get(decision.reason,
                                           f"You may not decide this ({decision.reason.value})."),
                      code=decision.reason.value),
            action, level=req.level_at_request, reason=decision.reason.value, **_event(req))
    if req.status != PENDING:
        raise ctx.refuse(Conflict(f"This request is already {req.status}.", code="already_decided"),
                         action, level=req.level_at_request, reason="already_decided",
                         **_event(req))
    return req


_DECIDE_REFUSALS = {
    policy.Reason.REQUESTER_CANNOT_APPROVE: "Nobody may decide their own request.",
    policy.Reason.NOT_AN_APPROVER: "This request is decided by another office (see its route).",
}


def _claim(ctx: Ctx, req: CopyRequest, status: str, **values: Any) -> None:
    """Move a pending request on, once: a second decider at the same moment loses."""
    result = ctx.session.execute(
        update(CopyRequest).where(CopyRequest.id == req.id, CopyRequest.status == PENDING)
        .values(status=status, **values).execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict("This request was decided meanwhile.", code="already_decided")
    ctx.session.refresh(req)


def approve(
    ctx: Ctx, req_id: int, *, window_hours: int | None = None, pages: str | None = None,
    note: str | None = None,
) -> CopyRequest:
    """Approve, optionally with a shorter window or fewer pages (never more)."""
    req = _decidable(ctx, req_id, Action.COPY_APPROVE)
    # The rule of use holds at the decision too (a change is applied right here): a
    # request asked before the file was raised, or by someone who lost the right to
    # read it, is void rather than approved.
    holds = policy.approval_void(accounts.subject_of(req.requester), ctx.subject,
                                 copy_facts(ctx, req), Level(req.level_at_request), ctx.now)
    if not holds.allowed:
        raise _void(ctx, req, holds.reason, ctx.actor, Action.COPY_APPROVE)
    kind = CopyKind(req.kind)
    default_hours = ctx.settings.copy_window_hours
    if window_hours is not None and not 1 <= window_hours <= default_hours:
        raise InvalidInput(f"The download window is 1 to {default_hours} hours.",
                           code="bad_window")
    approved_pages = req.pages
    if pages:
        if kind is not CopyKind.EXCERPT:
            raise InvalidInput("Pages are approved only for an excerpt.", code="bad_pages")
        asked = set(_pages(req.pages, None))
        chosen = _pages(pages, None)
        if not set(chosen) <= asked:
            raise InvalidInput("Approve only pages that were asked for.", code="bad_pages")
        approved_pages = stamping.pages_text(chosen)
    note = _note(note, MAX_PURPOSE)
    assert ctx.actor is not None
    values: dict[str, Any] = {"decided_at": ctx.now, "decided_by_id": ctx.actor.id,
                              "decision_note": note, "approved_pages": approved_pages}
    if kind in DELIVERING and req.version_number is not None:
        values["window_until"] = ctx.now + timedelta(hours=window_hours or default_hours)
    _claim(ctx, req, APPROVED, **values)
    ctx.record(Action.COPY_APPROVE, level=req.level_at_request, reason="approved",
               **_event(req, window_until=req.window_until.isoformat()
                        if req.window_until else None, pages=approved_pages,
                        default_no=req.default_no))
    if kind is CopyKind.LEND:
        assert req.due_on is not None
        ctx.session.add(Loan(document_id=req.document_id, request_id=req.id,
                             borrower_id=req.requester_id, approved_by_id=ctx.actor.id,
                             approved_at=ctx.now, due_on=req.due_on))
    elif kind in policy.CLASSIFICATION_KINDS:
        _apply_classification(ctx, req)
    _tell_requester(ctx, req, approved=True)
    return req


def reject(ctx: Ctx, req_id: int, reason: str | None) -> CopyRequest:
    req = _decidable(ctx, req_id, Action.COPY_REJECT)
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("Give the reason for the rejection.", code="reason_required")
    if len(text) > MAX_PURPOSE:
        raise InvalidInput(f"The reason must be at most {MAX_PURPOSE} characters.",
                           code="bad_reason")
    assert ctx.actor is not None
    _claim(ctx, req, REJECTED, decided_at=ctx.now, decided_by_id=ctx.actor.id,
           decision_note=text)
    ctx.record(Action.COPY_REJECT, level=req.level_at_request, reason="rejected", **_event(req))
    _tell_requester(ctx, req, approved=False)
    return req


def cancel(ctx: Ctx, req_id: int) -> CopyRequest:
    """The requester withdraws a pending request."""
    req = _load_request(ctx, req_id, Action.COPY_CANCEL)
    if ctx.subject.user_id != req.requester_id:
        raise ctx.refuse(Forbidden("Only the requester may withdraw a request.",
                                   code="not_requester"), Action.COPY_CANCEL, **_event(req))
    if req.status != PENDING:
        raise Conflict(f"This request is already {req.status}.", code="already_decided")
    _claim(ctx, req, CANCELLED, decided_at=ctx.now)
    ctx.record(Action.COPY_CANCEL, level=req.level_at_request, reason="cancelled", **_event(req))
    notifications.settle(ctx, req.id)
    return req


def _tell_requester(ctx: Ctx, req: CopyRequest, approved: bool) -> None:
    notifications.settle(ctx, req.id)
    kind = CopyKind(req.kind)
    title = req.document.title
    if approved:
        zh = f"已批准：您的{KIND_ZH[kind]}申请《{title}》"
        en = f"Approved: your {KIND_EN[kind]} request for “{title}”"
        if req.window_until is not None:
            until = req.window_until.astimezone(ctx.settings.tz).strftime("%Y-%m-%d %H:%M")
            zh += f"，请于 {until} 前下载一次"
            en += f"; download it once before {until}"
    else:
        zh = f"未批准：您的{KIND_ZH[kind]}申请《{title}》"
        en = f"Rejected: your {KIND_EN[kind]} request for “{title}”"
    notifications.notify(ctx, [req.requester], notifications.Message(
        kind="request_decided", subject_zh=zh, subject_en=en, link=f"/copies/{req.id}",
        document_id=req.document_id, request_id=req.id,
    ))


def _apply_classification(ctx: Ctx, req: CopyRequest) -> None:
    """Carry out an approved extension, downgrade or early declassification."""
    doc = req.document
    doc_facts = _facts(ctx, doc)
    current = policy.effective_level(doc_facts, ctx.now)
    kind = CopyKind(req.kind)
    if kind is CopyKind.EXTEND and policy.period_ended(doc_facts, ctx.now):
        raise ctx.refuse(Forbidden("The period ended before the decision; it cannot be extended.",
                                   code="period_already_ended"),
                         Action.COPY_APPROVE, reason="period_already_ended", **_event(req))
    old_period = documents.period_of(doc)
    if kind is CopyKind.EXTEND:
        assert req.new_period is not None
        new_level, new_period = current, policy.parse_period(req.new_period)
        action = Action.DOCUMENT_PERIOD_CHANGE
    elif kind is CopyKind.DOWNGRADE:
        assert req.new_level is not None
        new_level, new_period = Level(req.new_level), old_period
        if new_level.rank >= current.rank:
            raise Conflict("The file is already at or below that level.", code="no_change")
        action = Action.DOCUMENT_LEVEL_CHANGE
    else:
        new_level, new_period = Level.INTERNAL, policy.NO_PERIOD
        action = Action.DOCUMENT_DECLASSIFY
    ctx.session.add(ClassificationChange(
        document_id=doc.id, at=ctx.now, actor_id=ctx.actor.id if ctx.actor else None,
        kind=kind.value, old_level=current.value, new_level=new_level.value,
        old_period=old_period.spec(), new_period=new_period.spec(),
        note=f"#{req.id}: {req.purpose}"[:1000],
    ))
    doc.level = new_level.value
    documents._set_period(doc, new_period, ctx.settings.tz)
    documents.level_changed(ctx, doc, current, new_level)
    ctx.record(action, object_type="document", object_id=str(doc.id), level=new_level.value,
               reason=kind.value, detail={"request": req.id,
                                          "from": f"{current.value} {old_period.spec()}",
                                          "to": f"{new_level.value} {new_period.spec()}"})


# ---------------------------------------------------------------------------
# Delivering a registered copy


@dataclass
class Delivery:
    copy: RegisteredCopy
    filename: str
    media_type: str
    size: int
    chunks: Iterator[bytes]


def _refuse_download(ctx: Ctx, req: CopyRequest | None, req_id: int, error: Exception,
                     reason: str) -> Exception:
    assert isinstance(error, (Forbidden, NotFound, Conflict))
    extra = _event(req) if req is not None else {"object_type": "copy_request",
                                                 "object_id": str(req_id)}
    return ctx.refuse(error, Action.COPY_DOWNLOAD, reason=reason, **extra)


def _collect(ctx: Ctx, req: CopyRequest, collector: policy.Subject, action: Action) -> None:
    """`policy.can_collect` at the moment of use: refused (and audited) for another
    person, a used or unapproved approval, a passed window; void (nothing released,
    the request marked void, requester and approver told) when it no longer holds."""
    decision = policy.can_collect(collector, approval_facts(ctx, req), ctx.now)
    if decision.allowed:
        return
    reason = decision.reason
    if reason in VOID_STATES:
        raise _void(ctx, req, reason, req.decided_by, action)
    error: VaultError
    if reason is policy.Reason.ALREADY_USED and action is Action.COPY_ISSUE:
        error = Conflict("This photocopy has been issued already.", code="already_issued")
    elif reason is policy.Reason.ALREADY_USED:
        error = Conflict("This approval has been used: an approved copy is downloaded once. "
                         "Ask again if you need another copy.", code="already_downloaded")
    elif reason is policy.Reason.WINDOW_OVER:
        error = Forbidden("The download window of this approval has passed. Ask again.",
                          code="window_expired")
    elif reason is policy.Reason.NOT_APPROVED:
        shown = state(req, ctx.now)
        error = Forbidden(f"This request is {shown}; only an approved request gives a copy.",
                          code="not_approved")
    else:  # inactive, or not the requester
        error = NotFound(f"No request {req.id}.", code="unknown_request")
    raise ctx.refuse(error, action, **_event(req))


def download(ctx: Ctx, req_id: int, lang: str = "zh") -> Delivery:
    """The one download an approval allows: numbered, stamped, registered, audited.

    Refused (and audited) for anyone but the requester, after the window, a second
    time, or when the requester may no longer read the file. The register row and
    the event are written in this unit of work; the caller commits, then sends.
    """
    req = ctx.session.get(CopyRequest, req_id)
    subject = ctx.subject
    if req is None or subject.user_id != req.requester_id:
        # Another person's approval is not theirs to use: the same answer as no request.
        raise _refuse_download(ctx, req, req_id,
                               NotFound(f"No request {req_id}.", code="unknown_request"),
                               "not_requester" if req is not None else "unknown_request")
    kind = CopyKind(req.kind)
    if kind not in DELIVERING:
        raise _refuse_download(ctx, req, req_id, Conflict(
            "This request delivers no file.", code="nothing_to_download"), "nothing_to_download")
    if req.version_number is None:
        raise _refuse_download(ctx, req, req_id, Conflict(
            "This is a photocopy of a paper original: the custodian issues it.",
            code="paper_copy"), "paper_copy")
    _collect(ctx, req, subject, Action.COPY_DOWNLOAD)
    doc = req.document
    doc_facts = _facts(ctx, doc)
    ver = next((v for v in doc.versions if v.number == req.version_number), None)
    if ver is None or ver.blob_id is None or ver.wrapped_key is None or not ver.master_key_id:
        raise _refuse_download(ctx, req, req_id, NotFound(
            "The approved version is no longer stored.", code="unknown_version"),
            "unknown_version")
    # Spend it first: of two downloads at the same moment exactly one goes on.
    spent = ctx.session.execute(
        update(CopyRequest).where(CopyRequest.id == req.id, CopyRequest.status == APPROVED)
        .values(status=SPENT, spent_at=ctx.now).execution_options(synchronize_session=False)
    )
    if getattr(spent, "rowcount", 0) != 1:
        raise _refuse_download(ctx, req, req_id, Conflict(
            "This approval has been used.", code="already_downloaded"), "already_downloaded")
    level = policy.effective_level(doc_facts, ctx.now)
    period = documents.period_of(doc) if level.classified else policy.NO_PERIOD
    number = int(ctx.session.scalar(
        select(func.coalesce(func.max(RegisteredCopy.number), 0))
        .where(RegisteredCopy.document_id == doc.id)
    ) or 0) + 1
    # The copy number carries the level of the original at issue (复印件视同原件).
    copy_label = label(level, doc, number)
    stored = StoredVersion.of(ver)
    media_type = ver.media_type or "application/octet-stream"
    stamped = stamping.can_stamp(media_type)
    pages = req.approved_pages or req.pages
    name = ver.original_name or f"document-{doc.id}"
    if stamped:
        if ver.size > MAX_STAMP_BYTES:
            raise InvalidInput("This file is too large to be stamped as a copy.",
                               code="too_large_to_stamp")
        assert ctx.actor is not None
        lines = stamp_lines(ctx, level, period, copy_label, ctx.actor)
        try:
            data, media_type = stamping.stamp(
                media_type, read_version(ctx, stored), stamping.Stamp(tuple(lines)),
                ctx.settings.font_file,
                pages=_pages(pages, None) if pages else None,
            )
        except stamping.StampError as exc:
            raise InvalidInput(f"The file cannot be stamped: {exc}", code="unstampable") from None
        digest, size = hashlib.sha256(data).hexdigest(), len(data)
        chunks: Iterator[bytes] = iter([data])
    else:
        # Cannot carry a visible mark: delivered as stored; the register keeps its fingerprint.
        h = hashlib.sha256()
        size = 0
        for chunk in open_version(ctx, stored):
            h.update(chunk)
            size += len(chunk)
        digest = h.hexdigest()
        chunks = open_version(ctx, stored)
    assert ctx.actor is not None
    copy = RegisteredCopy(
        document_id=doc.id, number=number, request_id=req.id, kind=kind.value,
        version_number=ver.number, pages=pages if kind is CopyKind.EXCERPT else None,
        recipient_id=ctx.actor.id, approved_by_id=req.decided_by_id, issued_at=ctx.now,
        level_at_issue=level.value, period_at_issue=period.spec() or None, label=copy_label,
        stamped=stamped, media_type=media_type, size=size, sha256=digest, status=ISSUED,
    )
    ctx.session.add(copy)
    ctx.session.flush()
    ctx.record(Action.COPY_DOWNLOAD, level=level.value, reason="released",
               **_event(req, copy=copy_label, copy_id=copy.id, sha256=digest,
                        stamped=stamped, version=ver.number, pages=copy.pages))
    return Delivery(copy, copy_filename(doc.title, name, number), media_type, size, chunks)


_UNSAFE_IN_NAMES = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def copy_filename(title: str, stored_name: str, number: int) -> str:
    """The copy's file name: the document's title (what people know it by), the copy
    number and the stored file's extension — ``2027年度经营计划 (副本 1).pdf``.
    Characters no file system takes become spaces; long titles are cut."""
    base = " ".join(_UNSAFE_IN_NAMES.sub(" ", title).split())[:120].strip(" .") or "document"
    _stem, dot, ext = stored_name.rpartition(".")
    ext = ext if dot and ext.isascii() and ext.isalnum() and len(ext) <= 8 else ""
    return f"{base} (副本 {number}).{ext.lower()}" if ext else f"{base} (副本 {number})"


def issue_photocopy(ctx: Ctx, req_id: int, note: str | None = None) -> RegisteredCopy:
    """The custodian issues an approved photocopy of a paper-only certificate: the copy
    register gets its row and copy number, which the custodian writes on the paper
    (复印件视同原件). The approval is checked again at this moment (`can_collect`
    for the requester, who receives it), exactly as for a download."""
    req = ctx.session.get(CopyRequest, req_id)
    missing = NotFound(f"No request {req_id}.", code="unknown_request")
    if req is None or not _reads_register_of(ctx, req.document):
        raise ctx.refuse(missing, Action.COPY_ISSUE, object_type="copy_request",
                         object_id=str(req_id))
    decision = _keeps_loans(ctx, req.document)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("Only the owning company's custodian issues photocopies "
                                   "(its general manager while it has none).",
                                   code=decision.reason.value), Action.COPY_ISSUE, **_event(req))
    if CopyKind(req.kind) is not CopyKind.COPY or req.version_number is not None:
        raise Conflict("This request is not for a photocopy of a paper original.",
                       code="not_a_photocopy")
    _collect(ctx, req, accounts.subject_of(req.requester), Action.COPY_ISSUE)
    spent = ctx.session.execute(
        update(CopyRequest).where(CopyRequest.id == req.id, CopyRequest.status == APPROVED)
        .values(status=SPENT, spent_at=ctx.now).execution_options(synchronize_session=False))
    if getattr(spent, "rowcount", 0) != 1:
        raise Conflict("This approval has been used.", code="already_issued")
    ctx.session.refresh(req)
    doc = req.document
    level = documents.effective_level(ctx, doc)
    period = documents.period_of(doc) if level.classified else policy.NO_PERIOD
    number = int(ctx.session.scalar(
        select(func.coalesce(func.max(RegisteredCopy.number), 0))
        .where(RegisteredCopy.document_id == doc.id)) or 0) + 1
    copy_label = label(level, doc, number)
    assert ctx.actor is not None
    copy = RegisteredCopy(
        document_id=doc.id, number=number, request_id=req.id, kind=CopyKind.COPY.value,
        version_number=0,  # the paper original: no stored version
        recipient_id=req.requester_id, approved_by_id=req.decided_by_id, issued_at=ctx.now,
        level_at_issue=level.value, period_at_issue=period.spec() or None, label=copy_label,
        stamped=False, media_type=None, size=0, sha256="", status=ISSUED,
        closed_note=None,
    )
    ctx.session.add(copy)
    ctx.session.flush()
    ctx.record(Action.COPY_ISSUE, level=level.value, reason="issued",
               **_event(req, copy=copy_label, copy_id=copy.id, paper=True,
                        recipient=req.requester.username, note=_note(note)))
    notifications.notify(ctx, [req.requester], notifications.Message(
        kind="copy_issued",
        subject_zh=f"已发放：《{doc.title}》复印件 {copy_label}，请到保管员处领取",
        subject_en=f"Issued: photocopy {copy_label} of “{doc.title}”; collect it from the "
                   "custodian",
        link=f"/copies/{req.id}", document_id=doc.id, request_id=req.id))
    return copy


def stamp_lines(ctx: Ctx, level: Level, period: Period, copy_label: str,
                recipient: User) -> list[str]:
    today = ctx.now.astimezone(ctx.settings.tz).strftime("%Y-%m-%d")
    return [
        policy.marking(level, period, "zh"),
        f"{copy_label}（复印件视同原件）",
        f"领取人 {recipient.name}（{recipient.username}）",
        f"{today}",
    ]


# ---------------------------------------------------------------------------
# The copy register


def _register_scope(ctx: Ctx, company_id: int | None, action: Action) -> list[int] | None:
    """Company ids the actor may read registers of (None: every company)."""
    subject = ctx.subject
    if policy.reads_every_company(subject):
        return None if company_id is None else [company_id]
    target = company_id if company_id is not None else subject.company_id
    decision = policy.can_read_register(subject, target)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("Registers are kept by custodians and read by the general "
                                   "manager, HQ executives and compliance.",
                                   code=decision.reason.value),
                         action, object_type="register", object_id=str(target))
    return [target]


def copy_register(ctx: Ctx, *, company_id: int | None = None, status: str | None = None,
                  document_id: int | None = None, limit: int = 500) -> list[RegisteredCopy]:
    companies = _register_scope(ctx, company_id, Action.REGISTER_VIEW)
    stmt = select(RegisteredCopy).join(Document)
    if companies is not None:
        stmt = stmt.where(Document.company_id.in_(companies))
    if status:
        if status not in (ISSUED, RETURNED, DESTROYED):
            raise InvalidInput("Status is issued, returned or destroyed.", code="bad_status")
        stmt = stmt.where(RegisteredCopy.status == status)
    if document_id is not None:
        stmt = stmt.where(RegisteredCopy.document_id == document_id)
    rows = [c for c in ctx.session.scalars(stmt.order_by(RegisteredCopy.id.desc()).limit(limit))
            if _reads_register_of(ctx, c.document)]
    ctx.record(Action.REGISTER_VIEW, object_type="register", object_id="copies",
               reason="shown", detail={"rows": len(rows), "status": status})
    return rows


def copy_level(ctx: Ctx, copy: RegisteredCopy) -> Level:
    """A copy's level now: it declassifies with its original."""
    return documents.effective_level(ctx, copy.document)


def lookup(ctx: Ctx, number_text: str) -> RegisteredCopy:
    """Given a copy number (as printed on the copy), who received it, who approved, when."""
    doc_id, number = parse_label(number_text)
    copy = ctx.session.scalar(select(RegisteredCopy).where(
        RegisteredCopy.document_id == doc_id, RegisteredCopy.number == number))
    subject = ctx.subject
    allowed = copy is not None and (
        _reads_register_of(ctx, copy.document) or subject.user_id == copy.recipient_id
    )
    if copy is None or not allowed:
        raise ctx.refuse(NotFound("No registered copy with that number.", code="unknown_copy"),
                         Action.COPY_LOOKUP, object_type="copy", object_id=number_text[:100])
    ctx.record(Action.COPY_LOOKUP, object_type="copy", object_id=str(copy.id),
               document_id=copy.document_id, level=copy.level_at_issue, reason="found",
               detail={"copy": copy.label, "document": copy.document_id})
    return copy


def close_copy(ctx: Ctx, copy_id: int, status: str, note: str | None = None) -> RegisteredCopy:
    """The custodian records that a copy came back (returned) or was destroyed."""
    action = {RETURNED: Action.COPY_RETURN, DESTROYED: Action.COPY_DESTROY}.get(status)
    if action is None:
        raise InvalidInput("A copy is either returned or destroyed.", code="bad_status")
    copy = ctx.session.get(RegisteredCopy, copy_id)
    subject = ctx.subject
    if copy is None or not _reads_register_of(ctx, copy.document):
        raise ctx.refuse(NotFound(f"No registered copy {copy_id}.", code="unknown_copy"),
                         action, object_type="copy", object_id=str(copy_id))
    decision = policy.can_keep_register(subject, copy.document.company_id)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("Only the owning company's custodian keeps the copy register.",
                                   code=decision.reason.value),
                         action, object_type="copy", object_id=str(copy_id))
    if copy.status != ISSUED:
        raise Conflict(f"Copy {copy.label} is already {copy.status}.", code="already_closed")
    assert ctx.actor is not None
    copy.status, copy.closed_at, copy.closed_by_id = status, ctx.now, ctx.actor.id
    copy.closed_note = _note(note)
    ctx.record(action, object_type="copy", object_id=str(copy.id), level=copy.level_at_issue,
               document_id=copy.document_id, reason=status,
               detail={"copy": copy.label, "document": copy.document_id})
    return copy


# ---------------------------------------------------------------------------
# The lending register


def loan_state(loan: Loan, today: date) -> str:
    if loan.returned_at is not None:
        return "returned"
    if loan.lent_at is None:
        return "approved"
    return "overdue" if today > loan.due_on else "lent"


def loans(ctx: Ctx, *, company_id: int | None = None, overdue: bool = False,
          open_only: bool = False, limit: int = 500) -> list[Loan]:
    companies = _register_scope(ctx, company_id, Action.REGISTER_VIEW)
    stmt = select(Loan).join(Document)
    if companies is not None:
        stmt = stmt.where(Document.company_id.in_(companies))
    today = ctx.now.astimezone(ctx.settings.tz).date()
    if overdue:
        stmt = stmt.where(Loan.returned_at.is_(None), Loan.lent_at.is_not(None),
                          Loan.due_on < today)
    elif open_only:
        stmt = stmt.where(Loan.returned_at.is_(None))
    rows = [ln for ln in ctx.session.scalars(stmt.order_by(Loan.due_on, Loan.id).limit(limit))
            if _reads_register_of(ctx, ln.document)]
    ctx.record(Action.REGISTER_VIEW, object_type="register", object_id="loans",
               reason="shown", detail={"rows": len(rows), "overdue": overdue})
    return rows


def _keeps_loans(ctx: Ctx, doc: Document) -> policy.Decision:
    return policy.can_keep_loans(
        ctx.subject, doc.company_id, doc.company.is_hq,
        accounts.active_custodians(ctx.session, doc.company_id) > 0)


def may_keep_loans(ctx: Ctx, doc: Document) -> bool:
    """Whether the actor hands over and takes back the company's originals (a display
    decision; `hand_over` and `return_loan` decide again)."""
    return _keeps_loans(ctx, doc).allowed


def _keep_loan(ctx: Ctx, loan_id: int, action: Action) -> Loan:
    loan = ctx.session.get(Loan, loan_id)
    if loan is None or not _reads_register_of(ctx, loan.document):
        raise ctx.refuse(NotFound(f"No loan {loan_id}.", code="unknown_loan"),
                         action, object_type="loan", object_id=str(loan_id))
    decision = _keeps_loans(ctx, loan.document)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("Only the owning company's custodian keeps the lending "
                                   "register (its general manager while it has none).",
                                   code=decision.reason.value),
                         action, object_type="loan", object_id=str(loan_id))
    return loan


def hand_over(ctx: Ctx, loan_id: int, note: str | None = None) -> Loan:
    """The custodian hands the original to the borrower."""
    loan = _keep_loan(ctx, loan_id, Action.LOAN_CREATE)
    if loan.lent_at is not None:
        raise Conflict("This loan was already handed over.", code="already_lent")
    # The approval is checked again as the original leaves the custodian's hands.
    _collect(ctx, loan.request, accounts.subject_of(loan.borrower), Action.LOAN_CREATE)
    assert ctx.actor is not None
    loan.lent_at, loan.lent_by_id = ctx.now, ctx.actor.id
    if note:
        loan.note = _note(note)
    ctx.record(Action.LOAN_CREATE, object_type="loan", object_id=str(loan.id),
               document_id=loan.document_id, reason="lent", detail={"document": loan.document_id,
                                      "borrower": loan.borrower.username,
                                      "due_on": loan.due_on.isoformat()})
    return loan


def return_loan(ctx: Ctx, loan_id: int, note: str | None = None) -> Loan:
    """The custodian records the original back."""
    loan = _keep_loan(ctx, loan_id, Action.LOAN_RETURN)
    if loan.lent_at is None:
        raise Conflict("This loan was never handed over.", code="not_lent")
    if loan.returned_at is not None:
        raise Conflict("This loan was already returned.", code="already_returned")
    assert ctx.actor is not None
    loan.returned_at, loan.returned_by_id = ctx.now, ctx.actor.id
    if note:
        loan.note = "\n".join(filter(None, [loan.note, _note(note)]))
    ctx.record(Action.LOAN_RETURN, object_type="loan", object_id=str(loan.id),
               document_id=loan.document_id, reason="returned",
               detail={"document": loan.document_id})
    return loan


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
