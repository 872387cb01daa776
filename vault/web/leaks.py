"""Leak reports (泄密报告): the report form for everyone, the list and the incident
page (deadline banner, trace, handling) for HQ executives and compliance.

Views translate: they parse the form, call `vault.services.leaks` in one unit of
work, turn what came back into plain rows while the session is open, and render
after the commit. The service decides who reads what; a reporter sees the receipt
of their own report, never the trace. There is no route that deletes a report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import login_required

from vault.actions import Action
from vault.errors import InvalidInput, NotFound, VaultError
from vault.services import leak_pages, leaks
from vault.web import documents as doc_views
from vault.web import forms, support
from vault.web.ids import valid_id

bp = Blueprint("leaks", __name__, url_prefix="/leaks")
log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
PICKER_RESULTS = 20

# ---------------------------------------------------------------------------
# Names shown to people

STATE_NAMES: dict[str, Any] = {
    "open": lazy_gettext("open"),
    "overdue": lazy_gettext("overdue"),
    "handled": lazy_gettext("handled"),
    "handled_late": lazy_gettext("handled after the deadline"),
}

KNOWING_NAMES: dict[str, Any] = {
    Action.DOCUMENT_VIEW.value: lazy_gettext("viewed"),
    Action.DOCUMENT_DOWNLOAD.value: lazy_gettext("downloaded"),
    Action.DOCUMENT_EXPORT.value: lazy_gettext("exported"),
    Action.COPY_DOWNLOAD.value: lazy_gettext("received a registered copy"),
}

LOAN_STATES: dict[str, Any] = {
    "approved": lazy_gettext("approved, not yet handed over"),
    "lent": lazy_gettext("lent"),
    "overdue": lazy_gettext("overdue"),
    "returned": lazy_gettext("returned"),
}

COPY_STATES: dict[str, Any] = {
    "issued": lazy_gettext("issued"),
    "returned": lazy_gettext("returned"),
    "destroyed": lazy_gettext("destroyed"),
}

# The form field each service refusal belongs to on the report and handling forms.
ERROR_FIELDS = {
    "leak_target_required": "target", "bad_copy_number": "copy_number",
    "unknown_document": "document", "description_required": "description",
    "bad_description": "description", "note_required": "note", "bad_note": "note",
}

ERRORS: dict[str, Any] = {
    "leak_target_required": lazy_gettext(
        "Name the document or the copy number found outside, not both (or neither, and "
        "describe what was found)."),
    "bad_copy_number": lazy_gettext(
        "Not a copy number; write it as printed on the copy, e.g. 机密-2026-0042 副本 3."),
    "unknown_document": lazy_gettext(
        "There is no such document, or you may not know of it. If you found a copy, "
        "give its copy number instead."),
    "description_required": lazy_gettext("Describe what was found, where and when."),
    "bad_description": lazy_gettext(
        "The description must be at most %(chars)s printable characters."),
    "note_required": lazy_gettext("Note the remedial action taken."),
    "bad_note": lazy_gettext("The note must be at most %(note_chars)s printable characters."),
    "already_handled": lazy_gettext("This leak report has already been handled."),
    "not_hq_executive": lazy_gettext("Leak reports are handled by the HQ executives."),
    "unknown_leak": lazy_gettext("There is no such leak report, or it is not yours to see."),
    "inactive_user": lazy_gettext("A deactivated account cannot report."),
}


def message_of(exc: VaultError) -> str:
    """The refusal in the reader's language (the document pages' map, then the
    service's English, when this area has no text for it)."""
    text = ERRORS.get(exc.code)
    if text is None:
        return doc_views.message_of(exc)
    try:
        return str(text) % {"chars": leaks.MAX_DESCRIPTION, "note_chars": leaks.MAX_NOTE}
    except (KeyError, ValueError, TypeError):
        return exc.message


#: Service refusals re-raised with their message in the reader's language.
translated = support.translating(message_of)


lang = support.lang


