"""The certificate register (证照): each certificate's number, custodian, where the
paper original is kept, validity and open loans; and the form its custodian or the
company's general manager records them with. Copies and loans are asked for on the
copy-approval pages (`/documents/<id>/request?kind=copy|lend`).

Views translate; `vault.services.certificates` decides and audits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import login_required

from vault.errors import InvalidInput
from vault.services import certificate_pages, certificates
from vault.web import forms, support
from vault.web import leaks as leak_views

bp = Blueprint("certificates", __name__, url_prefix="/certificates")
log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

ERROR_FIELDS = {
    "bad_number": "number", "bad_custodian": "custodian", "bad_location": "location",
    "bad_valid_until": "valid_until",
}

ERRORS: dict[str, Any] = {
    "bad_number": lazy_gettext("The certificate number must be at most 100 printable "
                               "characters."),
    "bad_custodian": lazy_gettext("The custodian must be an active person of the owning "
                                  "company."),
    "bad_location": lazy_gettext("The location must be at most 200 printable characters."),
    "bad_valid_until": lazy_gettext("Give the last day of validity as a date between 1900 "
                                    "and 2999."),
    "not_a_certificate": lazy_gettext("This document is not a certificate."),
    "not_certificate_keeper": lazy_gettext(
        "A certificate's details are kept by the owning company's custodian or general "
        "manager."),
    "not_register_reader": lazy_gettext(
        "The certificate register is kept by custodians and read by the general manager, "
        "HQ executives and compliance."),
    "unknown_company": lazy_gettext("There is no such company."),
}

VALIDITY_NAMES: dict[str, Any] = {
    "valid": lazy_gettext("valid"),
    "expiring": lazy_gettext("expires soon"),
    "expired": lazy_gettext("expired"),
}



#: Refusals in the reader's language: this area's texts, then the leak pages' (and theirs).
message_of = support.messages(ERRORS, leak_views.message_of)


#: Service refusals re-raised with their message in the reader's language.
translated = support.translating(message_of)


@bp.app_template_global()
def validity_name(value: str) -> str:
    return str(VALIDITY_NAMES.get(value, value))


# ---------------------------------------------------------------------------
# Navigation: for those who read their company's registers


support.NAV.append(("certificates.index", lambda: lazy_gettext("Certificates"),
                    "reads_registers"))


# ---------------------------------------------------------------------------
# Pages


@bp.get("/")
@login_required
@translated
def index() -> Any:
    company = request.args.get("company", "").strip()[:32]
    with support.work() as ctx:
        register = certificate_pages.register(ctx, company, support.lang())
    return render_template("certificates/index.html", rows=register.rows,
                           companies=register.companies, args={"company": company})


def _render_edit(doc_id: int, errors: dict[str, str], status: int) -> Any:
    with support.work() as ctx:
        page = certificate_pages.edit_form(ctx, doc_id, support.lang())
    cert = page.cert
    form = request.form if errors else {
        "number": cert.number or "", "custodian": cert.custodian_username,
        "location": cert.location or "",
        "valid_until": cert.valid_until.isoformat() if cert.valid_until else ""}
    return render_template("certificates/edit.html", cert=cert, people=page.people, form=form,
                           errors=errors), status


@bp.route("/<id:doc_id>/edit", methods=["GET", "POST"])
@login_required
@translated
def edit(doc_id: int) -> Any:
    if request.method == "GET":
        return _render_edit(doc_id, {}, 200)
    form = forms.posted(forms.CertificateForm)
    valid_until: date | None = None
    raw = forms.text(form.valid_until).strip()[:10]
    if raw:
        try:
            valid_until = date.fromisoformat(raw)
        except ValueError:
            return _render_edit(doc_id, {"valid_until": str(ERRORS["bad_valid_until"])}, 400)
    try:
        with support.work() as ctx:
            certificates.set_details(
                ctx, doc_id, number=forms.text(form.number, 200),
                custodian_username=forms.text(form.custodian, 64),
                original_location=forms.text(form.location, 400), valid_until=valid_until)
    except InvalidInput as exc:
        field = ERROR_FIELDS.get(exc.code)
        if field is None:
            raise
        return _render_edit(doc_id, {field: message_of(exc)}, 400)
    flash(_("The certificate's details were saved."))
    return redirect(url_for("certificates.index", _anchor=f"certificate-{doc_id}"))
