"""The copy register (登记簿): reading it, looking a copy up by its number, closing
a copy (returned, destroyed).
"""

from __future__ import annotations

from sqlalchemy import select

from vault import policy
from vault.actions import Action
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import (
    Document,
    RegisteredCopy,
)
from vault.policy import Level
from vault.services import documents, scope
from vault.services.context import Ctx
from vault.services.copies.common import (
    DESTROYED,
    ISSUED,
    RETURNED,
    _note,
    parse_label,
)
from vault.services.copies.requests import (
    _reads_register_of,
)

# ---------------------------------------------------------------------------
# The copy register


def _register_scope(ctx: Ctx, company_id: int | None) -> list[int] | None:
    """Company ids the actor may read registers of (None: every company)."""
    return scope.register_companies(
        ctx, company_id, "Registers are kept by custodians and read by the general manager, "
        "HQ executives and compliance.")


def copy_register(ctx: Ctx, *, company_id: int | None = None, status: str | None = None,
                  document_id: int | None = None, limit: int = 500) -> list[RegisteredCopy]:
    companies = _register_scope(ctx, company_id)
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
