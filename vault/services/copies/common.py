"""Shared by the copies modules: states, bounds, labels and copy numbers, the
policy's facts of a request, voiding an approval that no longer holds, and the
approvers of a request.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from vault import policy, stamping
from vault.actions import Action
from vault.errors import Conflict, InvalidInput, VaultError
from vault.models import (
    CopyRequest,
    Document,
    DocumentVersion,
    User,
    UserRole,
)
from vault.policy import CopyKind, Level
from vault.services import accounts, documents, notifications
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


def _keeps_loans(ctx: Ctx, doc: Document) -> policy.Decision:
    return policy.can_keep_loans(
        ctx.subject, doc.company_id, doc.company.is_hq,
        accounts.active_custodians(ctx.session, doc.company_id) > 0)
