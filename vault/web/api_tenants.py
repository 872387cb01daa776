"""The JSON API for tenants and notices' sign-offs: the tenant list, a tenant's
archive, a notice's recipients, recording sign-offs (JSON, or multipart with the
scanned sheet), their progress and the CSV export. Routes of the ``api`` blueprint
(vault/web/api.py: token authentication, input helpers and the error format),
described in vault/web/openapi.py.

Views parse and check their input, call vault/services/tenants.py or notices.py
and render JSON; the services decide and audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO, cast
from urllib.parse import quote

import marshmallow as ma
from flask import Response, request, url_for
from marshmallow import fields, validate

from vault.policy import Category, Level
from vault.services import documents, notices, tenant_pages, tenants
from vault.web import support
from vault.web.api import (
    LangOnly,
    UnsupportedMediaType,
    _upload,
    _work,
    bp,
)
from vault.web.api_schema import (
    Body,
    Bool,
    Choice,
    Day,
    FreeText,
    Int,
    Lang,
    Moment,
    Null,
    Out,
    Query,
    Str,
    Text,
    Whole,
    describe,
    json_object,
    load,
    path_id,
)

TENANT_CODE = {"minLength": 1, "maxLength": 32, "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"}
STATUS = ["active", "moved_out"]
CODE = {"in": "path", "name": "code", "required": True, "description": "Tenant code.",
        "schema": {"type": "string", **TENANT_CODE}}
NOTICE = path_id("Notice or letter (document)")


def _code(value: str) -> str:
    """A tenant code from the path: anything else names no tenant (404 in the service)."""
    return value[:64]


# ---------------------------------------------------------------------------
# Tenants


class TenantSchema(Out):
    code = Str()
    name = Str()
    unit = Null(Str())
    contact = Null(Str())
    status = Str(metadata={"enum": STATUS})
    company = Null(Str(**describe("Company code (null: the group's).")))


class TenantList(Out):
    items = fields.List(fields.Nested(TenantSchema), required=True)
    total = Int()


class TenantFilter(Query):
    text = Text(tenants.MAX_SEARCH, **describe("Words in the code, name or unit."))
    status = Choice(tenants.STATUSES, **describe("Only this status."))
    company = Text(32, **describe("Company code."))


class CategoryCount(Out):
    category = Str()
    count = Int()


class TenantArchiveEntry(Out):
    id = Int()
    title = Str()
    category = Choice(Category, required=True)
    level = Choice(Level, required=True, **describe("In force now."))
    marking = Str()
    issued_on = Day(required=True)
    paper_original = Bool()


class TenantArchive(Out):
    tenant = fields.Nested(TenantSchema, required=True)
    categories = fields.List(fields.Nested(CategoryCount), required=True, **describe(
        "The catalogue: every category of the documents you may know of, with its count."))
    items = fields.List(fields.Nested(TenantArchiveEntry), required=True)
    total = Int()
    page = Int()
    per_page = Int()


class TenantArchiveQuery(Query):
    text = Text(200, **describe("Words in the title."))
    category = Choice(Category, **describe("Category id."))
    level = Choice(Level, **describe("Level in force now."))
    page = Whole(1, 100_000, load_default=1, **describe("Page number, from 1."))
    per_page = Whole(1, 500, load_default=50, **describe("Items per page (1–500)."))
    lang = Lang()


def _tenant(t: tenant_pages.TenantRow) -> dict[str, Any]:
    return {"code": t.code, "name": t.name, "unit": t.unit, "contact": t.contact,
            "status": t.status, "company": t.company_code}


@bp.get("/tenants", tags=["tenants"])
@bp.operation("listTenants", summary="Tenants you may know of (your company's; group-wide for "
                                     "HQ executives, compliance and administrators)")
@bp.arguments(TenantFilter, location="query")
@bp.response(200, TenantList, description="The tenants, by code.")
@bp.errors("BadRequest")
def list_tenants(args: dict[str, Any]) -> Any:
    """The tenants the caller may know of, matching ``text`` in code, name or unit."""
    with _work() as ctx:
        found = tenant_pages.tenant_list(ctx, args.get("text"), args.get("status"),
                                         args.get("company"))
    items = [_tenant(t) for t in found.rows]
    return {"items": items, "total": len(items)}


@bp.get("/tenants/<code>/documents", tags=["tenants"], parameters=[CODE])
@bp.operation("listTenantDocuments",
              summary="A tenant's archive (租户档案): its documents you may know of",
              description="Documents out of your scope are absent, from the counts too. "
                          "Audited (tenant:view).")
@bp.arguments(TenantArchiveQuery, location="query")
@bp.response(200, TenantArchive, description="One page of the archive.")
@bp.errors("BadRequest", "NotFound")
def tenant_documents(args: dict[str, Any], code: str) -> Any:
    """One page of a tenant's archive: the documents the caller may know of, and the
    catalogue (categories with counts, the caller's scope only)."""
    query = documents.Query(text=args.get("text"), category=args.get("category"),
                            level=args.get("level"), page=args["page"],
                            per_page=args["per_page"])
    with _work() as ctx:
        found = tenant_pages.archive_listing(ctx, _code(code), query, args["lang"])
    items = [{"id": d.id, "title": d.title, "category": d.category, "level": Level(d.level),
              "marking": d.marking, "issued_on": d.issued_on,
              "paper_original": d.paper_original} for d in found.items]
    return {"tenant": _tenant(found.tenant),
            "categories": [{"category": c, "count": n} for c, n in found.categories],
            "items": items, "total": found.total, "page": found.page,
            "per_page": found.per_page}


# ---------------------------------------------------------------------------
# Notices


class Recipient(Out):
    tenant = Str(attribute="code")
    name = Str()
    unit = Null(Str())
    status = Str(metadata={"enum": STATUS})
    signed = Bool()
    signer = Null(Str())
    signed_at = Null(Moment(required=True))
    method = Null(Str(metadata={"enum": list(notices.METHODS)}))
    sheet_document = Null(Int(attribute="sheet_document_id", **describe(
        "The scanned sheet's document id (encrypted like every file; its own access "
        "rules).")))
    note = Null(Str())


class SignOffProgress(Out):
    document = Int(attribute="document_id")
    title = Str()
    category = Str(metadata={"enum": ["notice", "letter"]})
    level = Choice(Level, required=True)
    marking = Str()
    total = Int()
    signed = Int(attribute="signed_count")
    unsigned = Int(attribute="unsigned_count")
    percent = Int(validate=validate.Range(0, 100), **describe(
        "Signed share, rounded down (100 only when all signed)."))
    recipients = fields.List(fields.Nested(Recipient), required=True)


class RecipientsChange(SignOffProgress):
    added = fields.List(fields.String(), required=True)
    removed = fields.List(fields.String(), required=True)


class Recipients(Body):
    tenants = fields.List(
        Text(32, metadata=TENANT_CODE), required=True,
        validate=validate.Length(max=notices.MAX_RECIPIENTS,
                                 error=f"at most {notices.MAX_RECIPIENTS} tenants"),
        error_messages={"invalid": "send a list of tenant codes",
                        "required": "send a list of tenant codes",
                        "null": "send a list of tenant codes"},
        **describe("Tenant codes of the notice's company; the new full list."))


class Note(FreeText):
    allowed_controls = "\r\n\t"


class NewSignOff(Body):
    tenant = Text(32, required=True, metadata={
        **TENANT_CODE, "description": "A recipient's tenant code."})
    signer = Text(notices.MAX_SIGNER, required=True, metadata={
        "minLength": 1, "description": "Who signed."})
    method = Choice(notices.METHODS, required=True, **describe(
        "on_site signature, scanned sheet (needs the sheet), electronic."))
    signed_at = Moment(**describe(
        "When (ISO 8601; without an offset, group time); default now. Not in the future, "
        "not before the issue date."))
    note = Note(notices.MAX_NOTE)

    @ma.pre_load
    def _drop_empty(self, data: Any, **kwargs: Any) -> dict[str, Any]:
        return {k: data.get(k) for k in data if data.get(k) not in (None, "")}


class NewSignOffUpload(NewSignOff):
    sheet = fields.Raw(metadata={
        "type": "string", "format": "binary",
        "description": "The scanned sign-off sheet (PDF or image); stored encrypted as a "
                       "document of its own."})


@bp.put("/notices/<id('document'):id>/recipients", tags=["notices"], parameters=[NOTICE])
@bp.operation("setNoticeRecipients", summary="Choose a notice's recipients (tenants)",
              description=(
    "By the notice's registrant, responsible supervisor, the owning department's manager or "
    "an HQ executive. Tenants of the notice's company; tenants who moved out are not added; "
    "a recipient who signed cannot be removed (409). Audited."))
@bp.arguments(LangOnly, location="query")
@bp.arguments(Recipients)
@bp.response(200, RecipientsChange, description="Saved.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict")
def put_recipients(args: dict[str, Any], body: dict[str, Any], id: int) -> Any:
    """Make the given tenants the notice's recipients (added and removed as needed)."""
    with _work() as ctx:
        change = notices.set_recipients(ctx, id, body["tenants"])
        report = notices.progress(ctx, id, args["lang"])
    return _Changed(report, change.added, change.removed)


@dataclass(frozen=True)
class _Changed:
    """The progress after a change of recipients, with who was added and removed."""

    progress: notices.Progress
    added: list[str]
    removed: list[str]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.progress, name)


