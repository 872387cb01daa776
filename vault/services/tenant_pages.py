"""What the tenant and notice pages (and their JSON API) show: read models built in
one unit of work.

The views render these after the unit of work has committed, so every function
returns dataclasses of plain values, never ORM rows (as `document_pages.py`).
Decisions and audit stay in `vault.services.tenants` and `notices`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any, BinaryIO

from sqlalchemy import select

from vault import policy
from vault.actions import Action
from vault.models import Company, Document, Tenant
from vault.policy import Category
from vault.services import documents, notices, tenants
from vault.services import requests as service_requests
from vault.services.context import Ctx


@dataclass(frozen=True)
class TenantRow:
    code: str
    name: str
    unit: str | None
    contact: str | None
    status: str
    company: str | None  # its name
    company_code: str | None
    may_keep: bool


def _companies(ctx: Ctx) -> dict[int, Company]:
    return {c.id: c for c in ctx.session.scalars(select(Company))}


def tenant_row(ctx: Ctx, t: Tenant) -> TenantRow:
    """One tenant (e.g. just added or changed)."""
    return _row(ctx, t, _companies(ctx))


def _row(ctx: Ctx, t: Tenant, companies: dict[int, Company]) -> TenantRow:
    company = companies.get(t.company_id) if t.company_id is not None else None
    return TenantRow(code=t.code, name=t.name, unit=t.unit, contact=t.contact,
                     status=t.status, company=company.name if company else None,
                     company_code=company.code if company else None,
                     may_keep=tenants.may_keep(ctx, t))


# ---------------------------------------------------------------------------
# The tenant list


@dataclass(frozen=True)
class TenantList:
    rows: tuple[TenantRow, ...]
    #: The companies the person may add tenants to (code, name), for the form.
    company_choices: tuple[tuple[str, str], ...]
    own_company: str


def tenant_list(ctx: Ctx, text: str | None, status: str | None,
                company: str | None = None) -> TenantList:
    companies = _companies(ctx)
    rows = tenant_rows(ctx, text, status, company, companies)
    ordered = sorted(companies.values(), key=lambda c: (not c.is_hq, c.code))
    choices = tuple((c.code, c.name) for c in ordered if tenants.may_keep(ctx, company_id=c.id))
    own = ctx.actor.company.code if ctx.actor is not None else ""
    return TenantList(rows, choices, own)


def tenant_rows(ctx: Ctx, text: str | None, status: str | None, company: str | None = None,
                companies: dict[int, Company] | None = None) -> tuple[TenantRow, ...]:
    """The tenants the person may know of, by code."""
    companies = companies if companies is not None else _companies(ctx)
    return tuple(_row(ctx, t, companies)
                 for t in tenants.list_tenants(ctx, text, status, company))


# ---------------------------------------------------------------------------
# A tenant's archive


@dataclass(frozen=True)
class TenantArchive:
    """A tenant's archive: the catalogue (categories with counts) and the documents
    matching the search, grouped by category (audited by `tenants.archive`)."""

    tenant: TenantRow
    catalogue: tuple[tuple[str, int], ...]
    total: int
    groups: tuple[tuple[str, list[tenants.ArchiveEntry]], ...]
    matches: int
    notices: tuple[dict[str, Any], ...]


def tenant_archive(ctx: Ctx, code: str, text: str | None, category: Category | None,
                   lang: str) -> TenantArchive:
    arch = tenants.archive(ctx, code, text, category, lang)
    return TenantArchive(
        tenant=_row(ctx, arch.tenant, _companies(ctx)), catalogue=tuple(arch.catalogue),
        total=arch.total, groups=tuple(arch.groups), matches=arch.matches,
        notices=tuple(arch.notices))


@dataclass(frozen=True)
class ArchivePage(TenantArchive):
    #: The tenant's request records the reader may read (诉求记录).
    service_requests: tuple[service_requests.RequestSummary, ...]


def archive_page(ctx: Ctx, code: str, text: str | None, category: Category | None,
                 lang: str) -> ArchivePage:
    arch = tenant_archive(ctx, code, text, category, lang)
    return ArchivePage(
        **{f.name: getattr(arch, f.name) for f in fields(TenantArchive)},
        service_requests=tuple(service_requests.search(ctx, tenant_code=arch.tenant.code,
                                                       limit=50)),
    )


@dataclass(frozen=True)
class ArchiveItem:
    id: int
    title: str
    category: str
    level: str
    marking: str
    issued_on: date
    paper_original: bool


@dataclass(frozen=True)
class ArchiveListing:
    """One page of a tenant's archive for the API, with the catalogue (categories
    with counts, the caller's scope only)."""

    tenant: TenantRow
    categories: tuple[tuple[str, int], ...]
    items: tuple[ArchiveItem, ...]
    total: int
    page: int
    per_page: int


