"""What the copy, loan and register pages show: read models built in one unit of work.

The web views render these after the unit of work has committed (and the session
closed), so every function returns frozen dataclasses of plain values, never ORM
rows — as `document_pages.py` does for the document pages. Decisions and audit
stay in `vault.services.copies` (and `vault.policy`); this module only reads and
shapes what those return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from vault import policy
from vault.actions import Action
from vault.errors import InvalidInput, NotFound
from vault.models import (
    Company,
    CopyRequest,
    Document,
    Loan,
    Notification,
    RegisteredCopy,
    User,
)
from vault.policy import CopyKind, Level, Route
from vault.services import accounts, copies, documents, notifications
from vault.services.context import Ctx


@dataclass(frozen=True)
class Person:
    username: str
    name: str

    def __str__(self) -> str:
        return f"{self.name} ({self.username})"


@dataclass(frozen=True)
class DocRow:
    id: int
    title: str
    category: str
    level: str  # in force now
    marking: str
    company: str  # the owning company's code


@dataclass(frozen=True)
class RequestRow:
    """A request's metadata (never the file's content)."""

    id: int
    kind: str
    status: str  # as stored
    state: str  # as shown: the status, or spent/expired/void
    document: DocRow
    level_at_request: str
    requester: Person
    purpose: str
    pages: str | None
    approved_pages: str | None
    due_on: date | None
    new_level: str | None
    new_period: str | None  # the period spec asked for
    new_period_text: str | None  # … in words
    default_no: bool
    created_at: datetime
    decided_at: datetime | None
    decided_by: Person | None
    decision_note: str | None
    window_until: datetime | None
    spent_at: datetime | None
    version: int | None


@dataclass(frozen=True)
class CopyRow:
    id: int
    label: str
    number: int
    kind: str
    document_id: int
    request_id: int
    version: int | None
    pages: str | None
    recipient: Person
    approved_by: Person | None
    issued_at: datetime
    level_at_issue: str
    period_at_issue: str | None
    stamped: bool
    media_type: str | None
    size: int | None
    sha256: str | None
    status: str
    closed_at: datetime | None
    closed_by: Person | None
    closed_note: str | None
    # Not on the request page (it lists copies of the same requester):
    document: DocRow | None = None
    level_now: str | None = None
    may_keep: bool = False


@dataclass(frozen=True)
class LoanRow:
    id: int
    document: DocRow
    request_id: int
    borrower: Person
    approved_by: Person | None
    approved_at: datetime | None
    due_on: date
    lent_at: datetime | None
    lent_by: Person | None
    returned_at: datetime | None
    returned_by: Person | None
    state: str
    note: str | None
    may_keep: bool


@dataclass(frozen=True)
class Message:
    id: int
    kind: str
    subject: str  # in the reader's language
    subject_zh: str
    subject_en: str
    link: str | None  # as stored
    document_id: int | None
    request_id: int | None
    created_at: datetime
    read_at: datetime | None

    @property
    def unread(self) -> bool:
        return self.read_at is None

    @property
    def safe_link(self) -> str | None:
        """The link, if it is a path of this site (pages follow no other)."""
        return self.link if inbox_link(self.link) else None


def person(user: User | None) -> Person | None:
    return Person(user.username, user.name) if user is not None else None


def _person(user: User) -> Person:
    return Person(user.username, user.name)


def doc_row(ctx: Ctx, doc: Document, lang: str) -> DocRow:
    facts = documents.facts(doc, ctx.settings.tz)
    level = policy.effective_level(facts, ctx.now)
    period = documents.period_of(doc) if level.classified else policy.NO_PERIOD
    return DocRow(doc.id, doc.title, doc.category, level.value,
                  policy.marking(level, period, lang), doc.company.code)


def request_row(ctx: Ctx, req: CopyRequest, lang: str) -> RequestRow:
    return RequestRow(
        id=req.id, kind=req.kind, status=req.status, state=copies.state(req, ctx.now),
        document=doc_row(ctx, req.document, lang), level_at_request=req.level_at_request,
        requester=_person(req.requester), purpose=req.purpose, pages=req.pages,
        approved_pages=req.approved_pages, due_on=req.due_on, new_level=req.new_level,
        new_period=req.new_period, new_period_text=documents.period_words(req.new_period, lang),
        default_no=req.default_no, created_at=req.created_at, decided_at=req.decided_at,
        decided_by=person(req.decided_by), decision_note=req.decision_note,
        window_until=req.window_until, spent_at=req.spent_at, version=req.version_number,
    )


def copy_row(ctx: Ctx, copy: RegisteredCopy, lang: str, *,
             with_document: bool = True) -> CopyRow:
    document = level_now = None
    may_keep = False
    if with_document:
        document = doc_row(ctx, copy.document, lang)
        level_now = copies.copy_level(ctx, copy).value
        may_keep = policy.can_keep_register(ctx.subject, copy.document.company_id).allowed
    return CopyRow(
        id=copy.id, label=copy.label, number=copy.number, kind=copy.kind,
        document_id=copy.document_id, request_id=copy.request_id,
        version=copy.version_number, pages=copy.pages,
        recipient=_person(copy.recipient), approved_by=person(copy.approved_by),
        issued_at=copy.issued_at, level_at_issue=copy.level_at_issue,
        period_at_issue=copy.period_at_issue, stamped=copy.stamped,
        media_type=copy.media_type, size=copy.size, sha256=copy.sha256, status=copy.status,
        closed_at=copy.closed_at, closed_by=person(copy.closed_by),
        closed_note=copy.closed_note,
        document=document, level_now=level_now, may_keep=may_keep,
    )


def loan_row(ctx: Ctx, loan: Loan, lang: str, day: date | None = None) -> LoanRow:
    return LoanRow(
        id=loan.id, document=doc_row(ctx, loan.document, lang), request_id=loan.request_id,
        borrower=_person(loan.borrower), approved_by=person(loan.approved_by),
        approved_at=loan.approved_at, due_on=loan.due_on, lent_at=loan.lent_at,
        lent_by=person(loan.lent_by), returned_at=loan.returned_at,
        returned_by=person(loan.returned_by), state=copies.loan_state(loan, day or today(ctx)),
        note=loan.note, may_keep=copies.may_keep_loans(ctx, loan.document),
    )


def message(note: Notification, lang: str) -> Message:
    return Message(
        id=note.id, kind=note.kind, subject=note.subject_en if lang == "en" else note.subject_zh,
        subject_zh=note.subject_zh, subject_en=note.subject_en, link=note.link,
        document_id=note.document_id, request_id=note.request_id,
        created_at=note.created_at, read_at=note.read_at)


def today(ctx: Ctx) -> date:
    return ctx.now.astimezone(ctx.settings.tz).date()


# ---------------------------------------------------------------------------
# Asking


@dataclass(frozen=True)
class RequestForm:
    """The request form: the file (no content), the route, and whether the person may
    ask at all (``blocked``: a reason code; a display decision, the service decides
    on send)."""

    doc: DocRow
    kind: str
    route: Route
    blocked: str | None
    denied: bool
    lower_levels: tuple[str, ...]
    max_loan_days: int
    today: date
    period: str


def request_form(ctx: Ctx, doc_id: int, kind: CopyKind, lang: str) -> RequestForm:
    doc = documents.load(ctx, doc_id, Action.COPY_REQUEST)
    facts = documents.facts(doc, ctx.settings.tz)
    route = policy.copy_route(facts, kind, ctx.now, ctx.subject)
    decision = policy.can_request(ctx.subject, facts, kind, ctx.now)
    level = policy.effective_level(facts, ctx.now)
    stored = any(v.blob_id is not None for v in doc.versions)
    ask = policy.can_ask(ctx.subject, facts, kind, stored, ctx.now)
    blocked = None if ask.allowed else ask.reason.value
    return RequestForm(
        doc=doc_row(ctx, doc, lang), kind=kind.value, route=route, blocked=blocked,
        denied=not decision.allowed,
        lower_levels=tuple(lv.value for lv in Level if lv.classified and lv.rank < level.rank),
        max_loan_days=copies.MAX_LOAN_DAYS, today=today(ctx),
        period=policy.period_text(documents.period_of(doc), lang),
    )


# ---------------------------------------------------------------------------
# Lists and one request


@dataclass(frozen=True)
class Lists:
    to_decide: tuple[RequestRow, ...]
    mine: tuple[RequestRow, ...]


def lists(ctx: Ctx, lang: str) -> Lists:
    return Lists(to_decide(ctx, lang), mine(ctx, lang))


def to_decide(ctx: Ctx, lang: str) -> tuple[RequestRow, ...]:
    """Pending requests the actor may decide now."""
    return tuple(request_row(ctx, r, lang) for r in copies.to_decide(ctx))


def mine(ctx: Ctx, lang: str) -> tuple[RequestRow, ...]:
    """The actor's own requests, newest first."""
    return tuple(request_row(ctx, r, lang) for r in copies.mine(ctx))


