"""Follow-up visits (回访): scheduled by rule, recorded (《回访记录表》), reviewed by
the supervisor, and counted each month (《客户回访记录》).

- Closing a complaint, a repair or an emergency schedules the first visit due by
  `policy.follow_up_due_on` (3 days / 1 month); community events and move-ins
  are scheduled by hand (`schedule`). Who makes it is `policy.follow_up_owner`.
- A visit is on site (上门回访, the customer signs: a scanned sheet or a signature
  drawn in the browser, stored as an encrypted image document) or by telephone
  (电话回访, no signature). `policy.visit_method_allowed` says which is allowed.
- Unresolved at the visit: the next visit's date is set and a new visit falls due.
- The company's supervisor reviews each visit and signs an opinion.
- The monthly report counts, per type, visits due in the month and those made,
  the rate against the regulation's targets, and the share of requests received
  in the month that are closed; it goes to the company's leadership inbox.
Notes and opinions are sealed; every read and change is audited.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from vault import policy
from vault.actions import Action
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import Company, FollowUp, ServiceRequest, User, UserRole
from vault.policy import ComplaintGrade, FollowUpKind, Level, RequestKind, Role, VisitMethod
from vault.services import accounts, documents, notifications, requests, sealed, tenants
from vault.services.context import Ctx

MAX_NOTES = 5000
MAX_SUBJECT = 200
MAX_SIGNATURE = 5 * 1024 * 1024
MAX_LIST = 1000


def parse_kind(text: str) -> FollowUpKind:
    try:
        return FollowUpKind(str(text).strip())
    except ValueError:
        raise InvalidInput(f"Unknown follow-up type {str(text)[:32]!r}; types are: "
                           f"{', '.join(k.value for k in FollowUpKind)}.",
                           code="bad_follow_up_kind") from None


def parse_method(text: str) -> VisitMethod:
    try:
        return VisitMethod(str(text).strip())
    except ValueError:
        raise InvalidInput("The method is on_site or telephone.", code="bad_method") from None


def parse_month(text: str) -> date:
    try:
        year, month = (int(p) for p in str(text).strip().split("-"))
        if not 2000 <= year <= 2999:
            raise ValueError(year)
        return date(year, month, 1)
    except ValueError:
        raise InvalidInput("Give the month as YYYY-MM (e.g. 2026-11).", code="bad_month") from None


# ---------------------------------------------------------------------------
# Read models


@dataclass(frozen=True)
class VisitInfo:
    id: int
    company: str
    request_id: int | None
    request_number: str | None
    tenant_code: str | None
    tenant_name: str | None
    kind: str
    subject: str | None
    sequence: int
    owner_role: str
    trigger_on: date
    due_on: date
    status: str
    overdue: bool
    visited_on: date | None
    method: str | None
    visitor: str | None
    visitor_name: str | None
    resolved: bool | None
    notes: str | None
    signature_document_id: int | None
    reviewed_by: str | None
    reviewed_by_name: str | None
    reviewed_at: datetime | None
    opinion: str | None
    may_record: bool
    may_review: bool
    telephone_allowed: bool


def _facts(fu: FollowUp) -> policy.RequestFacts:
    req = fu.request
    return policy.RequestFacts(company_id=fu.company_id, department_id=fu.department_id,
                               handler_id=req.handler_id if req else None)


def _grade(fu: FollowUp) -> ComplaintGrade | None:
    return ComplaintGrade(fu.request.grade) if fu.request and fu.request.grade else None


def _today(ctx: Ctx) -> date:
    return ctx.now.astimezone(ctx.settings.tz).date()


def _info(ctx: Ctx, fu: FollowUp, content: bool) -> VisitInfo:
    subject = ctx.subject
    facts = _facts(fu)
    return VisitInfo(
        id=fu.id, company=fu.company.code, request_id=fu.request_id,
        request_number=fu.request.number if fu.request else None,
        tenant_code=fu.tenant.code if fu.tenant else None,
        tenant_name=fu.tenant.name if fu.tenant else None,
        kind=fu.kind, subject=fu.subject, sequence=fu.sequence, owner_role=fu.owner_role,
        trigger_on=fu.trigger_on, due_on=fu.due_on, status=fu.status,
        overdue=fu.status == "due" and fu.due_on < _today(ctx),
        visited_on=fu.visited_on, method=fu.method,
        visitor=fu.visitor.username if fu.visitor else None,
        visitor_name=fu.visitor.name if fu.visitor else None,
        resolved=fu.resolved,
        notes=sealed.open_(ctx, fu, "notes", fu.notes_sealed) if content else None,
        signature_document_id=fu.signature_document_id,
        reviewed_by=fu.reviewed_by.username if fu.reviewed_by else None,
        reviewed_by_name=fu.reviewed_by.name if fu.reviewed_by else None,
        reviewed_at=fu.reviewed_at,
        opinion=sealed.open_(ctx, fu, "opinion", fu.opinion_sealed) if content else None,
        may_record=fu.status == "due" and policy.can_follow_up(
            subject, facts, Role(fu.owner_role)).allowed,
        may_review=fu.status == "done" and fu.reviewed_at is None and policy.can_review_follow_up(
            subject, facts, fu.visitor_id).allowed,
        telephone_allowed=policy.visit_method_allowed(
            VisitMethod.TELEPHONE, fu.sequence, _grade(fu)).allowed,
    )


def _target(fu: FollowUp) -> dict[str, Any]:
    return {"object_type": "follow_up", "object_id": str(fu.id),
            "level": Level.CONFIDENTIAL.value}


def _load(ctx: Ctx, fu_id: int, action: Action) -> FollowUp:
    fu = ctx.session.get(FollowUp, fu_id) if 0 < fu_id < 2**31 else None
    if fu is None:
        raise ctx.refuse(NotFound(f"No follow-up visit {fu_id}.", code="unknown_follow_up"),
                         action, object_type="follow_up", object_id=str(fu_id),
                         reason="unknown_follow_up")
    decision = policy.can_read_request(ctx.subject, _facts(fu))
    if not decision.allowed:
        raise ctx.refuse(NotFound(f"No follow-up visit {fu_id}.", code="unknown_follow_up"),
                         action, **_target(fu), reason=decision.reason.value)
    return fu


# ---------------------------------------------------------------------------
# Scheduling


def _new(ctx: Ctx, *, company_id: int, department_id: int | None, kind: FollowUpKind,
         trigger: date, owner: Role, request: ServiceRequest | None = None,
         tenant_id: int | None = None, subject: str | None = None, sequence: int = 1,
         due_on: date | None = None) -> FollowUp:
    fu = FollowUp(company_id=company_id, department_id=department_id,
                  request_id=request.id if request else None,
                  tenant_id=tenant_id, kind=kind.value, subject=subject, sequence=sequence,
                  owner_role=owner.value, trigger_on=trigger,
                  due_on=due_on or policy.follow_up_due_on(kind, trigger), status="due",
                  created_at=ctx.now)
    ctx.session.add(fu)
    ctx.session.flush()
    ctx.record(Action.VISIT_SCHEDULE, **_target(fu), reason=kind.value,
               detail={"request": request.number if request else None, "sequence": sequence,
                       "due_on": fu.due_on.isoformat(), "owner": owner.value})
    return fu


def schedule_for_request(ctx: Ctx, req: ServiceRequest) -> FollowUp | None:
    """The first visit a closed request calls for by rule (None when none)."""
    kind = RequestKind(req.kind)
    fu_kind = policy.follow_up_kind(kind)
    if fu_kind is None or not policy.follow_up_needed(kind, req.anonymous, req.reply_only):
        return None
    grade = ComplaintGrade(req.grade) if req.grade else None
    closed = (req.closed_at or ctx.now).astimezone(ctx.settings.tz).date()
    return _new(ctx, company_id=req.company_id, department_id=req.department_id,
                kind=fu_kind, trigger=closed,
                owner=policy.follow_up_owner(fu_kind, grade), request=req,
                tenant_id=req.tenant_id)


def schedule(ctx: Ctx, *, kind: str, trigger_on: date, subject: str,
             tenant_code: str | None = None) -> FollowUp:
    """A visit after a community event or a move-in (入伙), or any other the rule
    names, scheduled by the company's customer-service people."""
    fu_kind = parse_kind(kind)
    text = requests._text(subject, "subject", "subject", MAX_SUBJECT, True)
    actor = ctx.actor
    if actor is None or not actor.active:
        raise Forbidden("Sign in first.", code="no_actor")
    dept = requests.service_department(ctx)
    dept_id = dept.id if dept else None
    decision = policy.can_follow_up(ctx.subject, policy.RequestFacts(actor.company_id, dept_id),
                                    Role.STAFF)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("Only the company's staff schedule follow-up visits.",
                                   code="not_follow_up_owner"),
                         Action.VISIT_SCHEDULE, object_type="follow_up", object_id=None,
                         reason=decision.reason.value)
    if not isinstance(trigger_on, date) or not date(2000, 1, 1) <= trigger_on <= _today(ctx):
        raise InvalidInput("The day of the event lies in the future or before 2000.",
                           code="bad_trigger_on")
    tenant = (tenants.get_tenant(ctx, tenant_code.strip(), Action.VISIT_SCHEDULE)
              if tenant_code else None)
    return _new(ctx, company_id=actor.company_id, department_id=dept_id, kind=fu_kind,
                trigger=trigger_on,
                owner=policy.follow_up_owner(fu_kind, None),
                tenant_id=tenant.id if tenant else None, subject=text)


