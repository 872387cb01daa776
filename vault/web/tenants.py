"""Tenant archives (租户档案) and notices' sign-offs (签收): the tenant list with its
search, a tenant's archive by category with counts and a search box, and a notice's
sign-off page (recipients, the sign-off form with an optional scanned sheet, the
progress bar, signed and unsigned recipients, the CSV export).

Views translate: they parse the form, call `vault.services.tenants` or
`vault.services.notices` in one unit of work, turn what came back into plain
values while the session is open, and render after the commit. Every decision is
the services'. A scanned sheet arrives through the encrypted upload spool
(`documents.VaultRequest`) and is encrypted again by the service as a document.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, BinaryIO, TypeVar, cast
from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import login_required

from vault.errors import InvalidInput, VaultError
from vault.policy import Category
from vault.services import notices, tenant_pages, tenants
from vault.web import documents as doc_views
from vault.web import forms, support

bp = Blueprint("tenants", __name__)

support.NAV.append(("tenants.index", lambda: lazy_gettext("Tenants"), None))

F = TypeVar("F", bound=Callable[..., Any])

# ---------------------------------------------------------------------------
# Names shown to people

STATUS_NAMES: dict[str, Any] = {
    tenants.ACTIVE: lazy_gettext("current tenant"),
    tenants.MOVED_OUT: lazy_gettext("moved out"),
}

METHOD_NAMES: dict[str, Any] = {
    "on_site": lazy_gettext("On-site signature"),
    "scanned": lazy_gettext("Scanned sign-off sheet"),
    "electronic": lazy_gettext("Electronic sign-off"),
}

# The form field each service refusal belongs to ("form": the whole form).
ERROR_FIELDS = {
    "bad_code": "code", "tenant_exists": "code", "bad_name": "name", "bad_unit": "unit",
    "bad_contact": "contact", "bad_status": "status", "no_change": "form",
    "unknown_company": "company", "unknown_tenant": "recipients",
    "tenant_moved_out": "recipients", "recipient_signed": "recipients",
    "too_many_recipients": "recipients", "bad_signer": "signer", "bad_note": "note",
    "bad_method": "method", "bad_signed_at": "signed_at", "signed_in_future": "signed_at",
    "signed_before_issue": "signed_at", "sheet_required": "sheet",
    "not_a_recipient": "tenant", "already_signed": "tenant", "bad_filename": "sheet",
    "empty_file": "sheet", "too_large": "sheet", "type_not_allowed": "sheet",
    "type_mismatch": "sheet", "unreadable_file": "sheet",
}

# Service refusals by code, in the reader's language (others: the document pages' map).
ERRORS: dict[str, Any] = {
    "bad_code": lazy_gettext(
        "The code must be 1–32 letters, digits, '_', '-' or '.', starting with a letter or "
        "digit."),
    "tenant_exists": lazy_gettext("A tenant with this code exists already."),
    "bad_name": lazy_gettext("The name must be 1–200 printable characters."),
    "bad_unit": lazy_gettext("The unit must be at most %(limit)s printable characters."),
    "bad_contact": lazy_gettext("The contact must be at most %(limit)s printable characters."),
    "bad_status": lazy_gettext("Choose active or moved out."),
    "no_change": lazy_gettext("Nothing was changed."),
    "unknown_company": lazy_gettext("There is no company with this code."),
    "unknown_tenant": lazy_gettext(
        "There is no such tenant, or it is not a tenant of this company."),
    "not_tenant_keeper": lazy_gettext(
        "Tenants are kept by the company's custodians and the administrators."),
    "not_a_notice": lazy_gettext("Only notices and letters have recipients and sign-offs."),
    "not_responsible": lazy_gettext(
        "Recipients are chosen by the notice's registrant, its responsible supervisor or "
        "the owning department's manager; sign-offs are recorded by them and the owning "
        "department's staff."),
    "cannot_view": lazy_gettext("You may know of this notice but not read it."),
    "tenant_moved_out": lazy_gettext(
        "These tenants have moved out and cannot be added: %(tenants)s."),
    "recipient_signed": lazy_gettext(
        "These recipients have signed off and stay on the notice: %(tenants)s."),
    "too_many_recipients": lazy_gettext("At most %(limit)s recipients."),
    "bad_signer": lazy_gettext("Give the name of the person who signed (up to %(limit)s "
                               "characters)."),
    "bad_note": lazy_gettext("The note must be at most %(limit)s characters."),
    "bad_method": lazy_gettext("Choose how the notice was signed off."),
    "bad_signed_at": lazy_gettext("Give the date and time of the sign-off."),
    "signed_in_future": lazy_gettext("The sign-off cannot be in the future."),
    "signed_before_issue": lazy_gettext(
        "The sign-off cannot come before the notice was issued (%(issued_on)s)."),
    "sheet_required": lazy_gettext("A scanned sign-off needs the scanned sheet: choose the "
                                   "file."),
    "not_a_recipient": lazy_gettext(
        "This tenant is not a recipient of the notice; add it to the recipients first."),
    "already_signed": lazy_gettext("This tenant has already signed off this notice."),
}


def message_of(exc: VaultError) -> str:
    """The refusal in the reader's language (the document pages' map, then the
    service's English, when this area has no text for it)."""
    text = ERRORS.get(exc.code)
    if text is None:
        return doc_views.message_of(exc)
    params = {k: v for k, v in exc.params.items() if isinstance(v, str | int)}
    try:
        return str(text) % params if params else str(text)
    except (KeyError, ValueError, TypeError):
        return exc.message