@dataclass(frozen=True)
class Asked:
    """A request just made: who may decide it (the office on its route, and the people
    holding it now)."""

    request: RequestRow
    route: tuple[str, ...]
    approvers: tuple[Person, ...]


def asked(ctx: Ctx, req: CopyRequest, lang: str) -> Asked:
    facts = copies.copy_facts(ctx, req)
    route = policy.copy_route(facts.document, facts.kind, ctx.now, facts.requester)
    return Asked(request_row(ctx, req, lang), tuple(s.value for s in route.approvers),
                 tuple(_person(u) for u in copies.approvers_for(ctx, req)))


@dataclass(frozen=True)
class RequestPage:
    req: RequestRow
    state: str
    may_decide: bool
    decide_reason: str
    is_requester: bool
    may_download: bool
    may_cancel: bool
    may_issue: bool
    approvers: tuple[Person, ...]
    route: Route
    #: The requester's recent copies (without their documents' details).
    history: tuple[CopyRow, ...]
    #: The copy this request gave, if any.
    registered: CopyRow | None
    loan: LoanRow | None
    window_hours: int


def request_page(ctx: Ctx, req_id: int, lang: str) -> RequestPage:
    """A request with what the actor may do with it (audited by `copies.show`)."""
    shown = copies.show(ctx, req_id)
    req = shown.request
    route = policy.copy_route(documents.facts(req.document, ctx.settings.tz),
                              CopyKind(req.kind), ctx.now, accounts.subject_of(req.requester))
    return RequestPage(
        req=request_row(ctx, req, lang), state=shown.state, may_decide=shown.may_decide,
        decide_reason=shown.decide_reason, is_requester=shown.is_requester,
        may_download=shown.may_download,
        may_cancel=shown.is_requester and req.status == copies.PENDING,
        may_issue=shown.may_issue, approvers=tuple(_person(u) for u in shown.approvers),
        route=route,
        history=tuple(copy_row(ctx, c, lang, with_document=False) for c in shown.history),
        registered=copy_row(ctx, shown.copy, lang) if shown.copy is not None else None,
        loan=loan_row(ctx, shown.loan, lang, today(ctx)) if shown.loan is not None else None,
        window_hours=ctx.settings.copy_window_hours,
    )


