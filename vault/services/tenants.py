"""Tenants (租户) and their archives (租户档案).

A tenant belongs to a company (the one serving it). Its *catalogue entry* (code,
name, unit, contact, status) is known to that company's employees, HQ executives,
compliance and administrators (`policy.can_read_tenants`), and kept by the
company's custodians and the administrators (`policy.can_keep_tenants`). Its
*archive* is the documents carrying its code, each shown only to those who may
know of that document (`documents.search` with a tenant filter): the catalogue by
category, its counts and its search never reveal a file out of the reader's scope.
Tenant archives are registered 秘密 (``confidential``) by default
(`policy.DEFAULT_LEVEL[Category.TENANT_ARCHIVE]`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vault import policy
from vault.actions import Action
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import Company, Document, NoticeRecipient, SignOff, Tenant
from vault.policy import Category, Level
from vault.services import accounts, documents
from vault.services.accounts import check_code, check_name
from vault.services.context import Ctx

ACTIVE = "active"
MOVED_OUT = "moved_out"
STATUSES = (ACTIVE, MOVED_OUT)
MAX_UNIT = 100
MAX_CONTACT = 200
MAX_SEARCH = 100
#: The archive page reads the tenant's visible documents in pages of this size.
ARCHIVE_BATCH = 500
NOTICE_CATEGORIES = frozenset({Category.NOTICE.value, Category.LETTER.value})


# ---------------------------------------------------------------------------
# Checks


def _check_text(value: str | None, what: str, limit: int, code: str) -> str | None:
    """A short optional text: trimmed, printable, at most ``limit`` characters; "" → None."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > limit or any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise InvalidInput(f"The {what} must be at most {limit} printable characters.",
                           code=code, limit=limit)
    return value


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise InvalidInput(f"Unknown status {status!r}; statuses are: {', '.join(STATUSES)}.",
                           code="bad_status")
    return status


def add_tenant(
    session: Session,
    code: str,
    name: str,
    unit: str | None = None,
    contact: str | None = None,
    company_id: int | None = None,
) -> Tenant:
    """Add a tenant without a check or an audit event (the demo and tests; people
    use `create_tenant`)."""
    check_code(code, "Tenant")
    name = check_name(name, "Tenant")
    unit = _check_text(unit, "unit", MAX_UNIT, "bad_unit")
    contact = _check_text(contact, "contact", MAX_CONTACT, "bad_contact")
    if session.scalar(select(Tenant).where(Tenant.code == code)) is not None:
        raise Conflict(f"A tenant with code {code!r} already exists.", code="tenant_exists")
    tenant = Tenant(code=code, name=name, unit=unit, contact=contact, company_id=company_id,
                    status=ACTIVE)
    session.add(tenant)
    session.flush()
    return tenant


# ---------------------------------------------------------------------------
# The catalogue: create, update, find, list


def _unknown(code: str) -> NotFound:
    return NotFound(f"No tenant {code!r}.", code="unknown_tenant")


def get_tenant(ctx: Ctx, code: str, action: Action = Action.TENANT_VIEW) -> Tenant:
    """The tenant with ``code`` if the actor may know of it; otherwise `NotFound`
    (absent and out of scope look the same), audited as a denied ``action``."""
    tenant = None
    if isinstance(code, str) and accounts.CODE_RE.match(code):
        tenant = ctx.session.scalar(select(Tenant).where(Tenant.code == code))
    shown = code[:64] if isinstance(code, str) else "?"
    if tenant is None:
        raise ctx.refuse(_unknown(shown), action, object_type="tenant", object_id=shown,
                         reason="unknown_tenant")
    decision = policy.can_read_tenants(ctx.subject, tenant.company_id)
    if not decision.allowed:
        raise ctx.refuse(_unknown(shown), action, object_type="tenant", object_id=shown,
                         reason=decision.reason.value)
    return tenant


def may_keep(ctx: Ctx, tenant: Tenant | None = None, company_id: int | None = None) -> bool:
    """Whether the actor may add tenants to ``company_id`` (or update ``tenant``): for
    showing forms; the use cases decide again."""
    target = tenant.company_id if tenant is not None else company_id
    return policy.can_keep_tenants(ctx.subject, target).allowed


def create_tenant(
    ctx: Ctx,
    code: str,
    name: str,
    unit: str | None = None,
    contact: str | None = None,
    company_code: str | None = None,
) -> Tenant:
    """Add a tenant to ``company_code`` (default: the actor's company): by its
    custodians or an administrator. Audited ``tenant:create``."""
    actor = ctx.actor
    if actor is None:
        raise InvalidInput("A person adds tenants.", code="no_actor")
    company: Company = (accounts.get_company(ctx.session, company_code) if company_code
                        else actor.company)
    decision = policy.can_keep_tenants(ctx.subject, company.id)
    if not decision.allowed:
        raise ctx.refuse(
            Forbidden("Tenants are kept by the company's custodians and the administrators.",
                      code=decision.reason.value),
            Action.TENANT_CREATE, object_type="tenant", object_id=str(code)[:64])
    tenant = add_tenant(ctx.session, code, name, unit, contact, company_id=company.id)
    ctx.record(Action.TENANT_CREATE, object_type="tenant", object_id=tenant.code,
               reason=decision.reason.value,
               detail={"name": tenant.name, "unit": tenant.unit, "company": company.code,
                       "contact": tenant.contact is not None})
    return tenant


