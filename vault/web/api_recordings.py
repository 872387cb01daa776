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

from flask import request, url_for
from werkzeug.datastructures import MultiDict

from vault.errors import NotFound
from vault.services import recordings
from vault.services.recordings import ArchiveEntry, RecordingInfo
from vault.web import streaming
from vault.web.api import (
    MAX_ID,
    UnsupportedMediaType,
    _clean_text,
    _created,
    _file_part,
    _iso,
    _json_object,
    _lang,
    _multipart,
    _spooled,
    _upload,
    _work,
    arg_int,
    arg_text,
    bad,
    bp,
    streams_into_transaction,
)

#: The metadata a recording needs, and the optional fields.
REQUIRED = ("caller_number", "called_at", "agent", "request_ref")
OPTIONAL = ("title", "department", "tenant")


# ---------------------------------------------------------------------------
# Input


def _called_at(value: Any) -> datetime:
    text = _clean_text("called_at", value, 40)
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise bad("called_at", "needs its UTC offset, e.g. 2026-05-01T09:30:00+08:00")
        parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise bad("called_at", "must be a date-time with its offset, e.g. "
                               "2026-05-01T09:30:00+08:00") from None
    return parsed


def _fields(form: MultiDict[str, str]) -> dict[str, Any]:
    """The recording's metadata from the form, checked for type and length (the
    service checks the rest)."""

    def text(field: str, max_len: int, required: bool = False) -> str | None:
        value = form.get(field)
        if value is None or value.strip() == "":
            if required:
                raise bad(field, "is required")
            return None
        return _clean_text(field, value, max_len)

    caller = text("caller_number", 64, required=True)
    called = text("called_at", 40, required=True)
    agent = text("agent", 200, required=True)
    ref = text("request_ref", 100, required=True)
    return {
        "caller_number": caller, "called_at": _called_at(called), "agent": agent,
        "request_ref": ref, "title": text("title", 500),
        "department_code": text("department", 32), "tenant_code": text("tenant", 32),
    }


def _id(value: int) -> int:
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"No recording {value}.", code="unknown_document")
    return value


# ---------------------------------------------------------------------------
# Output


def archive_json(entry: ArchiveEntry) -> dict[str, Any]:
    return {
        "document": entry.document_id, "title": entry.title, "request_ref": entry.request_ref,
        "called_at": _iso(entry.called_at),
        "archived_by": {"username": entry.archived_by, "name": entry.archived_by_name},
        "archived_at": _iso(entry.archived_at), "reason": entry.reason, "event": entry.event,
    }


def recording_json(info: RecordingInfo) -> dict[str, Any]:
    return {
        "id": info.document_id, "title": info.title, "level": info.level,
        "marking": info.marking, "company": info.company,
        "caller_number": info.caller_number, "called_at": _iso(info.called_at),
        "agent": info.agent, "request_ref": info.request_ref, "source": info.source,
        "media_type": info.media_type, "size": info.size,
        "purged_at": _iso(info.purged_at), "purge_after": _iso(info.purge_after),
        "archive": archive_json(info.archive) if info.archive else None,
        "may_listen": info.playable,
    }


# ---------------------------------------------------------------------------
# Upload


def _register(form: MultiDict[str, str], content: BinaryIO, filename: str, lang: str,
              before_commit: Any = None) -> dict[str, Any]:
    fields = _fields(form)
    with _work() as ctx:
        doc = recordings.register(ctx, content=content, filename=filename, source="api",
                                  **fields)
        if before_commit is not None:
            before_commit()
        return recording_json(recordings.describe(ctx, doc, lang))


def _register_streamed(reader: streaming.MultipartReader, lang: str) -> dict[str, Any]:
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


@bp.post("/recordings")
def register_recording() -> Any:
    """A call recording from the hotline system (multipart: metadata, then ``file``)."""
    lang = _lang()
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
    return _created(info, url_for("api.list_recordings", request_ref=info["request_ref"]))


# ---------------------------------------------------------------------------
# Lists and the archive


@bp.get("/recordings")
def list_recordings() -> Any:
    """Recordings you may know of, newest call first; of one request record if given."""
    ref = arg_text("request_ref", 100)
    limit = arg_int("limit", 100, 1, recordings.MAX_LIST) or 100
    lang = _lang()
    with _work() as ctx:
        found = recordings.search(ctx, ref, limit + 1, lang)
        items = [recording_json(i) for i in found[:limit]]
    return {"items": items, "truncated": len(found) > limit}


@bp.post("/recordings/<int:id>/archive")
def archive_recording(id: int) -> Any:
    """Keep a recording of a special event: never purged (reason and event required)."""
    doc_id = _id(id)
    body = _json_object()
    values = {}
    for field, limit in (("reason", recordings.MAX_REASON), ("event", recordings.MAX_EVENT)):
        value = body.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise bad(field, "is required")
        if not isinstance(value, str):
            raise bad(field, "must be a string")
        if len(value) > limit:
            raise bad(field, f"at most {limit} characters")
        values[field] = value
    with _work() as ctx:
        row = recordings.archive(ctx, doc_id, values["reason"], values["event"])
        info = archive_json(recordings.entry_of(ctx, row))
    return _created(info, url_for("api.list_recordings", request_ref=info["request_ref"]))
