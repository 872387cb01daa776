"""Deciding a request: approve (re-checked by `policy.can_approve` and
`policy.approval_void`), reject, cancel; applying an approved classification change.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from vault import policy, stamping
from vault.actions import Action
from vault.errors import Conflict, Forbidden, InvalidInput
from vault.models import (
    ClassificationChange,
    CopyRequest,
    Loan,
)
from vault.policy import CopyKind, Level
from vault.services import accounts, documents, notifications
from vault.services.context import Ctx
from vault.services.copies.common import (
    APPROVED,
    CANCELLED,
    DELIVERING,
    KIND_EN,
    KIND_ZH,
    MAX_PURPOSE,
    PENDING,
    REJECTED,
    _event,
    _facts,
    _note,
    _pages,
    _void,
    copy_facts,
)
from vault.services.copies.requests import (
    _load_request,
)

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
