"""What the certificate register pages show: read models built in one unit of work.

Plain frozen values for the views to render after the commit (as
`document_pages.py`); `vault.services.certificates` decides and audits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from vault.actions import Action
from vault.errors import Forbidden
from vault.models import User
from vault.services import certificates
from vault.services.context import Ctx
from vault.services.copy_pages import Person, company_choices, company_filter, person


@dataclass(frozen=True)
class OpenLoan:
    id: int
    borrower: str | None  # "name (username)"
    borrower_person: Person
    due_on: date
    lent_at: datetime | None
    overdue: bool


@dataclass(frozen=True)
class CertificateRow:
    id: int
    title: str
    kind: str
    company: str  # its code
    level: str
    marking: str
    number: str | None
    custodian: str | None  # "name (username)"
    custodian_username: str
    custodian_person: Person | None
    location: str | None
    valid_until: date | None
    validity: str
    may_edit: bool
    paper: bool
    stored: bool
    loans: tuple[OpenLoan, ...]


def _person(user: User | None) -> str | None:
    return f"{user.name} ({user.username})" if user is not None else None


def _row(ctx: Ctx, row: certificates.Row) -> CertificateRow:
    doc, cert = row.document, row.certificate
    today = ctx.now.astimezone(ctx.settings.tz).date()
    return CertificateRow(
        id=doc.id, title=doc.title, kind=doc.category, company=doc.company.code,
        level=row.level.value, marking=row.marking,
        number=cert.number if cert else None,
        custodian=_person(cert.custodian) if cert else None,
        custodian_username=cert.custodian.username if cert and cert.custodian else "",
        custodian_person=person(cert.custodian) if cert else None,
        location=cert.original_location if cert else None,
        valid_until=cert.valid_until if cert else None, validity=row.validity,
        may_edit=row.may_edit, paper=doc.has_paper_original,
        stored=any(v.blob_id is not None for v in doc.versions),
        loans=tuple(OpenLoan(x.id, _person(x.borrower), Person(x.borrower.username,
                                                                x.borrower.name),
                             x.due_on, x.lent_at, x.lent_at is not None and x.due_on < today)
                    for x in row.open_loans),
    )


@dataclass(frozen=True)
class Register:
    rows: tuple[CertificateRow, ...]
    #: The company selector (code, name), for those who read every company's registers.
    companies: tuple[tuple[str, str], ...]


def register(ctx: Ctx, company: str, lang: str) -> Register:
    """The register, of one company (by code) or of every company the person reads."""
    return Register(rows(ctx, company_filter(ctx, company), lang), company_choices(ctx))


def rows(ctx: Ctx, company_id: int | None, lang: str) -> tuple[CertificateRow, ...]:
    """The register's rows (audited by `certificates.list_certificates`)."""
    return tuple(_row(ctx, r) for r in certificates.list_certificates(ctx, company_id, lang))


def one(ctx: Ctx, doc_id: int, lang: str) -> CertificateRow:
    """One certificate (audited by `certificates.get`)."""
    return _row(ctx, certificates.get(ctx, doc_id, lang))


@dataclass(frozen=True)
class EditForm:
    cert: CertificateRow
    #: Who may be the custodian: the owning company's active people (username, label).
    people: tuple[tuple[str, str], ...]


def edit_form(ctx: Ctx, doc_id: int, lang: str) -> EditForm:
    """One certificate for its edit form; refused (audited) to anyone but its keepers."""
    row = certificates.get(ctx, doc_id, lang)
    if not row.may_edit:
        raise ctx.refuse(Forbidden("A certificate's details are kept by the owning "
                                   "company's custodian or general manager.",
                                   code="not_certificate_keeper"),
                         Action.CERTIFICATE_UPDATE, object_type="document",
                         object_id=str(doc_id))
    people = tuple((u.username, f"{u.name} ({u.username})") for u in ctx.session.scalars(
        select(User).where(User.company_id == row.document.company_id,
                           User.active.is_(True)).order_by(User.name)))
    return EditForm(_row(ctx, row), people)
