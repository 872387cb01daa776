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
from datetime import UTC, date, datetime, time
from enum import Enum
from itertools import chain
from pathlib import PurePath
from typing import Any, BinaryIO, TypeVar, cast
from urllib.parse import quote

from flask import Response, g, jsonify, request, url_for
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.sansio.multipart import Field, File

from vault import policy
from vault.actions import Action, Outcome
from vault.crypto.spool import SpooledEncryptedFile
from vault.errors import InvalidInput, NotFound, VaultError
from vault.policy import Category, Level
from vault.services import accounts, compliance_console, documents, grants, tokens
from vault.web import streaming, support
from vault.web.api_schema import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

E = TypeVar("E", bound=Enum)

#: Endpoints anyone may read: the description of the API itself.
PUBLIC = frozenset({"api.openapi_json"})
#: Row ids are 32-bit in the schema; a larger id names nothing.
MAX_ID = 2**31 - 1
#: Dates outside these years are refused: nothing in the vault is that old or
#: that far ahead, and the bounds keep every date arithmetic (periods, UTC
#: conversions) within what the calendar types hold.
MIN_YEAR, MAX_YEAR = 1900, 2999
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
    found = None
    if presented is not None:
        with support.infra().sessions() as session:
            row = tokens.find(session, presented)
            if row is not None:
                found = (row.user.username,
                         {"id": row.id, "name": row.name, "prefix": row.prefix,
                          "expires_at": _iso(row.expires_at)})
            session.commit()  # last_used_at
    if found is None:
        message = ("Send a personal API token in the header "
                   "'Authorization: Bearer vt_…' (create one under /tokens).")
        if any(name in request.args for name in TOKEN_QUERY_NAMES):
            # A token in a URL ends up in logs and histories: it is never read from there.
            message += " Tokens are never accepted in the URL; revoke one that was sent there."
        resp = jsonify({"code": "unauthenticated", "message": message})
        resp.status_code = 401
        resp.headers["WWW-Authenticate"] = 'Bearer realm="vault"'
        return resp
    g.api_user, g.api_token = found
    return None


def _work() -> Any:
    """The unit of work of this request, as the token's owner."""
    return support.work(actor=g.api_user)


# ---------------------------------------------------------------------------
# Input


def _clean_text(field: str, value: Any, max_len: int) -> str:
    if not isinstance(value, str):
        raise bad(field, "must be a string")
    if len(value) > max_len:
        raise bad(field, f"at most {max_len} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in value):
        raise bad(field, "contains control characters")
    return value


def arg_text(field: str, max_len: int = 200) -> str | None:
    value = request.args.get(field)
    if value is None or value == "":
        return None
    return _clean_text(field, value, max_len)


def arg_int(field: str, default: int | None, lo: int, hi: int) -> int | None:
    value = request.args.get(field)
    if value is None or value == "":
        return default
    return _int(field, value, lo, hi)


def _int(field: str, value: str, lo: int, hi: int) -> int:
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise bad(field, f"must be a whole number from {lo} to {hi}")
    number = int(text)
    if not lo <= number <= hi:
        raise bad(field, f"must be a whole number from {lo} to {hi}")
    return number


def arg_enum(field: str, kind: type[E]) -> E | None:
    value = request.args.get(field)
    if value is None or value == "":
        return None
    return _enum(field, value, kind)


def _enum(field: str, value: Any, kind: type[E]) -> E:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(str(m.value) for m in kind)
        raise bad(field, f"must be one of: {choices}") from None


def _lang() -> str:
    value = request.args.get("lang") or "zh"
    if value not in LANGS:
        raise bad("lang", "must be zh or en")
    return value


def _date(field: str, value: Any) -> date:
    text = _clean_text(field, value, 10)
    try:
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise bad(field, "must be a date YYYY-MM-DD")
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise bad(field, f"must lie between {MIN_YEAR} and {MAX_YEAR}")
    return day


def _datetime(field: str, value: Any) -> datetime:
    """An ISO date-time (or a date: its midnight); without an offset, group time."""
    text = _clean_text(field, value, 40)
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), time(0, 0))
        else:
            parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=support.settings().tz)
        in_utc = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise bad(field, "must be a date-time like 2027-06-30T09:00+08:00 or a date") from None
    if not MIN_YEAR <= in_utc.year <= MAX_YEAR:
        raise bad(field, f"must lie between {MIN_YEAR} and {MAX_YEAR}")
    return parsed