#: Service refusals re-raised with their message in the reader's language.
translated = support.translating(message_of)


lang = support.lang


@bp.app_template_global()
def tenant_status_name(status: str) -> str:
    return str(STATUS_NAMES.get(status, status))


@bp.app_template_global()
def sign_off_method_name(method: str) -> str:
    return str(METHOD_NAMES.get(method, method))


# ---------------------------------------------------------------------------
# The tenant list


def _list_page(errors: dict[str, str] | None = None, status: int = 200) -> Any:
    args = request.args
    text = args.get("q", "").strip()[: tenants.MAX_SEARCH] or None
    status_filter = args.get("status", "")
    if status_filter not in tenants.STATUSES:
        status_filter = ""
    with support.work() as ctx:
        found = tenant_pages.tenant_list(ctx, text, status_filter or None)
    return render_template("tenants/index.html", rows=found.rows, args=args,
                           company_choices=found.company_choices,
                           own_company=found.own_company, errors=errors or {},
                           form=request.form if errors else {},
                           statuses=list(STATUS_NAMES)), status


@bp.get("/tenants")
@login_required
@translated
def index() -> Any:
    return _list_page()


@bp.post("/tenants")
@login_required
@translated
def create() -> Any:
    form = forms.posted(forms.TenantForm)
    code = forms.text(form.code).strip()[:64]
    try:
        with support.work() as ctx:
            tenants.create_tenant(
                ctx, code, forms.text(form.name, 300), forms.text(form.unit, 300) or None,
                forms.text(form.contact, 300) or None,
                forms.text(form.company).strip()[:32] or None)
    except VaultError as exc:
        field = ERROR_FIELDS.get(exc.code)
        if field is None or exc.status >= 500:
            raise
        return _list_page({field: message_of(exc)}, 409 if exc.status == 409 else 400)
    flash(_("Tenant %(code)s was added.", code=code))
    return redirect(url_for("tenants.show", code=code))


# ---------------------------------------------------------------------------
# A tenant's archive


