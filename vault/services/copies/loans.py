"""The lending register (借出): loans, handing over and taking back.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from vault.actions import Action
from vault.errors import Conflict, Forbidden, NotFound
from vault.models import (
    Document,
    Loan,
)
from vault.services import accounts
from vault.services.context import Ctx
from vault.services.copies.common import (
    _keeps_loans,
    _note,
)
from vault.services.copies.delivery import (
    _collect,
)
from vault.services.copies.registers import (
    _register_scope,
)
from vault.services.copies.requests import (
    _reads_register_of,
)

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
    companies = _register_scope(ctx, company_id)
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
