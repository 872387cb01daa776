"""Copy, excerpt, print, loan and classification-change requests; decisions; the one
download an approval allows; the copy and lending registers; the inbox.

Views translate: they parse the form, call `vault.services.copies` (or
`notifications`) in one unit of work, turn what came back into plain rows while
the session is open, and render after the commit. Every decision, refusal and
register change is the service's; a registered copy's bytes leave only after
the unit of work that numbered, registered and audited it has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import login_required

from vault.errors import InvalidInput, NotFound, VaultError
from vault.policy import ApproverScope, CopyKind, Level
from vault.services import copies, copy_pages, notifications
from vault.services.context import Ctx
from vault.web import documents as doc_views
from vault.web import forms, support
from vault.web.auth import fresh_auth_required, is_fresh

bp = Blueprint("copies", __name__)
log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
FRESH_MINUTES = 5
NOTE_INPUT = 1001  # one more than the service takes: a longer note is refused, not cut

# ---------------------------------------------------------------------------
# Names shown to people

KIND_NAMES: dict[str, Any] = {
    CopyKind.COPY.value: lazy_gettext("Copy"),
    CopyKind.EXCERPT.value: lazy_gettext("Excerpt"),
    CopyKind.PRINT.value: lazy_gettext("Print"),
    CopyKind.LEND.value: lazy_gettext("Loan"),
    CopyKind.EXTEND.value: lazy_gettext("Extension of the secrecy period"),
    CopyKind.DOWNGRADE.value: lazy_gettext("Downgrade"),
    CopyKind.DECLASSIFY.value: lazy_gettext("Early declassification"),
}

STATE_NAMES: dict[str, Any] = {
    "pending": lazy_gettext("awaiting a decision"),
    "approved": lazy_gettext("approved"),
    "rejected": lazy_gettext("rejected"),
    "cancelled": lazy_gettext("withdrawn"),
    "spent": lazy_gettext("copy downloaded"),
    "expired": lazy_gettext("expired (not downloaded in time)"),
    "void: reclassified": lazy_gettext("void: reclassified"),
    "void: approver lost the office": lazy_gettext("void: approver lost the office"),
    "void: requester may no longer read the file": lazy_gettext(
        "void: requester may no longer read the file"),
}

COPY_STATUS_NAMES: dict[str, Any] = {
    "issued": lazy_gettext("issued"),
    "returned": lazy_gettext("returned"),
    "destroyed": lazy_gettext("destroyed"),
}

LOAN_STATE_NAMES: dict[str, Any] = {
    "approved": lazy_gettext("approved, not yet handed over"),
    "lent": lazy_gettext("lent"),
    "overdue": lazy_gettext("overdue: past the return date"),
    "returned": lazy_gettext("returned"),
}

SCOPE_NAMES: dict[str, Any] = {
    ApproverScope.HQ_EXECUTIVES.value: lazy_gettext("an HQ executive (general manager or deputy)"),
    ApproverScope.OWNING_COMPANY_GM.value: lazy_gettext("the owning company's general manager"),
    ApproverScope.OWNING_DEPT_MANAGER.value: lazy_gettext("the owning department's manager"),
}

# The form field each service refusal belongs to on the request and decision forms.
ERROR_FIELDS = {
    "purpose_required": "purpose", "bad_purpose": "purpose", "bad_pages": "pages",
    "excerpt_needs_pages": "pages", "bad_due_date": "due_on", "bad_period": "period",
    "not_longer": "period", "bad_level": "new_level", "bad_window": "window_hours",
    "reason_required": "reason", "bad_reason": "reason", "bad_note": "note",
}

# Service refusals by code, in the reader's language (others: the document pages' map).
ERRORS: dict[str, Any] = {
    "purpose_required": lazy_gettext("State the purpose of the request."),
    "bad_purpose": lazy_gettext("The purpose must be at most %(chars)s printable characters."),
    "bad_pages": lazy_gettext(
        "These pages cannot be accepted: write page numbers and ranges such as 1-3,5, "
        "within the file. Pages go with an excerpt only, and an approval keeps within "
        "the pages asked for."),
    "excerpt_needs_pages": lazy_gettext(
        "Excerpts are page ranges of PDF files and pictures; ask for a copy instead."),
    "bad_due_date": lazy_gettext("Give the return date, from today up to %(days)s days ahead."),
    "bad_period": lazy_gettext("Give the new, longer period (within the supported calendar)."),
    "not_longer": lazy_gettext("An extension must end later than the current period."),
    "bad_level": lazy_gettext(
        "A downgrade names a lower classified level (to end secrecy, ask to declassify)."),
    "no_approval_needed": lazy_gettext(
        "This file needs no approval: download it directly from its page."),
    "no_content": lazy_gettext(
        "This record is a paper original with no stored file; ask for a loan instead."),
    "nothing_to_lend": lazy_gettext(
        "Only certificates and paper originals are lent; ask for a copy instead."),
    "unknown_kind": lazy_gettext("Unknown kind of request."),
    "cannot_view": lazy_gettext("Only people who may read a file may ask for a copy of it."),
    "period_already_ended": lazy_gettext(
        "The secrecy period has already ended; an extension must be asked for before the end."),
    "not_responsible": lazy_gettext(
        "Changes to a file's classification are asked for by its responsible supervisor, "
        "its drafter or an HQ executive."),
    "not_classified": lazy_gettext("This file is not classified: there is nothing to change."),
    "no_fixed_end": lazy_gettext(
        "A period that ends on a condition cannot be extended; ask for early "
        "declassification when the condition is met."),
    "unknown_request": lazy_gettext("There is no such request, or it is not yours to see."),
    "requester_cannot_approve": lazy_gettext("Nobody may decide their own request."),
    "not_an_approver": lazy_gettext(
        "This request is decided by another office (see its route)."),
    "already_decided": lazy_gettext("This request has already been decided or withdrawn."),
    "bad_window": lazy_gettext("The download window is 1 to %(hours)s hours."),
    "reason_required": lazy_gettext("Give the reason for the rejection."),
    "bad_note": lazy_gettext(
        "The note is too long: at most 1000 characters (2000 for a decision)."),
    "bad_reason": lazy_gettext("The reason must be at most %(chars)s characters."),
    "not_requester": lazy_gettext("Only the requester may do this."),
    "nothing_to_download": lazy_gettext("This request delivers no file."),
    "already_downloaded": lazy_gettext(
        "This approval has been used: an approved copy is downloaded once. Ask again if "
        "you need another copy."),
    "not_approved": lazy_gettext("Only an approved request gives a copy."),
    "window_expired": lazy_gettext(
        "The download window of this approval has passed. Ask again."),
    "unknown_version": lazy_gettext("The approved version is no longer stored."),
    "too_large_to_stamp": lazy_gettext("This file is too large to be stamped as a copy."),
    "unstampable": lazy_gettext("The file cannot be stamped as a copy, so it was not released."),
    "not_register_reader": lazy_gettext(
        "Registers are kept by custodians and read by the general manager, HQ executives "
        "and compliance."),
    "not_custodian": lazy_gettext("Only the owning company's custodian keeps the registers."),
    "bad_status": lazy_gettext("Choose returned or destroyed."),
    "unknown_copy": lazy_gettext("No registered copy with that number."),
    "bad_copy_number": lazy_gettext(
        "That is not a copy number: write it as printed on the copy, for example "
        "机密-2026-0042 副本 3."),
    "already_closed": lazy_gettext("This copy is already closed in the register."),
    "unknown_loan": lazy_gettext("There is no such loan."),
    "already_lent": lazy_gettext("This loan was already handed over."),
    "not_lent": lazy_gettext("This loan was never handed over."),
    "already_returned": lazy_gettext("This loan was already returned."),
    "unknown_company": lazy_gettext("No company has that code."),
    "void_reclassified": lazy_gettext(
        "This approval is void: the file was reclassified since it was asked for. "
        "Nothing was released; ask again if you still need it."),
    "void_approver_lost_office": lazy_gettext(
        "This approval is void: its approver no longer holds the approving office. "
        "Nothing was released; ask again if you still need it."),
    "void_requester_lost_access": lazy_gettext(
        "This approval is void: the requester may no longer read the file. "
        "Nothing was released."),
    "not_a_photocopy": lazy_gettext(
        "This request is not for a photocopy of a paper original."),
    "already_issued": lazy_gettext("This photocopy has been issued already."),
    "no_custodian_gm": lazy_gettext(
        "Only the owning company's custodian keeps the lending register (its general "
        "manager while it has none)."),
}


def message_of(exc: VaultError) -> str:
    """The refusal in the reader's language (the document pages' map, then the
    service's English, when this area has no text for it)."""
    text = ERRORS.get(exc.code)
    if text is None:
        return doc_views.message_of(exc)
    params = {"chars": copies.MAX_PURPOSE, "days": copies.MAX_LOAN_DAYS,
              "hours": support.settings().copy_window_hours}
    try:
        return str(text) % params
    except (KeyError, ValueError, TypeError):
        return exc.message


