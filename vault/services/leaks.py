"""Leak reports (泄密报告, SPEC.md §5).

Anyone signed in may report a suspected leak of anything (每个员工均有…制止他人泄密的
权利): by a document's id — whether or not they may know of it, and with the same
answer whether it exists or not —, by a copy number read off a page found outside,
or by a description alone (where and what was found). A copy number leads to its
document and its recipient even when the reporter may not know of that document —
and the reporter learns nothing from the answer: a known and an unknown copy
number are both simply "received" (the HQ executives are told either way, since a
number that matches no register line is itself a finding).

The report keeps a **trace snapshot** taken when it is made, built from the audit
trail and the registers: everyone who viewed, downloaded or exported the file (the
knowers, 知悉记录), every registered copy and its holder, every loan — with times.
The incident page shows that snapshot next to the trace recomputed at display.
Every HQ executive is notified at once (inbox, and mail when SMTP is configured);
the report's deadline is 24 hours after it was made (regulation: 立即向总公司领导
报告，以便及时采取补救措施). Reports are never deleted: there is no function,
route or command for it; an HQ executive marks one handled, with a note.

Who reads what is `policy.can_read_leak` / `can_investigate_leaks` /
`can_handle_leak`: HQ executives and compliance read every report with its trace;
a reporter reads the status of their own report, never the trace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from vault import policy
from vault.actions import Action
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import Document, LeakReport, Loan, RegisteredCopy, User
from vault.services import accounts, copies, documents, notifications
from vault.services.context import Ctx

OPEN, HANDLED = "open", "handled"
DEADLINE = timedelta(hours=24)
MAX_DESCRIPTION = 4000
MAX_NOTE = 2000
MAX_COPY_NUMBER = 100
#: Knowing events kept one by one in a trace (people are summarised in full).
MAX_EVENTS = 2000
#: The trace format, should it ever change.
TRACE_VERSION = 1


# ---------------------------------------------------------------------------
# Input


def _text(value: str | None, limit: int, code: str, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidInput(f"{what} is required.", code=f"{code}_required")
    if len(text) > limit or any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise InvalidInput(f"{what} must be at most {limit} printable characters.",
                           code=f"bad_{code}")
    return text


def _copy_number(value: str) -> str:
    text = value.strip()
    if len(text) > MAX_COPY_NUMBER or not text.isprintable():
        raise InvalidInput("Not a copy number; write it as printed on the copy, "
                           "e.g. 机密-2026-0042 副本 3.", code="bad_copy_number")
    copies.parse_label(text)  # the format only: InvalidInput bad_copy_number
    return text


# ---------------------------------------------------------------------------
# The trace


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _who(user: User | None) -> dict[str, str] | None:
    return None if user is None else {"username": user.username, "name": user.name}


def trace(ctx: Ctx, doc: Document) -> dict[str, Any]:
    """Who knew ``doc``, who holds its copies, who borrowed it — with times.

    Knowers come from the audit trail (allowed views, downloads, exports and copy
    downloads); a registered copy counts as a copy download of its recipient at its
    issue even where the trail files that event under the request."""
    events: list[dict[str, Any]] = [
        {"username": k.actor, "action": k.action, "at": k.ts}
        for k in ctx.infra.audit.knowers(ctx.session, doc.id)
    ]
    registered = list(ctx.session.scalars(
        select(RegisteredCopy).where(RegisteredCopy.document_id == doc.id)
        .order_by(RegisteredCopy.number)))
    seen = {(e["username"], e["action"], e["at"]) for e in events}
    for c in registered:
        key = (c.recipient.username, Action.COPY_DOWNLOAD.value, c.issued_at)
        if key not in seen:
            seen.add(key)
            events.append({"username": key[0], "action": key[1], "at": key[2]})
    events.sort(key=lambda e: e["at"])
    names = {u.username: u.name for u in ctx.session.scalars(
        select(User).where(User.username.in_({e["username"] for e in events})))}
    people: dict[str, dict[str, Any]] = {}
    for e in events:
        person = people.setdefault(e["username"], {
            "username": e["username"], "name": names.get(e["username"], e["username"]),
            "actions": [], "count": 0, "first_at": e["at"], "last_at": e["at"]})
        if e["action"] not in person["actions"]:
            person["actions"].append(e["action"])
        person["count"] += 1
        person["last_at"] = e["at"]
    loans = list(ctx.session.scalars(
        select(Loan).where(Loan.document_id == doc.id).order_by(Loan.id)))
    today = ctx.now.astimezone(ctx.settings.tz).date()
    level = documents.effective_level(ctx, doc)
    period = documents.period_of(doc) if level.classified else policy.NO_PERIOD
    return {
        "version": TRACE_VERSION,
        "computed_at": _iso(ctx.now),
        "document": {"id": doc.id, "title": doc.title, "category": doc.category,
                     "level": level.value, "marking": policy.marking(level, period, "zh"),
                     "company": doc.company.code},
        "knowers": [{**p, "first_at": _iso(p["first_at"]), "last_at": _iso(p["last_at"])}
                    for p in people.values()],
        "events": [{**e, "name": names.get(e["username"], e["username"]), "at": _iso(e["at"])}
                   for e in events[-MAX_EVENTS:]],
        "events_total": len(events),
        "copies": [{
            "id": c.id, "label": c.label, "number": c.number, "kind": c.kind,
            "recipient": _who(c.recipient), "approved_by": _who(c.approved_by),
            "issued_at": _iso(c.issued_at), "status": c.status,
            "closed_at": _iso(c.closed_at),
        } for c in registered],
        "loans": [{
            "id": loan.id, "borrower": _who(loan.borrower),
            "approved_by": _who(loan.approved_by), "approved_at": _iso(loan.approved_at),
            "due_on": loan.due_on.isoformat(), "lent_at": _iso(loan.lent_at),
            "returned_at": _iso(loan.returned_at), "state": copies.loan_state(loan, today),
        } for loan in loans],
    }


def _empty_trace(ctx: Ctx) -> dict[str, Any]:
    """The trace of a copy number that matches no register line."""
    return {"version": TRACE_VERSION, "computed_at": _iso(ctx.now), "document": None,
            "knowers": [], "events": [], "events_total": 0, "copies": [], "loans": []}


# ---------------------------------------------------------------------------
# Reporting


def hq_executives(ctx: Ctx) -> list[User]:
    """Every active HQ executive (the role counts only at the HQ company)."""
    return accounts.hq_executives(ctx.session)


def report(ctx: Ctx, *, document_id: int | None = None, copy_number: str | None = None,
           description: str | None) -> LeakReport:
    """Report a suspected leak of ``document_id`` or of the copy numbered
    ``copy_number``; returns the report (show the reporter only its receipt)."""
    subject = ctx.subject
    if not subject.active:
        raise Forbidden("A deactivated account cannot report.", code="inactive_user")
    number_text = copy_number.strip() if copy_number is not None else ""
    if document_id is not None and not 1 <= document_id <= 2**31 - 1:
        raise InvalidInput("A document number is a whole number as shown on its page.",
                           code="bad_document")
    if document_id is not None and number_text:
        raise InvalidInput("Name the document or the copy number found outside, not both "
                           "(or neither, and describe what was found).",
                           code="leak_target_required")
    text = _text(description, MAX_DESCRIPTION, "description", "A description")
    copy: RegisteredCopy | None = None
    doc: Document | None = None
    if document_id is not None:
        # Anyone may report anything (每个员工均有…制止他人泄密的权利): no scope check,
        # and the reporter learns nothing — an id that exists, one outside their scope
        # and one that does not exist get the same answer.
        doc = ctx.session.get(Document, document_id)
    elif number_text:
        number_text = _copy_number(number_text)
        doc_id, number = copies.parse_label(number_text)
        # No scope check here: the number leads to its copy whoever reports it, and
        # the reporter is told nothing of what it found.
        copy = ctx.session.scalar(select(RegisteredCopy).where(
            RegisteredCopy.document_id == doc_id, RegisteredCopy.number == number))
        doc = copy.document if copy is not None else None
    assert ctx.actor is not None
    leak = LeakReport(
        document_id=doc.id if doc is not None else None,
        copy_id=copy.id if copy is not None else None,
        copy_number=number_text or None, given_document_id=document_id,
        reporter_id=ctx.actor.id, reported_at=ctx.now,
        deadline_at=ctx.now + DEADLINE, description=text, status=OPEN,
    )
    ctx.session.add(leak)
    ctx.session.flush()
    snapshot = trace(ctx, doc) if doc is not None else _empty_trace(ctx)
    leak.trace_json = json.dumps(snapshot, ensure_ascii=False, sort_keys=True)
    level = documents.effective_level(ctx, doc).value if doc is not None else None
    ctx.record(Action.LEAK_REPORT, object_type="leak_report", object_id=str(leak.id),
               document_id=doc.id if doc is not None else None, level=level,
               reason="reported", detail={
                   "by": _by(document_id, number_text),
                   "copy_number": number_text or None,
                   "copy": copy.label if copy is not None else None,
                   "resolved": doc is not None,
                   "deadline_at": leak.deadline_at.isoformat(),
               })
    _notify(ctx, leak, doc, copy)
    return leak


def _notify(ctx: Ctx, leak: LeakReport, doc: Document | None,
            copy: RegisteredCopy | None) -> None:
    assert ctx.actor is not None
    deadline = leak.deadline_at.astimezone(ctx.settings.tz).strftime("%Y-%m-%d %H:%M")
    if doc is not None and copy is not None:
        what_zh = f"《{doc.title}》副本 {copy.label}（领取人 {copy.recipient.name}）"
        what_en = f"“{doc.title}”, copy {copy.label} (received by {copy.recipient.name})"
    elif doc is not None:
        what_zh, what_en = f"《{doc.title}》", f"“{doc.title}”"
    elif leak.given_document_id is not None:
        what_zh = f"文件编号 {leak.given_document_id}（无此文件）"
        what_en = f"document number {leak.given_document_id} (no such document)"
    elif not leak.copy_number:
        what_zh = "未指明文件或副本，见描述"
        what_en = "no document or copy named; see the description"
    else:
        what_zh = f"副本编号 {leak.copy_number}（登记簿中无此编号）"
        what_en = f"copy number {leak.copy_number} (not in any register)"
    notifications.notify(ctx, hq_executives(ctx), notifications.Message(
        kind="leak_report",
        subject_zh=f"泄密报告 #{leak.id}：{what_zh}，报告人 {ctx.actor.name}；"
                   f"请于 {deadline} 前处理",
        subject_en=f"Leak report #{leak.id}: {what_en}, reported by {ctx.actor.name}; "
                   f"act before {deadline}",
        link=f"/leaks/{leak.id}", document_id=doc.id if doc is not None else None,
    ), dedupe=f"leak:{leak.id}")


# ---------------------------------------------------------------------------
# Reading


def state(leak: LeakReport, now: datetime) -> str:
    """open, overdue (open past its deadline), handled, or handled_late."""
    if leak.status == HANDLED:
        late = leak.handled_at is not None and leak.handled_at > leak.deadline_at
        return "handled_late" if late else "handled"
    return "overdue" if now >= leak.deadline_at else "open"


def time_left(leak: LeakReport, now: datetime) -> timedelta:
    """Until the deadline (negative once it has passed)."""
    return leak.deadline_at - now


def snapshot(leak: LeakReport) -> dict[str, Any] | None:
    if not leak.trace_json:
        return None
    value = json.loads(leak.trace_json)
    return value if isinstance(value, dict) else None


def _by(document_id: int | None, copy_number: str | None) -> str:
    if document_id is not None:
        return "document"
    return "copy_number" if copy_number else "description"


def receipt(leak: LeakReport, now: datetime) -> dict[str, Any]:
    """What the reporter is told of their report: what they gave, when, the deadline
    and the status — never what a document id or copy number led to (nor whether it
    led anywhere), nor how it was handled."""
    return {
        "id": leak.id,
        "by": _by(leak.given_document_id, leak.copy_number),
        "document": leak.given_document_id,
        "copy_number": leak.copy_number,
        "description": leak.description,
        "reported_at": leak.reported_at,
        "deadline_at": leak.deadline_at,
        "status": leak.status,
        "state": state(leak, now),
    }


def summary(leak: LeakReport, now: datetime, full: bool) -> dict[str, Any]:
    """A report as plain data (ISO times) for lists, the CLI and the API: the receipt
    for its reporter; with the document, copy, reporter and handling for investigators."""
    out = receipt(leak, now)
    out["reported_at"] = _iso(leak.reported_at)
    out["deadline_at"] = _iso(leak.deadline_at)
    if not full:
        return out
    doc = leak.document
    out.update({
        "document": leak.document_id,
        "given_document": leak.given_document_id,
        "title": doc.title if doc is not None else None,
        "copy": leak.copy.label if leak.copy is not None else None,
        "reporter": _who(leak.reporter),
        "handled_at": _iso(leak.handled_at),
        "handled_by": _who(leak.handled_by),
        "handling_note": leak.handling_note,
    })
    return out


@dataclass
class LeakView:
    report: LeakReport
    state: str
    full: bool  # the reader sees the trace, the document and the handling note
    may_handle: bool
    snapshot: dict[str, Any] | None
    live: dict[str, Any] | None

    def describe(self, now: datetime) -> dict[str, Any]:
        """The report as plain data, with both traces for investigators."""
        out = summary(self.report, now, self.full)
        if self.full:
            out["trace"] = self.snapshot
            out["live_trace"] = self.live
        return out


def _load(ctx: Ctx, leak_id: int, action: Action) -> tuple[LeakReport, policy.Decision]:
    leak = ctx.session.get(LeakReport, leak_id)
    missing = NotFound(f"No leak report {leak_id}.", code="unknown_leak")
    if leak is None:
        raise ctx.refuse(missing, action, object_type="leak_report", object_id=str(leak_id))
    decision = policy.can_read_leak(ctx.subject, leak.reporter_id)
    if not decision.allowed:
        # Someone else's report: the same answer as none.
        raise ctx.refuse(missing, action, object_type="leak_report", object_id=str(leak_id),
                         reason=decision.reason.value)
    return leak, decision


def show(ctx: Ctx, leak_id: int) -> LeakView:
    """One report; with its trace (snapshot and recomputed) for investigators.
    Audited (leak:view)."""
    leak, decision = _load(ctx, leak_id, Action.LEAK_VIEW)
    full = policy.can_investigate_leaks(ctx.subject).allowed
    live = None
    if full and leak.document is not None:
        live = trace(ctx, leak.document)
    ctx.record(Action.LEAK_VIEW, object_type="leak_report", object_id=str(leak.id),
               document_id=leak.document_id if full else None, reason=decision.reason.value,
               detail={"trace": full})
    return LeakView(
        report=leak, state=state(leak, ctx.now), full=full,
        may_handle=leak.status == OPEN and policy.can_handle_leak(ctx.subject).allowed,
        snapshot=snapshot(leak) if full else None, live=live,
    )


def list_reports(ctx: Ctx, open_only: bool = False, limit: int = 500) -> list[LeakReport]:
    """Every report for investigators; one's own reports for everyone else. Newest first."""
    subject = ctx.subject
    stmt = select(LeakReport)
    everyone = policy.can_investigate_leaks(subject)
    if not everyone.allowed:
        stmt = stmt.where(LeakReport.reporter_id == subject.user_id)
    if open_only:
        stmt = stmt.where(LeakReport.status == OPEN)
    rows = list(ctx.session.scalars(stmt.order_by(LeakReport.id.desc()).limit(limit)))
    ctx.record(Action.LEAK_VIEW, object_type="leak_report", object_id="list",
               reason=everyone.reason.value if everyone.allowed else "own_reports",
               detail={"rows": len(rows), "open_only": open_only})
    return rows


# ---------------------------------------------------------------------------
# Handling


def handle(ctx: Ctx, leak_id: int, note: str | None) -> LeakReport:
    """An HQ executive records the remedial action and closes the incident (which
    stays on record: reports are never deleted)."""
    leak, _decision = _load(ctx, leak_id, Action.LEAK_HANDLE)
    decision = policy.can_handle_leak(ctx.subject)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("Leak reports are handled by the HQ executives.",
                                   code=decision.reason.value),
                         Action.LEAK_HANDLE, object_type="leak_report", object_id=str(leak.id))
    text = _text(note, MAX_NOTE, "note", "A note of the action taken")
    if leak.status != OPEN:
        raise Conflict("This leak report has already been handled.", code="already_handled")
    assert ctx.actor is not None
    leak.status, leak.handled_at, leak.handled_by_id = HANDLED, ctx.now, ctx.actor.id
    leak.handling_note = text
    ctx.session.flush()
    ctx.record(Action.LEAK_HANDLE, object_type="leak_report", object_id=str(leak.id),
               document_id=leak.document_id, reason="handled",
               detail={"overdue": ctx.now > leak.deadline_at,
                       "deadline_at": leak.deadline_at.isoformat()})
    return leak