@bp.post("/notices/<id('document'):id>/sign-offs", tags=["notices"], parameters=[NOTICE])
@bp.operation("recordSignOff", summary="Record a recipient's sign-off (签收)", description=(
    "JSON, or multipart/form-data with the scanned sheet as the part sheet (required for "
    "method scanned). One sign-off per recipient (a second: 409); only recipients sign. By "
    "those who choose recipients and the owning department's staff who may read the notice. "
    "Audited."), requestBody={"required": True, "content": {
        "application/json": {"schema": NewSignOff},
        "multipart/form-data": {"schema": NewSignOffUpload}}})
@bp.arguments(LangOnly, location="query")
@bp.response(201, Recipient, description="Recorded.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict", "TooLarge", "Unsupported")
def create_sign_off(args: dict[str, Any], id: int) -> Any:
    """Record a recipient's sign-off: JSON, or multipart with the scanned sheet as the
    part ``sheet`` (required for ``scanned``)."""
    sheet: tuple[BinaryIO, str] | None = None
    if request.mimetype == "multipart/form-data":
        given = load(NewSignOff, {name: request.form.get(name) for name in request.form})
        if "sheet" in request.files:
            upload = _upload("sheet")
            sheet = (cast(BinaryIO, upload.stream), upload.filename or "")
    elif request.mimetype == "application/json":
        given = load(NewSignOff, json_object())
    else:
        raise UnsupportedMediaType(
            "Send application/json, or multipart/form-data with the scanned sheet as the "
            "part 'sheet'.")
    signed_at: datetime = given.get("signed_at") or datetime.now(support.settings().tz)
    with _work() as ctx:
        recipient = tenant_pages.record_sign_off(
            ctx, id, args["lang"], sheet=sheet, tenant_code=given["tenant"],
            signer_name=given["signer"], method=given["method"], signed_at=signed_at,
            note=given.get("note"))
    return recipient, 201, {"Location": url_for("api.list_sign_offs", id=id)}