def arg_date(field: str) -> date | None:
    value = request.args.get(field)
    return None if value is None or value == "" else _date(field, value)


def arg_datetime(field: str) -> datetime | None:
    value = request.args.get(field)
    return None if value is None or value == "" else _datetime(field, value)


def _doc_id(value: int) -> int:
    # A larger number names no row; the databases would refuse it as a parameter.
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"No document {value}.", code="unknown_document")
    return value


def _json_object() -> dict[str, Any]:
    try:
        body = request.get_json(silent=True) if request.is_json else None
    except RecursionError:  # nested deeper than the parser goes; not a ValueError
        body = None
    if not isinstance(body, dict):
        raise bad("body", "send a JSON object (Content-Type: application/json)")
    return body


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# ---------------------------------------------------------------------------
# Documents


def _summary(doc: Any, level: Level, lang: str) -> dict[str, Any]:
    return {
        "id": doc.id,
        "title": doc.title,
        "category": doc.category,
        "level": level.value,
        "marking": policy.marking(level, documents.period_of(doc), lang),
        "issued_on": doc.issued_on.isoformat(),
        "company": doc.company.code,
        "department": doc.department.code if doc.department else None,
        "tenant": doc.tenant.code if doc.tenant else None,
        "paper_original": doc.has_paper_original,
    }


def document_query(text: str | None, per_page: int, max_per_page: int) -> documents.Query:
    """The documents query of the list and the search from their shared arguments."""
    return documents.Query(
        text=text,
        category=arg_enum("category", Category),
        level=arg_enum("level", Level),
        tenant=arg_text("tenant", 32),
        company=arg_text("company", 32),
        department=arg_text("department", 32),
        issued_from=arg_date("issued_from"),
        issued_to=arg_date("issued_to"),
        page=arg_int("page", 1, 1, 100_000) or 1,
        per_page=arg_int("per_page", per_page, 1, max_per_page) or per_page,
    )


@bp.get("/documents")
def list_documents() -> Any:
    """Search the documents the caller may know of; the rest does not exist."""
    query = document_query(arg_text("text"), per_page=50, max_per_page=500)
    lang = _lang()
    with _work() as ctx:
        found = documents.search(ctx, query)
        items = [_summary(d, found.levels[d.id], lang) for d in found.items]
    return {"items": items, "total": found.total, "page": found.page,
            "per_page": found.per_page}


def _registration_fields(source: Any, issued_default: date) -> dict[str, Any]:
    """The metadata of a registration from a form or a JSON object."""

    def text(field: str, max_len: int = 64) -> str | None:
        value = source.get(field)
        if value is None or value == "":
            return None
        return _clean_text(field, value, max_len)

    category_text = text("category")
    if category_text is None:
        raise bad("category", "is required")
    fields: dict[str, Any] = {"category": _enum("category", category_text, Category)}
    level_text = text("level")
    fields["level"] = _enum("level", level_text, Level) if level_text else None
    issued = text("issued_on", 10)
    fields["issued_on"] = _date("issued_on", issued) if issued else None
    period_text = text("period", 500)
    period = None
    if period_text is not None:
        if not period_text.startswith("condition:") and len(period_text) > 20:
            raise bad("period", "use 10y, 6m, 90d, 1y6m, a date YYYY-MM-DD or condition:TEXT")
        try:
            period = documents.parse_period(period_text)
        except InvalidInput as exc:
            raise bad("period", exc.message) from None
        # The end must be a date the calendar holds.
        try:
            end = policy.declassify_at(fields["issued_on"] or issued_default, period, UTC)
        except (ValueError, OverflowError):
            end = datetime.max.replace(tzinfo=UTC)
        if end is not None and end.year > MAX_YEAR:
            raise bad("period", f"must end before {MAX_YEAR + 1}")
    fields["period"] = period
    fields["department_code"] = text("department", 32)
    fields["tenant_code"] = text("tenant", 32)
    fields["supervisor"] = text("supervisor")
    return fields


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