def update_tenant(
    ctx: Ctx,
    code: str,
    *,
    name: str | None = None,
    unit: str | None = None,
    contact: str | None = None,
    status: str | None = None,
) -> Tenant:
    """Change a tenant's name, unit, contact or status (``active`` / ``moved_out``).

    ``None`` leaves a field as it is; an empty unit or contact clears it. By the
    tenant's company's custodians or an administrator. Audited ``tenant:update``
    with the fields changed (the contact's value is not copied to the trail)."""
    tenant = get_tenant(ctx, code, Action.TENANT_UPDATE)
    decision = policy.can_keep_tenants(ctx.subject, tenant.company_id)
    if not decision.allowed:
        raise ctx.refuse(
            Forbidden("Tenants are kept by the company's custodians and the administrators.",
                      code=decision.reason.value),
            Action.TENANT_UPDATE, object_type="tenant", object_id=tenant.code)
    changes: dict[str, Any] = {}
    if name is not None:
        new_name = check_name(name, "Tenant")
        if new_name != tenant.name:
            changes["name"] = {"from": tenant.name, "to": new_name}
            tenant.name = new_name
    if unit is not None:
        new_unit = _check_text(unit, "unit", MAX_UNIT, "bad_unit")
        if new_unit != tenant.unit:
            changes["unit"] = {"from": tenant.unit, "to": new_unit}
            tenant.unit = new_unit
    if contact is not None:
        new_contact = _check_text(contact, "contact", MAX_CONTACT, "bad_contact")
        if new_contact != tenant.contact:
            changes["contact"] = True
            tenant.contact = new_contact
    if status is not None:
        new_status = check_status(status)
        if new_status != tenant.status:
            changes["status"] = {"from": tenant.status, "to": new_status}
            tenant.status = new_status
    if not changes:
        raise InvalidInput("Nothing to change.", code="no_change")
    ctx.record(Action.TENANT_UPDATE, object_type="tenant", object_id=tenant.code,
               reason=decision.reason.value, detail=changes)
    return tenant


def list_tenants(
    ctx: Ctx,
    text: str | None = None,
    status: str | None = None,
    company_code: str | None = None,
) -> list[Tenant]:
    """The tenants the actor may know of, by code, matching ``text`` in the code,
    name or unit (case-insensitive), optionally of one status or company."""
    stmt = select(Tenant).order_by(Tenant.code)
    if text is not None and text.strip():
        words = text.strip()[:MAX_SEARCH]
        stmt = stmt.where(or_(
            Tenant.code.icontains(words, autoescape=True),
            Tenant.name.icontains(words, autoescape=True),
            Tenant.unit.icontains(words, autoescape=True),
        ))
    if status:
        stmt = stmt.where(Tenant.status == check_status(status))
    if company_code:
        company = ctx.session.scalar(select(Company).where(Company.code == company_code))
        if company is None:
            return []
        stmt = stmt.where(Tenant.company_id == company.id)
    subject = ctx.subject
    return [t for t in ctx.session.scalars(stmt)
            if policy.can_read_tenants(subject, t.company_id).allowed]


# ---------------------------------------------------------------------------
# The archive (目录清晰、易查)


@dataclass
class ArchiveEntry:
    """A document of the archive as its catalogue shows it (plain values)."""

    id: int
    title: str
    category: str
    level: str  # in force now
    marking: str
    issued_on: Any
    paper_original: bool
    #: A notice or letter with recipients and sign-offs (not a sign-off sheet).
    is_notice: bool = False


@dataclass
class Archive:
    tenant: Tenant
    #: Every category of the tenant's documents the reader may know of, with its count
    #: (before the search): the catalogue.
    catalogue: list[tuple[str, int]]
    total: int
    #: The documents matching the search, grouped by category in catalogue order.
    groups: list[tuple[str, list[ArchiveEntry]]]
    matches: int
    notices: list[dict[str, Any]] = field(default_factory=list)


def _visible(ctx: Ctx, code: str, category: Category | None = None,
             text: str | None = None) -> list[tuple[Document, Level]]:
    """All of the tenant's documents the actor may know of (through `documents.search`,
    so its scope rules hold), newest first."""
    out: list[tuple[Document, Level]] = []
    page = 1
    while True:
        found = documents.search(ctx, documents.Query(
            tenant=code, category=category, text=text, page=page, per_page=ARCHIVE_BATCH))
        out.extend((d, found.levels[d.id]) for d in found.items)
        if page * ARCHIVE_BATCH >= found.total:
            return out
        page += 1


