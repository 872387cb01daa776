"""Outgoing letters with seal approval (对外发文与用章申请) and open letters (公开信).

"所有通知函件需统一使用对外发文模版": administrators keep the letter templates
(letterhead and closing, `policy.can_manage_letter_templates`). A letter is drafted
from a template and its fields (addressee, subject, body, date); its PDF is drawn in
memory with the CJK font (`service_pdf.letter_pdf`) and registered as an encrypted
document of category ``letter`` of the drafter's company and department — so who
may know and read it follows the document rules, as for every file.

"对外发文需经领导同意，提交用章申请并获得批准后至总经办盖章": a seal request (用章申请)
is decided step by step along `policy.seal_route` — the owning department's manager,
then the general manager (a subsidiary GM's own letter: an HQ executive) — each step
by whoever holds that office now (`policy.can_decide_seal`), told through the inbox
as copy requests are. The last approval marks the letter sealed (已用印, who and
when); a refusal, with its reason, returns it to draft. Only a sealed letter gets
recipients (`policy.can_send_letter`, checked again by `notices.set_recipients`), and
its sign-offs are then tracked as every notice's are.

An open letter (公开信) is a letter answering a common issue, attached to several
request records; it is kept in the follow-up archive (回访档案) and shown on each
request's page.

Every read and change is audited (``letter:*``, ``seal:*``).
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select

from vault import policy
from vault.actions import Action
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import (
    Company,
    Department,
    Letter,
    LetterRequest,
    LetterTemplate,
    SealDecision,
    SealRequest,
    ServiceRequest,
    User,
    UserRole,
)
from vault.policy import ApproverScope, Category, Level
from vault.services import accounts, documents, notices, notifications, requests
from vault.services.context import Ctx

KINDS = ("letter", "open")
MAX_NAME = 200
MAX_HEAD = 1000
MAX_TITLE = 200
MAX_ADDRESSEE = 200
MAX_BODY = 20_000
MAX_PURPOSE = 2000
MAX_ATTACHED = 200
MAX_LIST = 1000
PENDING, APPROVED, REJECTED, CANCELLED = "pending", "approved", "rejected", "cancelled"
DRAFT, SEALED = "draft", "sealed"

SCOPE_NAMES = {
    ApproverScope.OWNING_DEPT_MANAGER.value: ("部门经理", "department manager"),
    ApproverScope.OWNING_COMPANY_GM.value: ("总经理", "general manager"),
    ApproverScope.HQ_EXECUTIVES.value: ("总公司领导", "HQ executive"),
}


# ---------------------------------------------------------------------------
# Read models


@dataclass(frozen=True)
class TemplateRow:
    id: int
    name: str
    company: str | None  # company code; None: the whole group
    letterhead: str
    closing: str
    active: bool


@dataclass(frozen=True)
class DecisionRow:
    step: int
    scope: str
    decided_by: str
    decided_at: datetime
    approved: bool
    note: str | None


@dataclass(frozen=True)
class SealRow:
    id: int
    letter_id: int
    letter_number: str
    letter_title: str
    requester: str
    purpose: str
    route: tuple[str, ...]
    step: int
    status: str
    created_at: datetime
    decided_at: datetime | None
    decisions: tuple[DecisionRow, ...]

    @property
    def awaiting(self) -> str | None:
        """The office whose decision is awaited (None once decided)."""
        return self.route[self.step] if self.status == PENDING else None


@dataclass(frozen=True)
class LetterRow:
    id: int
    number: str
    kind: str
    title: str
    document_id: int
    company: str
    status: str
    drafter: str
    created_at: datetime
    sealed_by: str | None
    sealed_at: datetime | None


@dataclass(frozen=True)
class LetterView:
    letter: LetterRow
    template: str
    seals: tuple[SealRow, ...]
    requests: tuple[tuple[int, str], ...]  # (request id, number) an open letter answers
    may_request_seal: bool
    may_decide: bool
    may_send: bool
    may_attach: bool
    recipients: int


# ---------------------------------------------------------------------------
# Helpers


def _clean(value: str | None, what: str, code: str, limit: int, required: bool = True,
           multiline: bool = False) -> str:
    text = (value or "").strip()
    if not text:
        if required:
            raise InvalidInput(f"Give the {what}.", code=f"{code}_required")
        return ""
    allowed = "\n\t" if multiline else ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > limit or any(
            (unicodedata.category(c) == "Cc" and c not in allowed) for c in text):
        raise InvalidInput(f"The {what} must be at most {limit} printable characters.",
                           code=f"bad_{code}")
    return text


def _letter_row(letter: Letter) -> LetterRow:
    return LetterRow(
        id=letter.id, number=letter.number, kind=letter.kind, title=letter.document.title,
        document_id=letter.document_id, company=letter.company.code, status=letter.status,
        drafter=letter.drafter.name, created_at=letter.created_at,
        sealed_by=letter.sealed_by.name if letter.sealed_by else None,
        sealed_at=letter.sealed_at)


def _seal_row(seal: SealRequest) -> SealRow:
    return SealRow(
        id=seal.id, letter_id=seal.letter_id, letter_number=seal.letter.number,
        letter_title=seal.letter.document.title, requester=seal.requester.name,
        purpose=seal.purpose, route=tuple(seal.route.split(",")), step=seal.step,
        status=seal.status, created_at=seal.created_at, decided_at=seal.decided_at,
        decisions=tuple(DecisionRow(d.step, d.scope, d.decided_by.name, d.decided_at,
                                    d.approved, d.note) for d in seal.decisions))


def _event(letter: Letter, **detail: object) -> dict[str, Any]:
    return {"object_type": "letter", "object_id": str(letter.id),
            "document_id": letter.document_id,
            "detail": {"number": letter.number, **detail}}


def _seal_event(seal: SealRequest, **detail: object) -> dict[str, Any]:
    return {"object_type": "seal_request", "object_id": str(seal.id),
            "document_id": seal.letter.document_id,
            "detail": {"letter": seal.letter.number, "step": seal.step, **detail}}


def letter_facts(letter: Letter) -> policy.LetterFacts:
    return policy.LetterFacts(company_id=letter.company_id,
                              company_is_hq=letter.company.is_hq,
                              department_id=letter.department_id)


def _doc_facts(ctx: Ctx, letter: Letter) -> policy.DocumentFacts:
    return documents.facts(letter.document, ctx.settings.tz)


# ---------------------------------------------------------------------------
# Templates (administrators)


def _template_row(t: LetterTemplate) -> TemplateRow:
    return TemplateRow(t.id, t.name, t.company.code if t.company else None, t.letterhead,
                       t.closing, t.active)


def check_manager(ctx: Ctx, action: Action = Action.LETTER_TEMPLATE) -> None:
    """Refuse (audited) unless the actor keeps the templates."""
    decision = policy.can_manage_letter_templates(ctx.subject)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("Letter templates are kept by administrators.",
                                   code=decision.reason.value), action,
                         object_type="letter_template", reason=decision.reason.value)


def _company(ctx: Ctx, code: str | None) -> Company | None:
    if not code or not code.strip():
        return None
    company = ctx.session.scalar(select(Company).where(Company.code == code.strip()[:32]))
    if company is None:
        raise InvalidInput("No such company.", code="unknown_company")
    return company


def save_template(ctx: Ctx, *, name: str, letterhead: str, closing: str,
                  company_code: str | None = None, template_id: int | None = None,
                  active: bool = True) -> TemplateRow:
    """Add a template (or change ``template_id``); audited ``letter:template``."""
    check_manager(ctx)
    fields = {
        "name": _clean(name, "template's name", "template_name", MAX_NAME),
        "letterhead": _clean(letterhead, "letterhead", "letterhead", MAX_HEAD, multiline=True),
        "closing": _clean(closing, "closing (sender)", "closing", MAX_HEAD, multiline=True),
    }
    company = _company(ctx, company_code)
    if template_id is None:
        assert ctx.actor is not None
        tpl = LetterTemplate(**fields, company_id=company.id if company else None,
                             active=active, created_by_id=ctx.actor.id, created_at=ctx.now)
        ctx.session.add(tpl)
    else:
        found = ctx.session.get(LetterTemplate, template_id) if 0 < template_id < 2**31 else None
        if found is None:
            raise NotFound("No such letter template.", code="unknown_template")
        tpl = found
        for key, value in fields.items():
            setattr(tpl, key, value)
        tpl.company_id = company.id if company else None
        tpl.active = active
        tpl.updated_at = ctx.now
    ctx.session.flush()
    ctx.session.refresh(tpl)
    ctx.record(Action.LETTER_TEMPLATE, object_type="letter_template", object_id=str(tpl.id),
               reason="added" if template_id is None else "changed",
               detail={"name": tpl.name, "company": company.code if company else None,
                       "active": active})
    return _template_row(tpl)


def templates(ctx: Ctx, *, include_inactive: bool = False) -> list[TemplateRow]:
    """The templates the actor may draft with (their company's and the group's);
    administrators see all. Audited ``letter:list``."""
    subject = ctx.subject
    stmt = select(LetterTemplate).order_by(LetterTemplate.id)
    admin = policy.can_manage_letter_templates(subject).allowed
    if not admin:
        stmt = stmt.where(or_(LetterTemplate.company_id.is_(None),
                              LetterTemplate.company_id == subject.company_id))
    if not (include_inactive and admin):
        stmt = stmt.where(LetterTemplate.active.is_(True))
    rows = [_template_row(t) for t in ctx.session.scalars(stmt)]
    ctx.record(Action.LETTER_LIST, object_type="letter_template", reason="templates",
               detail={"found": len(rows)})
    return rows


# ---------------------------------------------------------------------------
# Drafting


def _next_number(ctx: Ctx, company: Company, year: int) -> tuple[int, str]:
    top = ctx.session.scalar(select(func.max(Letter.seq)).where(
        Letter.company_id == company.id, Letter.year == year))
    seq = int(top or 0) + 1

    def number(n: int) -> str:
        return f"{company.code}-函-{year}-{n:03d}"

    while ctx.session.scalar(select(Letter.id).where(Letter.company_id == company.id,
                                                     Letter.number == number(seq))):
        seq += 1
    return seq, number(seq)


def draft(ctx: Ctx, *, template_id: int, title: str, addressee: str, body: str,
          letter_on: date | None = None, kind: str = "letter", level: Level | None = None,
          request_refs: list[str] | None = None) -> LetterView:
    """Draft a letter: its PDF (letterhead, number, addressee, subject, body, closing,
    date) is registered as an encrypted ``letter`` document of the actor's company
    and department. An open letter (``kind="open"``) may name the requests it
    answers. Audited ``document:register`` and ``letter:draft``."""
    from vault.services import service_pdf

    actor = ctx.actor
    if actor is None or not actor.active:
        raise InvalidInput("A deactivated user cannot draft letters.", code="inactive_user")
    if kind not in KINDS:
        raise InvalidInput("A letter is an outgoing letter or an open letter.", code="bad_kind")
    tpl = ctx.session.get(LetterTemplate, template_id) if 0 < template_id < 2**31 else None
    if tpl is None or not tpl.active or tpl.company_id not in (None, actor.company_id):
        raise InvalidInput("Choose one of the letter templates.", code="unknown_template")
    title = _clean(title, "subject", "letter_title", MAX_TITLE)
    addressee = _clean(addressee, "addressee", "addressee", MAX_ADDRESSEE)
    body = _clean(body, "letter's text", "letter_body", MAX_BODY, multiline=True)
    today = ctx.now.astimezone(ctx.settings.tz).date()
    letter_on = letter_on or today
    if not date(2000, 1, 1) <= letter_on <= date(today.year + 1, 12, 31):
        raise InvalidInput("Give the letter's date (from 2000 to next year).",
                           code="bad_letter_on")
    attach = _requests_to_attach(ctx, kind, request_refs or [])
    company = actor.company
    seq, number = _next_number(ctx, company, letter_on.year)
    pdf = service_pdf.letter_pdf(
        service_pdf.LetterFields(letterhead=tpl.letterhead, closing=tpl.closing,
                                 number=number, addressee=addressee, title=title, body=body,
                                 letter_on=letter_on, open_letter=kind == "open"),
        ctx.settings.font_file)
    dept = ctx.session.get(Department, actor.department_id) if actor.department_id else None
    doc = documents.register(
        ctx, title=f"{'公开信' if kind == 'open' else '函'} {number} {title}",
        category=Category.LETTER, level=level, issued_on=letter_on,
        department_code=dept.code if dept else None,
        content=io.BytesIO(pdf), filename=f"{number}.pdf")
    letter = Letter(document_id=doc.id, template_id=tpl.id, company_id=company.id,
                    department_id=doc.department_id, kind=kind, number=number,
                    year=letter_on.year, seq=seq, drafter_id=actor.id, created_at=ctx.now,
                    status=DRAFT)
    ctx.session.add(letter)
    ctx.session.flush()
    for req in attach:
        ctx.session.add(LetterRequest(letter_id=letter.id, request_id=req.id,
                                      added_by_id=actor.id, added_at=ctx.now))
    ctx.session.flush()
    ctx.session.refresh(letter)
    ctx.record(Action.LETTER_DRAFT, level=doc.level, reason="drafted",
               **_event(letter, kind=kind, template=tpl.id,
                        requests=[r.number for r in attach]))
    return _view(ctx, letter)


def _requests_to_attach(ctx: Ctx, kind: str, refs: list[str]) -> list[ServiceRequest]:
    refs = list(dict.fromkeys(r.strip() for r in refs if isinstance(r, str) and r.strip()))
    if refs and kind != "open":
        raise InvalidInput("Only an open letter is attached to requests.",
                           code="requests_on_letter")
    if len(refs) > MAX_ATTACHED:
        raise InvalidInput(f"At most {MAX_ATTACHED} requests.", code="too_many_requests")
    out: dict[int, ServiceRequest] = {}
    for ref in refs:
        req = requests.load(ctx, ref, Action.LETTER_ATTACH, handle=True)
        if req.company_id != ctx.subject.company_id:
            raise InvalidInput("An open letter answers requests of its own company.",
                               code="request_of_other_company")
        out[req.id] = req
    return list(out.values())


def attach_requests(ctx: Ctx, letter_id: int, refs: list[str]) -> LetterView:
    """Attach more requests to an open letter (the drafter or those responsible)."""
    letter = _load(ctx, letter_id, Action.LETTER_ATTACH)
    _responsible(ctx, letter, Action.LETTER_ATTACH)
    if letter.kind != "open":
        raise InvalidInput("Only an open letter is attached to requests.",
                           code="requests_on_letter")
    reqs = _requests_to_attach(ctx, "open", refs)
    have = set(ctx.session.scalars(select(LetterRequest.request_id).where(
        LetterRequest.letter_id == letter.id)))
    assert ctx.actor is not None
    added = []
    for req in reqs:
        if req.id in have:
            continue
        if req.company_id != letter.company_id:
            raise InvalidInput("An open letter answers requests of its own company.",
                               code="request_of_other_company")
        ctx.session.add(LetterRequest(letter_id=letter.id, request_id=req.id,
                                      added_by_id=ctx.actor.id, added_at=ctx.now))
        added.append(req.number)
    ctx.session.flush()
    ctx.record(Action.LETTER_ATTACH, level=letter.document.level, reason="attached",
               **_event(letter, requests=added))
    return _view(ctx, letter)


# ---------------------------------------------------------------------------
# Reading


def _load(ctx: Ctx, letter_id: int, action: Action) -> Letter:
    """The letter if the actor may know its document (else `NotFound`, audited)."""
    letter = ctx.session.get(Letter, letter_id) if 0 < letter_id < 2**31 else None
    if letter is None:
        raise ctx.refuse(NotFound(f"No letter {letter_id}.", code="unknown_letter"), action,
                         object_type="letter", object_id=str(letter_id)[:32])
    documents.load(ctx, letter.document_id, action)
    return letter


def _responsible(ctx: Ctx, letter: Letter, action: Action) -> policy.Decision:
    decision = policy.can_address_notice(ctx.subject, _doc_facts(ctx, letter), ctx.now)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("Letters are handled by their drafter, its responsible "
                                   "supervisor and the department's manager.",
                                   code="not_letter_keeper"), action,
                         reason=decision.reason.value, **_event(letter))
    return decision


def _pending_seal(ctx: Ctx, letter: Letter) -> SealRequest | None:
    return ctx.session.scalar(select(SealRequest).where(
        SealRequest.letter_id == letter.id, SealRequest.status == PENDING))


def _may_decide(ctx: Ctx, seal: SealRequest) -> policy.Decision:
    scope = ApproverScope(seal.route.split(",")[seal.step])
    return policy.can_decide_seal(ctx.subject, letter_facts(seal.letter), scope,
                                  seal.requester_id, [d.decided_by_id for d in seal.decisions])


def _view(ctx: Ctx, letter: Letter) -> LetterView:
    seals = list(ctx.session.scalars(select(SealRequest).where(
        SealRequest.letter_id == letter.id).order_by(SealRequest.id)))
    pending = next((s for s in seals if s.status == PENDING), None)
    responsible = policy.can_address_notice(ctx.subject, _doc_facts(ctx, letter),
                                            ctx.now).allowed
    reqs = ctx.session.execute(
        select(ServiceRequest.id, ServiceRequest.number).join(
            LetterRequest, LetterRequest.request_id == ServiceRequest.id)
        .where(LetterRequest.letter_id == letter.id).order_by(ServiceRequest.id)).all()
    return LetterView(
        letter=_letter_row(letter), template=letter.template.name,
        seals=tuple(_seal_row(s) for s in seals),
        requests=tuple((int(i), str(n)) for i, n in reqs),
        may_request_seal=responsible and letter.status == DRAFT,
        may_decide=pending is not None and _may_decide(ctx, pending).allowed,
        may_send=responsible and policy.can_send_letter(letter.status).allowed,
        may_attach=responsible and letter.kind == "open",
        recipients=len(notices._recipients(ctx, letter.document_id)))


def show(ctx: Ctx, letter_id: int) -> LetterView:
    """A letter with its seal requests and what the actor may do; audited ``letter:view``."""
    letter = _load(ctx, letter_id, Action.LETTER_VIEW)
    view = _view(ctx, letter)
    ctx.record(Action.LETTER_VIEW, level=letter.document.level, reason="shown",
               **_event(letter))
    return view


def search(ctx: Ctx, *, status: str | None = None, kind: str | None = None,
           limit: int = 200) -> list[LetterRow]:
    """Letters whose document the actor may know, newest first; audited ``letter:list``."""
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInput(f"limit must be 1–{MAX_LIST}.", code="bad_limit")
    if status not in (None, DRAFT, PENDING, SEALED):
        raise InvalidInput("Unknown status.", code="bad_status")
    if kind not in (None, *KINDS):
        raise InvalidInput("A letter is an outgoing letter or an open letter.", code="bad_kind")
    subject = ctx.subject
    stmt = select(Letter).order_by(Letter.id.desc())
    if status:
        stmt = stmt.where(Letter.status == status)
    if kind:
        stmt = stmt.where(Letter.kind == kind)
    if not policy.reads_every_company(subject):
        stmt = stmt.where(Letter.company_id == subject.company_id)
    out: list[LetterRow] = []
    for letter in ctx.session.scalars(stmt):
        if not policy.can_see_metadata(subject, _doc_facts(ctx, letter), ctx.now).allowed:
            continue
        out.append(_letter_row(letter))
        if len(out) >= limit:
            break
    ctx.record(Action.LETTER_LIST, object_type="letter", reason="search",
               detail={"status": status, "kind": kind, "found": len(out)})
    return out


def open_letters_for_request(ctx: Ctx, request_id: int) -> list[LetterRow]:
    """The open letters answering a request the caller has already loaded (shown on
    its page; the caller audits the request's view)."""
    subject = ctx.subject
    rows = ctx.session.scalars(select(Letter).join(
        LetterRequest, LetterRequest.letter_id == Letter.id).where(
        LetterRequest.request_id == request_id).order_by(Letter.id))
    return [_letter_row(x) for x in rows
            if policy.can_see_metadata(subject, _doc_facts(ctx, x), ctx.now).allowed]


# ---------------------------------------------------------------------------
# The seal request (用章申请)


def _candidates(ctx: Ctx) -> list[User]:
    roles = [r.value for r in policy.APPROVING_ROLES]
    return list(ctx.session.scalars(select(User).join(UserRole).where(
        User.active.is_(True), UserRole.role.in_(roles)).order_by(User.id)).unique())


def _approvers(ctx: Ctx, seal: SealRequest) -> list[User]:
    people = _candidates(ctx)
    scope = ApproverScope(seal.route.split(",")[seal.step])
    earlier = [d.decided_by_id for d in seal.decisions]
    return [u for u in people if policy.can_decide_seal(
        accounts.subject_of(u), letter_facts(seal.letter), scope, seal.requester_id,
        earlier).allowed]


def _tell_approvers(ctx: Ctx, seal: SealRequest) -> None:
    letter = seal.letter
    notifications.notify(ctx, _approvers(ctx, seal), notifications.Message(
        kind="seal_pending",
        subject_zh=f"待审批：{seal.requester.name} 申请用章《{letter.document.title}》",
        subject_en=f"To decide: {seal.requester.name} asks for the seal on "
                   f"“{letter.document.title}”",
        link=f"/letters/{letter.id}", document_id=letter.document_id))


def request_seal(ctx: Ctx, letter_id: int, purpose: str | None) -> SealRow:
    """Ask for the company seal on a drafted letter (its drafter, responsible
    supervisor, department manager or an HQ executive); audited ``seal:request``."""
    action = Action.SEAL_REQUEST
    letter = _load(ctx, letter_id, action)
    _responsible(ctx, letter, action)
    if letter.status != DRAFT:
        raise ctx.refuse(Conflict("This letter is sealed or awaits a decision already.",
                                  code="letter_not_draft"), action, **_event(letter))
    text = _clean(purpose, "purpose", "seal_purpose", MAX_PURPOSE, multiline=True)
    facts = letter_facts(letter)
    managers = [u for u in _candidates(ctx) if policy.can_decide_seal(
        accounts.subject_of(u), facts, ApproverScope.OWNING_DEPT_MANAGER,
        ctx.subject.user_id).allowed]
    vacant = () if managers else (ApproverScope.OWNING_DEPT_MANAGER,)
    route = policy.seal_route(facts, ctx.subject, vacant)
    seal = SealRequest(letter_id=letter.id, requester_id=ctx.subject.user_id, purpose=text,
                       route=",".join(s.value for s in route), step=0, status=PENDING,
                       created_at=ctx.now)
    ctx.session.add(seal)
    letter.status = PENDING
    ctx.session.flush()
    ctx.session.refresh(seal)
    ctx.record(action, level=letter.document.level, reason="requested",
               **_seal_event(seal, route=[s.value for s in route]))
    _tell_approvers(ctx, seal)
    return _seal_row(seal)


def _load_seal(ctx: Ctx, seal_id: int, action: Action) -> SealRequest:
    seal = ctx.session.get(SealRequest, seal_id) if 0 < seal_id < 2**31 else None
    if seal is None:
        raise ctx.refuse(NotFound(f"No seal request {seal_id}.", code="unknown_seal_request"),
                         action, object_type="seal_request", object_id=str(seal_id)[:32])
    _load(ctx, seal.letter_id, action)
    return seal


_DECIDE_REFUSALS = {
    policy.Reason.REQUESTER_CANNOT_APPROVE: "Nobody may decide their own request.",
    policy.Reason.ALREADY_DECIDED_STEP: "You decided an earlier step of this request.",
    policy.Reason.NOT_AN_APPROVER: "This step is decided by another office (see its route).",
}


def _decidable(ctx: Ctx, seal_id: int, action: Action) -> SealRequest:
    seal = _load_seal(ctx, seal_id, action)
    if seal.status != PENDING:
        raise ctx.refuse(Conflict(f"This request is already {seal.status}.",
                                  code="already_decided"), action, **_seal_event(seal))
    decision = _may_decide(ctx, seal)
    if not decision.allowed:
        raise ctx.refuse(Forbidden(_DECIDE_REFUSALS.get(decision.reason, "You may not decide "
                                                        "this."), code=decision.reason.value),
                         action, reason=decision.reason.value, **_seal_event(seal))
    return seal


def _decide(ctx: Ctx, seal: SealRequest, approved: bool, note: str | None) -> None:
    assert ctx.actor is not None
    scope = seal.route.split(",")[seal.step]
    ctx.session.add(SealDecision(request_id=seal.id, step=seal.step, scope=scope,
                                 decided_by_id=ctx.actor.id, decided_at=ctx.now,
                                 approved=approved, note=note))
    ctx.session.flush()
    ctx.session.refresh(seal)


def approve_seal(ctx: Ctx, seal_id: int, note: str | None = None) -> SealRow:
    """Approve the awaited step; the last approval seals the letter (已用印: who, when)
    and tells the requester. Audited ``seal:approve``."""
    action = Action.SEAL_APPROVE
    seal = _decidable(ctx, seal_id, action)
    text = _clean(note, "note", "seal_note", MAX_PURPOSE, required=False, multiline=True)
    _decide(ctx, seal, True, text or None)
    letter = seal.letter
    last = seal.step + 1 >= len(seal.route.split(","))
    ctx.record(action, level=letter.document.level, reason="sealed" if last else "approved",
               **_seal_event(seal))
    assert ctx.actor is not None
    if last:
        seal.status, seal.decided_at = APPROVED, ctx.now
        letter.status, letter.sealed_by_id, letter.sealed_at = SEALED, ctx.actor.id, ctx.now
        ctx.session.flush()
        ctx.record(Action.LETTER_SEAL, level=letter.document.level, reason="sealed",
                   **_event(letter, sealed_by=ctx.actor.username))
        notifications.notify(ctx, [seal.requester], notifications.Message(
            kind="seal_decided",
            subject_zh=f"已用印：您的用章申请《{letter.document.title}》已批准，可以发出",
            subject_en=f"Sealed: your seal request for “{letter.document.title}” is approved; "
                       "it may be sent",
            link=f"/letters/{letter.id}", document_id=letter.document_id))
    else:
        seal.step += 1
        ctx.session.flush()
        ctx.session.refresh(seal)
        _tell_approvers(ctx, seal)
    return _seal_row(seal)


def reject_seal(ctx: Ctx, seal_id: int, reason: str | None) -> SealRow:
    """Refuse the seal with a reason; the letter returns to draft. Audited ``seal:reject``."""
    action = Action.SEAL_REJECT
    seal = _decidable(ctx, seal_id, action)
    text = _clean(reason, "reason for the refusal", "seal_reason", MAX_PURPOSE, multiline=True)
    _decide(ctx, seal, False, text)
    seal.status, seal.decided_at = REJECTED, ctx.now
    letter = seal.letter
    letter.status = DRAFT
    ctx.session.flush()
    ctx.record(action, level=letter.document.level, reason="rejected", **_seal_event(seal))
    notifications.notify(ctx, [seal.requester], notifications.Message(
        kind="seal_decided",
        subject_zh=f"未批准：您的用章申请《{letter.document.title}》——{text}",
        subject_en=f"Refused: your seal request for “{letter.document.title}” — {text}",
        link=f"/letters/{letter.id}", document_id=letter.document_id))
    return _seal_row(seal)


def cancel_seal(ctx: Ctx, seal_id: int) -> SealRow:
    """The requester withdraws a pending seal request; audited ``seal:cancel``."""
    action = Action.SEAL_CANCEL
    seal = _load_seal(ctx, seal_id, action)
    if ctx.subject.user_id != seal.requester_id:
        raise ctx.refuse(Forbidden("Only the requester may withdraw a request.",
                                   code="not_requester"), action, **_seal_event(seal))
    if seal.status != PENDING:
        raise ctx.refuse(Conflict(f"This request is already {seal.status}.",
                                  code="already_decided"), action, **_seal_event(seal))
    seal.status, seal.decided_at = CANCELLED, ctx.now
    seal.letter.status = DRAFT
    ctx.session.flush()
    ctx.record(action, level=seal.letter.document.level, reason="cancelled",
               **_seal_event(seal))
    return _seal_row(seal)


def to_decide(ctx: Ctx) -> list[SealRow]:
    """Pending seal requests whose awaited step the actor may decide now."""
    subject = ctx.subject
    if not subject.active or subject.roles.isdisjoint(policy.APPROVING_ROLES):
        return []
    pending = ctx.session.scalars(select(SealRequest).where(
        SealRequest.status == PENDING).order_by(SealRequest.id))
    return [_seal_row(s) for s in pending if _may_decide(ctx, s).allowed]


# ---------------------------------------------------------------------------
# Sending (the notice sign-offs)


def send(ctx: Ctx, letter_id: int, tenant_codes: list[str]) -> notices.RecipientChange:
    """Send a sealed letter to tenants: they become its recipients, whose sign-offs
    are tracked as a notice's. Refused (``letter_not_sealed``) before 已用印."""
    action = Action.NOTICE_RECIPIENTS
    letter = _load(ctx, letter_id, action)
    decision = policy.can_send_letter(letter.status)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("A letter is sent only once its seal request is approved "
                                   "(已用印).", code=decision.reason.value), action,
                         reason=decision.reason.value, **_event(letter))
    return notices.set_recipients(ctx, letter.document_id, tenant_codes)


def send_candidates(ctx: Ctx, letter_id: int) -> list[tuple[str, str]]:
    """The tenants a letter may be sent to: (code, name)."""
    letter = _load(ctx, letter_id, Action.NOTICE_RECIPIENTS)
    return [(t.code, t.name) for t in notices.candidates(ctx, letter.document)]


def status_of_document(ctx: Ctx, doc_id: int) -> str | None:
    """The seal status of the letter drawn as document ``doc_id`` (None: not one)."""
    return ctx.session.scalar(select(Letter.status).where(Letter.document_id == doc_id))