#: Service refusals re-raised with their message in the reader's language.
translated = support.translating(message_of)


lang = support.lang


@bp.app_template_global()
def kind_name(kind: str) -> str:
    return str(KIND_NAMES.get(kind, kind))


@bp.app_template_global()
def request_state_name(state: str) -> str:
    return str(STATE_NAMES.get(state, state))


@bp.app_template_global()
def copy_status_name(status: str) -> str:
    return str(COPY_STATUS_NAMES.get(status, status))


@bp.app_template_global()
def loan_state_name(state: str) -> str:
    return str(LOAN_STATE_NAMES.get(state, state))


# ---------------------------------------------------------------------------
# Navigation: the inbox with its unread count; registers for those who read them


def _inbox_label() -> str:
    unread = support.menu().unread
    return _("Inbox (%(count)s)", count=unread) if unread else _("Inbox")


support.NAV.append(("copies.index", lambda: lazy_gettext("Copies"), None))
support.NAV.append(("copies.copy_register", lambda: lazy_gettext("Registers"),
                    "reads_registers"))
support.NAV.append(("copies.inbox", _inbox_label, None))


# ---------------------------------------------------------------------------
# Asking


def _kind_arg(raw: str | None) -> CopyKind:
    return copies.parse_kind((raw or "copy").strip()[:32])