@bp.get("/notices/<id('document'):id>/sign-offs", tags=["notices"], parameters=[NOTICE])
@bp.operation("listSignOffs", summary="Who has signed a notice off and who has not")
@bp.arguments(LangOnly, location="query")
@bp.response(200, SignOffProgress, description="The progress.")
@bp.errors("BadRequest", "NotFound")
def list_sign_offs(args: dict[str, Any], id: int) -> Any:
    """Recipients, signed and not, with counts and the signed percentage."""
    with _work() as ctx:
        return notices.progress(ctx, id, args["lang"])


@bp.get("/notices/<id('document'):id>/sign-offs.csv", tags=["notices"], parameters=[NOTICE])
@bp.operation("exportSignOffs", summary="The sign-off list as CSV for a spreadsheet",
              description=(
    "UTF-8 with a byte-order mark, a Chinese and English header, one row per recipient, "
    "times in the group's time zone. Audited (notice:export)."),
    responses={"200": {"description": "The CSV.", "content": {
        "text/csv": {"schema": {"type": "string"}}}}})
@bp.errors("BadRequest", "NotFound")
def sign_offs_csv(id: int) -> Any:
    """The sign-off list as CSV (UTF-8 with BOM, bilingual header); audited."""
    with _work() as ctx:
        text = notices.export_csv(ctx, id)
    resp = Response(text.encode("utf-8"), content_type="text/csv; charset=utf-8")
    name = f"签收记录-{id}.csv"
    resp.headers["Content-Disposition"] = (
        f"attachment; filename=\"sign-offs-{id}.csv\"; "
        f"filename*=UTF-8''{quote(name, safe='')}")
    resp.headers["Cache-Control"] = "no-store"
    return resp
