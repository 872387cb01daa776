"""The JSON API for tenants and notices' sign-offs: the tenant list, a tenant's
archive, a notice's recipients, recording sign-offs (JSON, or multipart with the
scanned sheet), their progress and the CSV export. Routes of the ``api`` blueprint
(vault/web/api.py: token authentication, input helpers and the error format),
described in vault/web/openapi.py.

Views parse and check their input, call vault/services/tenants.py or notices.py
and render JSON; the services decide and audit.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any, BinaryIO, cast
from urllib.parse import quote

from flask import Response, request, url_for
from sqlalchemy import select

from vault import policy
from vault.models import Company, Tenant
from vault.policy import Category, Level
from vault.services import documents, notices, tenants
from vault.services.context import Ctx
from vault.web import support
from vault.web.api import (
    UnsupportedMediaType,
    _clean_text,
    _created,
    _datetime,
    _doc_id,
    _json_object,
    _lang,
    _upload,
    _work,
    arg_enum,
    arg_int,
    arg_text,
    bad,
    bp,
)

#: The fields a sign-off reads (JSON members or multipart text parts).
SIGN_OFF_FIELDS = ("tenant", "signer", "signed_at", "method", "note")


def _code(value: str) -> str:
    """A tenant code from the path: anything else names no tenant (404 in the service)."""
    return value[:64]


def _tenant(t: Tenant, company: Company | None) -> dict[str, Any]:
    return {"code": t.code, "name": t.name, "unit": t.unit, "contact": t.contact,
            "status": t.status, "company": company.code if company is not None else None}


def _companies(ctx: Ctx) -> dict[int, Company]:
    return {c.id: c for c in ctx.session.scalars(select(Company))}


# ---------------------------------------------------------------------------
# Tenants


@bp.get("/tenants")
def list_tenants() -> Any:
    """The tenants the caller may know of, matching ``text`` in code, name or unit."""
    text = arg_text("text", tenants.MAX_SEARCH)
    status = request.args.get("status") or None
    if status is not None and status not in tenants.STATUSES:
        raise bad("status", f"must be one of: {', '.join(tenants.STATUSES)}")
    company = arg_text("company", 32)
    with _work() as ctx:
        companies = _companies(ctx)
        items = [_tenant(t, companies.get(t.company_id) if t.company_id else None)
                 for t in tenants.list_tenants(ctx, text, status, company)]
    return {"items": items, "total": len(items)}


@bp.get("/tenants/<code>/documents")
def tenant_documents(code: str) -> Any:
    """One page of a tenant's archive: the documents the caller may know of, and the
    catalogue (categories with counts, the caller's scope only)."""
    query = documents.Query(
        text=arg_text("text"),
        category=arg_enum("category", Category),
        level=arg_enum("level", Level),
        page=arg_int("page", 1, 1, 100_000) or 1,
        per_page=arg_int("per_page", 50, 1, 500) or 50,
    )
    lang = _lang()
    with _work() as ctx:
        found = tenants.archive_documents(ctx, _code(code), query)
        tenant = tenants.get_tenant(ctx, _code(code))
        company = ctx.session.get(Company, tenant.company_id) if tenant.company_id else None
        catalogue = tenants.category_counts(ctx, tenant.code)
        items = []
        for doc in found.items:
            level = found.levels[doc.id]
            period = documents.period_of(doc) if level.classified else policy.NO_PERIOD
            items.append({
                "id": doc.id, "title": doc.title, "category": doc.category,
                "level": level.value, "marking": policy.marking(level, period, lang),
                "issued_on": doc.issued_on.isoformat(),
                "paper_original": doc.has_paper_original,
            })
        info = _tenant(tenant, company)
    return {"tenant": info,
            "categories": [{"category": c, "count": n} for c, n in catalogue],
            "items": items, "total": found.total, "page": found.page,
            "per_page": found.per_page}


# ---------------------------------------------------------------------------
# Notices


def _progress(report: notices.Progress) -> dict[str, Any]:
    return {
        "document": report.document_id, "title": report.title, "category": report.category,
        "level": report.level, "marking": report.marking, "total": report.total,
        "signed": report.signed_count, "unsigned": report.unsigned_count,
        "percent": report.percent,
        "recipients": [_recipient(r) for r in report.recipients],
    }


def _recipient(r: notices.RecipientRow) -> dict[str, Any]:
    return {
        "tenant": r.code, "name": r.name, "unit": r.unit, "status": r.status,
        "signed": r.signed, "signer": r.signer,
        "signed_at": r.signed_at.isoformat() if r.signed_at else None,
        "method": r.method, "sheet_document": r.sheet_document_id, "note": r.note,
    }


@bp.put("/notices/<int:id>/recipients")
def put_recipients(id: int) -> Any:
    """Make the given tenants the notice's recipients (added and removed as needed)."""
    doc_id = _doc_id(id)
    body = _json_object()
    codes = body.get("tenants")
    if not isinstance(codes, list):
        raise bad("tenants", "send a list of tenant codes")
    if len(codes) > notices.MAX_RECIPIENTS:
        raise bad("tenants", f"at most {notices.MAX_RECIPIENTS} tenants")
    clean = [_clean_text("tenants", c, 32) for c in codes]
    lang = _lang()
    with _work() as ctx:
        change = notices.set_recipients(ctx, doc_id, clean)
        report = notices.progress(ctx, doc_id, lang)
        info = {**_progress(report), "added": change.added, "removed": change.removed}
    return info


def _optional(source: Any, field: str, max_len: int) -> str | None:
    value = source.get(field)
    if value is None or value == "":
        return None
    return _clean_text(field, value, max_len)


def _note(source: Any) -> str | None:
    value = source.get("note")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad("note", "must be a string")
    if len(value) > notices.MAX_NOTE:
        raise bad("note", f"at most {notices.MAX_NOTE} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\r\n\t" for c in value):
        raise bad("note", "contains control characters")
    return value


def _sign_off_fields(source: Any) -> dict[str, Any]:
    tenant = _optional(source, "tenant", 32)
    if tenant is None:
        raise bad("tenant", "is required")
    signer = _optional(source, "signer", notices.MAX_SIGNER)
    if signer is None:
        raise bad("signer", "is required")
    method = _optional(source, "method", 16)
    if method is None:
        raise bad("method", "is required")
    if method not in notices.METHODS:
        raise bad("method", f"must be one of: {', '.join(notices.METHODS)}")
    raw_time = source.get("signed_at")
    signed_at: datetime = (datetime.now(support.settings().tz) if raw_time in (None, "")
                           else _datetime("signed_at", raw_time))
    return {"tenant_code": tenant, "signer_name": signer, "method": method,
            "signed_at": signed_at, "note": _note(source)}


@bp.post("/notices/<int:id>/sign-offs")
def create_sign_off(id: int) -> Any:
    """Record a recipient's sign-off: JSON, or multipart with the scanned sheet as the
    part ``sheet`` (required for ``scanned``)."""
    doc_id = _doc_id(id)
    sheet: tuple[BinaryIO, str] | None = None
    if request.mimetype == "multipart/form-data":
        fields = _sign_off_fields(request.form)
        if "sheet" in request.files:
            upload = _upload("sheet")
            sheet = (cast(BinaryIO, upload.stream), upload.filename or "")
    elif request.mimetype == "application/json":
        fields = _sign_off_fields(_json_object())
    else:
        raise UnsupportedMediaType(
            "Send application/json, or multipart/form-data with the scanned sheet as the "
            "part 'sheet'.")
    lang = _lang()
    with _work() as ctx:
        row = notices.record_sign_off(ctx, doc_id, sheet=sheet, **fields)
        tenant_code = row.tenant.code
        report = notices.progress(ctx, doc_id, lang)
        info = next(_recipient(r) for r in report.recipients if r.code == tenant_code)
    return _created(info, url_for("api.list_sign_offs", id=doc_id))


@bp.get("/notices/<int:id>/sign-offs")
def list_sign_offs(id: int) -> Any:
    """Recipients, signed and not, with counts and the signed percentage."""
    doc_id, lang = _doc_id(id), _lang()
    with _work() as ctx:
        return _progress(notices.progress(ctx, doc_id, lang))


@bp.get("/notices/<int:id>/sign-offs.csv")
def sign_offs_csv(id: int) -> Any:
    """The sign-off list as CSV (UTF-8 with BOM, bilingual header); audited."""
    doc_id = _doc_id(id)
    with _work() as ctx:
        text = notices.export_csv(ctx, doc_id)
    resp = Response(text.encode("utf-8"), content_type="text/csv; charset=utf-8")
    name = f"签收记录-{doc_id}.csv"
    resp.headers["Content-Disposition"] = (
        f"attachment; filename=\"sign-offs-{doc_id}.csv\"; "
        f"filename*=UTF-8''{quote(name, safe='')}")
    resp.headers["Cache-Control"] = "no-store"
    return resp

