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
from sqlalchemy import select

from vault import policy
from vault.actions import Action
from vault.errors import Forbidden, InvalidInput, VaultError
from vault.models import Company, User
from vault.services import certificates
from vault.services.context import Ctx
from vault.web import leaks as leak_views
from vault.web import support

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



def message_of(exc: VaultError) -> str:
    """The refusal in the reader's language (then the leak and document pages' maps)."""
    text = ERRORS.get(exc.code)
    return str(text) if text is not None else leak_views.message_of(exc)


#: Service refusals re-raised with their message in the reader's language.
translated = support.translating(message_of)


@bp.app_template_global()
def validity_name(value: str) -> str:
    return str(VALIDITY_NAMES.get(value, value))


# ---------------------------------------------------------------------------
# Navigation: for those who read their company's registers


def _reads_register() -> bool:
    return support.menu().reads_registers


support.NAV.append(("certificates.index", lambda: lazy_gettext("Certificates"),
                    _reads_register))


# ---------------------------------------------------------------------------
# Rows for the templates


def _person(user: User | None) -> str | None:
    return f"{user.name} ({user.username})" if user is not None else None


def _row(ctx: Ctx, row: certificates.Row) -> dict[str, Any]:
    doc, cert = row.document, row.certificate
    today = ctx.now.astimezone(ctx.settings.tz).date()
    return {
        "id": doc.id, "title": doc.title, "kind": doc.category, "company": doc.company.code,
        "level": row.level.value, "marking": row.marking,
        "number": cert.number if cert else None,
        "custodian": _person(cert.custodian) if cert else None,
        "custodian_username": cert.custodian.username if cert and cert.custodian else "",
        "location": cert.original_location if cert else None,
        "valid_until": cert.valid_until if cert else None, "validity": row.validity,
        "may_edit": row.may_edit, "paper": doc.has_paper_original,
        "stored": any(v.blob_id is not None for v in doc.versions),
        "loans": [{"borrower": _person(x.borrower), "due_on": x.due_on,
                   "lent_at": x.lent_at, "overdue": x.lent_at is not None and x.due_on < today}
                  for x in row.open_loans],
    }


def _company_arg(ctx: Ctx) -> tuple[int | None, str]:
    code = request.args.get("company", "").strip()[:32]
    if not code:
        return None, ""
    company = ctx.session.scalar(select(Company).where(Company.code == code))
    if company is None:
        raise InvalidInput(f"No company {code!r}.", code="unknown_company")
    return company.id, code


def _companies(ctx: Ctx) -> list[tuple[str, str]]:
    subject = ctx.subject
    if not policy.reads_every_company(subject):
        return []
    return [(c.code, c.name) for c in ctx.session.scalars(select(Company).order_by(Company.code))]


# ---------------------------------------------------------------------------
# Pages


@bp.get("/")
@login_required
@translated
def index() -> Any:
    language = leak_views.lang()
    with support.work() as ctx:
        company_id, company = _company_arg(ctx)
        rows = [_row(ctx, r)
                for r in certificates.list_certificates(ctx, company_id, language)]
        companies = _companies(ctx)
    return render_template("certificates/index.html", rows=rows, companies=companies,
                           args={"company": company})


def _render_edit(doc_id: int, errors: dict[str, str], status: int) -> Any:
    language = leak_views.lang()
    with support.work() as ctx:
        row = certificates.get(ctx, doc_id, language)
        if not row.may_edit:
            raise ctx.refuse(Forbidden("A certificate's details are kept by the owning "
                                       "company's custodian or general manager.",
                                       code="not_certificate_keeper"),
                             Action.CERTIFICATE_UPDATE, object_type="document",
                             object_id=str(doc_id))
        cert = _row(ctx, row)
        people = [(u.username, f"{u.name} ({u.username})") for u in ctx.session.scalars(
            select(User).where(User.company_id == row.document.company_id,
                               User.active.is_(True)).order_by(User.name))]
    form = request.form if errors else {
        "number": cert["number"] or "", "custodian": cert["custodian_username"],
        "location": cert["location"] or "",
        "valid_until": cert["valid_until"].isoformat() if cert["valid_until"] else ""}
    return render_template("certificates/edit.html", cert=cert, people=people, form=form,
                           errors=errors), status


@bp.route("/<id:doc_id>/edit", methods=["GET", "POST"])
@login_required
@translated
def edit(doc_id: int) -> Any:
    if request.method == "GET":
        return _render_edit(doc_id, {}, 200)
    form = request.form
    valid_until: date | None = None
    raw = form.get("valid_until", "").strip()[:10]
    if raw:
        try:
            valid_until = date.fromisoformat(raw)
        except ValueError:
            return _render_edit(doc_id, {"valid_until": str(ERRORS["bad_valid_until"])}, 400)
    try:
        with support.work() as ctx:
            certificates.set_details(
                ctx, doc_id, number=form.get("number", "")[:200],
                custodian_username=form.get("custodian", "")[:64],
                original_location=form.get("location", "")[:400], valid_until=valid_until)
    except InvalidInput as exc:
        field = ERROR_FIELDS.get(exc.code)
        if field is None:
            raise
        return _render_edit(doc_id, {field: message_of(exc)}, 400)
    flash(_("The certificate's details were saved."))
    return redirect(url_for("certificates.index", _anchor=f"certificate-{doc_id}"))
