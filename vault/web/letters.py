"""Outgoing letters (对外发文与用章申请) and open letters (公开信): the list with the seal
requests awaiting the reader, drafting from a template, a letter's page with its seal
request, decisions (password again, as every approval), sending to tenants and the
link to its sign-offs; the templates page for administrators.

Views translate: they parse the form, call `vault.services.letters` in one unit of
work and render the frozen read models it returns. Every decision is the service's.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import login_required

from vault.errors import VaultError
from vault.services import letters, notices
from vault.web import forms, support
from vault.web import service as service_views
from vault.web.auth import fresh_auth_required, is_fresh

bp = Blueprint("letters", __name__)

support.NAV.append(("letters.index", lambda: lazy_gettext("Letters"), None))
support.NAV.append(("letters.templates", lambda: lazy_gettext("Letter templates"),
                    "keeps_letter_templates"))

FRESH_MINUTES = 5

STATUS_NAMES: dict[str, Any] = {
    "draft": lazy_gettext("draft"), "pending": lazy_gettext("awaiting the seal"),
    "sealed": lazy_gettext("sealed (已用印)"), "approved": lazy_gettext("approved"),
    "rejected": lazy_gettext("refused"), "cancelled": lazy_gettext("withdrawn"),
}
SCOPE_NAMES: dict[str, Any] = {
    "owning_dept_manager": lazy_gettext("the department's manager"),
    "owning_company_gm": lazy_gettext("the general manager"),
    "hq_executives": lazy_gettext("an HQ executive"),
}
KIND_NAMES: dict[str, Any] = {
    "letter": lazy_gettext("Outgoing letter (函)"), "open": lazy_gettext("Open letter (公开信)"),
}

ERRORS: dict[str, Any] = {
    "unknown_template": lazy_gettext("Choose one of the letter templates."),
    "letter_title_required": lazy_gettext("Give the letter's subject."),
    "bad_letter_title": lazy_gettext("The subject must be at most 200 printable characters."),
    "addressee_required": lazy_gettext("Give the addressee."),
    "bad_addressee": lazy_gettext("The addressee must be at most 200 printable characters."),
    "letter_body_required": lazy_gettext("Write the letter's text."),
    "bad_letter_body": lazy_gettext("The text must be at most 20000 characters."),
    "bad_letter_on": lazy_gettext("Give the letter's date (from 2000 to next year)."),
    "bad_kind": lazy_gettext("Choose an outgoing letter or an open letter."),
    "requests_on_letter": lazy_gettext("Only an open letter is attached to requests."),
    "too_many_requests": lazy_gettext("At most 200 requests."),
    "request_of_other_company": lazy_gettext(
        "An open letter answers requests of its own company."),
    "unknown_request": lazy_gettext("No such request record."),
    "not_request_keeper": lazy_gettext(
        "Only the company's customer-service staff, supervisors and general manager "
        "handle requests."),
    "seal_purpose_required": lazy_gettext("Say what the letter is for."),
    "bad_seal_purpose": lazy_gettext("The purpose must be at most 2000 characters."),
    "seal_reason_required": lazy_gettext("Give the reason for the refusal."),
    "bad_seal_reason": lazy_gettext("The reason must be at most 2000 characters."),
    "bad_seal_note": lazy_gettext("The note must be at most 2000 characters."),
    "letter_not_draft": lazy_gettext("This letter is sealed or awaits a decision already."),
    "letter_not_sealed": lazy_gettext(
        "A letter is sent only once its seal request is approved (已用印)."),
    "not_letter_keeper": lazy_gettext(
        "Letters are handled by their drafter, its responsible supervisor and the "
        "department's manager."),
    "requester_cannot_approve": lazy_gettext("Nobody may decide their own request."),
    "already_decided_step": lazy_gettext("You decided an earlier step of this request."),
    "not_an_approver": lazy_gettext("This step is decided by another office (see its route)."),
    "already_decided": lazy_gettext("This request was decided already."),
    "not_requester": lazy_gettext("Only the requester may withdraw a request."),
    "unknown_letter": lazy_gettext("No such letter."),
    "unknown_seal_request": lazy_gettext("No such seal request."),
    "not_admin": lazy_gettext("Letter templates are kept by administrators."),
    "template_name_required": lazy_gettext("Name the template."),
    "bad_template_name": lazy_gettext("The name must be at most 200 printable characters."),
    "letterhead_required": lazy_gettext("Give the letterhead."),
    "bad_letterhead": lazy_gettext("The letterhead must be at most 1000 characters."),
    "closing_required": lazy_gettext("Give the closing (the sender)."),
    "bad_closing": lazy_gettext("The closing must be at most 1000 characters."),
    "unknown_company": lazy_gettext("No such company."),
}

DRAFT_FIELDS = {
    "unknown_template": "template", "letter_title_required": "title",
    "bad_letter_title": "title", "addressee_required": "addressee",
    "bad_addressee": "addressee", "letter_body_required": "body", "bad_letter_body": "body",
    "bad_letter_on": "letter_on", "bad_kind": "kind", "requests_on_letter": "requests",
    "too_many_requests": "requests", "request_of_other_company": "requests",
    "unknown_request": "requests", "not_request_keeper": "requests",
}
TEMPLATE_FIELDS = {
    "template_name_required": "name", "bad_template_name": "name",
    "letterhead_required": "letterhead", "bad_letterhead": "letterhead",
    "closing_required": "closing", "bad_closing": "closing", "unknown_company": "company",
}


#: Refusals in the reader's language: this area's texts, then the service pages' (and theirs).
message_of = support.messages(ERRORS, service_views.message_of)


translated = support.translating(message_of)


@bp.app_template_global()
def letter_name(table: str, key: str | None) -> str:
    names = {"status": STATUS_NAMES, "scope": SCOPE_NAMES, "kind": KIND_NAMES}
    return "" if key is None else str(names.get(table, {}).get(key, key))


def _refs(raw: str) -> list[str]:
    return [r for r in re.split(r"[\s,，;；]+", raw[:20_000]) if r]


def _back(letter_id: int) -> str:
    return url_for("letters.show", letter_id=letter_id)


def _refused(exc: VaultError, letter_id: int) -> Any:
    if exc.status >= 500:
        raise exc
    flash(message_of(exc), "error")
    return redirect(_back(letter_id), 303)


# ---------------------------------------------------------------------------
# The list and drafting


@bp.get("/letters/")
@login_required
@translated
def index() -> Any:
    status = request.args.get("status", "") or None
    kind = request.args.get("kind", "") or None
    with support.work() as ctx:
        rows = letters.search(ctx, status=status, kind=kind)
        decide = letters.to_decide(ctx)
    return render_template("letters/index.html", rows=rows, decide=decide, status=status or "",
                           kind=kind or "")


def _render_new(errors: dict[str, str], status: int) -> Any:
    with support.work() as ctx:
        tpls = letters.templates(ctx)
        today = ctx.now.astimezone(ctx.settings.tz).date().isoformat()
    form = request.form if request.method == "POST" else request.args
    return render_template("letters/new.html", templates=tpls, form=form, errors=errors,
                           today=today), status


@bp.route("/letters/new", methods=["GET", "POST"])
@login_required
@translated
def new() -> Any:
    if request.method == "GET":
        return _render_new({}, 200)
    form = forms.posted(forms.LetterForm)
    raw_day = forms.text(form.letter_on).strip()
    letter_on: date | None = None
    if raw_day:
        try:
            letter_on = date.fromisoformat(raw_day[:10])
        except ValueError:
            return _render_new({"letter_on": str(ERRORS["bad_letter_on"])}, 400)
    raw_tpl = forms.text(form.template).strip()
    if not (raw_tpl.isascii() and raw_tpl.isdigit() and len(raw_tpl) < 10):
        return _render_new({"template": str(ERRORS["unknown_template"])}, 400)
    try:
        with support.work() as ctx:
            view = letters.draft(
                ctx, template_id=int(raw_tpl), title=forms.text(form.title, 1000),
                addressee=forms.text(form.addressee, 1000),
                body=forms.text(form.body, letters.MAX_BODY + 1), letter_on=letter_on,
                kind=forms.text(form.kind, default="letter"),
                request_refs=_refs(forms.text(form.requests)))
    except VaultError as exc:
        field = DRAFT_FIELDS.get(exc.code)
        if field is None or exc.status >= 500:
            raise
        return _render_new({field: message_of(exc)}, 403 if exc.status == 403 else 400)
    flash(_("Letter %(number)s was drafted.", number=view.letter.number))
    return redirect(_back(view.letter.id), 303)


# ---------------------------------------------------------------------------
# A letter


def _show_page(letter_id: int, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    with support.work() as ctx:
        view = letters.show(ctx, letter_id)
        tenants = letters.send_candidates(ctx, letter_id) if view.may_send else []
    return render_template("letters/show.html", v=view, r=view.letter, errors=errors or {},
                           tenants=tenants, fresh=is_fresh(FRESH_MINUTES)), status


@bp.get("/letters/<id:letter_id>")
@login_required
@translated
def show(letter_id: int) -> Any:
    return _show_page(letter_id)


@bp.post("/letters/<id:letter_id>/seal")
@login_required
@translated
def request_seal(letter_id: int) -> Any:
    purpose = forms.text(forms.posted(forms.SealRequestForm).purpose, letters.MAX_PURPOSE + 1)
    try:
        with support.work() as ctx:
            letters.request_seal(ctx, letter_id, purpose)
    except VaultError as exc:
        if exc.code in ("seal_purpose_required", "bad_seal_purpose"):
            return _show_page(letter_id, {"purpose": message_of(exc)}, 400)
        return _refused(exc, letter_id)
    flash(_("The seal request was sent for approval."))
    return redirect(_back(letter_id), 303)


@bp.post("/letters/<id:letter_id>/seal/<id:seal_id>/approve")
@login_required
@fresh_auth_required(minutes=FRESH_MINUTES, back="letters.show")
@translated
def approve(letter_id: int, seal_id: int) -> Any:
    note = forms.text(forms.posted(forms.SealApprovalForm).note, letters.MAX_PURPOSE + 1)
    try:
        with support.work() as ctx:
            seal = letters.approve_seal(ctx, seal_id, note)
    except VaultError as exc:
        if exc.code == "bad_seal_note":
            return _show_page(letter_id, {"note": message_of(exc)}, 400)
        return _refused(exc, letter_id)
    flash(_("Approved: the letter is sealed (已用印).") if seal.status == "approved"
          else _("Approved; it now awaits %(office)s.",
                 office=letter_name("scope", seal.awaiting)))
    return redirect(_back(letter_id), 303)


@bp.post("/letters/<id:letter_id>/seal/<id:seal_id>/reject")
@login_required
@fresh_auth_required(minutes=FRESH_MINUTES, back="letters.show")
@translated
def reject(letter_id: int, seal_id: int) -> Any:
    reason = forms.text(forms.posted(forms.RejectForm).reason, letters.MAX_PURPOSE + 1)
    try:
        with support.work() as ctx:
            letters.reject_seal(ctx, seal_id, reason)
    except VaultError as exc:
        if exc.code in ("seal_reason_required", "bad_seal_reason"):
            return _show_page(letter_id, {"reason": message_of(exc)}, 400)
        return _refused(exc, letter_id)
    flash(_("The seal request was refused; the letter is a draft again."))
    return redirect(_back(letter_id), 303)


@bp.post("/letters/<id:letter_id>/seal/<id:seal_id>/cancel")
@login_required
@translated
def cancel(letter_id: int, seal_id: int) -> Any:
    try:
        with support.work() as ctx:
            letters.cancel_seal(ctx, seal_id)
    except VaultError as exc:
        return _refused(exc, letter_id)
    flash(_("The seal request was withdrawn."))
    return redirect(_back(letter_id), 303)


@bp.post("/letters/<id:letter_id>/send")
@login_required
@translated
def send(letter_id: int) -> Any:
    codes = (forms.posted(forms.RecipientsForm).tenant.data or [])[: notices.MAX_RECIPIENTS + 1]
    try:
        with support.work() as ctx:
            change = letters.send(ctx, letter_id, codes)
            doc_id = letters.show(ctx, letter_id).letter.document_id
    except VaultError as exc:
        return _refused(exc, letter_id)
    flash(_("Sent to %(n)s tenants; their sign-offs are tracked below.", n=change.total))
    return redirect(url_for("tenants.sign_offs", doc_id=doc_id), 303)


@bp.post("/letters/<id:letter_id>/requests")
@login_required
@translated
def attach(letter_id: int) -> Any:
    refs = _refs(forms.text(forms.posted(forms.AttachRequestsForm).requests))
    try:
        with support.work() as ctx:
            letters.attach_requests(ctx, letter_id, refs)
    except VaultError as exc:
        return _refused(exc, letter_id)
    flash(_("The requests were attached."))
    return redirect(_back(letter_id), 303)


# ---------------------------------------------------------------------------
# Templates (administrators)


def _render_templates(errors: dict[str, str], status: int) -> Any:
    with support.work() as ctx:
        letters.check_manager(ctx)
        rows = letters.templates(ctx, include_inactive=True)
    return render_template("letters/templates.html", rows=rows, errors=errors,
                           form=request.form), status


@bp.get("/letters/templates")
@login_required
@translated
def templates() -> Any:
    return _render_templates({}, 200)


@bp.post("/letters/templates")
@login_required
@translated
def template_save() -> Any:
    form = forms.posted(forms.LetterTemplateForm)
    raw_id = forms.text(form.template_id).strip()
    template_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 10 \
        else None
    try:
        with support.work() as ctx:
            row = letters.save_template(
                ctx, name=forms.text(form.name, 1000), letterhead=forms.text(form.letterhead, 5000),
                closing=forms.text(form.closing, 5000),
                company_code=forms.text(form.company).strip() or None, template_id=template_id,
                active=forms.text(form.active, default="1") == "1")
    except VaultError as exc:
        field = TEMPLATE_FIELDS.get(exc.code)
        if field is None or exc.status >= 500:
            raise
        return _render_templates({field: message_of(exc)}, 400)
    flash(_("Template “%(name)s” saved.", name=row.name))
    return redirect(url_for("letters.templates"), 303)