@dataclass(frozen=True)
class Outcome:
    """A request just acted on, with the copy or loan it opened (if any)."""

    request: RequestRow
    copy: CopyRow | None
    loan: LoanRow | None


def outcome(ctx: Ctx, req_id: int, lang: str) -> Outcome:
    req = ctx.session.get(CopyRequest, req_id)
    if req is None:  # acted on in this unit of work: it exists
        raise NotFound(f"No request {req_id}.", code="unknown_request")
    copy = ctx.session.scalar(select(RegisteredCopy).where(RegisteredCopy.request_id == req.id))
    loan = ctx.session.scalar(select(Loan).where(Loan.request_id == req.id))
    return Outcome(request_row(ctx, req, lang),
                   copy_row(ctx, copy, lang) if copy is not None else None,
                   loan_row(ctx, loan, lang, today(ctx)) if loan is not None else None)


# ---------------------------------------------------------------------------
# The registers


def company_filter(ctx: Ctx, code: str) -> int | None:
    """A register's company filter by code (None: no filter)."""
    if not code:
        return None
    company = ctx.session.scalar(select(Company).where(Company.code == code))
    if company is None:
        raise InvalidInput(f"No company {code!r}.", code="unknown_company")
    return company.id


def company_choices(ctx: Ctx) -> tuple[tuple[str, str], ...]:
    """The company selector, for those who read every company's registers."""
    if not policy.reads_every_company(ctx.subject):
        return ()
    return tuple((c.code, c.name)
                 for c in ctx.session.scalars(select(Company).order_by(Company.code)))


@dataclass(frozen=True)
class CopyRegister:
    rows: tuple[CopyRow, ...]
    companies: tuple[tuple[str, str], ...]


def copy_register(ctx: Ctx, lang: str, *, company: str, status: str | None,
                  document_id: int | None) -> CopyRegister:
    rows = copy_rows(ctx, lang, company_id=company_filter(ctx, company), status=status,
                     document_id=document_id)
    return CopyRegister(rows, company_choices(ctx))


