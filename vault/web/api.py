"""The JSON API under /api/v1, for integrations (the hotline system pushes call
recordings through it). Described by /api/v1/openapi.json (vault/web/openapi.py).

Every request but the description carries a personal token in the
``Authorization: Bearer`` header (never in the URL) and runs as the token's
owner, through the same services and policy as the pages: a document outside
the owner's scope answers 404, content only where the policy releases it.

Views here parse and check their input (a bad value answers 400 with code
``invalid_input`` and the field's name), call one service and render JSON.
Errors become ``{"code", "message"}`` in vault/web/__init__.py.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from enum import Enum
from itertools import chain
from pathlib import PurePath
from typing import Any, BinaryIO, TypeVar, cast
from urllib.parse import quote

import marshmallow as ma
from flask import Response, g, jsonify, request, url_for
from marshmallow import fields
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.sansio.multipart import Field, File

from vault import policy
from vault.actions import Action, Outcome
from vault.crypto.spool import SpooledEncryptedFile
from vault.errors import InvalidInput, NotFound, VaultError
from vault.policy import Category, Level
from vault.services import accounts, compliance_console, document_pages, documents, grants, tokens
from vault.web import streaming, support
from vault.web.api_schema import (
    MAX_ID,
    MAX_YEAR,
    Blueprint,
    Body,
    Bool,
    Choice,
    Day,
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
    load_value,
    path_id,
    refuses_head,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

E = TypeVar("E", bound=Enum)

#: Endpoints anyone may read: the description of the API itself.
PUBLIC = frozenset({"api.openapi_json"})
LANGS = ("zh", "en")
TOKEN_QUERY_NAMES = ("access_token", "token", "api_token", "bearer")


class Unauthenticated(VaultError):
    status = 401
    default_code = "unauthenticated"


class UnsupportedMediaType(VaultError):
    status = 415
    default_code = "unsupported_media_type"


def bad(field: str, why: str) -> InvalidInput:
    return InvalidInput(f"{field}: {why}", code="invalid_input", field=field)


# ---------------------------------------------------------------------------
# Authentication


def _presented_token() -> str | None:
    scheme, _sp, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


@bp.before_request
def authenticate() -> Any:
    if request.endpoint in PUBLIC:
        return None
    presented = _presented_token()
    bearer = None
    if presented is not None:
        now = datetime.now(UTC)
        # Read without the writer lock; write only when the last use is due (once a
        # minute per token at most), in a transaction of its own.
        with support.infra().readonly_sessions()() as session:
            bearer = tokens.lookup(session, presented, now)
        if bearer is not None and bearer.use_due(now):
            with support.infra().sessions() as session:
                tokens.note_use(session, bearer, now)
                session.commit()
    if bearer is None:
        message = ("Send a personal API token in the header "
                   "'Authorization: Bearer vt_…' (create one under /tokens).")
        if any(name in request.args for name in TOKEN_QUERY_NAMES):
            # A token in a URL ends up in logs and histories: it is never read from there.
            message += " Tokens are never accepted in the URL; revoke one that was sent there."
        resp = jsonify({"code": "unauthenticated", "message": message})
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Bearer realm="vault"'
        return resp
    g.api_user = bearer.username
    g.api_token = {"id": bearer.id, "name": bearer.name, "prefix": bearer.prefix,
                   "expires_at": _iso(bearer.expires_at)}
    return None


def _work() -> Any:
    """The unit of work of this request, as the token's owner."""
    return support.work(actor=g.api_user)


# ---------------------------------------------------------------------------
# Input


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# ---------------------------------------------------------------------------
# Documents


class DocumentFilters(Query):
    """The filters shared by the documents list and the search."""

    category = Choice(Category, **describe("Category id."))
    level = Choice(Level, **describe("Level in force now."))
    tenant = Text(32, **describe("Tenant code."))
    company = Text(32, **describe("Company code."))
    department = Text(32, **describe("Department code."))
    issued_from = Day(**describe("Issued on or after (YYYY-MM-DD)."))
    issued_to = Day(**describe("Issued on or before (YYYY-MM-DD)."))
    page = Whole(1, 100_000, load_default=1, **describe("Page number, from 1."))
    lang = Lang()