def _created(info: dict[str, Any], location: str) -> Any:
    resp = jsonify(info)
    resp.status_code = 201
    resp.headers["Location"] = location
    return resp


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


def _register_file(form: Any, today: date, lang: str, content: BinaryIO, filename: str,
                   before_commit: Callable[[], None] | None = None) -> dict[str, Any]:
    fields = _registration_fields(form, today)
    title = form.get("title") or PurePath(filename).stem
    title = _clean_text("title", title, 500)
    with _work() as ctx:
        doc = _register(ctx, title, fields, content=content, filename=filename)
        if before_commit is not None:
            before_commit()
        return documents.describe(ctx, doc, lang)


def _register_streamed(reader: streaming.MultipartReader, today: date,
                       lang: str) -> dict[str, Any]:
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

        return _register_file(form, today, lang, cast(BinaryIO, reader.file()),
                              part.filename, before_commit=rest_of_body)
    # The file came before the fields it needs (or the database is SQLite): it
    # waits in the encrypted spool while the rest of the body is read.
    spool = _spooled(reader)
    try:
        form.update(reader.rest())
        return _register_file(form, today, lang, cast(BinaryIO, spool), part.filename)
    finally:
        spool.close()


@bp.post("/documents")
def register_document() -> Any:
    """Register a file (multipart: ``file`` and metadata) or a paper original (JSON)."""
    lang = _lang()
    today = datetime.now(support.settings().tz).date()
    if request.mimetype == "multipart/form-data":
        reader = _multipart()
        if reader is not None:
            info = _register_streamed(reader, today, lang)
        else:
            upload = _upload()
            info = _register_file(request.form, today, lang, cast(BinaryIO, upload.stream),
                                  upload.filename or "")
    elif request.mimetype == "application/json":
        body = _json_object()
        fields = _registration_fields(body, today)
        title = _clean_text("title", body.get("title") or "", 500)
        if not title.strip():
            raise bad("title", "is required")
        with _work() as ctx:
            doc = _register(ctx, title, fields, paper_original=True)
            info = documents.describe(ctx, doc, lang)
    else:
        raise UnsupportedMediaType(
            "Send multipart/form-data (a file with its metadata) or application/json "
            "(a paper original)."
        )
    return _created(info, url_for("api.get_document", id=info["id"]))


@bp.get("/documents/<int:id>")
def get_document(id: int) -> Any:
    """Metadata: marking, effective level, period, versions, grants, who may view."""
    doc_id, lang = _doc_id(id), _lang()
    with _work() as ctx:
        return documents.show(ctx, doc_id, lang)


@bp.get("/documents/<int:id>/versions")
def list_versions(id: int) -> Any:
    doc_id, lang = _doc_id(id), _lang()
    with _work() as ctx:
        info = documents.show(ctx, doc_id, lang)
    return {"document": info["id"], "items": info["versions"]}


def _version_info(doc_id: int, version: Any) -> dict[str, Any]:
    return {"document": doc_id, "number": version.number, "size": version.size,
            "media_type": version.media_type, "name": version.original_name,
            "created_at": _iso(version.created_at)}


@bp.post("/documents/<int:id>/versions")
def add_version(id: int) -> Any:
    """A new version (multipart ``file``): the registrant, the supervisor, HQ executives."""
    doc_id = _doc_id(id)
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
            version = documents.add_version(ctx, doc_id, content, filename)
            if reader is not None:
                reader.rest()  # to the closing boundary: a truncated body rolls back
            info = _version_info(doc_id, version)
    finally:
        if isinstance(content, SpooledEncryptedFile):
            content.close()
    return _created(info, url_for("api.get_content", id=doc_id, version=info["number"]))


def _disposition(name: str) -> dict[str, str]:
    simple = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    simple = simple.replace('"', "").replace("\\", "") or "download"
    return {"filename": simple, "filename*": "UTF-8''" + quote(name, safe="")}