def _form_context(ctx: Ctx, doc_id: int, kind: CopyKind) -> dict[str, Any]:
    """What the request form shows, with the reason it may not be sent in words."""
    form = copy_pages.request_form(ctx, doc_id, kind, lang())
    blocked = form.blocked
    return {
        "doc": form.doc, "kind": form.kind, "route": form.route,
        "scopes": [str(SCOPE_NAMES[s.value]) for s in form.route.approvers],
        "blocked": blocked, "denied": form.denied,
        "blocked_message": str(ERRORS.get(blocked, doc_views.ERRORS.get(blocked, blocked)))
        if blocked else None,
        "lower_levels": list(form.lower_levels), "max_loan_days": form.max_loan_days,
        "today": form.today, "period": form.period,
    }


def _parse_request_form(kind: CopyKind) -> tuple[dict[str, Any], dict[str, str]]:
    form = forms.posted(forms.CopyRequestForm)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"purpose": forms.text(form.purpose, copies.MAX_PURPOSE + 1)}
    if kind is CopyKind.EXCERPT:
        values["pages"] = forms.text(form.pages, 1000).strip()[:200] or None
    if kind is CopyKind.LEND:
        raw = forms.text(form.due_on, 100).strip()
        try:
            values["due_on"] = date.fromisoformat(raw) if raw else None
        except ValueError:
            errors["due_on"] = _("Give the return date as a date.")
    if kind is CopyKind.DOWNGRADE:
        raw = forms.text(form.new_level, 100)
        if raw in {lv.value for lv in Level}:
            values["new_level"] = Level(raw)
        else:
            errors["new_level"] = _("Choose the new level.")
    if kind is CopyKind.EXTEND:
        values["new_period"] = doc_views.parse_period(forms.values(form), errors)
        if values["new_period"] is None and "period" not in errors:
            errors["period"] = _("Give the new, longer period.")
    return values, errors


@bp.route("/documents/<id:doc_id>/request", methods=["GET", "POST"])
@login_required
@translated
def request_form(doc_id: int) -> Any:
    kind = _kind_arg(request.values.get("kind"))
    errors: dict[str, str] = {}
    if request.method == "POST":
        values, errors = _parse_request_form(kind)
        if not errors:
            try:
                with support.work() as ctx:
                    req = copies.request(ctx, doc_id, kind, values.pop("purpose"), **values)
                    rid = req.id
            except InvalidInput as exc:
                if exc.code not in ERROR_FIELDS:
                    raise
                errors[ERROR_FIELDS[exc.code]] = message_of(exc)
            else:
                flash(_("Your request was sent for a decision."))
                return redirect(url_for("copies.show", req_id=rid))
    with support.work() as ctx:
        page = _form_context(ctx, doc_id, kind)
    # Refused by the policy: 403 (the file itself exists for them, or load said 404).
    status = 400 if errors else 403 if page["denied"] else 200
    return render_template("copies/request.html", page=page, errors=errors,
                           form=request.form, kinds=KIND_NAMES), status