def archive_listing(ctx: Ctx, code: str, query: documents.Query, lang: str) -> ArchiveListing:
    found = tenants.archive_documents(ctx, code, query)
    tenant = tenants.get_tenant(ctx, code)
    catalogue = tenants.category_counts(ctx, tenant.code)
    items = []
    for doc in found.items:
        level = found.levels[doc.id]
        period = documents.period_of(doc) if level.classified else policy.NO_PERIOD
        items.append(ArchiveItem(id=doc.id, title=doc.title, category=doc.category,
                                 level=level.value, marking=policy.marking(level, period, lang),
                                 issued_on=doc.issued_on, paper_original=doc.has_paper_original))
    return ArchiveListing(tenant=_row(ctx, tenant, _companies(ctx)),
                          categories=tuple(catalogue), items=tuple(items), total=found.total,
                          page=found.page, per_page=found.per_page)


# ---------------------------------------------------------------------------
# A notice's sign-offs


@dataclass(frozen=True)
class Candidate:
    code: str
    name: str
    unit: str | None
    status: str
    chosen: bool


@dataclass(frozen=True)
class SignOffsPage:
    report: notices.Progress
    doc_id: int
    may_address: bool
    may_record: bool
    candidates: tuple[Candidate, ...]
    issued_on: date


def sign_offs_page(ctx: Ctx, doc_id: int, lang: str) -> SignOffsPage:
    doc = notices.load_notice(ctx, doc_id, Action.DOCUMENT_VIEW_METADATA)
    report = notices.progress_of(ctx, doc, lang)
    assert report is not None
    current = {r.code for r in report.recipients}
    return SignOffsPage(
        report=report, doc_id=doc.id, may_address=notices.may_address(ctx, doc),
        may_record=notices.may_record(ctx, doc),
        candidates=tuple(Candidate(t.code, t.name, t.unit, t.status, t.code in current)
                         for t in notices.candidates(ctx, doc)),
        issued_on=doc.issued_on,
    )


def record_sign_off(ctx: Ctx, doc_id: int, lang: str, *, sheet: tuple[BinaryIO, str] | None,
                    **fields: Any) -> notices.RecipientRow:
    """Record a sign-off (`notices.record_sign_off` decides and audits); the
    recipient's row as the progress report shows it."""
    row = notices.record_sign_off(ctx, doc_id, sheet=sheet, **fields)
    code = row.tenant.code
    report = notices.progress(ctx, doc_id, lang)
    return next(r for r in report.recipients if r.code == code)


# ---------------------------------------------------------------------------
# The document page's section


@dataclass(frozen=True)
class SheetOf:
    id: int
    title: str


@dataclass(frozen=True)
class SheetSection:
    """A scanned sign-off sheet: the notice it belongs to (if the reader may know of it)."""

    sheet_of: SheetOf | None
    tenant: str
    signer: str
    signed_at: datetime


@dataclass(frozen=True)
class NoticeSection:
    """A notice or letter: its sign-off progress."""

    id: int
    total: int
    signed: int
    unsigned: tuple[str, ...]  # the first ten names
    unsigned_count: int
    percent: int
    may_address: bool
    sheet_of: None = None


def notice_section(ctx: Ctx, doc_id: int, lang: str) -> NoticeSection | SheetSection | None:
    """For a notice or letter, or a sign-off sheet, the document page's section; None
    for any other document. Reads only: the page itself was audited."""
    doc = ctx.session.get(Document, doc_id)
    if doc is None or not notices.is_notice(doc):
        return None
    facts = documents.facts(doc, ctx.settings.tz)
    if not policy.can_see_metadata(ctx.subject, facts, ctx.now).allowed:
        return None
    sign_off = notices.sheet_of(ctx, doc.id)
    if sign_off is not None:
        notice = sign_off.document
        known = policy.can_see_metadata(
            ctx.subject, documents.facts(notice, ctx.settings.tz), ctx.now).allowed
        return SheetSection(sheet_of=SheetOf(notice.id, notice.title) if known else None,
                            tenant=sign_off.tenant.name, signer=sign_off.signer_name,
                            signed_at=sign_off.signed_at)
    report = notices.progress_of(ctx, doc, lang)
    assert report is not None
    return NoticeSection(id=doc.id, total=report.total, signed=report.signed_count,
                         unsigned=tuple(r.name for r in report.unsigned)[:10],
                         unsigned_count=report.unsigned_count, percent=report.percent,
                         may_address=notices.may_address(ctx, doc))
