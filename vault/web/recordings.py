"""Call recording pages (录音): upload with the call's metadata, the recordings of a
request record (诉求记录) with an inline player, one recording with its archive
form (提取录音另行保存), and the archive register (录音存档记录表).

Views translate: they parse the form, call `vault.services.recordings` in one
unit of work and render plain data after the commit. The audio is played through
the document viewer's audio route (`documents.audio`), which checks and audits
every range it releases; players here load nothing until played.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, BinaryIO, TypeVar, cast

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import login_required

from vault.errors import InvalidInput, VaultError
from vault.services import document_pages, recordings
from vault.services.recordings import RecordingInfo
from vault.web import documents as doc_views
from vault.web import forms, support

bp = Blueprint("recordings", __name__, url_prefix="/recordings")

support.NAV.append(("recordings.index", lambda: lazy_gettext("Recordings"), None))

F = TypeVar("F", bound=Callable[..., Any])

SOURCE_NAMES: dict[str, Any] = {
    "api": lazy_gettext("hotline system"),
    "upload": lazy_gettext("uploaded"),
}

# The form field each service refusal belongs to ("form" = the whole form).
ERROR_FIELDS = {
    "bad_caller_number": "caller_number", "bad_called_at": "called_at",
    "called_at_in_future": "called_at", "bad_agent": "agent",
    "bad_request_ref": "request_ref", "bad_title": "title",
    "unknown_department": "department", "unknown_tenant": "tenant",
    "reason_required": "reason", "bad_reason": "reason",
    "event_required": "event", "bad_event": "event",
    **{code: "file" for code, where in doc_views.ERROR_FIELDS.items() if where == "file"},
}

# Service refusals by code, in the reader's language (others: the document pages' map).
ERRORS: dict[str, Any] = {
    "bad_caller_number": lazy_gettext(
        "The caller number must be 3–32 characters: digits, +, - and spaces."),
    "bad_called_at": lazy_gettext("Give the time of the call (after 2000)."),
    "called_at_in_future": lazy_gettext("The time of the call lies in the future."),
    "bad_agent": lazy_gettext("The agent must be 1–100 printable characters."),
    "bad_request_ref": lazy_gettext(
        "The request record number must be 1–64 characters: letters, digits, - _ and /."),
    "reason_required": lazy_gettext("State why the recording must be kept."),
    "bad_reason": lazy_gettext("The reason must be at most 2000 printable characters."),
    "event_required": lazy_gettext("Name the special event."),
    "bad_event": lazy_gettext("The event must be at most 500 printable characters."),
    "recording_purged": lazy_gettext(
        "This recording was destroyed after the retention period; there is nothing left "
        "to keep."),
    "already_archived": lazy_gettext("This recording is already in the archive register."),
    "not_a_recording": lazy_gettext("This document is not a call recording."),
    "bad_limit": lazy_gettext("Too many recordings asked for at once."),
}


#: Refusals in the reader's language: this area's texts, then the document pages'.
message_of = support.messages(ERRORS, doc_views.message_of)


#: Service refusals re-raised with their message in the reader's language.
translated = support.translating(message_of)


lang = support.lang


@bp.app_template_global()
def recording_source_name(source: str) -> str:
    return str(SOURCE_NAMES.get(source, source))


# ---------------------------------------------------------------------------
# The recordings of a request record


def _groups(items: list[RecordingInfo]) -> list[tuple[str, list[RecordingInfo]]]:
    """By request record: the most recent call's record first, calls in order within."""
    groups: dict[str, list[RecordingInfo]] = {}
    for item in items:
        groups.setdefault(item.request_ref, []).append(item)
    return [(ref, sorted(rows, key=lambda r: r.called_at)) for ref, rows in groups.items()]


@bp.get("/")
@login_required
@translated
def index() -> Any:
    ref = request.args.get("request_ref", "").strip()[:100]
    error = None
    items: list[RecordingInfo] = []
    try:
        with support.work() as ctx:
            items = recordings.search(ctx, ref or None, lang=lang())
    except InvalidInput as exc:
        if exc.code != "bad_request_ref":
            raise
        error = message_of(exc)
    return render_template("recordings/index.html", groups=_groups(items), request_ref=ref,
                           error=error, count=len(items)), 400 if error else 200


# ---------------------------------------------------------------------------
# Upload