def _show_page(code: str, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    args = request.args
    text = args.get("q", "").strip()[: tenants.MAX_SEARCH] or None
    category: Category | None = None
    raw = args.get("category", "")
    if raw in {c.value for c in Category}:
        category = Category(raw)
    with support.work() as ctx:
        page = tenant_pages.archive_page(ctx, code[:64], text, category, lang())
    view = {
        "tenant": page.tenant, "catalogue": page.catalogue, "total": page.total,
        "groups": page.groups, "matches": page.matches, "notices": page.notices,
        "searching": text is not None or category is not None,
        "service_requests": page.service_requests,
    }
    return render_template("tenants/show.html", v=view, args=args, errors=errors or {},
                           form=request.form if errors else {},
                           statuses=list(STATUS_NAMES)), status


@bp.get("/tenants/<code>")
@login_required
@translated
def show(code: str) -> Any:
    return _show_page(code)


@bp.post("/tenants/<code>")
@login_required
@translated
def update(code: str) -> Any:
    form = forms.posted(forms.TenantForm)
    try:
        with support.work() as ctx:
            tenants.update_tenant(
                ctx, code[:64], name=forms.text(form.name, 300),
                unit=forms.text(form.unit, 300), contact=forms.text(form.contact, 300),
                status=forms.text(form.status, 32) or None)
    except VaultError as exc:
        field = ERROR_FIELDS.get(exc.code)
        if field is None or exc.status >= 500:
            raise
        return _show_page(code, {field: message_of(exc)}, 400)
    flash(_("Tenant %(code)s was updated.", code=code))
    return redirect(url_for("tenants.show", code=code))


# ---------------------------------------------------------------------------
# A notice's sign-offs


def _now_local() -> str:
    return datetime.now(support.settings().tz).strftime("%Y-%m-%dT%H:%M")


def _sign_offs_page(doc_id: int, errors: dict[str, str] | None = None, status: int = 200,
                    open_form: str | None = None) -> Any:
    with support.work() as ctx:
        view = tenant_pages.sign_offs_page(ctx, doc_id, lang())
    return render_template(
        "notices/sign_offs.html", v=view, errors=errors or {},
        form=request.form if errors else {}, methods=list(METHOD_NAMES),
        now_local=_now_local(), open_form=open_form,
        max_upload=support.settings().max_upload_bytes), status


@bp.get("/notices/<id:doc_id>/sign-offs")
@login_required
@translated
def sign_offs(doc_id: int) -> Any:
    return _sign_offs_page(doc_id)


@bp.post("/notices/<id:doc_id>/recipients")
@login_required
@translated
def recipients(doc_id: int) -> Any:
    chosen = forms.posted(forms.RecipientsForm).tenant.data or []
    codes = [c[:64] for c in chosen[: notices.MAX_RECIPIENTS + 1]]
    try:
        with support.work() as ctx:
            change = notices.set_recipients(ctx, doc_id, codes)
    except InvalidInput as exc:
        if ERROR_FIELDS.get(exc.code) != "recipients":
            raise
        return _sign_offs_page(doc_id, {"recipients": message_of(exc)}, 400, "recipients")
    except VaultError as exc:
        if exc.code != "recipient_signed":
            raise
        return _sign_offs_page(doc_id, {"recipients": message_of(exc)}, 409, "recipients")
    flash(_("Recipients saved: %(added)s added, %(removed)s removed, %(total)s in all.",
            added=len(change.added), removed=len(change.removed), total=change.total))
    return redirect(url_for("tenants.sign_offs", doc_id=doc_id))


def _signed_at(raw: str) -> datetime | None:
    """The form's local date and time (group time zone)."""
    raw = raw.strip()
    try:
        value = datetime.fromisoformat(raw) if 10 <= len(raw) <= 19 else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is not None or not 1900 <= value.year <= 2999:
        return None
    return value.replace(tzinfo=support.settings().tz)


@bp.post("/notices/<id:doc_id>/sign-offs")
@login_required
@translated
def sign_off(doc_id: int) -> Any:
    form = forms.posted(forms.SignOffForm)
    errors: dict[str, str] = {}
    signed_at = _signed_at(forms.text(form.signed_at))
    if signed_at is None:
        errors["signed_at"] = _("Give the date and time of the sign-off.")
    tenant_code = forms.text(form.tenant).strip()[:64]
    if not tenant_code:
        errors["tenant"] = _("Choose the recipient who signed.")
    upload = doc_views._uploaded("sheet")
    if errors:
        return _sign_offs_page(doc_id, errors, 400, "sign-off")
    assert signed_at is not None
    sheet = (cast(BinaryIO, upload.stream), upload.filename or "") if upload else None
    try:
        with support.work() as ctx:
            notices.record_sign_off(
                ctx, doc_id, tenant_code, forms.text(form.signer, 300), signed_at,
                forms.text(form.method, 32), sheet=sheet, note=forms.text(form.note, 3000))
    except VaultError as exc:
        field = ERROR_FIELDS.get(exc.code)
        if field is None or exc.status >= 500:
            raise
        status = {"too_large": 413, "type_not_allowed": 415, "type_mismatch": 415}.get(
            exc.code, 409 if exc.status == 409 else 400)
        return _sign_offs_page(doc_id, {field: message_of(exc)}, status, "sign-off")
    flash(_("The sign-off of %(tenant)s was recorded.", tenant=tenant_code))
    return redirect(url_for("tenants.sign_offs", doc_id=doc_id, _anchor="signed"))


@bp.get("/notices/<id:doc_id>/sign-offs.csv")
@login_required
@translated
def sign_offs_csv(doc_id: int) -> Response:
    with support.work() as ctx:
        text = notices.export_csv(ctx, doc_id)
    name = f"签收记录-{doc_id}.csv"
    resp = Response(text.encode("utf-8"), mimetype="text/csv")
    resp.headers["Content-Type"] = "text/csv; charset=utf-8"
    resp.headers["Content-Disposition"] = (
        f"attachment; filename=\"sign-offs-{doc_id}.csv\"; "
        f"filename*=UTF-8''{quote(name, safe='')}")
    resp.headers["Cache-Control"] = "no-store"
    return resp