@bp.app_template_filter("iso_when")
def iso_when(value: str | None) -> str:
    """An ISO time from a stored trace, in the group's time zone."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.astimezone(support.settings().tz).strftime("%Y-%m-%d %H:%M")


@bp.app_template_global()
def leak_state_name(state: str) -> str:
    return str(STATE_NAMES.get(state, state))


@bp.app_template_global()
def knowing_name(action: str) -> str:
    return str(KNOWING_NAMES.get(action, action))


@bp.app_template_global()
def trace_loan_state(state: str) -> str:
    return str(LOAN_STATES.get(state, state))


@bp.app_template_global()
def trace_copy_state(state: str) -> str:
    return str(COPY_STATES.get(state, state))


def _duration(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    hours, minutes = divmod(minutes, 60)
    return _("%(h)s h %(m)s min", h=hours, m=str(minutes).zfill(2))


# ---------------------------------------------------------------------------
# Navigation: everyone may report; investigators read the list


support.NAV.append(("leaks.index", lambda: lazy_gettext("Handle leak reports"),
                    "investigates_leaks"))
support.NAV.append(("leaks.new", lambda: lazy_gettext("Report a leak"), None))


# ---------------------------------------------------------------------------
# Reporting


def _int_value(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10 or not valid_id(int(raw)):
        raise InvalidInput("Give the document's number as shown on its page.",
                           code="bad_document_number")
    return int(raw)


def _render_new(form: Any, errors: dict[str, str], status: int) -> Any:
    query = request.args.get("q", "").strip()[:200]
    try:
        chosen = _int_value(form.get("document", "") or request.args.get("document", ""))
    except InvalidInput:
        chosen = None
    with support.work() as ctx:
        picker = leak_pages.picker(ctx, query, chosen, PICKER_RESULTS)
    return render_template("leaks/new.html", form=form, errors=errors, picker=picker,
                           max_description=leaks.MAX_DESCRIPTION), status


@bp.route("/new", methods=["GET", "POST"])
@login_required
@translated
def new() -> Any:
    if request.method == "GET":
        return _render_new({"document": request.args.get("document", "")[:12]}, {}, 200)
    form = forms.posted(forms.LeakReportForm)
    errors: dict[str, str] = {}
    try:
        document_id = _int_value(forms.text(form.document))
    except InvalidInput:
        errors["document"] = _("Give the document's number as shown on its page.")
        document_id = None
    copy_number = forms.text(form.copy_number, leaks.MAX_COPY_NUMBER + 50).strip() or None
    description = forms.text(form.description, leaks.MAX_DESCRIPTION + 1)
    if errors:
        return _render_new(request.form, errors, 400)
    try:
        with support.work() as ctx:
            leak_id = leaks.report(ctx, document_id=document_id, copy_number=copy_number,
                                   description=description).id
    except (InvalidInput, NotFound) as exc:
        field = ERROR_FIELDS.get(exc.code)
        if field is None:
            raise
        return _render_new(request.form, {field: message_of(exc)}, exc.status)
    flash(_("Your report was received; every HQ executive has been notified."))
    return redirect(url_for("leaks.show", leak_id=leak_id))


# ---------------------------------------------------------------------------
# The list and one incident


@bp.get("/")
@login_required
@translated
def index() -> Any:
    open_only = request.args.get("open") in ("1", "on", "true")
    with support.work() as ctx:
        found = leak_pages.listing(ctx, open_only)
    return render_template("leaks/index.html", rows=found.rows, full=found.full,
                           open_only=open_only)


def _banner(info: dict[str, Any], now: datetime) -> dict[str, str]:
    """The deadline banner: time left, overdue, or how it was handled."""
    deadline = datetime.fromisoformat(info["deadline_at"])
    state = info["state"]
    if state == "open":
        text = _("Time left to act: %(left)s (deadline %(when)s)",
                 left=_duration(deadline - now), when=iso_when(info["deadline_at"]))
    elif state == "overdue":
        text = _("Overdue by %(late)s: the 24-hour deadline was %(when)s",
                 late=_duration(now - deadline), when=iso_when(info["deadline_at"]))
    elif state == "handled_late":
        text = _("Handled after the 24-hour deadline (%(when)s)",
                 when=iso_when(info["deadline_at"]))
    else:
        text = _("Handled within the 24-hour deadline (%(when)s)",
                 when=iso_when(info["deadline_at"]))
    return {"state": state, "text": text}


def _show_page(leak_id: int, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    with support.work() as ctx:
        page = leak_pages.report_page(ctx, leak_id)
    return render_template("leaks/show.html", info=page.info,
                           banner=_banner(page.info, page.now), may_handle=page.may_handle,
                           marking=page.marking, errors=errors or {},
                           form=request.form if errors else {}), status


@bp.get("/<id:leak_id>")
@login_required
@translated
def show(leak_id: int) -> Any:
    return _show_page(leak_id)


@bp.post("/<id:leak_id>/handle")
@login_required
@translated
def handle(leak_id: int) -> Any:
    note = forms.text(forms.posted(forms.NoteForm).note, leaks.MAX_NOTE + 1)
    try:
        with support.work() as ctx:
            leaks.handle(ctx, leak_id, note)
    except InvalidInput as exc:
        field = ERROR_FIELDS.get(exc.code)
        if field is None:
            raise
        return _show_page(leak_id, {field: message_of(exc)}, 400)
    flash(_("The incident was marked handled; it stays on record."))
    return redirect(url_for("leaks.show", leak_id=leak_id))