# ---------------------------------------------------------------------------
# Recording a visit and reviewing it


def record_visit(
    ctx: Ctx,
    fu_id: int,
    *,
    method: str,
    visited_on: date,
    notes: str,
    resolved: bool,
    signature: bytes | None = None,
    signature_filename: str = "signature.png",
    next_visit_on: date | None = None,
) -> FollowUp:
    """Record the visit. On site needs the customer's signature (an image or a
    scanned sheet, stored as an encrypted document); by telephone none, and only
    where `policy.visit_method_allowed` allows it. Unresolved needs the next
    visit's date, which schedules the next visit."""
    fu = _load(ctx, fu_id, Action.VISIT_RECORD)
    how = parse_method(method)
    target = _target(fu)
    if fu.status != "due":
        raise ctx.refuse(Conflict("This visit is recorded already.", code="visit_recorded"),
                         Action.VISIT_RECORD, **target)
    decision = policy.can_follow_up(ctx.subject, _facts(fu), Role(fu.owner_role))
    if not decision.allowed:
        raise ctx.refuse(Forbidden("This follow-up is for someone else to make (by the "
                                   "complaint's grade).", code="not_follow_up_owner"),
                         Action.VISIT_RECORD, **target, reason=decision.reason.value)
    allowed = policy.visit_method_allowed(how, fu.sequence, _grade(fu))
    if not allowed.allowed:
        raise ctx.refuse(InvalidInput("This visit must be made on site.",
                                      code="on_site_required"),
                         Action.VISIT_RECORD, **target, reason=allowed.reason.value)
    text = requests._text(notes, "visit notes", "notes", MAX_NOTES, True)
    if not isinstance(visited_on, date) or not fu.trigger_on <= visited_on <= _today(ctx):
        raise InvalidInput("The visit day lies before the matter was handled or in the future.",
                           code="bad_visited_on")
    if how is VisitMethod.ON_SITE and not signature:
        raise InvalidInput("An on-site visit needs the customer's signature (drawn or a "
                           "scanned sheet).", code="signature_required")
    if how is VisitMethod.TELEPHONE and signature:
        raise InvalidInput("A telephone visit carries no signature.",
                           code="signature_on_telephone")
    if signature is not None and len(signature) > MAX_SIGNATURE:
        raise InvalidInput("The signature image is larger than 5 MiB.", code="bad_signature")
    if not resolved:
        if next_visit_on is None or next_visit_on <= visited_on:
            raise InvalidInput("Unresolved: set the next visit's date (after this visit).",
                               code="next_visit_required")
    elif next_visit_on is not None:
        raise InvalidInput("Resolved: no next visit is due.", code="next_visit_not_needed")
    assert ctx.actor is not None
    if signature:
        number = fu.request.number if fu.request else f"#{fu.id}"
        doc = documents.register(
            ctx, title=f"回访签名 {number} 第{fu.sequence}次",
            category=policy.Category.CUSTOMER_INFO, level=Level.CONFIDENTIAL, issued_on=visited_on,
            department_code=(fu.request.department.code
                             if fu.request and fu.request.department else None),
            tenant_code=fu.tenant.code if fu.tenant else None,
            content=io.BytesIO(signature), filename=signature_filename,
        )
        if not (doc.versions and (doc.versions[-1].media_type or "").startswith(
                ("image/", "application/pdf"))):
            raise InvalidInput("The signature must be an image or a scanned PDF.",
                               code="bad_signature")
        fu.signature_document_id = doc.id
    fu.method = how.value
    fu.visited_on = visited_on
    fu.visitor_id = ctx.actor.id
    fu.resolved = bool(resolved)
    fu.status = "done"
    fu.notes_sealed = sealed.seal(ctx, fu, "notes", text)
    ctx.session.flush()
    nxt = None
    if not resolved:
        assert next_visit_on is not None
        nxt = _new(ctx, company_id=fu.company_id, department_id=fu.department_id,
                   kind=FollowUpKind(fu.kind),
                   trigger=fu.trigger_on, owner=Role(fu.owner_role), request=fu.request,
                   tenant_id=fu.tenant_id, subject=fu.subject, sequence=fu.sequence + 1,
                   due_on=next_visit_on)
    ctx.record(Action.VISIT_RECORD, **target, reason=decision.reason.value,
               detail={"method": how.value, "visited_on": visited_on.isoformat(),
                       "resolved": bool(resolved), "signature": fu.signature_document_id,
                       "next": nxt.id if nxt else None})
    return fu


