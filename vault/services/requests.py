"""The request register (《诉求（需求）记录表》) and complaints (投诉).

A request record is numbered per company and year (``SZ-2026-0042``), belongs
to a company's customer-service department, names the tenant or an anonymous
caller, the channel, the type, when it was received, its handler and due time,
and moves open → in progress → closed with a reply. The content, the caller and
the reply are customer information (秘密): they are sealed in the row
(`vault.services.sealed`) and every read and change is an audit event.

A complaint carries a grade (一般/重要/重大) that names who follows up; a repeat of
the same complaint made to another department is a further *receipt* of the
one record (对同一问题多次投诉…应作一次记录). An anonymous or reply-only complaint
needs no follow-up but cannot close without its reply letter (复函), an encrypted
document linked to the record. Closing schedules the follow-up the rule asks
for (`vault.services.followups`).

Who sees and handles which record is `policy.can_read_request` /
`policy.can_handle_request`; out of scope looks like absent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true

from vault import policy
from vault.actions import Action, Outcome
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import (
    Department,
    Recording,
    RecordingArchive,
    RequestReceipt,
    ServiceRequest,
    Tenant,
    User,
)
from vault.policy import ComplaintGrade, Level, RequestKind, Role
from vault.services import accounts, documents, sealed, tenants
from vault.services.context import Ctx

CHANNELS = ("hotline", "visit", "meeting", "web", "letter")
STATUSES = ("open", "in_progress", "closed")
MAX_CONTENT = 10_000
MAX_CALLER = 200
MAX_VIA = 200
MAX_LIST = 1000
MAX_OFFSET = 10_000_000
#: A request's due time when none is given: an emergency the same day, the rest in 3 days.
DEFAULT_DUE = {RequestKind.EMERGENCY: timedelta(hours=24)}
DEFAULT_DUE_OTHER = timedelta(days=3)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(minutes=5)
NUMBER_RE = re.compile(r"[A-Za-z0-9_/-]{1,64}")
#: Why `vault jobs run` keeps a recording (录音存档记录表).
OVERDUE_REASON = "特殊事件未能及时处理完成（诉求逾期未处理） / request not handled in time"


# ---------------------------------------------------------------------------
# Checking input


def parse_kind(text: str) -> RequestKind:
    try:
        return RequestKind(str(text).strip())
    except ValueError:
        raise InvalidInput(f"Unknown request type {str(text)[:32]!r}; types are: "
                           f"{', '.join(k.value for k in RequestKind)}.",
                           code="bad_request_kind") from None


def parse_grade(text: str | None) -> ComplaintGrade | None:
    if text is None or str(text).strip() == "":
        return None
    try:
        return ComplaintGrade(str(text).strip())
    except ValueError:
        raise InvalidInput(f"Unknown complaint grade {str(text)[:32]!r}; grades are: "
                           f"{', '.join(g.value for g in ComplaintGrade)}.",
                           code="bad_grade") from None


def check_channel(text: str) -> str:
    value = str(text).strip()
    if value not in CHANNELS:
        raise InvalidInput(f"Unknown channel {value[:32]!r}; channels are: {', '.join(CHANNELS)}.",
                           code="bad_channel")
    return value


def check_status(text: str) -> str:
    value = str(text).strip()
    if value not in STATUSES:
        raise InvalidInput(f"Unknown status {value[:32]!r}; statuses are: {', '.join(STATUSES)}.",
                           code="bad_status")
    return value


def _moment(value: datetime, now: datetime, code: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput("The time needs its UTC offset (e.g. 2026-05-01T09:30+08:00).",
                           code=code)
    at = value.astimezone(UTC)
    if at < EARLIEST or at > now + timedelta(days=366 * 5):
        raise InvalidInput("The time lies outside 2000 and five years ahead.", code=code)
    return at


def _text(value: str | None, what: str, code: str, limit: int, required: bool) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise InvalidInput(f"State the {what}.", code=f"{code}_required")
        return None
    if len(text) > limit or any(not c.isprintable() and c not in "\n\t\r" for c in text):
        raise InvalidInput(f"The {what} must be at most {limit} printable characters.",
                           code=f"bad_{code}")
    return text


# ---------------------------------------------------------------------------
# Read models


@dataclass(frozen=True)
class Receipt:
    id: int
    received_at: datetime
    channel: str
    via: str | None
    note: str | None
    recorded_by: str | None


@dataclass(frozen=True)
class RecordingLink:
    document_id: int
    title: str
    called_at: datetime
    archived: bool
    purged: bool


@dataclass(frozen=True)
class RequestSummary:
    """A line of the register: no content."""

    id: int
    number: str
    company: str
    kind: str
    grade: str | None
    channel: str
    tenant_code: str | None
    tenant_name: str | None
    anonymous: bool
    received_at: datetime
    due_at: datetime | None
    handler: str | None
    handler_name: str | None
    status: str
    overdue: bool
    legacy: bool


@dataclass(frozen=True)
class RequestInfo:
    """One record with its content, for someone allowed to read it."""

    summary: RequestSummary
    department: str | None
    caller: str | None
    content: str | None
    reply: str | None
    reply_only: bool
    reply_letter_id: int | None
    reply_letter_required: bool
    follow_up_needed: bool
    follow_up_owner: str | None
    created_by: str | None
    closed_at: datetime | None
    closed_by: str | None
    receipts: tuple[Receipt, ...]
    recordings: tuple[RecordingLink, ...]
    follow_up_ids: tuple[int, ...]
    may_handle: bool


def facts(req: ServiceRequest) -> policy.RequestFacts:
    return policy.RequestFacts(company_id=req.company_id, department_id=req.department_id,
                               handler_id=req.handler_id)


def _overdue(req: ServiceRequest, now: datetime) -> bool:
    return req.status != "closed" and req.due_at is not None and req.due_at < now


def summary_of(req: ServiceRequest, now: datetime) -> RequestSummary:
    return RequestSummary(
        id=req.id, number=req.number, company=req.company.code, kind=req.kind, grade=req.grade,
        channel=req.channel, tenant_code=req.tenant.code if req.tenant else None,
        tenant_name=req.tenant.name if req.tenant else None, anonymous=req.anonymous,
        received_at=req.received_at, due_at=req.due_at,
        handler=req.handler.username if req.handler else None,
        handler_name=req.handler.name if req.handler else None,
        status=req.status, overdue=_overdue(req, now), legacy=req.legacy,
    )


def _info(ctx: Ctx, req: ServiceRequest) -> RequestInfo:
    from vault.models import FollowUp

    kind = RequestKind(req.kind)
    grade = ComplaintGrade(req.grade) if req.grade else None
    fu_kind = policy.follow_up_kind(kind)
    needed = policy.follow_up_needed(kind, req.anonymous, req.reply_only)
    recs = ctx.session.scalars(select(Recording).where(Recording.request_id == req.id)
                               .order_by(Recording.called_at)).all()
    archived = set(ctx.session.scalars(select(RecordingArchive.document_id).where(
        RecordingArchive.document_id.in_([r.document_id for r in recs]))))
    tz = ctx.settings.tz
    visible = [r for r in recs if policy.can_see_metadata(
        ctx.subject, documents.facts(r.document, tz), ctx.now).allowed]
    follow_ups = ctx.session.scalars(select(FollowUp.id).where(FollowUp.request_id == req.id)
                                     .order_by(FollowUp.sequence, FollowUp.id)).all()
    return RequestInfo(
        summary=summary_of(req, ctx.now),
        department=req.department.code if req.department else None,
        caller=sealed.open_(ctx, req, "caller", req.caller_sealed),
        content=sealed.open_(ctx, req, "content", req.content_sealed),
        reply=sealed.open_(ctx, req, "reply", req.reply_sealed),
        reply_only=req.reply_only, reply_letter_id=req.reply_letter_id,
        reply_letter_required=policy.reply_letter_required(kind, req.anonymous, req.reply_only),
        follow_up_needed=needed,
        follow_up_owner=(policy.follow_up_owner(fu_kind, grade).value
                         if needed and fu_kind is not None else None),
        created_by=req.created_by.username if req.created_by else None,
        closed_at=req.closed_at, closed_by=req.closed_by.username if req.closed_by else None,
        receipts=tuple(
            Receipt(r.id, r.received_at, r.channel, r.via,
                    sealed.open_(ctx, req, f"receipt{r.id}.note", r.note_sealed),
                    r.recorded_by.username if r.recorded_by else None)
            for r in req.receipts),
        recordings=tuple(RecordingLink(r.document_id, r.document.title, r.called_at,
                                       r.document_id in archived, r.purged_at is not None)
                         for r in visible),
        follow_up_ids=tuple(follow_ups),
        may_handle=policy.can_handle_request(ctx.subject, facts(req)).allowed,
    )


# ---------------------------------------------------------------------------
# Loading with the scope check


def _target(req: ServiceRequest) -> dict[str, Any]:
    return {"object_type": "request", "object_id": str(req.id), "level": Level.CONFIDENTIAL.value}


def _unknown(ref: object) -> NotFound:
    return NotFound(f"No request record {str(ref)[:64]!r}.", code="unknown_request")


def load(ctx: Ctx, ref: int | str, action: Action, handle: bool = False) -> ServiceRequest:
    """The record with id ``ref`` (or number, in the actor's company) if the actor may
    read it (``handle``: handle it); otherwise `NotFound` / `Forbidden`, audited."""
    req: ServiceRequest | None = None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        num = int(ref)
        if 0 < num < 2**31:
            req = ctx.session.get(ServiceRequest, num)
    elif isinstance(ref, str) and NUMBER_RE.fullmatch(ref.strip()):
        candidates = ctx.session.scalars(
            select(ServiceRequest).where(ServiceRequest.number == ref.strip())
            .order_by(ServiceRequest.id)).all()
        own = [c for c in candidates if c.company_id == ctx.subject.company_id]
        found = own or candidates
        req = found[0] if found else None
    shown = str(ref)[:64]
    if req is None:
        raise ctx.refuse(_unknown(shown), action, object_type="request", object_id=shown,
                         reason="unknown_request")
    read = policy.can_read_request(ctx.subject, facts(req))
    if not read.allowed:
        raise ctx.refuse(_unknown(shown), action, **_target(req), reason=read.reason.value)
    if handle:
        decision = policy.can_handle_request(ctx.subject, facts(req))
        if not decision.allowed:
            raise ctx.refuse(Forbidden("You may read this request record but not handle it.",
                                       code="not_request_keeper"),
                             action, **_target(req), reason=decision.reason.value)
    return req


# ---------------------------------------------------------------------------
# Recording


def _next_number(ctx: Ctx, company_id: int, code: str, year: int) -> tuple[int, str]:
    top = ctx.session.scalar(select(func.max(ServiceRequest.seq)).where(
        ServiceRequest.company_id == company_id, ServiceRequest.year == year))
    seq = int(top or 0) + 1
    while True:
        number = f"{code}-{year}-{seq:04d}"
        clash = ctx.session.scalar(select(ServiceRequest.id).where(
            ServiceRequest.company_id == company_id, ServiceRequest.number == number))
        if clash is None:
            return seq, number
        seq += 1


def service_department(ctx: Ctx) -> Department | None:
    """The actor's company's customer-service department (``VAULT_SERVICE_DEPARTMENT``),
    else the actor's own."""
    actor = ctx.actor
    assert actor is not None
    dept = ctx.session.scalar(select(Department).where(
        Department.company_id == actor.company_id,
        Department.code == ctx.settings.service_department))
    return dept or actor.department


def _department(ctx: Ctx, code: str | None) -> Department | None:
    """The department keeping the record: the one named, else `service_department`."""
    actor = ctx.actor
    assert actor is not None
    if code is None or not code.strip():
        return service_department(ctx)
    return accounts.get_department(ctx.session, actor.company, code.strip())


def _handler(ctx: Ctx, username: str | None, company_id: int) -> User | None:
    if username is None or not username.strip():
        return None
    user = ctx.session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active or user.company_id != company_id:
        raise InvalidInput(f"No active colleague {username.strip()[:64]!r} in this company to "
                           "handle the request.", code="bad_handler")
    return user


def create(
    ctx: Ctx,
    *,
    kind: str,
    channel: str,
    content: str,
    received_at: datetime | None = None,
    tenant_code: str | None = None,
    caller: str | None = None,
    grade: str | None = None,
    reply_only: bool = False,
    handler: str | None = None,
    due_at: datetime | None = None,
    department_code: str | None = None,
) -> ServiceRequest:
    """Record a request in the actor's company (and department unless named).

    Without a tenant the caller is anonymous (an optional free-text caller may
    still be noted, sealed). A complaint needs a grade; other types carry none.
    """
    actor = ctx.actor
    if actor is None or not actor.active:
        raise Forbidden("Sign in first.", code="no_actor")
    rkind = parse_kind(kind)
    chan = check_channel(channel)
    rgrade = parse_grade(grade)
    if rkind is RequestKind.COMPLAINT and rgrade is None:
        raise InvalidInput("A complaint needs its grade (normal, important, major).",
                           code="grade_required")
    if rkind is not RequestKind.COMPLAINT and (rgrade is not None or reply_only):
        raise InvalidInput("Only a complaint carries a grade or asks for a reply letter only.",
                           code="grade_not_complaint")
    text = _text(content, "request's content", "content", MAX_CONTENT, True)
    caller_text = _text(caller, "caller", "caller", MAX_CALLER, False)
    received = _moment(received_at, ctx.now, "bad_received_at") if received_at else ctx.now
    if received > ctx.now + FUTURE_SLACK:
        raise InvalidInput("The time received lies in the future.", code="bad_received_at")
    due = (_moment(due_at, ctx.now, "bad_due_at") if due_at
           else received + DEFAULT_DUE.get(rkind, DEFAULT_DUE_OTHER))
    if due < received:
        raise InvalidInput("The due time lies before the time received.", code="bad_due_at")
    dept = _department(ctx, department_code)
    company = actor.company
    decision = policy.can_handle_request(
        ctx.subject, policy.RequestFacts(company.id, dept.id if dept else None))
    if not decision.allowed:
        raise ctx.refuse(Forbidden("Only the company's customer-service staff, supervisors and "
                                   "general manager record requests.", code="not_request_keeper"),
                         Action.REQUEST_CREATE, object_type="request", object_id=None,
                         reason=decision.reason.value)
    tenant: Tenant | None = None
    if tenant_code:
        tenant = tenants.get_tenant(ctx, tenant_code.strip(), Action.REQUEST_CREATE)
    who = _handler(ctx, handler, company.id)
    year = received.astimezone(ctx.settings.tz).year
    seq, number = _next_number(ctx, company.id, company.code, year)
    req = ServiceRequest(
        number=number, year=year, seq=seq, company_id=company.id,
        department_id=dept.id if dept else None, tenant_id=tenant.id if tenant else None,
        anonymous=tenant is None, channel=chan, kind=rkind.value,
        grade=rgrade.value if rgrade else None, reply_only=bool(reply_only),
        received_at=received, due_at=due, handler_id=who.id if who else None,
        status="open", created_by_id=actor.id, created_at=ctx.now, legacy=False,
    )
    ctx.session.add(req)
    ctx.session.flush()
    req.content_sealed = sealed.seal(ctx, req, "content", text)
    req.caller_sealed = sealed.seal(ctx, req, "caller", caller_text)
    ctx.session.add(RequestReceipt(request_id=req.id, received_at=received, channel=chan,
                                   recorded_by_id=actor.id))
    ctx.session.flush()
    ctx.record(Action.REQUEST_CREATE, **_target(req), reason=decision.reason.value,
               detail={"number": number, "kind": rkind.value, "channel": chan,
                       "grade": req.grade, "tenant": tenant.code if tenant else None,
                       "handler": who.username if who else None})
    return req


def link_legacy(ctx: Ctx, company_id: int, department_id: int | None, tenant_id: int | None,
                number: str, received_at: datetime) -> ServiceRequest:
    """The record a recording's reference names in its company; a legacy record
    (content never recorded in Vault) when there is none yet — as the migration did."""
    req = ctx.session.scalar(select(ServiceRequest).where(
        ServiceRequest.company_id == company_id, ServiceRequest.number == number))
    if req is not None:
        return req
    req = ServiceRequest(
        number=number, company_id=company_id, department_id=department_id, tenant_id=tenant_id,
        anonymous=tenant_id is None, channel="hotline", kind=RequestKind.ENQUIRY.value,
        reply_only=False, received_at=received_at, status="open", legacy=True,
        created_by_id=ctx.actor.id if ctx.actor else None, created_at=ctx.now,
    )
    ctx.session.add(req)
    ctx.session.flush()
    return req


# ---------------------------------------------------------------------------
# Reading


def show(ctx: Ctx, ref: int | str) -> RequestInfo:
    """One record with its content; audited ``request:view``."""
    req = load(ctx, ref, Action.REQUEST_VIEW)
    info = _info(ctx, req)
    ctx.record(Action.REQUEST_VIEW, **_target(req),
               reason=policy.can_read_request(ctx.subject, facts(req)).reason.value,
               detail={"number": req.number})
    return info


def describe(ctx: Ctx, req: ServiceRequest) -> RequestInfo:
    """The record the caller holds (just written in this unit of work)."""
    return _info(ctx, req)


def readable(subject: policy.Subject) -> ColumnElement[bool]:
    """`policy.can_read_request` as a SQL condition, so the register is filtered and
    paged by the database: group-wide for HQ executives and compliance; in the
    person's company, all of it for its GM and supervisors, else the records of their
    department (the customer-service department keeping them) and those they handle.
    tests/integration/test_service_records.py checks it against the rule for
    everyone."""
    if not subject.active:
        return false()
    if policy.reads_every_company(subject):
        return true()
    own = ServiceRequest.company_id == subject.company_id
    mine = ServiceRequest.handler_id == subject.user_id
    if subject.has(Role.COMPANY_GM) or subject.has(Role.SUPERVISOR):
        return or_(mine, own)
    if subject.department_id is None:
        return mine
    return or_(mine, and_(own, ServiceRequest.department_id == subject.department_id))


def search(
    ctx: Ctx,
    *,
    status: str | None = None,
    kind: str | None = None,
    tenant_code: str | None = None,
    overdue: bool = False,
    limit: int = 200,
    offset: int = 0,
) -> list[RequestSummary]:
    """Register lines the actor may read, newest first, ``limit`` from ``offset`` —
    scope, filters, order and paging all in SQL; audited ``request:list``."""
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput(f"limit must be 1–{MAX_LIST}.", code="bad_limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"offset must be 0–{MAX_OFFSET}.", code="bad_offset")
    subject = ctx.subject
    stmt = (select(ServiceRequest).where(readable(subject))
            .order_by(ServiceRequest.received_at.desc(), ServiceRequest.id.desc()))
    if status:
        stmt = stmt.where(ServiceRequest.status == check_status(status))
    if kind:
        stmt = stmt.where(ServiceRequest.kind == parse_kind(kind).value)
    if tenant_code:
        tenant = tenants.get_tenant(ctx, tenant_code.strip(), Action.REQUEST_LIST)
        stmt = stmt.where(ServiceRequest.tenant_id == tenant.id)
    if overdue:
        stmt = stmt.where(ServiceRequest.status != "closed", ServiceRequest.due_at.is_not(None),
                          ServiceRequest.due_at < ctx.now)
    rows = ctx.session.scalars(stmt.limit(limit).offset(offset)).all()
    # Each row is still decided by its own rule (the SQL only narrows).
    out = [summary_of(r, ctx.now) for r in rows
           if policy.can_read_request(subject, facts(r)).allowed]
    ctx.record(Action.REQUEST_LIST, object_type="request", object_id=None, reason="search",
               detail={"status": status, "kind": kind, "tenant": tenant_code,
                       "overdue": overdue, "offset": offset, "found": len(out)})
    return out


# ---------------------------------------------------------------------------
# Handling


def start(ctx: Ctx, ref: int | str, handler: str | None = None) -> ServiceRequest:
    """Take the request in hand (open → in progress), optionally naming its handler."""
    req = load(ctx, ref, Action.REQUEST_UPDATE, handle=True)
    if req.status == "closed":
        raise ctx.refuse(Conflict("This request is closed.", code="request_closed"),
                         Action.REQUEST_UPDATE, **_target(req))
    who = _handler(ctx, handler, req.company_id)
    before = (req.status, req.handler.username if req.handler else None)
    if who is not None:
        req.handler_id = who.id
    elif req.handler_id is None:
        assert ctx.actor is not None
        req.handler_id = ctx.actor.id
    req.status = "in_progress"
    ctx.session.flush()
    ctx.session.refresh(req)
    ctx.record(Action.REQUEST_UPDATE, **_target(req), reason="in_progress",
               detail={"number": req.number, "before": list(before),
                       "handler": req.handler.username if req.handler else None})
    return req


def add_receipt(ctx: Ctx, ref: int | str, *, channel: str, via: str | None = None,
                note: str | None = None, received_at: datetime | None = None) -> RequestReceipt:
    """The same complaint again, made to another department: one more receipt of
    the one record (not a new record)."""
    req = load(ctx, ref, Action.REQUEST_RECEIPT, handle=True)
    if req.kind != RequestKind.COMPLAINT.value:
        raise ctx.refuse(InvalidInput("Only a complaint gathers repeated receipts.",
                                      code="receipt_not_complaint"),
                         Action.REQUEST_RECEIPT, **_target(req))
    chan = check_channel(channel)
    via_text = _text(via, "department complained to", "via", MAX_VIA, False)
    note_text = _text(note, "note", "note", MAX_CONTENT, False)
    received = _moment(received_at, ctx.now, "bad_received_at") if received_at else ctx.now
    row = RequestReceipt(request_id=req.id, received_at=received, channel=chan, via=via_text,
                         recorded_by_id=ctx.actor.id if ctx.actor else None)
    ctx.session.add(row)
    ctx.session.flush()
    row.note_sealed = sealed.seal(ctx, req, f"receipt{row.id}.note", note_text)
    ctx.session.flush()
    ctx.record(Action.REQUEST_RECEIPT, **_target(req), reason="repeated_complaint",
               detail={"number": req.number, "receipt": row.id, "channel": chan, "via": via_text})
    return row


def attach_reply_letter(ctx: Ctx, ref: int | str, content: BinaryIO, filename: str,
                        title: str | None = None) -> int:
    """File the reply letter (复函) of a request as an encrypted document (a letter at
    秘密, the request's department and tenant) and link it. Returns the document id."""
    req = load(ctx, ref, Action.REQUEST_UPDATE, handle=True)
    if req.status == "closed":
        raise ctx.refuse(Conflict("This request is closed.", code="request_closed"),
                         Action.REQUEST_UPDATE, **_target(req))
    doc = documents.register(
        ctx, title=title.strip() if title and title.strip() else f"复函 {req.number}",
        category=policy.Category.LETTER, level=Level.CONFIDENTIAL,
        department_code=req.department.code if req.department else None,
        tenant_code=req.tenant.code if req.tenant else None,
        supervisor=req.handler, content=content, filename=filename,
    )
    req.reply_letter_id = doc.id
    ctx.session.flush()
    ctx.record(Action.REQUEST_UPDATE, **_target(req), reason="reply_letter",
               detail={"number": req.number, "document": doc.id})
    return doc.id


def close(ctx: Ctx, ref: int | str, reply: str) -> ServiceRequest:
    """Close with the reply given to the customer; schedules the follow-up the rule
    asks for. A complaint needing a reply letter cannot close without it."""
    from vault.services import followups

    req = load(ctx, ref, Action.REQUEST_CLOSE, handle=True)
    text = _text(reply, "reply", "reply", MAX_CONTENT, True)
    if req.status == "closed":
        raise ctx.refuse(Conflict("This request is closed already.", code="request_closed"),
                         Action.REQUEST_CLOSE, **_target(req))
    kind = RequestKind(req.kind)
    if policy.reply_letter_required(kind, req.anonymous, req.reply_only) \
            and req.reply_letter_id is None:
        raise ctx.refuse(Conflict("An anonymous or reply-only complaint closes only with its "
                                  "reply letter attached.", code="reply_letter_required"),
                         Action.REQUEST_CLOSE, **_target(req))
    assert ctx.actor is not None
    req.reply_sealed = sealed.seal(ctx, req, "reply", text)
    req.status = "closed"
    req.closed_at = ctx.now
    req.closed_by_id = ctx.actor.id
    if req.handler_id is None:
        req.handler_id = ctx.actor.id
    ctx.session.flush()
    fu = followups.schedule_for_request(ctx, req)
    ctx.record(Action.REQUEST_CLOSE, **_target(req), reason="closed",
               detail={"number": req.number, "follow_up": fu.id if fu else None})
    return req


# ---------------------------------------------------------------------------
# Requests left open past due: their recordings are kept (the job)


def archive_overdue_recordings(ctx: Ctx) -> dict[str, int]:
    """For every request still open past its due time (特殊事件未能及时处理完成), put
    its recordings that are neither archived nor purged into the 录音存档记录表 with
    that reason, so the retention purge keeps them. Idempotent; by the system."""
    now = ctx.now
    stmt = (
        select(Recording)
        .join(ServiceRequest, ServiceRequest.id == Recording.request_id)
        .where(ServiceRequest.status != "closed", ServiceRequest.due_at.is_not(None),
               ServiceRequest.due_at < now, Recording.purged_at.is_(None))
        .order_by(Recording.called_at, Recording.document_id)
    )
    counts = {"overdue_requests": 0, "archived": 0}
    seen: set[int] = set()
    for rec in ctx.session.scalars(stmt).all():
        exists = ctx.session.scalar(select(RecordingArchive.id).where(
            RecordingArchive.document_id == rec.document_id))
        req = ctx.session.get(ServiceRequest, rec.request_id)
        assert req is not None
        if req.id not in seen:
            seen.add(req.id)
            counts["overdue_requests"] += 1
        if exists is not None:
            continue
        assert req.due_at is not None
        due = req.due_at.astimezone(ctx.settings.tz)
        event = f"诉求 {req.number} 逾期未处理（应于 {due:%Y-%m-%d %H:%M} 前处理）"
        ctx.session.add(RecordingArchive(document_id=rec.document_id, archived_by_id=None,
                                         archived_at=now, reason=OVERDUE_REASON, event=event))
        ctx.session.flush()
        counts["archived"] += 1
        ctx.record(Action.RECORDING_ARCHIVE, Outcome.ALLOWED, object_type="document",
                   object_id=str(rec.document_id),
                   level=documents.effective_level(ctx, rec.document).value,
                   reason="request_overdue",
                   detail={"request": req.number, "request_id": req.id,
                           "due_at": req.due_at.isoformat()})
    return counts
