"""The annual review (年度审核): the queue of classified files a person reviews that
were not reviewed for 365 days, with confirm, change and declassify per file.

Views translate: they parse the form and call `vault.services.annual_review` in one unit
of work. Changing or ending secrecy is a decision of the approving office and,
like an approval, asks for the password again when the sign-in is not fresh.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import login_required

from vault.errors import InvalidInput, VaultError
from vault.policy import Level
from vault.services import annual_review, documents
from vault.web import documents as doc_views
from vault.web import forms, labels, support
from vault.web.auth import fresh_auth_required

bp = Blueprint("review", __name__, url_prefix="/review")

support.NAV.append(("review.index", lambda: lazy_gettext("Annual review"), None))

F = TypeVar("F", bound=Callable[..., Any])
FRESH_MINUTES = 5

# Service refusals by code, in the reader's language (others: the document pages' map).
ERRORS: dict[str, Any] = {
    "bad_note": lazy_gettext("The note must be at most %(chars)s printable characters."),
    "no_change": lazy_gettext(
        "Nothing to change: choose another level or period, or confirm the file as it is."),
    "use_declassify": lazy_gettext("To end secrecy, declassify the file."),
    "not_classified": lazy_gettext("Only classified files are reviewed; this one is internal."),
    "not_responsible": lazy_gettext(
        "You do not review this file. Its reviewers are its responsible supervisor, its "
        "registrant, the owning department's manager (confidential files), the owning "
        "company's general manager, and HQ executives (top-secret and HQ-owned files)."),
    "not_reclassifier": lazy_gettext(
        "Only the approving office (the owning company's general manager, or an HQ "
        "executive) changes a classification directly. Ask for the change from the "
        "document's page instead."),
    "period_already_ended": lazy_gettext(
        "The secrecy period has already ended; it can no longer be extended."),
    "bad_period": lazy_gettext(
        "The period cannot be read: write 10y, 6m, 90d, a date such as 2030-06-30, or "
        "condition:TEXT."),
    "unknown_level": lazy_gettext("Choose a level from the list."),
    "period_before_issue": lazy_gettext("The period ends before the issue date."),
}


def message_of(exc: VaultError) -> str:
    text = ERRORS.get(exc.code)
    if text is None:
        return doc_views.message_of(exc)
    return str(text) % {"chars": annual_review.MAX_NOTE} if exc.code == "bad_note" else str(text)


#: Service refusals re-raised with their message in the reader's language.
translated = support.translating(message_of)


def _lang() -> str:
    return "en" if support.select_locale() == "en" else "zh"


def _row(item: annual_review.QueueRow) -> dict[str, Any]:
    return {
        "id": item.id, "title": item.title, "level": item.level, "marking": item.marking,
        "last_reviewed": item.last_reviewed, "reviewed_before": item.reviewed_before,
        "company": item.company, "department": item.department,
        "supervisor": item.supervisor, "as": labels.reason(item.reason),
        "may_change": item.may_reclassify, "may_declassify": item.may_declassify,
        "period": item.period, "condition": item.condition,
    }


def _page(errors: dict[int, str] | None = None, status: int = 200, failed: int = 0) -> Any:
    with support.work() as ctx:
        rows = [_row(i) for i in annual_review.queue_rows(ctx, _lang(), annual_review.QUEUE_LIMIT)]
    levels = [lv.value for lv in (Level.TOP_SECRET, Level.SECRET, Level.CONFIDENTIAL)]
    return render_template("review/index.html", rows=rows, errors=errors or {},
                           form=request.form if errors else {}, levels=levels,
                           failed=failed, limit=annual_review.QUEUE_LIMIT), status


def _form_error(doc_id: int, exc: InvalidInput) -> Any:
    return _page({doc_id: message_of(exc)}, 400, failed=doc_id)


def _note() -> str:
    return forms.text(forms.posted(forms.NoteForm).note, annual_review.MAX_NOTE + 1)


@bp.get("")
@login_required
@translated
def index() -> Any:
    return _page()


@bp.post("/<id:doc_id>/confirm")
@login_required
@translated
def confirm(doc_id: int) -> Any:
    try:
        with support.work() as ctx:
            doc = annual_review.confirm(ctx, doc_id, _note())
            title = doc.title
    except InvalidInput as exc:
        return _form_error(doc_id, exc)
    flash(_("Reviewed: “%(title)s” stays as it is.", title=title))
    return redirect(url_for("review.index"))


@bp.post("/<id:doc_id>/change")
@login_required
@fresh_auth_required(minutes=FRESH_MINUTES, back="review.index")
@translated
def change(doc_id: int) -> Any:
    form = forms.posted(forms.ReviewChangeForm)
    raw_level = forms.text(form.level).strip()[:20]
    raw_period = forms.text(form.period).strip()[:300]
    try:
        level = documents.parse_level(raw_level) if raw_level else None
        period = documents.parse_period(raw_period) if raw_period else None
        with support.work() as ctx:
            doc = annual_review.change(ctx, doc_id, level=level, period=period, note=_note())
            title = doc.title
    except InvalidInput as exc:
        return _form_error(doc_id, exc)
    flash(_("Reviewed: the classification of “%(title)s” was changed.", title=title))
    return redirect(url_for("review.index"))


@bp.post("/<id:doc_id>/declassify")
@login_required
@fresh_auth_required(minutes=FRESH_MINUTES, back="review.index")
@translated
def declassify(doc_id: int) -> Any:
    try:
        with support.work() as ctx:
            doc = annual_review.declassify(ctx, doc_id, _note())
            title = doc.title
    except InvalidInput as exc:
        return _form_error(doc_id, exc)
    flash(_("Reviewed: “%(title)s” is declassified (internal).", title=title))
    return redirect(url_for("review.index"))