def review(ctx: Ctx, fu_id: int, opinion: str) -> FollowUp:
    """The supervisor's review of a recorded visit, with a signed opinion."""
    fu = _load(ctx, fu_id, Action.VISIT_REVIEW)
    target = _target(fu)
    if fu.status != "done":
        raise ctx.refuse(Conflict("Only a recorded visit can be reviewed.",
                                  code="visit_not_recorded"), Action.VISIT_REVIEW, **target)
    if fu.reviewed_at is not None:
        raise ctx.refuse(Conflict("This visit is reviewed already.", code="visit_reviewed"),
                         Action.VISIT_REVIEW, **target)
    decision = policy.can_review_follow_up(ctx.subject, _facts(fu), fu.visitor_id)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("Visits are reviewed by the company's supervisors, never "
                                   "by the visitor.", code=decision.reason.value),
                         Action.VISIT_REVIEW, **target, reason=decision.reason.value)
    text = requests._text(opinion, "review opinion", "opinion", MAX_NOTES, True)
    assert ctx.actor is not None
    fu.reviewed_by_id = ctx.actor.id
    fu.reviewed_at = ctx.now
    fu.opinion_sealed = sealed.seal(ctx, fu, "opinion", text)
    ctx.session.flush()
    ctx.record(Action.VISIT_REVIEW, **target, reason=decision.reason.value)
    return fu