@bp.get("/documents/<int:id>/content")
def get_content(id: int) -> Any:
    """The bytes of an internal file (classified ones leave only as approved copies).

    The download event is committed before the first byte leaves; each chunk
    is authenticated before it is sent."""
    support.refuse_head()
    doc_id = _doc_id(id)
    version = arg_int("version", None, 1, MAX_ID)
    with _work() as ctx:
        content = documents.open_content(ctx, doc_id, version)
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


@bp.get("/documents/<int:id>/grants")
def list_grants(id: int) -> Any:
    doc_id, lang = _doc_id(id), _lang()
    with _work() as ctx:
        info = documents.show(ctx, doc_id, lang)
    return {"document": info["id"], "items": info["grants"], "may_view": info["may_view"]}


@bp.post("/documents/<int:id>/grants")
def create_grant(id: int) -> Any:
    """Grant (秘密) or designate (机密, 绝密) a person, optionally until a time."""
    doc_id = _doc_id(id)
    body = _json_object()
    user = body.get("user")
    if user is None or user == "":
        raise bad("user", "is required")
    user = _clean_text("user", user, 64)
    until_value = body.get("until")
    until = None if until_value is None or until_value == "" else _datetime("until", until_value)
    with _work() as ctx:
        row = grants.grant(ctx, doc_id, user, until)
        info = {"document": doc_id, "grantee": row.grantee.username,
                "grantor": row.grantor.username, "level": row.level,
                "created_at": _iso(row.created_at), "until": _iso(row.until)}
    return _created(info, url_for("api.list_grants", id=doc_id))


@bp.delete("/documents/<int:id>/grants/<username>")
def revoke_grant(id: int, username: str) -> Any:
    doc_id = _doc_id(id)
    username = _clean_text("username", username, 64)
    with _work() as ctx:
        count = grants.revoke(ctx, doc_id, username)
    return {"document": doc_id, "grantee": username, "revoked": count}


# ---------------------------------------------------------------------------
# Audit (compliance only)


def _event(ev: Any) -> dict[str, Any]:
    """An event as chained (the fields its MAC covers) and its MAC."""
    return {**ev.as_event(), "mac": ev.mac}


@bp.get("/audit/events")
def audit_events() -> Any:
    """The trail, newest first, filtered; reading it is itself an audit event."""
    action, outcome = arg_enum("action", Action), arg_enum("outcome", Outcome)
    filters = compliance_console.Filters(
        actor=arg_text("actor", 64),
        document=arg_int("document", None, 1, MAX_ID),
        action=action.value if action else None,
        outcome=outcome.value if outcome else None,
        since=arg_datetime("since"),
        until=arg_datetime("until"),
    )
    page = arg_int("page", 1, 1, 100_000) or 1
    per_page = arg_int("per_page", 100, 1, compliance_console.MAX_PAGE_SIZE) or 100
    with _work() as ctx:
        found = compliance_console.trail(ctx, filters, page, per_page)
        items = [_event(ev) for ev in found.events]
    return {"items": items, "total": found.total, "page": found.page,
            "pages": found.pages, "per_page": found.page_size}


@bp.get("/audit/documents/<int:id>/knowers")
def audit_knowers(id: int) -> Any:
    """Who has known a document (viewed, downloaded, exported, received a copy)."""
    doc_id = _doc_id(id)
    with _work() as ctx:
        rows = compliance_console.document_history(ctx, doc_id).knowers
        items = [{"actor": k.actor, "action": k.action, "at": _iso(k.ts), "seq": k.seq}
                 for k in rows]
    return {"document": doc_id, "items": items}


# ---------------------------------------------------------------------------
# Me, and the description


@bp.get("/me")
def me() -> Any:
    with _work() as ctx:
        assert ctx.actor is not None
        person = asdict(accounts.describe(ctx.actor))
    return {**person, "token": g.api_token}


@bp.get("/openapi.json")
def openapi_json() -> Any:
    from vault.web import openapi

    return jsonify(openapi.document())