def _parse_called_at(raw: str, errors: dict[str, str]) -> datetime | None:
    raw = raw.strip()
    try:
        value = datetime.fromisoformat(raw) if raw else None
    except ValueError:
        value = None
    if value is None:
        errors["called_at"] = _("Give the date and time of the call.")
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=support.settings().tz)  # the form speaks group time
    return value


def parse_call(form: Any, errors: dict[str, str]) -> dict[str, Any]:
    """The call's own fields (number, agent, request record, time), from this form or
    the ordinary document form when its category is 录音."""
    values: dict[str, Any] = {}
    for name, limit in (("caller_number", 64), ("agent", 200), ("request_ref", 100)):
        values[name] = form.get(name, "").strip()[:limit]
    if not values["caller_number"]:
        errors["caller_number"] = _("Enter the caller's number.")
    if not values["agent"]:
        errors["agent"] = _("Enter the agent who took the call.")
    if not values["request_ref"]:
        errors["request_ref"] = _("Enter the request record number.")
    values["called_at"] = _parse_called_at(form.get("called_at", "")[:40], errors)
    return values


def _parse_upload() -> tuple[dict[str, Any], dict[str, str]]:
    form = forms.values(forms.posted(forms.RecordingForm))
    errors: dict[str, str] = {}
    values = parse_call(form, errors)
    values["title"] = form.get("title", "").strip()[:600] or None
    values["department_code"] = form.get("department", "").strip()[:32] or None
    values["tenant_code"] = form.get("tenant", "").strip()[:32] or None
    file = request.files.get("file")
    if file is None or not file.filename:
        errors["file"] = _("Choose the recording's audio file.")
    else:
        values["content"] = cast(BinaryIO, file.stream)
        values["filename"] = file.filename
    return values, errors


def _render_new(errors: dict[str, str], status: int) -> Any:
    with support.work() as ctx:
        options = document_pages.form_options(ctx)
        now = ctx.now.astimezone(ctx.settings.tz).strftime("%Y-%m-%dT%H:%M")
    return render_template("recordings/new.html", options=options, form=request.form,
                           errors=errors, now=now,
                           max_upload=support.settings().max_upload_bytes), status


@bp.route("/new", methods=["GET", "POST"])
@login_required
@translated
def new() -> Any:
    if request.method == "GET":
        return _render_new({}, 200)
    values, errors = _parse_upload()
    if errors:
        return _render_new(errors, 400)
    try:
        with support.work() as ctx:
            doc = recordings.register(ctx, source="upload", **values)
            doc_id = doc.id
    except VaultError as exc:
        if exc.code not in ERROR_FIELDS or exc.status >= 500:
            raise
        status = {"too_large": 413, "type_not_allowed": 415,
                  "type_mismatch": 415}.get(exc.code, 400)
        return _render_new({ERROR_FIELDS[exc.code]: message_of(exc)}, status)
    flash(_("The recording was registered."))
    return redirect(url_for("recordings.show", doc_id=doc_id))


# ---------------------------------------------------------------------------
# One recording, and archiving it


def _render_show(doc_id: int, errors: dict[str, str], status: int) -> Any:
    with support.work() as ctx:
        rec = recordings.show(ctx, doc_id, lang())
    return render_template("recordings/show.html", rec=rec, errors=errors,
                           form=request.form), status


@bp.get("/<id:doc_id>")
@login_required
@translated
def show(doc_id: int) -> Any:
    return _render_show(doc_id, {}, 200)


@bp.post("/<id:doc_id>/archive")
@login_required
@translated
def archive(doc_id: int) -> Any:
    form = forms.posted(forms.ArchiveRecordingForm)
    reason = forms.text(form.reason, recordings.MAX_REASON + 1)
    event = forms.text(form.event, recordings.MAX_EVENT + 1)
    try:
        with support.work() as ctx:
            recordings.archive(ctx, doc_id, reason, event)
    except InvalidInput as exc:
        if exc.code not in ERROR_FIELDS:
            raise
        return _render_show(doc_id, {ERROR_FIELDS[exc.code]: message_of(exc)}, 400)
    flash(_("The recording was entered in the archive register; it will not be destroyed."))
    return redirect(url_for("recordings.show", doc_id=doc_id))


@bp.get("/archive-register")
@login_required
@translated
def archive_register() -> Any:
    with support.work() as ctx:
        rows = recordings.archive_register(ctx)
    return render_template("recordings/archive_register.html", rows=rows)