# ---------------------------------------------------------------------------
# Reading


def show(ctx: Ctx, fu_id: int) -> VisitInfo:
    fu = _load(ctx, fu_id, Action.VISIT_VIEW)
    info = _info(ctx, fu, content=True)
    ctx.record(Action.VISIT_VIEW, **_target(fu), reason="view")
    return info


def describe(ctx: Ctx, fu: FollowUp) -> VisitInfo:
    return _info(ctx, fu, content=True)


def search(ctx: Ctx, *, status: str | None = None, request_id: int | None = None,
           limit: int = 200) -> list[VisitInfo]:
    """Visits the actor may read (no notes): due first by date, then the rest."""
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput(f"limit must be 1–{MAX_LIST}.", code="bad_limit")
    if status not in (None, "", "due", "done", "unreviewed"):
        raise InvalidInput("The status is due, done or unreviewed.", code="bad_status")
    stmt = select(FollowUp).order_by(FollowUp.due_on, FollowUp.id)
    if status in ("due", "done"):
        stmt = stmt.where(FollowUp.status == status)
    if status == "unreviewed":
        stmt = stmt.where(FollowUp.status == "done", FollowUp.reviewed_at.is_(None))
    if request_id is not None:
        stmt = stmt.where(FollowUp.request_id == request_id)
    subject = ctx.subject
    if not policy.reads_every_company(subject):
        stmt = stmt.where(FollowUp.company_id == subject.company_id)
    out = []
    for fu in ctx.session.scalars(stmt):
        if policy.can_read_request(subject, _facts(fu)).allowed:
            out.append(_info(ctx, fu, content=False))
            if len(out) >= limit:
                break
    ctx.record(Action.VISIT_VIEW, object_type="follow_up", object_id=None, reason="search",
               detail={"status": status, "found": len(out)})
    return out