def document_query(args: dict[str, Any], text: str | None) -> documents.Query:
    """The documents query of the list or the search from their parsed arguments."""
    return documents.Query(
        text=text, category=args.get("category"), level=args.get("level"),
        tenant=args.get("tenant"), company=args.get("company"),
        department=args.get("department"), issued_from=args.get("issued_from"),
        issued_to=args.get("issued_to"), page=args["page"], per_page=args["per_page"],
    )


class DocumentListQuery(DocumentFilters):
    text = Text(200, **describe("Words in the title."))
    per_page = Whole(1, 500, load_default=50, **describe("Items per page (1–500)."))


class LangOnly(Query):
    lang = Lang()


class DocumentSummary(Out):
    id = Int()
    title = Str()
    category = Choice(Category, required=True)
    level = Choice(Level, required=True,
                   **describe("The level in force now (periods that ended count)."))
    marking = Str(**describe("e.g. 机密★10年; for internal files the label alone."))
    issued_on = Day(required=True)
    company = Str()
    department = Null(Str())
    tenant = Null(Str())
    paper_original = Bool()


class DocumentList(Out):
    items = fields.List(fields.Nested(DocumentSummary), required=True)
    total = Int()
    page = Int()
    per_page = Int()


def _summary(row: document_pages.Row) -> dict[str, Any]:
    return {
        "id": row.id, "title": row.title, "category": row.category, "level": row.level,
        "marking": row.marking, "issued_on": row.issued_on, "company": row.company_code,
        "department": row.department_code, "tenant": row.tenant_code,
        "paper_original": row.paper_original,
    }


@bp.get("/documents", tags=["documents"])
@bp.operation("listDocuments", summary="Search the documents you may know of",
              description="Only documents in your scope exist here, counts included.")
@bp.arguments(DocumentListQuery, location="query")
@bp.response(200, DocumentList, description="A page of documents.")
@bp.errors("BadRequest")
def list_documents(args: dict[str, Any]) -> Any:
    """Search the documents the caller may know of; the rest does not exist."""
    with _work() as ctx:
        found = document_pages.listing(ctx, document_query(args, args.get("text")), args["lang"])
    items = [_summary(r) for r in found.rows]
    return {"items": items, "total": found.total, "page": found.page,
            "per_page": found.per_page}


# ---------------------------------------------------------------------------
# One document: its shapes


class Version(Out):
    number = Int()
    size = Int()
    media_type = Null(fields.String())
    name = Null(fields.String())
    created_at = Moment(required=True)


class Grant(Out):
    grantee = Str()
    grantor = Str()
    level = Choice(Level, required=True)
    until = Null(Moment(required=True))
    revoked = Bool()
    basis = fields.String(**describe("grant, designation or registration."))
    hq_confirmed_by = Null(fields.String(**describe(
        "The HQ executive who confirmed a designation (绝密).")))


def may_view() -> fields.Raw:
    return fields.Raw(required=True, metadata={
        "description": "\"all active employees\" for internal files; else who and why.",
        "oneOf": [{"type": "string"},
                  {"type": "array", "items": {
                      "type": "object", "required": ["user", "reason"],
                      "properties": {"user": {"type": "string"},
                                     "reason": {"type": "string"}}}}]})


class Document(Out):
    id = Int()
    title = Str()
    category = Choice(Category, required=True)
    level = Choice(Level, required=True,
                   **describe("The level as registered (or last changed)."))
    effective_level = Choice(Level, required=True, **describe("The level in force now."))
    marking = Str()
    period = Str(**describe("e.g. 10y, 2030-06-30, condition:TEXT, none."))
    issued_on = Day(required=True)
    declassify_at = Null(Moment(required=True,
                                **describe("When the period ends (group time).")))
    condition = Null(fields.String())
    company = Str()
    department = Null(fields.String())
    supervisor = Null(fields.String())
    registrant = Null(fields.String())
    tenant = Null(fields.String())
    paper_original = fields.Boolean()
    versions = fields.List(fields.Nested(Version), required=True)
    grants = fields.List(fields.Nested(Grant), required=True)
    may_view = may_view()