def copy_rows(ctx: Ctx, lang: str, *, company_id: int | None, status: str | None,
              document_id: int | None) -> tuple[CopyRow, ...]:
    """The copy register's rows, newest first (audited by `copies.copy_register`)."""
    return tuple(copy_row(ctx, c, lang) for c in copies.copy_register(
        ctx, company_id=company_id, status=status, document_id=document_id))


@dataclass(frozen=True)
class Found:
    copy: CopyRow
    request: RequestRow | None


def lookup(ctx: Ctx, number: str, lang: str) -> Found:
    copy = copies.lookup(ctx, number)
    return Found(copy_row(ctx, copy, lang),
                 request_row(ctx, copy.request, lang) if copy.request is not None else None)


@dataclass(frozen=True)
class LoanRegister:
    rows: tuple[LoanRow, ...]
    companies: tuple[tuple[str, str], ...]


def loan_register(ctx: Ctx, lang: str, *, company: str, overdue: bool,
                  open_only: bool) -> LoanRegister:
    rows = loan_rows(ctx, lang, company_id=company_filter(ctx, company), overdue=overdue,
                     open_only=open_only)
    return LoanRegister(rows, company_choices(ctx))


def loan_rows(ctx: Ctx, lang: str, *, company_id: int | None, overdue: bool,
              open_only: bool) -> tuple[LoanRow, ...]:
    """The lending register's rows by due date (audited by `copies.loans`)."""
    day = today(ctx)
    return tuple(loan_row(ctx, loan, lang, day) for loan in copies.loans(
        ctx, company_id=company_id, overdue=overdue, open_only=open_only))


# ---------------------------------------------------------------------------
# The inbox and the home page


def inbox_link(link: str | None) -> bool:
    """A link in a message is followed only to a path of this site."""
    return bool(link and link.startswith("/") and not link.startswith("//")
                and "\\" not in link and link.isprintable())


def inbox(ctx: Ctx, lang: str, *, unread_only: bool = False, limit: int = 200
          ) -> tuple[Message, ...]:
    return tuple(message(n, lang)
                 for n in notifications.inbox(ctx, unread_only=unread_only, limit=limit))


@dataclass(frozen=True)
class HomeFacts:
    """For the home page: requests awaiting the person's decision, unread messages."""

    pending: int
    unread: int
    recent: tuple[Message, ...]
    approver: bool


def home(ctx: Ctx, lang: str) -> HomeFacts:
    subject = ctx.subject
    return HomeFacts(
        pending=copies.pending_count(ctx), unread=notifications.unread_count(ctx),
        recent=inbox(ctx, lang, unread_only=True, limit=5),
        # Whether to say "nothing to decide": a display choice, the service decides.
        approver=policy.may_approve_some(subject),
    )


# ---------------------------------------------------------------------------
# The document page's section


@dataclass(frozen=True)
class Option:
    kind: str
    default_no: bool


@dataclass(frozen=True)
class SectionRequest:
    id: int
    kind: str
    state: str
    requester: Person
    created_at: datetime
    copy_label: str | None


@dataclass(frozen=True)
class DocumentSection:
    """What the person may ask for on a file, and the requests on it they may see
    (their own; all of them for register readers). Reads only: nothing here is
    audited, the page itself was."""

    options: tuple[Option, ...]
    requests: tuple[SectionRequest, ...]


def document_section(ctx: Ctx, doc_id: int) -> DocumentSection:
    doc = ctx.session.get(Document, doc_id)
    if doc is None:
        return DocumentSection((), ())
    facts = documents.facts(doc, ctx.settings.tz)
    subject = ctx.subject
    stored = any(v.blob_id is not None for v in doc.versions)
    options = [Option(kind.value, policy.copy_route(facts, kind, ctx.now, subject).default_no)
               for kind in CopyKind
               if policy.can_ask(subject, facts, kind, stored, ctx.now).allowed]
    reqs = list(copies.requests_for_document(ctx, doc_id))
    labels = {c.request_id: c.label for c in ctx.session.scalars(
        select(RegisteredCopy).where(RegisteredCopy.request_id.in_([r.id for r in reqs])))
    } if reqs else {}
    rows = tuple(SectionRequest(r.id, r.kind, copies.state(r, ctx.now), _person(r.requester),
                                r.created_at, labels.get(r.id)) for r in reqs)
    return DocumentSection(tuple(options), rows)