# ---------------------------------------------------------------------------
# The monthly report (客户回访记录)


@dataclass(frozen=True)
class ReportLine:
    kind: str  # a FollowUpKind value, or "handling"
    due: int
    done: int
    rate: float | None  # per cent; None when nothing was due
    target: int | None
    met: bool | None


@dataclass(frozen=True)
class Report:
    company: str
    company_name: str
    month: str
    lines: tuple[ReportLine, ...]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["company", "month", "type", "due", "done", "rate_percent",
                         "target_percent", "met"])
        for ln in self.lines:
            writer.writerow([self.company, self.month, ln.kind, ln.due, ln.done,
                             "" if ln.rate is None else f"{ln.rate:.1f}",
                             "" if ln.target is None else ln.target,
                             "" if ln.met is None else ("yes" if ln.met else "no")])
        return out.getvalue()


def _line(kind: str, due: int, done: int) -> ReportLine:
    rate = None if due == 0 else round(100.0 * done / due, 1)
    target = policy.REPORT_TARGETS.get(kind)
    met = None if rate is None or target is None else rate >= target
    return ReportLine(kind, due, done, rate, target, met)


def report(ctx: Ctx, company_code: str, month: str) -> Report:
    """Per follow-up type: first visits falling due in the month and how many were
    made; and requests received in the month against those closed. Audited."""
    first = parse_month(month)
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    company = ctx.session.scalar(select(Company).where(Company.code == str(company_code).strip()))
    if company is None:
        raise ctx.refuse(NotFound(f"No company {str(company_code)[:32]!r}.",
                                  code="unknown_company"),
                         Action.VISIT_REPORT, object_type="company",
                         object_id=str(company_code)[:32], reason="unknown_company")
    decision = policy.can_read_follow_up_report(ctx.subject, company.id)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("The monthly follow-up report is for the company's "
                                   "leadership and supervisors.", code="not_report_reader"),
                         Action.VISIT_REPORT, object_type="company",
                         object_id=company.code, reason=decision.reason.value)
    visits = ctx.session.scalars(select(FollowUp).where(
        FollowUp.company_id == company.id, FollowUp.sequence == 1,
        FollowUp.due_on >= first, FollowUp.due_on < nxt)).all()
    lines = []
    for kind in policy.FollowUpKind:
        of_kind = [v for v in visits if v.kind == kind.value]
        lines.append(_line(kind.value, len(of_kind),
                           sum(1 for v in of_kind if v.status == "done")))
    tz = ctx.settings.tz
    start = datetime.combine(first, datetime.min.time(), tz)
    end = datetime.combine(nxt, datetime.min.time(), tz)
    received = ctx.session.scalars(select(ServiceRequest).where(
        ServiceRequest.company_id == company.id, ServiceRequest.legacy.is_(False),
        ServiceRequest.received_at >= start, ServiceRequest.received_at < end)).all()
    lines.append(_line("handling", len(received),
                       sum(1 for r in received if r.status == "closed")))
    ctx.record(Action.VISIT_REPORT, object_type="company", object_id=company.code,
               reason=decision.reason.value, detail={"month": first.strftime("%Y-%m")})
    return Report(company.code, company.name, first.strftime("%Y-%m"), tuple(lines))