class VersionList(Out):
    document = Int()
    items = fields.List(fields.Nested(Version), required=True)


class NewVersion(Out):
    document = Int()
    number = Int()
    size = Int()
    media_type = Null(fields.String())
    name = Null(fields.String())
    created_at = Moment()


class Registration(Body):
    """The metadata of a registration, from a multipart form or a JSON object; an
    empty value is no value."""

    category = Choice(Category, required=True,
                      **describe("The category pre-fills the level."))
    level = Choice(Level, **describe("Default: the category's level."))
    issued_on = Day(**describe("Issue date (制发日); default today."))
    period = Text(500, **describe(
        "10y, 6m, 90d, 1y6m, a date YYYY-MM-DD or condition:TEXT. Default: the level's "
        "period; none for internal files."))
    department = Text(32, **describe("Owning department code; default: yours."))
    tenant = Text(32, **describe("Tenant code."))
    supervisor = Text(64, **describe("Responsible supervisor's user name; default: you."))

    @ma.pre_load
    def _drop_empty(self, data: Any, **kwargs: Any) -> dict[str, Any]:
        return {k: data.get(k) for k in data if data.get(k) not in (None, "")}

    @ma.post_load
    def _period(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        text = data.get("period")
        if text is None:
            return data
        if not text.startswith("condition:") and len(text) > 20:
            raise ma.ValidationError(
                "use 10y, 6m, 90d, 1y6m, a date YYYY-MM-DD or condition:TEXT", "period")
        try:
            period = documents.parse_period(text)
        except InvalidInput as exc:
            raise ma.ValidationError(exc.message, "period") from None
        # The end must be a date the calendar holds.
        issued = data.get("issued_on") or datetime.now(support.settings().tz).date()
        try:
            end = policy.declassify_at(issued, period, UTC)
        except (ValueError, OverflowError):
            end = datetime.max.replace(tzinfo=UTC)
        if end is not None and end.year > MAX_YEAR:
            raise ma.ValidationError(f"must end before {MAX_YEAR + 1}", "period")
        return {**data, "period": period}


class UploadFields(Registration):
    title = Text(500, **describe("Default: the file name without extension."))


class Upload(UploadFields):
    file = fields.Raw(required=True, metadata={
        "type": "string", "format": "binary",
        "description": "The content; typed by its bytes, not its name."})


class PaperOriginal(Registration):
    title = Text(500, min_len=1, not_blank=True, required=True)


class VersionUpload(Body):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


def _registration(schema: type[ma.Schema], source: Any) -> dict[str, Any]:
    fields_ = load(schema, source)
    fields_["department_code"] = fields_.pop("department", None)
    fields_["tenant_code"] = fields_.pop("tenant", None)
    for name in ("level", "issued_on", "period", "supervisor"):
        fields_.setdefault(name, None)
    return fields_


def _register(ctx: Any, title: str, fields: dict[str, Any], **content: Any) -> Any:
    supervisor_name = fields.pop("supervisor")
    supervisor = None
    if supervisor_name is not None:
        try:
            supervisor = accounts.get_user(ctx.session, supervisor_name)
        except NotFound:
            raise bad("supervisor", f"no user {supervisor_name!r}") from None
    return documents.register(ctx, title=title, supervisor=supervisor, **fields, **content)


#: The multipart fields a registration reads, besides the file.
REGISTRATION_FIELDS = ("title", "category", "level", "issued_on", "period", "department",
                       "tenant", "supervisor")


def _no_file(field: str = "file") -> InvalidInput:
    return bad(field, "attach the file as a multipart/form-data part named 'file'")


def _upload(field: str = "file") -> FileStorage:
    upload = request.files.get(field)
    if upload is None:
        raise _no_file(field)
    if not upload.filename:
        raise bad(field, "the part needs a file name")
    return upload


# Uploads are read from the socket as they arrive (vault/web/streaming.py): the
# text fields before the file, then the file part straight into the service's
# encryption. Only a registration whose file comes before its category waits in
# the encrypted spool, as every upload did when werkzeug parsed the whole form.


def streams_into_transaction() -> bool:
    """Whether an upload may be read from the socket inside the unit of work.

    Not on SQLite: its one writer lock is taken at the first insert, so a slow or
    stalled client would hold every other write (sign-ins, audit events) for the
    whole transfer. There the upload is read into the encrypted spool first, and
    the transaction only covers the local re-encryption."""
    return not support.settings().database_url.startswith("sqlite")


def _spooled(reader: streaming.MultipartReader) -> SpooledEncryptedFile:
    spool = SpooledEncryptedFile(support.settings().storage_dir / "tmp")
    try:
        reader.copy_file(cast(BinaryIO, spool))
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


def _multipart() -> streaming.MultipartReader | None:
    """The parts of the body, read on demand; None without a usable boundary (the
    form parser finds no file in such a body, and neither do the views)."""
    boundary = streaming.boundary_of(request.mimetype_params)
    if boundary is None:
        return None
    return streaming.MultipartReader(
        request.stream,  # 413 here when Content-Length is over MAX_CONTENT_LENGTH
        boundary,
        max_form_memory_size=request.max_form_memory_size,
        max_parts=request.max_form_parts,
    )


def _file_part(reader: streaming.MultipartReader,
               form: MultiDict[str, str] | None = None) -> File:
    """Read up to the part named ``file``, keeping text fields in ``form``."""
    while (part := reader.next_part()) is not None:
        if isinstance(part, Field):
            if form is not None and part.name is not None:
                form.add(part.name, reader.read_text(part))
        elif part.name == "file":
            if not part.filename:
                raise bad("file", "the part needs a file name")
            return part
    raise _no_file()


def _register_file(form: Any, lang: str, content: BinaryIO, filename: str,
                   before_commit: Callable[[], None] | None = None) -> dict[str, Any]:
    data = {name: form.get(name) for name in form}
    data["title"] = data.get("title") or PurePath(filename).stem
    fields = _registration(UploadFields, data)
    title = fields.pop("title", "")
    with _work() as ctx:
        doc = _register(ctx, title, fields, content=content, filename=filename)
        if before_commit is not None:
            before_commit()
        return documents.describe(ctx, doc, lang)


def _register_streamed(reader: streaming.MultipartReader, lang: str) -> dict[str, Any]:
    form: MultiDict[str, str] = MultiDict()
    part = _file_part(reader, form)
    if "category" in form and streams_into_transaction():
        # The fields came first: the file goes straight into the service.
        def rest_of_body() -> None:
            # Read to the closing boundary before the commit: a truncated body or
            # metadata sent after the file rolls the registration back.
            rest = reader.rest()
            for name in REGISTRATION_FIELDS:
                if name not in form and rest.get(name):
                    raise bad(name, "came after the file part; send the metadata "
                                    "fields before the file")

        return _register_file(form, lang, cast(BinaryIO, reader.file()),
                              part.filename, before_commit=rest_of_body)
    # The file came before the fields it needs (or the database is SQLite): it
    # waits in the encrypted spool while the rest of the body is read.
    spool = _spooled(reader)
    try:
        form.update(reader.rest())
        return _register_file(form, lang, cast(BinaryIO, spool), part.filename)
    finally:
        spool.close()


@bp.post("/documents", tags=["documents"])
@bp.operation("registerDocument", summary="Register a document", description=(
    "multipart/form-data with the file and its metadata, or application/json for a paper "
    "original without a file. Send the metadata fields before the file part: the file then "
    "streams straight into encrypted storage (a file sent before its category waits in an "
    "encrypted spool first; a field that comes after a streamed file is refused)."),
    requestBody={"required": True, "content": {
        "multipart/form-data": {"schema": Upload},
        "application/json": {"schema": PaperOriginal}}})
@bp.arguments(LangOnly, location="query")
@bp.response(201, Document, description="Registered.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "TooLarge", "Unsupported")
def register_document(args: dict[str, Any]) -> Any:
    """Register a file (multipart: ``file`` and metadata) or a paper original (JSON).
    The body is read here, not by the schema: a file part streams into the service."""
    lang = args["lang"]
    if request.mimetype == "multipart/form-data":
        reader = _multipart()
        if reader is not None:
            info = _register_streamed(reader, lang)
        else:
            upload = _upload()
            info = _register_file(request.form, lang, cast(BinaryIO, upload.stream),
                                  upload.filename or "")
    elif request.mimetype == "application/json":
        fields = _registration(PaperOriginal, json_object())
        title = fields.pop("title")
        with _work() as ctx:
            doc = _register(ctx, title, fields, paper_original=True)
            info = documents.describe(ctx, doc, lang)
    else:
        raise UnsupportedMediaType(
            "Send multipart/form-data (a file with its metadata) or application/json "
            "(a paper original)."
        )
    return info, 201, {"Location": url_for("api.get_document", id=info["id"])}


@bp.get("/documents/<id('document'):id>", tags=["documents"], parameters=[path_id("Document")])
@bp.operation("getDocument", summary="A document's metadata", description=(
    "Marking, level in force, period and its end, versions, grants, who may view and why. "
    "Audited."))
@bp.arguments(LangOnly, location="query")
@bp.response(200, Document, description="The metadata.")
@bp.errors("BadRequest", "NotFound")
def get_document(args: dict[str, Any], id: int) -> Any:
    """Metadata: marking, effective level, period, versions, grants, who may view."""
    with _work() as ctx:
        return documents.show(ctx, id, args["lang"])


@bp.get("/documents/<id('document'):id>/versions",
        tags=["documents"], parameters=[path_id("Document")])
@bp.operation("listVersions", summary="A document's versions")
@bp.arguments(LangOnly, location="query")
@bp.response(200, VersionList, description="The versions.")
@bp.errors("BadRequest", "NotFound")
def list_versions(args: dict[str, Any], id: int) -> Any:
    with _work() as ctx:
        info = documents.show(ctx, id, args["lang"])
    return {"document": info["id"], "items": info["versions"]}


@bp.post("/documents/<id('document'):id>/versions",
         tags=["documents"], parameters=[path_id("Document")])
@bp.operation("addVersion", summary="Add a version", description=(
    "By the registrant, the responsible supervisor or an HQ executive."),
    requestBody={"required": True, "content": {
        "multipart/form-data": {"schema": VersionUpload}}})
@bp.response(201, NewVersion, description="Stored.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "TooLarge", "Unsupported")
def add_version(id: int) -> Any:
    """A new version (multipart ``file``), streamed into the service."""
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("Send the file as multipart/form-data (part 'file').")
    reader = _multipart()
    if reader is None:
        upload = _upload()
        content, filename = cast(BinaryIO, upload.stream), upload.filename or ""
    else:
        # No metadata to wait for: the file part streams into the service wherever
        # it is (through the spool on SQLite, see streams_into_transaction).
        filename = _file_part(reader).filename
        content = cast(BinaryIO, reader.file())
        if not streams_into_transaction():
            content = cast(BinaryIO, _spooled(reader))
            reader.rest()
    try:
        with _work() as ctx:
            version = documents.add_version(ctx, id, content, filename)
            if reader is not None:
                reader.rest()  # to the closing boundary: a truncated body rolls back
            info = {"document": id, "number": version.number, "size": version.size,
                    "media_type": version.media_type, "name": version.original_name,
                    "created_at": version.created_at}
    finally:
        if isinstance(content, SpooledEncryptedFile):
            content.close()
    return info, 201, {"Location": url_for("api.get_content", id=id,
                                           version=info["number"])}


def _disposition(name: str) -> dict[str, str]:
    simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    simple = simple.replace('"', "").replace("\\", "") or "download"
    return {"filename": simple, "filename*": "UTF-8''" + quote(name, safe="")}


class ContentQuery(Query):
    version = Whole(1, MAX_ID, **describe("Version number; default the latest."))


@bp.get("/documents/<id('document'):id>/content",
        tags=["documents"], parameters=[path_id("Document")])
@refuses_head
@bp.operation("getContent", summary="Download an internal file", description=(
    "Internal files only; a classified file answers 403 copy_approval_required (it leaves "
    "Vault only as an approved, registered copy). The download is audited before the first "
    "byte is sent."), responses={"200": {
        "description": "The bytes, with the media type found when they were stored (by "
                       "content, not by name).",
        "headers": {"Content-Disposition": {"schema": {"type": "string"}}},
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}})
@bp.arguments(ContentQuery, location="query")
@bp.errors("BadRequest", "Forbidden", "NotFound")
def get_content(args: dict[str, Any], id: int) -> Any:
    """The bytes of an internal file (classified ones leave only as approved copies).

    The download event is committed before the first byte leaves; each chunk
    is authenticated before it is sent."""
    with _work() as ctx:
        content = documents.open_content(ctx, id, args.get("version"))
        ver = content.version
        name, media_type, size = ver.original_name or "download", ver.media_type, ver.size
    # Committed: the event is on the trail. The first segment is read now, so a
    # stored byte that fails authentication answers an error, not a broken body.
    first = next(content.chunks, b"")
    body: Iterator[bytes] = support.coalesce(chain([first], content.chunks))
    # The media type sniffed at upload, without a charset Vault does not know.
    resp = Response(body, content_type=media_type or "application/octet-stream")
    resp.headers["Content-Length"] = str(size)
    resp.headers.set("Content-Disposition", "attachment", **_disposition(name))
    return resp


# ---------------------------------------------------------------------------
# Grants


class GrantList(Out):
    document = Int()
    items = fields.List(fields.Nested(Grant), required=True)
    may_view = may_view()


class GrantRequest(Body):
    user = Text(64, min_len=1, required=True)
    until = Moment(allow_none=True, empty_is_null=True, **describe(
        "End of the grant; without an offset, group time."))


class NewGrant(Out):
    document = Int()
    grantee = Str()
    grantor = Str()
    level = Choice(Level, required=True)
    created_at = Moment(required=True)
    until = Null(Moment(required=True))


class Revoked(Out):
    document = Int()
    grantee = Str()
    revoked = Int(**describe("How many grants ended."))


@bp.get("/documents/<id('document'):id>/grants", tags=["grants"], parameters=[path_id("Document")])
@bp.operation("listGrants", summary="Grants on a document, and who may view it")
@bp.arguments(LangOnly, location="query")
@bp.response(200, GrantList, description="The grants.")
@bp.errors("BadRequest", "NotFound")
def list_grants(args: dict[str, Any], id: int) -> Any:
    with _work() as ctx:
        info = documents.show(ctx, id, args["lang"])
    return {"document": info["id"], "items": info["grants"], "may_view": info["may_view"]}


@bp.post("/documents/<id('document'):id>/grants", tags=["grants"], parameters=[path_id("Document")])
@bp.operation("createGrant", summary="Grant or designate a person")
@bp.arguments(GrantRequest)
@bp.response(201, NewGrant, description="Granted.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict")
def create_grant(body: dict[str, Any], id: int) -> Any:
    """Grant (秘密) or designate (机密, 绝密) a person, optionally until a time."""
    with _work() as ctx:
        row = grants.grant(ctx, id, body["user"], body.get("until"))
        info = {"document": id, "grantee": row.grantee.username,
                "grantor": row.grantor.username, "level": row.level,
                "created_at": row.created_at, "until": row.until}
    return info, 201, {"Location": url_for("api.list_grants", id=id)}


USERNAME = {"in": "path", "name": "username", "required": True,
            "description": "The grantee's user name.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 64}}


@bp.delete("/documents/<id('document'):id>/grants/<username>", tags=["grants"],
           parameters=[path_id("Document"), USERNAME])
@bp.operation("revokeGrant", summary="Revoke a person's grants at once")
@bp.response(200, Revoked, description="Revoked.")
@bp.errors("BadRequest", "Forbidden", "NotFound")
def revoke_grant(id: int, username: str) -> Any:
    username = load_value(Text(64), "username", username)
    with _work() as ctx:
        count = grants.revoke(ctx, id, username)
    return {"document": id, "grantee": username, "revoked": count}


# ---------------------------------------------------------------------------
# Audit (compliance only)


class AuditFilter(Query):
    since = Moment(**describe("From this time (inclusive); a date means its midnight, "
                              "group time."))
    until = Moment(**describe("Up to this time (exclusive)."))
    actor = Text(64, **describe("User name."))
    document = Whole(1, MAX_ID, **describe("Document id."))
    action = Choice(Action, **describe("Audit action."))
    outcome = Choice(Outcome, **describe("allowed, denied or failed."))
    page = Whole(1, 100_000, load_default=1, **describe("Page number, from 1."))
    per_page = Whole(1, compliance_console.MAX_PAGE_SIZE, load_default=100, **describe(
        f"Items per page (1–{compliance_console.MAX_PAGE_SIZE})."))


class AuditEvent(Out):
    seq = Int()
    ts = Str()
    actor = Str()
    actor_roles = fields.String()
    source = Null(fields.String())
    action = Str()
    object_type = Null(fields.String())
    object_id = Null(fields.String())
    document_id = Null(fields.Integer())
    level = Null(fields.String())
    outcome = Str()
    reason = Null(fields.String())
    request_id = Null(fields.String())
    detail = Null(fields.String(**describe("Canonical JSON text.")))
    mac = Str(**describe("The chain's HMAC at this event."))


class AuditEventPage(Out):
    items = fields.List(fields.Nested(AuditEvent), required=True)
    total = Int()
    page = Int(**describe("The page given (a page past the end gives the last)."))
    pages = Int()
    per_page = Int()


class Knower(Out):
    actor = Str()
    action = Str()
    at = Moment(required=True)
    seq = Int()


class Knowers(Out):
    document = Int()
    items = fields.List(fields.Nested(Knower), required=True)


@bp.get("/audit/events", tags=["audit"])
@bp.operation("listAuditEvents", summary="The audit trail (compliance only)", description=(
    "Newest first. Each event carries the fields its MAC covers and the MAC. Reading the "
    "trail is itself an audit event."))
@bp.arguments(AuditFilter, location="query")
@bp.response(200, AuditEventPage, description="A page of events.")
@bp.errors("BadRequest", "Forbidden")
def audit_events(args: dict[str, Any]) -> Any:
    """The trail, newest first, filtered; reading it is itself an audit event."""
    action, outcome = args.get("action"), args.get("outcome")
    filters = compliance_console.Filters(
        actor=args.get("actor"), document=args.get("document"),
        action=action.value if action else None, outcome=outcome.value if outcome else None,
        since=args.get("since"), until=args.get("until"),
    )
    with _work() as ctx:
        found = compliance_console.trail(ctx, filters, args["page"], args["per_page"])
        items = [{**ev.as_event(), "mac": ev.mac} for ev in found.events]
    return {"items": items, "total": found.total, "page": found.page,
            "pages": found.pages, "per_page": found.page_size}


@bp.get("/audit/documents/<id('document'):id>/knowers",
        tags=["audit"], parameters=[path_id("Document")])
@bp.operation("listKnowers", summary="Who has known a document (compliance only)")
@bp.response(200, Knowers, description="The knowers, oldest first.")
@bp.errors("BadRequest", "Forbidden", "NotFound")
def audit_knowers(id: int) -> Any:
    """Who has known a document (viewed, downloaded, exported, received a copy)."""
    with _work() as ctx:
        rows = compliance_console.document_history(ctx, id).knowers
        items = [{"actor": k.actor, "action": k.action, "at": k.ts, "seq": k.seq}
                 for k in rows]
    return {"document": id, "items": items}


# ---------------------------------------------------------------------------
# Me, and the description


class Token(Out):
    id = Int()
    name = Str()
    prefix = Str()
    expires_at = Null(Moment())


class Me(Out):
    username = Str()
    name = Str()
    company = Str()
    department = Null(fields.String())
    roles = fields.List(fields.String(), required=True)
    active = Bool()
    token = fields.Nested(Token, required=True)


@bp.get("/me", tags=["me"])
@bp.operation("getMe", summary="The token's owner")
@bp.response(200, Me, description="You.")
@bp.errors()
def me() -> Any:
    with _work() as ctx:
        person = accounts.describe_me(ctx)
    return {**asdict(person), "token": g.api_token}


@bp.get("/openapi.json", tags=["meta"])
@bp.operation("getOpenApi", summary="This description", security=[], responses={"200": {
    "description": "The OpenAPI document.",
    "content": {"application/json": {"schema": {"type": "object"}}}}})
def openapi_json() -> Any:
    from vault.web import openapi

    return jsonify(openapi.document())
