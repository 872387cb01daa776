"""The JSON API for call recordings (录音): the hotline system pushes each call's
audio with its metadata; integrations list the recordings of a request record
(诉求记录) and archive a recording of a special event (提取录音另行保存). Routes of
the ``api`` blueprint (vault/web/api.py: token authentication, input helpers, the
error format), described in vault/web/openapi.py.

The upload is read from the socket as it arrives, like a document registration:
when the metadata fields come before the ``file`` part they are checked first
and the audio streams straight into the encryption; otherwise the audio waits in
the encrypted spool while the rest of the body is read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, BinaryIO, cast

import marshmallow as ma
from flask import request, url_for
from marshmallow import fields
from werkzeug.datastructures import MultiDict

from vault.policy import Level
from vault.services import recordings
from vault.web import streaming
from vault.web.api import (
    LangOnly,
    UnsupportedMediaType,
    _file_part,
    _multipart,
    _spooled,
    _upload,
    _work,
    bad,
    bp,
    streams_into_transaction,
)
from vault.web.api_schema import (
    Body,
    Bool,
    Choice,
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
    load,
    path_id,
)

#: The metadata a recording needs, and the optional fields.
REQUIRED = ("caller_number", "called_at", "agent", "request_ref")
OPTIONAL = ("title", "department", "tenant")
LIMIT = "At most this many items (newest first); `truncated` tells if more exist."
REQUEST_REF = {"minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9_/-]{1,64}$",
               "description": "The request record (诉求记录) the call belongs to."}


# ---------------------------------------------------------------------------
# The contract


class CalledAt(fields.DateTime):
    """An ISO date-time with its UTC offset."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise ma.ValidationError("must be a date-time with its offset, e.g. "
                                     "2026-05-01T09:30:00+08:00")
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None or parsed.utcoffset() is None:
                raise ma.ValidationError("needs its UTC offset, e.g. 2026-05-01T09:30:00+08:00")
            parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            raise ma.ValidationError("must be a date-time with its offset, e.g. "
                                     "2026-05-01T09:30:00+08:00") from None
        return parsed


class RecordingFields(Body):
    """The call's metadata (type and length here; the service checks the rest)."""

    caller_number = Text(64, required=True, metadata={
        "minLength": 3, "maxLength": 32, "pattern": "^[0-9+ -]{3,32}$",
        "description": "Digits, +, - and spaces."})
    called_at = CalledAt(required=True, error_messages={"required": "is required"},
                         **describe("ISO 8601 with its offset, e.g. 2026-05-01T09:30:00+08:00; "
                                    "not in the future, not before 2000."))
    agent = Text(200, required=True, metadata={
        "minLength": 1, "maxLength": 100, "description": "The agent who took the call."})
    request_ref = Text(100, required=True, metadata=REQUEST_REF)
    title = Text(500, **describe("Default: 通话录音, the request record and time."))
    department = Text(32, **describe("Owning department code; default: yours."))
    tenant = Text(32, **describe("Tenant code."))

    @ma.pre_load
    def _drop_blank(self, data: Any, **kwargs: Any) -> dict[str, Any]:
        return {k: data.get(k) for k in data
                if not (data.get(k) is None or str(data.get(k)).strip() == "")}


class RecordingUpload(RecordingFields):
    file = fields.Raw(required=True, metadata={
        "type": "string", "format": "binary",
        "description": "The audio (WAV, MP3, OGG, M4A, AMR, FLAC, AAC), typed by its bytes; "
                       "send it after the fields."})


def _fields(form: MultiDict[str, str]) -> dict[str, Any]:
    loaded = load(RecordingFields, {name: form.get(name) for name in form})
    loaded["department_code"] = loaded.pop("department", None)
    loaded["tenant_code"] = loaded.pop("tenant", None)
    loaded.setdefault("title", None)
    return loaded


def _archived_by(entry: recordings.ArchiveEntry) -> dict[str, str]:
    return {"username": entry.archived_by, "name": entry.archived_by_name}


class RecordingArchiveEntry(Out):
    document = Int(attribute="document_id")
    title = Str()
    request_ref = Str()
    called_at = Moment(required=True)
    archived_by = fields.Function(_archived_by, required=True, metadata={
        "type": "object", "required": ["username", "name"],
        "properties": {"username": {"type": "string"}, "name": {"type": "string"}}})
    archived_at = Moment(required=True)
    reason = Str()
    event = Str()


class Recording(Out):
    id = Int(attribute="document_id", **describe("The recording's document id."))
    title = Str()
    level = Choice(Level, required=True)
    marking = Str()
    company = Str()
    caller_number = Str()
    called_at = Moment(required=True)
    agent = Str()
    request_ref = Str()
    source = Str(metadata={"enum": ["api", "upload"]})
    media_type = Null(Str())
    size = Int()
    purged_at = Null(Moment(required=True, **describe(
        "When the audio was destroyed after the retention period (the metadata stays).")))
    purge_after = Null(Moment(required=True, **describe(
        "From when the purge may destroy it; null once archived or destroyed.")))
    archive = Null(fields.Nested(RecordingArchiveEntry, required=True, **describe(
        "The archive register line: archived recordings are never purged.")))
    may_listen = Bool(attribute="playable",
                      **describe("Whether you may play it (in the web viewer)."))