def _category_order(category: str) -> int:
    order = [c.value for c in Category]
    return order.index(category) if category in order else len(order)


def archive(ctx: Ctx, code: str, text: str | None = None, category: Category | None = None,
            lang: str = "zh") -> Archive:
    """The tenant's archive for the tenant page: the catalogue by category with counts,
    and the documents matching ``text`` (words in the title) and ``category``, grouped
    by category. Only documents the actor may know of are listed or counted. Audited
    ``tenant:view`` (with the number of documents shown)."""
    tenant = get_tenant(ctx, code)
    words = text.strip()[:MAX_SEARCH] if text and text.strip() else None
    everything = _visible(ctx, tenant.code)
    counts: dict[str, int] = {}
    for doc, _level in everything:
        counts[doc.category] = counts.get(doc.category, 0) + 1
    catalogue = sorted(counts.items(), key=lambda item: _category_order(item[0]))
    if words is None and category is None:
        matching = everything
    else:
        matching = _visible(ctx, tenant.code, category, words)
    grouped: dict[str, list[ArchiveEntry]] = {}
    sheets = {i for i in ctx.session.scalars(
        select(SignOff.sheet_document_id).where(SignOff.sheet_document_id.is_not(None)))}
    for doc, level in matching:
        period = documents.period_of(doc) if level.classified else policy.NO_PERIOD
        grouped.setdefault(doc.category, []).append(ArchiveEntry(
            id=doc.id, title=doc.title, category=doc.category, level=level.value,
            marking=policy.marking(level, period, lang), issued_on=doc.issued_on,
            paper_original=doc.has_paper_original,
            is_notice=doc.category in NOTICE_CATEGORIES and doc.id not in sheets))
    groups = sorted(grouped.items(), key=lambda item: _category_order(item[0]))
    result = Archive(tenant=tenant, catalogue=catalogue, total=len(everything),
                     groups=groups, matches=len(matching),
                     notices=addressed_notices(ctx, tenant, lang))
    ctx.record(Action.TENANT_VIEW, object_type="tenant", object_id=tenant.code,
               reason="archive",
               detail={"documents": len(everything), "shown": len(matching),
                       "search": words is not None,
                       "category": category.value if category else None})
    return result


def addressed_notices(ctx: Ctx, tenant: Tenant, lang: str = "zh") -> list[dict[str, Any]]:
    """The notices and letters addressed to ``tenant`` that the actor may know of,
    newest first, each with the tenant's sign-off (or None)."""
    rows = ctx.session.execute(
        select(Document, SignOff)
        .join(NoticeRecipient, NoticeRecipient.document_id == Document.id)
        .outerjoin(SignOff, (SignOff.document_id == Document.id)
                   & (SignOff.tenant_id == NoticeRecipient.tenant_id))
        .where(NoticeRecipient.tenant_id == tenant.id)
        .order_by(Document.id.desc())
    ).all()
    subject, tz = ctx.subject, ctx.settings.tz
    out = []
    for doc, sign_off in rows:
        doc_facts = documents.facts(doc, tz)
        if not policy.can_see_metadata(subject, doc_facts, ctx.now).allowed:
            continue
        level = policy.effective_level(doc_facts, ctx.now)
        period = documents.period_of(doc) if level.classified else policy.NO_PERIOD
        out.append({
            "id": doc.id, "title": doc.title, "category": doc.category, "level": level.value,
            "marking": policy.marking(level, period, lang), "issued_on": doc.issued_on,
            "signed": sign_off is not None,
            "signed_at": sign_off.signed_at if sign_off is not None else None,
            "signer": sign_off.signer_name if sign_off is not None else None,
            "method": sign_off.method if sign_off is not None else None,
        })
    return out


def archive_documents(ctx: Ctx, code: str, query: documents.Query) -> documents.Page:
    """One page of the tenant's documents the actor may know of (the API's view of the
    archive), matching ``query``; audited ``tenant:view``."""
    tenant = get_tenant(ctx, code)
    query.tenant = tenant.code
    found = documents.search(ctx, query)
    ctx.record(Action.TENANT_VIEW, object_type="tenant", object_id=tenant.code,
               reason="documents", detail={"documents": found.total, "page": query.page})
    return found


def category_counts(ctx: Ctx, code: str) -> list[tuple[str, int]]:
    """The archive's catalogue (category, count) for the actor, without an audit event
    (the caller audits the view it is part of)."""
    tenant = get_tenant(ctx, code)
    counts: dict[str, int] = {}
    for doc, _level in _visible(ctx, tenant.code):
        counts[doc.category] = counts.get(doc.category, 0) + 1
    return sorted(counts.items(), key=lambda item: _category_order(item[0]))
