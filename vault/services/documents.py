"""Documents: registration, the policy's view of a file, and explaining access."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import policy
from vault.errors import InvalidInput, NotFound
from vault.models import ClassificationChange, Department, Document, Tenant, User
from vault.policy import Category, CopyKind, Level, Period
from vault.services import accounts


def parse_level(text: str) -> Level:
    try:
        return Level(text)
    except ValueError:
        raise InvalidInput(
            f"Unknown level {text!r}; levels are: {', '.join(lv.value for lv in Level)}.",
            code="unknown_level",
        ) from None


def parse_category(text: str) -> Category:
    try:
        return Category(text)
    except ValueError:
        raise InvalidInput(
            f"Unknown category {text!r}; categories are: {', '.join(c.value for c in Category)}.",
            code="unknown_category",
        ) from None


def parse_period(text: str) -> Period:
    try:
        return policy.parse_period(text)
    except policy.PeriodError as exc:
        raise InvalidInput(str(exc), code="bad_period") from None


def period_of(doc: Document) -> Period:
    return Period(
        years=doc.period_years,
        months=doc.period_months,
        days=doc.period_days,
        until=doc.period_until,
        condition=doc.condition,
    )


def _set_period(doc: Document, period: Period) -> None:
    doc.period_years, doc.period_months, doc.period_days = (
        period.years,
        period.months,
        period.days,
    )
    doc.period_until = period.until
    doc.condition = period.condition


def facts(doc: Document, tz: tzinfo = policy.GROUP_TZ) -> policy.DocumentFacts:
    """The policy's view of a document, grants included."""
    return policy.DocumentFacts(
        id=doc.id,
        category=Category(doc.category),
        level=Level(doc.level),
        period=period_of(doc),
        issued_on=doc.issued_on,
        company_id=doc.company_id,
        company_is_hq=doc.company.is_hq,
        department_id=doc.department_id,
        supervisor_id=doc.supervisor_id,
        registrant_id=doc.registrant_id,
        grants=tuple(
            policy.GrantFact(
                grantee_id=g.grantee_id,
                level=Level(g.level),
                until=g.until,
                revoked=g.revoked_at is not None,
            )
            for g in doc.grants
        ),
        registrant_removed=doc.registrant_removed,
        tz=tz,
    )


def register(
    session: Session,
    actor: User,
    *,
    title: str,
    category: Category,
    now: datetime,
    level: Level | None = None,
    period: Period | None = None,
    issued_on: date | None = None,
    supervisor: User | None = None,
    department_code: str | None = None,
    tenant_code: str | None = None,
    paper_original: bool = False,
    tz: tzinfo = policy.GROUP_TZ,
) -> Document:
    """Register a document record for the actor's company (content comes separately).

    A classified file must carry a period: the level's default is used when none
    is given, as the form pre-fills it. An internal file carries none.
    """
    if not actor.active:
        raise InvalidInput("A deactivated user cannot register documents.", code="inactive_user")
    title = title.strip()
    if not title or len(title) > 500 or any(ord(c) < 32 for c in title):
        raise InvalidInput("The title must be 1–500 printable characters.", code="bad_title")
    level = level or policy.DEFAULT_LEVEL[category]
    if level.classified:
        period = period or policy.DEFAULT_PERIOD[level]
    elif period is not None and period.kind != "none":
        raise InvalidInput("An internal document has no secrecy period.", code="period_on_internal")
    else:
        period = policy.NO_PERIOD
    issued_on = issued_on or now.astimezone(tz).date()
    if period.kind == "date" and period.until is not None and period.until < issued_on:
        raise InvalidInput(
            f"The period ends ({period.until}) before the issue date ({issued_on}).",
            code="period_before_issue",
        )
    company = actor.company
    department: Department | None = actor.department
    if department_code:
        department = accounts.get_department(session, company, department_code)
    supervisor = supervisor or actor
    if supervisor.company_id != company.id or not supervisor.active:
        raise InvalidInput(
            f"The responsible supervisor must be an active person of {company.code}.",
            code="bad_supervisor",
        )
    tenant = None
    if tenant_code:
        tenant = session.scalar(select(Tenant).where(Tenant.code == tenant_code))
        if tenant is None:
            raise NotFound(f"No tenant with code {tenant_code!r}.", code="unknown_tenant")
    doc = Document(
        title=title,
        category=category.value,
        level=level.value,
        issued_on=issued_on,
        company_id=company.id,
        department_id=department.id if department else None,
        supervisor_id=supervisor.id,
        registrant_id=actor.id,
        tenant_id=tenant.id if tenant else None,
        has_paper_original=paper_original,
        created_at=now,
    )
    _set_period(doc, period)
    doc.declassify_at = policy.declassify_at(issued_on, period, tz)
    session.add(doc)
    session.flush()
    session.add(
        ClassificationChange(
            document_id=doc.id,
            at=now,
            actor_id=actor.id,
            kind="register",
            old_level=None,
            new_level=level.value,
            new_period=period.spec(),
        )
    )
    session.flush()
    return doc


def get(session: Session, doc_id: int) -> Document:
    """Load a document by id without any check (callers check)."""
    doc = session.get(Document, doc_id)
    if doc is None:
        raise NotFound(f"No document {doc_id}.", code="unknown_document")
    return doc


# ---------------------------------------------------------------------------
# Explaining access (`vault can-i`)

CAN_I_ACTIONS = ("view", "copy", "excerpt", "lend", "grant", "extend")


@dataclass(frozen=True)
class Explanation:
    action: str
    allowed: bool
    reason: str
    effective_level: Level
    approval_required: bool
    default_no: bool
    approvers: list[User]


def candidates_for(session: Session, doc: Document) -> list[User]:
    """Active people who could hold an approving office for ``doc``."""
    rows = session.scalars(select(User).where(User.active.is_(True)).order_by(User.username))
    return list(rows)


def explain(session: Session, user: User, doc: Document, action: str, now: datetime) -> Explanation:
    """Answer "may USER do ACTION to DOC at NOW?" with the reason and, for requests,
    who may approve."""
    if action not in CAN_I_ACTIONS:
        raise InvalidInput(
            f"Unknown action {action!r}; actions are: {', '.join(CAN_I_ACTIONS)}.",
            code="unknown_action",
        )
    subject = accounts.subject_of(user)
    doc_facts = facts(doc)
    level = policy.effective_level(doc_facts, now)
    approvers: list[User] = []
    required = default_no = False
    if action == "view":
        decision = policy.can_view(subject, doc_facts, now)
    elif action == "grant":
        decision = policy.can_grant(subject, doc_facts, now)
    else:
        kind = CopyKind(action)
        decision = policy.can_request(subject, doc_facts, kind, now)
        route = policy.copy_route(doc_facts, kind, now)
        required, default_no = route.required, route.default_no
        if decision.allowed and route.required:
            request = policy.CopyFacts(document=doc_facts, kind=kind, requester_id=user.id)
            approvers = [
                u
                for u in candidates_for(session, doc)
                if policy.can_approve(accounts.subject_of(u), request, now).allowed
            ]
        elif decision.allowed:
            decision = policy.Decision(True, route.reason)
    return Explanation(
        action=action,
        allowed=decision.allowed,
        reason=decision.reason.value,
        effective_level=level,
        approval_required=required,
        default_no=default_no,
        approvers=approvers,
    )