# ---------------------------------------------------------------------------
# Lists and one request


@bp.get("/copies")
@login_required
@translated
def index() -> Any:
    with support.work() as ctx:
        found = copy_pages.lists(ctx, lang())
    return render_template("copies/index.html", to_decide=found.to_decide, mine=found.mine)


def _show_page(req_id: int, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    with support.work() as ctx:
        page = copy_pages.request_page(ctx, req_id, lang())
    view = {
        "req": page.req, "state": page.state, "may_decide": page.may_decide,
        "is_requester": page.is_requester, "may_download": page.may_download,
        "may_cancel": page.may_cancel, "may_issue": page.may_issue,
        "approvers": list(page.approvers),
        "scopes": [str(SCOPE_NAMES[s.value]) for s in page.route.approvers],
        "history": [c for c in page.history if c.request_id != page.req.id],
        "registered": page.registered, "loan": page.loan,
        "window_hours": page.window_hours,
    }
    return render_template("copies/show.html", v=view, errors=errors or {},
                           form=request.form if errors else {},
                           fresh=is_fresh(FRESH_MINUTES)), status


@bp.get("/copies/<id:req_id>")
@login_required
@translated
def show(req_id: int) -> Any:
    return _show_page(req_id)


def _decision_error(req_id: int, exc: InvalidInput) -> Any:
    field = ERROR_FIELDS.get(exc.code)
    if field is None:
        raise exc
    return _show_page(req_id, {field: message_of(exc)}, 400)


@bp.post("/copies/<id:req_id>/approve")
@login_required
@fresh_auth_required(minutes=FRESH_MINUTES, back="copies.show")
@translated
def approve(req_id: int) -> Any:
    form = forms.posted(forms.ApproveForm)
    raw_hours = forms.text(form.window_hours, 100).strip()
    hours: int | None = None
    if raw_hours:
        if not raw_hours.isascii() or not raw_hours.isdigit() or len(raw_hours) > 4:
            return _show_page(req_id, {"window_hours": _(
                "The download window is a whole number of hours.")}, 400)
        hours = int(raw_hours)
    pages = forms.text(form.pages, 1000).strip()[:200] or None
    note = forms.text(form.note, copies.MAX_PURPOSE + 1)
    try:
        with support.work() as ctx:
            copies.approve(ctx, req_id, window_hours=hours, pages=pages, note=note)
    except InvalidInput as exc:
        return _decision_error(req_id, exc)
    flash(_("The request was approved."))
    return redirect(url_for("copies.show", req_id=req_id))


@bp.post("/copies/<id:req_id>/reject")
@login_required
@fresh_auth_required(minutes=FRESH_MINUTES, back="copies.show")
@translated
def reject(req_id: int) -> Any:
    reason = forms.text(forms.posted(forms.RejectForm).reason, copies.MAX_PURPOSE + 1)
    try:
        with support.work() as ctx:
            copies.reject(ctx, req_id, reason)
    except InvalidInput as exc:
        return _decision_error(req_id, exc)
    flash(_("The request was rejected."))
    return redirect(url_for("copies.show", req_id=req_id))


@bp.post("/copies/<id:req_id>/cancel")
@login_required
@translated
def cancel(req_id: int) -> Any:
    with support.work() as ctx:
        copies.cancel(ctx, req_id)
    flash(_("The request was withdrawn."))
    return redirect(url_for("copies.show", req_id=req_id))


@bp.post("/copies/<id:req_id>/issue")
@login_required
@translated
def issue(req_id: int) -> Any:
    """The custodian issues an approved photocopy of a paper-only certificate."""
    with support.work() as ctx:
        copy_label = copies.issue_photocopy(ctx, req_id).label
    flash(_("Issued %(label)s: write this copy number on the photocopy.", label=copy_label))
    return redirect(url_for("copies.show", req_id=req_id))


# A POST (with the CSRF token), so that no link from elsewhere can spend the one download.
@bp.post("/copies/<id:req_id>/download")
@login_required
@translated
def download(req_id: int) -> Response:
    """The one download: numbered, stamped and registered in the unit of work that
    commits before the first byte is sent."""
    with support.work() as ctx:
        delivery = copies.download(ctx, req_id, lang())
        filename, media_type, size = delivery.filename, delivery.media_type, delivery.size
    resp = Response(support.coalesce(delivery.chunks), mimetype=media_type,
                    direct_passthrough=True)
    resp.headers["Content-Disposition"] = doc_views.content_disposition(filename)
    resp.headers["Content-Length"] = str(size)
    resp.headers["Cache-Control"] = "no-store"
    return resp


# ---------------------------------------------------------------------------
# The copy register


def _company_arg() -> str:
    return request.args.get("company", "").strip()[:32]


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or int(raw) == 0:
        raise InvalidInput(f"{name} must be a positive whole number.", code="bad_number")
    return int(raw)


@bp.get("/registers/copies")
@login_required
@translated
def copy_register() -> Any:
    status = request.args.get("status", "").strip()[:16] or None
    document_id = _int_arg("document")
    company = _company_arg()
    with support.work() as ctx:
        register = copy_pages.copy_register(ctx, lang(), company=company, status=status,
                                            document_id=document_id)
    return render_template("copies/register.html", rows=register.rows,
                           companies=register.companies,
                           args={"status": status or "", "document": document_id or "",
                                 "company": company})


@bp.get("/registers/copies/lookup")
@login_required
@translated
def lookup() -> Any:
    number = request.args.get("number", "").strip()[:100]
    found = None
    error = None
    status = 200
    if number:
        try:
            with support.work() as ctx:
                found = copy_pages.lookup(ctx, number, lang())
        except (InvalidInput, NotFound) as exc:
            error, status = message_of(exc), exc.status
    return render_template("copies/lookup.html", number=number,
                           found=found.copy if found else None,
                           purpose=found.request.purpose if found and found.request else None,
                           error=error), status


@bp.post("/registers/copies/<id:copy_id>/close")
@login_required
@translated
def close_copy(copy_id: int) -> Any:
    form = forms.posted(forms.CloseCopyForm)
    status = forms.text(form.status, 16)
    note = forms.text(form.note, NOTE_INPUT)
    with support.work() as ctx:
        copy = copies.close_copy(ctx, copy_id, status, note)
        label = copy.label
    if status == copies.DESTROYED:
        flash(_("Copy %(label)s recorded as destroyed.", label=label))
    else:
        flash(_("Copy %(label)s recorded as returned.", label=label))
    back = forms.text(form.back, 1000)
    return redirect(back if _register_path(back) else url_for("copies.copy_register"))


def _register_path(target: str) -> bool:
    """A page of the registers (the form's way back, with its filters), never elsewhere."""
    return (target.startswith("/registers/") and "\\" not in target and "//" not in target
            and target.isprintable() and len(target) < 500)


# ---------------------------------------------------------------------------
# The lending register


@bp.get("/registers/loans")
@login_required
@translated
def loan_register() -> Any:
    overdue = request.args.get("overdue") in ("1", "on", "true")
    open_only = request.args.get("open") in ("1", "on", "true")
    company = _company_arg()
    with support.work() as ctx:
        register = copy_pages.loan_register(ctx, lang(), company=company, overdue=overdue,
                                            open_only=open_only)
    return render_template("copies/loans.html", rows=register.rows,
                           companies=register.companies,
                           args={"overdue": overdue, "open": open_only, "company": company})


@bp.post("/registers/loans/<id:loan_id>/hand-over")
@login_required
@translated
def hand_over(loan_id: int) -> Any:
    note_form = forms.posted(forms.NoteForm)
    with support.work() as ctx:
        copies.hand_over(ctx, loan_id, forms.text(note_form.note, NOTE_INPUT))
    flash(_("The original was recorded as handed over."))
    return redirect(url_for("copies.loan_register"))


@bp.post("/registers/loans/<id:loan_id>/return")
@login_required
@translated
def return_loan(loan_id: int) -> Any:
    note_form = forms.posted(forms.NoteForm)
    with support.work() as ctx:
        copies.return_loan(ctx, loan_id, forms.text(note_form.note, NOTE_INPUT))
    flash(_("The original was recorded as returned."))
    return redirect(url_for("copies.loan_register"))


# ---------------------------------------------------------------------------
# The inbox


@bp.get("/inbox")
@login_required
def inbox() -> Any:
    with support.work() as ctx:
        rows = copy_pages.inbox(ctx, lang())
    return render_template("copies/inbox.html", rows=rows)


@bp.post("/inbox/read")
@login_required
def inbox_read() -> Any:
    with support.work() as ctx:
        notifications.mark_read(ctx)
    flash(_("Every message is marked read."))
    return redirect(url_for("copies.inbox"))
