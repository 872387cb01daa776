"""Certificates (证照, SPEC.md §4): business licences, organisation-code
certificates, tax registrations and other certificates.

A certificate is a document of one of the `policy.CERTIFICATES` categories; this
module keeps what the register needs besides: the certificate's number, its
custodian (the person holding the paper original), where the original is kept and
until when it is valid. The owning company's custodians and general manager record
these (`policy.can_edit_certificate`); the register is read by whoever reads the
company's copy and lending registers (`policy.can_read_register`). Copies and loans
of a certificate follow "Copy approval" (`policy.copy_route`, vault.services.copies):
this module only shows the open loans next to each certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any

from sqlalchemy import select

from vault import policy
from vault.actions import Action
from vault.errors import Forbidden, InvalidInput
from vault.models import Certificate, Document, Loan, User
from vault.policy import Level
from vault.services import documents, scope
from vault.services.context import Ctx

CATEGORIES = frozenset(c.value for c in policy.CERTIFICATES)
MAX_NUMBER = 100
MAX_LOCATION = 200
#: Certificates expiring within this many days are flagged in the register.
EXPIRY_WARNING_DAYS = 60


class _Keep(Enum):
    KEEP = "keep"


#: "Leave this field as it is" (the CLI changes only the fields it is given).
KEEP = _Keep.KEEP


def _text(value: str | None, limit: int, field: str, code: str) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > limit or not text.isprintable():
        raise InvalidInput(f"The {field} must be at most {limit} printable characters.",
                           code=code)
    return text


def _custodian(ctx: Ctx, username: str | None, doc: Document) -> User | None:
    name = (username or "").strip()
    if not name:
        return None
    user = ctx.session.scalar(select(User).where(User.username == name[:64]))
    if user is None or not user.active or user.company_id != doc.company_id:
        raise InvalidInput(
            f"The custodian must be an active person of {doc.company.code}.",
            code="bad_custodian")
    return user


def _valid_until(value: date | None) -> date | None:
    if value is not None and not policy.FIRST_YEAR <= value.year <= policy.LAST_YEAR:
        raise InvalidInput(
            f"The validity date must fall between {policy.FIRST_YEAR} and {policy.LAST_YEAR}.",
            code="bad_valid_until")
    return value


def set_details(
    ctx: Ctx,
    doc_id: int,
    number: str | None | _Keep = KEEP,
    custodian_username: str | None | _Keep = KEEP,
    original_location: str | None | _Keep = KEEP,
    valid_until: date | None | _Keep = KEEP,
) -> Certificate:
    """Record a certificate's number, custodian, the original's location and validity.
    A field given as None (or empty) is cleared; `KEEP` leaves it as it is."""
    doc = documents.load(ctx, doc_id, Action.CERTIFICATE_UPDATE)
    if doc.category not in CATEGORIES:
        raise ctx.refuse(InvalidInput(
            "Only certificates (business licence, organisation code, tax registration, "
            "other certificates) carry these details.", code="not_a_certificate"),
            Action.CERTIFICATE_UPDATE, object_type="document", object_id=str(doc.id))
    decision = policy.can_edit_certificate(ctx.subject, doc.company_id, doc.company.is_hq)
    if not decision.allowed:
        raise ctx.refuse(Forbidden(
            "A certificate's details are kept by the owning company's custodian or general "
            "manager.", code=decision.reason.value),
            Action.CERTIFICATE_UPDATE, object_type="document", object_id=str(doc.id))
    cert = ctx.session.get(Certificate, doc.id)
    if cert is None:
        cert = Certificate(document_id=doc.id)
        ctx.session.add(cert)
    changes: dict[str, Any] = {}
    if not isinstance(number, _Keep):
        cert.number = _text(number, MAX_NUMBER, "certificate number", "bad_number")
        changes["number"] = cert.number
    if not isinstance(custodian_username, _Keep):
        custodian = _custodian(ctx, custodian_username, doc)
        cert.custodian = custodian
        changes["custodian"] = custodian.username if custodian is not None else None
    if not isinstance(original_location, _Keep):
        cert.original_location = _text(original_location, MAX_LOCATION,
                                       "location of the original", "bad_location")
        changes["original_location"] = cert.original_location
    if not isinstance(valid_until, _Keep):
        cert.valid_until = _valid_until(valid_until)
        changes["valid_until"] = cert.valid_until.isoformat() if cert.valid_until else None
    ctx.session.flush()
    ctx.record(Action.CERTIFICATE_UPDATE, object_type="document", object_id=str(doc.id),
               level=documents.effective_level(ctx, doc).value, reason=decision.reason.value,
               detail=changes)
    return cert


# ---------------------------------------------------------------------------
# The register


@dataclass
class Row:
    document: Document
    certificate: Certificate | None
    level: Level
    marking: str
    open_loans: list[Loan]
    may_edit: bool
    validity: str  # "", "valid", "expiring", "expired"


def _scope(ctx: Ctx, company_id: int | None) -> list[int] | None:
    """Company ids the actor may read the register of (None: every company)."""
    return scope.register_companies(
        ctx, company_id, "The certificate register is kept by custodians and read by the "
        "general manager, HQ executives and compliance.", object_id="certificates")


def validity(valid_until: date | None, today: date) -> str:
    if valid_until is None:
        return ""
    if valid_until < today:
        return "expired"
    if (valid_until - today).days <= EXPIRY_WARNING_DAYS:
        return "expiring"
    return "valid"


def list_certificates(ctx: Ctx, company_id: int | None = None,
                      lang: str = "zh") -> list[Row]:
    """The certificates of the actor's company (every company for HQ executives and
    compliance), with their details and open loans. Audited (register:view)."""
    companies = _scope(ctx, company_id)
    stmt = select(Document).where(Document.category.in_(sorted(CATEGORIES)))
    if companies is not None:
        stmt = stmt.where(Document.company_id.in_(companies))
    subject = ctx.subject
    tz = ctx.settings.tz
    today = ctx.now.astimezone(tz).date()
    docs = [d for d in ctx.session.scalars(stmt.order_by(Document.company_id, Document.id))
            if policy.can_see_metadata(subject, documents.facts(d, tz), ctx.now).allowed]
    ids = [d.id for d in docs]
    certs = {c.document_id: c for c in ctx.session.scalars(
        select(Certificate).where(Certificate.document_id.in_(ids)))} if ids else {}
    loans: dict[int, list[Loan]] = {}
    if ids:
        for loan in ctx.session.scalars(select(Loan).where(
                Loan.document_id.in_(ids), Loan.returned_at.is_(None)).order_by(Loan.due_on)):
            loans.setdefault(loan.document_id, []).append(loan)
    rows = []
    for doc in docs:
        level = documents.effective_level(ctx, doc)
        period = documents.period_of(doc) if level.classified else policy.NO_PERIOD
        cert = certs.get(doc.id)
        rows.append(Row(
            document=doc, certificate=cert, level=level,
            marking=policy.marking(level, period, lang), open_loans=loans.get(doc.id, []),
            may_edit=policy.can_edit_certificate(subject, doc.company_id,
                                                 doc.company.is_hq).allowed,
            validity=validity(cert.valid_until if cert else None, today),
        ))
    ctx.record(Action.REGISTER_VIEW, object_type="register", object_id="certificates",
               reason="shown", detail={"rows": len(rows)})
    return rows


def get(ctx: Ctx, doc_id: int, lang: str = "zh") -> Row:
    """One certificate for its edit form (metadata only; the same checks as the register)."""
    doc = documents.load(ctx, doc_id, Action.REGISTER_VIEW)
    if doc.category not in CATEGORIES:
        raise InvalidInput("This document is not a certificate.", code="not_a_certificate")
    _scope(ctx, doc.company_id)
    cert = ctx.session.get(Certificate, doc.id)
    level = documents.effective_level(ctx, doc)
    period = documents.period_of(doc) if level.classified else policy.NO_PERIOD
    today = ctx.now.astimezone(ctx.settings.tz).date()
    open_loans = list(ctx.session.scalars(select(Loan).where(
        Loan.document_id == doc.id, Loan.returned_at.is_(None)).order_by(Loan.due_on)))
    ctx.record(Action.REGISTER_VIEW, object_type="document", object_id=str(doc.id),
               level=level.value, reason="certificate")
    return Row(document=doc, certificate=cert, level=level,
               marking=policy.marking(level, period, lang), open_loans=open_loans,
               may_edit=policy.can_edit_certificate(ctx.subject, doc.company_id,
                                                    doc.company.is_hq).allowed,
               validity=validity(cert.valid_until if cert else None, today))