class RecordingList(Out):
    items = fields.List(fields.Nested(Recording), required=True)
    truncated = Bool()


class RecordingFilter(Query):
    request_ref = Text(100, metadata={
        **REQUEST_REF, "description": "Only the recordings of this request record (诉求记录)."})
    limit = Whole(1, recordings.MAX_LIST, load_default=100, **describe(LIMIT))
    lang = Lang()


class RecordingArchiveRequest(Body):
    reason = Text(recordings.MAX_REASON, min_len=1, not_blank=True, required=True,
                  check_controls=False)
    event = Text(recordings.MAX_EVENT, min_len=1, not_blank=True, required=True,
                 check_controls=False)


# ---------------------------------------------------------------------------
# Upload


def _register(form: MultiDict[str, str], content: BinaryIO, filename: str, lang: str,
              before_commit: Any = None) -> recordings.RecordingInfo:
    fields = _fields(form)
    with _work() as ctx:
        doc = recordings.register(ctx, content=content, filename=filename, source="api",
                                  **fields)
        if before_commit is not None:
            before_commit()
        return recordings.describe(ctx, doc, lang)


def _register_streamed(reader: streaming.MultipartReader,
                       lang: str) -> recordings.RecordingInfo:
    form: MultiDict[str, str] = MultiDict()
    part = _file_part(reader, form)
    if all(form.get(name) for name in REQUIRED) and streams_into_transaction():
        _fields(form)  # a bad field answers 400 before a byte of audio is read

        def rest_of_body() -> None:
            # To the closing boundary before the commit: a truncated body rolls back.
            rest = reader.rest()
            for name in (*REQUIRED, *OPTIONAL):
                if name not in form and rest.get(name):
                    raise bad(name, "came after the file part; send the metadata fields "
                                    "before the file")

        return _register(form, cast(BinaryIO, reader.file()), part.filename, lang,
                         before_commit=rest_of_body)
    spool = _spooled(reader)
    try:
        form.update(reader.rest())
        return _register(form, cast(BinaryIO, spool), part.filename, lang)
    finally:
        spool.close()


@bp.post("/recordings", tags=["recordings"])
@bp.operation("registerRecording", summary="Register a call recording (the hotline system)",
              description=(
    "multipart/form-data: the call's fields, then the audio as the part named file. "
    "Registered as a confidential call_recording document of your company, issued on the "
    "day of the call; destroyed after the retention period unless archived."),
    requestBody={"required": True, "content": {
        "multipart/form-data": {"schema": RecordingUpload}}})
@bp.arguments(LangOnly, location="query")
@bp.response(201, Recording, description="Registered.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "TooLarge", "Unsupported")
def register_recording(args: dict[str, Any]) -> Any:
    """A call recording from the hotline system (multipart: metadata, then ``file``)."""
    lang = args["lang"]
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("Send multipart/form-data: the call's fields and the "
                                   "audio as the part named 'file'.")
    reader = _multipart()
    if reader is not None:
        info = _register_streamed(reader, lang)
    else:
        upload = _upload()
        info = _register(request.form, cast(BinaryIO, upload.stream), upload.filename or "",
                         lang)
    return info, 201, {"Location": url_for("api.list_recordings",
                                           request_ref=info.request_ref)}


# ---------------------------------------------------------------------------
# Lists and the archive


@bp.get("/recordings", tags=["recordings"])
@bp.operation("listRecordings", summary="Call recordings you may know of, newest call first")
@bp.arguments(RecordingFilter, location="query")
@bp.response(200, RecordingList, description="The recordings.")
@bp.errors("BadRequest")
def list_recordings(args: dict[str, Any]) -> Any:
    """Recordings you may know of, newest call first; of one request record if given."""
    limit = args["limit"]
    with _work() as ctx:
        found = recordings.search(ctx, args.get("request_ref"), limit + 1, args["lang"])
    return {"items": found[:limit], "truncated": len(found) > limit}


@bp.post("/recordings/<id('recording', code='unknown_document'):id>/archive", tags=["recordings"],
         parameters=[path_id("Recording (document)")])
@bp.operation("archiveRecording", summary="Keep a recording of a special event (提取录音另行保存)",
              description=(
    "Whoever may listen to the recording may archive it, with the reason and the event; the "
    "archive register keeps who, when and why. Archived recordings are never purged. Twice, "
    "or after the purge, answers 409."))
@bp.arguments(RecordingArchiveRequest)
@bp.response(201, RecordingArchiveEntry, description="Archived.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict")
def archive_recording(body: dict[str, Any], id: int) -> Any:
    """Keep a recording of a special event: never purged (reason and event required)."""
    with _work() as ctx:
        row = recordings.archive(ctx, id, body["reason"], body["event"])
        entry = recordings.entry_of(ctx, row)
    return entry, 201, {"Location": url_for("api.list_recordings",
                                            request_ref=entry.request_ref)}