def leadership(ctx: Ctx, company_id: int) -> list[User]:
    """The company's general managers (公司领导), who receive the monthly report."""
    stmt = (select(User).join(UserRole)
            .where(User.active.is_(True), User.company_id == company_id,
                   UserRole.role == Role.COMPANY_GM.value).order_by(User.id))
    return list(ctx.session.scalars(stmt).unique())


def send_report(ctx: Ctx, company_code: str, month: str) -> tuple[Report, int]:
    """Compile the report and put it in the leadership's inbox (once per month)."""
    rep = report(ctx, company_code, month)
    company = accounts.get_company(ctx.session, rep.company)
    summary_zh = "；".join(
        f"{ZH_KIND[ln.kind]} {ln.done}/{ln.due}"
        + ("" if ln.rate is None else f"（{ln.rate:.0f}%，目标 {ln.target}%）")
        for ln in rep.lines if ln.due)
    summary_en = "; ".join(
        f"{ln.kind} {ln.done}/{ln.due}"
        + ("" if ln.rate is None else f" ({ln.rate:.0f}%, target {ln.target}%)")
        for ln in rep.lines if ln.due)
    made = notifications.notify(ctx, leadership(ctx, company.id), notifications.Message(
        kind="follow_up_report",
        subject_zh=f"{rep.month} 客户回访记录（{rep.company}）：{summary_zh or '本月无回访'}",
        subject_en=f"Follow-up report {rep.month} ({rep.company}): {summary_en or 'none due'}",
        link=f"/visits/report?company={rep.company}&month={rep.month}",
    ), dedupe=f"follow_up_report:{rep.company}:{rep.month}")
    return rep, len(made)


ZH_KIND = {"complaint": "投诉", "repair": "维修", "event": "活动", "move_in": "入伙",
           "emergency": "突发事件", "handling": "处理"}


def due_notices(ctx: Ctx) -> dict[str, int]:
    """Remind the company's staff of visits due today or overdue (once per visit
    and due date). Run by `vault jobs run`."""
    today = _today(ctx)
    stmt = select(FollowUp).where(FollowUp.status == "due",
                                  FollowUp.due_on <= today + timedelta(days=1))
    counts = {"due": 0, "notices": 0}
    for fu in ctx.session.scalars(stmt):
        counts["due"] += 1
        people = [u for u in ctx.session.scalars(select(User).where(
            User.active.is_(True), User.company_id == fu.company_id)).all()
            if policy.can_follow_up(accounts.subject_of(u), _facts(fu),
                                    Role(fu.owner_role)).reason
            in (policy.Reason.OWNING_DEPARTMENT, policy.Reason.COMPANY_SUPERVISOR)
            or (fu.owner_role == Role.COMPANY_GM.value and Role.COMPANY_GM.value in u.roles)]
        label = fu.request.number if fu.request else (fu.subject or f"#{fu.id}")
        made = notifications.notify(ctx, people, notifications.Message(
            kind="follow_up_due",
            subject_zh=f"回访到期：{label} 第{fu.sequence}次回访应于 {fu.due_on} 前完成",
            subject_en=f"Follow-up due: visit {fu.sequence} of {label} by {fu.due_on}",
            link=f"/visits/{fu.id}",
        ), dedupe=f"follow_up_due:{fu.id}:{fu.due_on}")
        counts["notices"] += len(made)
    return counts
