"""Document pages: browse and search, register, the document page, grants, versions,
the viewer and internal downloads; and the request class that spools uploads encrypted
(`vault.crypto.spool`), so that no plaintext reaches the disk.

Views translate: they parse input, call one service, and render after the unit of
work committed — content bytes leave only then, so no audit event, no content.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from typing import IO, Any, BinaryIO, TypeVar, cast
from urllib.parse import quote

from flask import Blueprint, Request, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import login_required
from werkzeug.datastructures import FileStorage

from vault.crypto.spool import SpooledEncryptedFile
from vault.errors import AuditUnavailable, IntegrityFailure, InvalidInput, VaultError
from vault.policy import Category, Level, Period
from vault.services import (
    copy_pages,
    document_pages,
    documents,
    grants,
    tenant_pages,
    viewer,
)
from vault.web import forms, support
from vault.web.ids import valid_id
from vault.web.streaming import sent_filename

bp = Blueprint("documents", __name__, url_prefix="/documents")

support.NAV.append(("documents.index", lambda: lazy_gettext("Documents"), None))
support.NAV.append(("documents.new", lambda: lazy_gettext("Register a document"), None))

PER_PAGE = 25
F = TypeVar("F", bound=Callable[..., Any])

# ---------------------------------------------------------------------------
# Names shown to people

LEVEL_NAMES = {
    Level.TOP_SECRET.value: lazy_gettext("Top secret"),
    Level.SECRET.value: lazy_gettext("Secret"),
    Level.CONFIDENTIAL.value: lazy_gettext("Confidential"),
    Level.INTERNAL.value: lazy_gettext("Internal"),
}

CATEGORY_NAMES = {
    Category.STRATEGY.value: lazy_gettext("Major decisions and strategy"),
    Category.ANNUAL_PLAN.value: lazy_gettext("Annual plan"),
    Category.FINANCIAL_REPORT.value: lazy_gettext("Financial report"),
    Category.STATISTICAL_REPORT.value: lazy_gettext("Statistical report"),
    Category.MEETING_MINUTES.value: lazy_gettext("Meeting minutes"),
    Category.OPERATIONS_REPORT.value: lazy_gettext("Operations report"),
    Category.SUPPLIER_TECHNICAL.value: lazy_gettext("Supplier technical material"),
    Category.CONTRACT.value: lazy_gettext("Contract"),
    Category.AGREEMENT.value: lazy_gettext("Agreement"),
    Category.PERSONNEL_FILE.value: lazy_gettext("Personnel file"),
    Category.SALARY.value: lazy_gettext("Salaries and bonuses"),
    Category.UNPUBLISHED_INFO.value: lazy_gettext("Unpublished information"),
    Category.CUSTOMER_INFO.value: lazy_gettext("Customer information"),
    Category.TENANT_ARCHIVE.value: lazy_gettext("Tenant archive"),
    Category.CALL_RECORDING.value: lazy_gettext("Call recording"),
    Category.BUSINESS_LICENCE.value: lazy_gettext("Business licence"),
    Category.ORG_CODE_CERTIFICATE.value: lazy_gettext("Organisation code certificate"),
    Category.TAX_REGISTRATION.value: lazy_gettext("Tax registration certificate"),
    Category.OTHER_CERTIFICATE.value: lazy_gettext("Other certificate"),
    Category.NOTICE.value: lazy_gettext("Notice"),
    Category.LETTER.value: lazy_gettext("Letter"),
    Category.ADMINISTRATIVE.value: lazy_gettext("Administrative paper"),
    Category.TENANT_MEETING_MINUTES.value: lazy_gettext("Tenant meeting minutes"),
}

REASON_NAMES = {
    "internal_employee": lazy_gettext("every active employee (internal file)"),
    "hq_executive": lazy_gettext("HQ executive"),
    "registrant": lazy_gettext("registered the file"),
    "responsible_supervisor": lazy_gettext("responsible supervisor"),
    "owning_department": lazy_gettext("member of the owning department"),
    "owning_dept_manager": lazy_gettext("manager of the owning department"),
    "designee": lazy_gettext("granted or designated"),
    "compliance": lazy_gettext("compliance (metadata only)"),
    "custodian": lazy_gettext("custodian (metadata only)"),
    "approving_office": lazy_gettext("approver of copies (metadata only)"),
    "copy_approval_required": lazy_gettext("content leaves the vault only as an approved copy"),
    "top_secret_not_designated": lazy_gettext("not designated for this top-secret file"),
    "secret_not_designated": lazy_gettext("not designated for this secret file"),
    "registrant_removed": lazy_gettext("removed from this top-secret file by an HQ executive"),
    "not_in_scope": lazy_gettext("outside the circle of knowledge"),
    "inactive_user": lazy_gettext("deactivated"),
}

CHANGE_KINDS = {
    "register": lazy_gettext("registered"),
    "change": lazy_gettext("classification changed"),
    "extend": lazy_gettext("period extended"),
    "declassify": lazy_gettext("declassified"),
    "auto_declassify": lazy_gettext("declassified automatically at the end of the period"),
}

VIEWER_KINDS = {
    "pdf": lazy_gettext("PDF pages, shown as watermarked images"),
    "image": lazy_gettext("image, shown watermarked"),
    "audio": lazy_gettext("recording, played in the page"),
    "text": lazy_gettext("text, shown in the page"),
    "other": lazy_gettext("this format cannot be shown: metadata only"),
    "none": lazy_gettext("no stored content (paper original)"),
    "too_large": lazy_gettext("too large to view: request a copy"),
}

# Service refusals by code, in the reader's language; fields they belong to on the forms.
# The form field each service refusal belongs to ("" = the whole form or page).
ERROR_FIELDS = {
    "bad_title": "title", "bad_period": "period", "period_on_internal": "period",
    "period_before_issue": "period", "bad_supervisor": "supervisor",
    "unknown_department": "department", "unknown_tenant": "tenant", "bad_filename": "file",
    "empty_file": "file", "too_large": "file", "type_not_allowed": "file",
    "type_mismatch": "file", "unreadable_file": "file", "unknown_user": "grantee",
    "grant_exists": "grantee", "no_grant": "grantee", "until_in_past": "until",
}

# Service refusals by code, in the reader's language.
ERRORS: dict[str, Any] = {
    "bad_title": lazy_gettext("The title must be 1–500 printable characters."),
    "bad_period": lazy_gettext("The secrecy period cannot be read."),
    "period_on_internal": lazy_gettext("An internal document has no secrecy period."),
    "period_before_issue": lazy_gettext("The period ends before the issue date."),
    "bad_supervisor": lazy_gettext(
        "The responsible supervisor must be an active person of your company."),
    "unknown_department": lazy_gettext("There is no such department in your company."),
    "unknown_tenant": lazy_gettext("There is no such tenant."),
    "bad_filename": lazy_gettext(
        "The file name is not acceptable (a path such as ../, a NUL or control character, "
        "or too long). Rename the file and upload it again."),
    "empty_file": lazy_gettext("The file is empty."),
    "too_large": lazy_gettext("The file is larger than the limit of %(limit)s."),
    "type_not_allowed": lazy_gettext(
        "This kind of file is not accepted in this category. It takes %(accepted)s."),
    "type_mismatch": lazy_gettext(
        "The file name ends in .%(extension)s but the content is %(detected)s; rename the "
        "file or upload the right one."),
    "unreadable_file": lazy_gettext(
        "The file starts like a %(kind)s file but is not a readable one; upload the original "
        "file."),
    "inactive_user": lazy_gettext("A deactivated user cannot do this."),
    "unknown_document": lazy_gettext("There is nothing here, or you may not know of it."),
    "unknown_version": lazy_gettext("This document has no such version."),
    "no_content": lazy_gettext("This document has no stored content (a paper original)."),
    "unknown_page": lazy_gettext("This page does not exist."),
    "unknown_user": lazy_gettext("There is no such person."),
    "grant_exists": lazy_gettext("This person already has a grant on this file."),
    "no_grant": lazy_gettext("This person has no grant on this file."),
    "until_in_past": lazy_gettext("The end of a grant must be in the future."),
    "not_responsible": lazy_gettext(
        "Only the registrant, the responsible supervisor or an HQ executive adds versions."),
    "copy_approval_required": lazy_gettext(
        "The content of this file leaves Vault only as an approved, registered copy. "
        "Request a copy, or read it in the viewer."),
    "not_authorised_to_grant": lazy_gettext(
        "You may not grant or revoke access to this file."),
    "internal_needs_no_grant": lazy_gettext(
        "An internal file is open to every employee; it needs no grants."),
    "top_secret_not_designated": lazy_gettext(
        "You may know of this top-secret file but not read it: an HQ executive designates "
        "its readers."),
    "secret_not_designated": lazy_gettext(
        "You may know of this secret file but not read it: its responsible supervisor "
        "designates its readers."),
    "not_in_scope": lazy_gettext("You may know of this file but not read it."),
    "registrant_removed": lazy_gettext(
        "An HQ executive removed you from this top-secret file."),
    "unrenderable": lazy_gettext(
        "This file cannot be rendered in the viewer; request a copy."),
    "too_large_to_view": lazy_gettext("This file is too large to view; request a copy."),
    "page_too_large": lazy_gettext(
        "Cannot show this page: its size is outside what the viewer draws (a damaged or "
        "hostile file)."),
    "not_renderable": lazy_gettext("This file has no pages to show."),
    "not_audio": lazy_gettext("This file is not a recording."),
    "range_not_satisfiable": lazy_gettext("The requested range is outside the file."),
    "bad_number": lazy_gettext("A page or version must be a positive whole number."),
    "font_missing": lazy_gettext(
        "The watermark font is missing on the server, so pages cannot be shown. Ask the "
        "administrator to install fonts-wqy-microhei."),
    "integrity_failure": lazy_gettext(
        "The stored file failed its integrity check; nothing of it was released."),
    "audit_unavailable": lazy_gettext(
        "The audit trail cannot be written, so the action was refused."),
}


def _human_size(size: int) -> str:
    value, unit = float(size), "B"
    for bigger in ("KiB", "MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"


def message_of(exc: VaultError) -> str:
    """The refusal in the reader's language (the service's English when unknown)."""
    text = ERRORS.get(exc.code)
    if text is None and isinstance(exc, AuditUnavailable):
        text = ERRORS["audit_unavailable"]
    elif text is None and isinstance(exc, IntegrityFailure):
        text = ERRORS["integrity_failure"]
    if text is None:
        return exc.message
    params = {k: v for k, v in exc.params.items() if isinstance(v, str | int)}
    if "limit" in params and isinstance(params["limit"], int):
        params["limit"] = _human_size(params["limit"])
    if exc.code == "type_not_allowed":
        params["accepted"] = accepted_kinds(str(params.get("category", "")))
    try:
        return str(text) % params if params else str(text)
    except (KeyError, ValueError, TypeError):
        return exc.message


def accepted_kinds(category: str) -> str:
    """What a category takes, in words (not media types)."""
    from vault.policy import CERTIFICATES

    if category == Category.CALL_RECORDING.value:
        return str(_("audio recordings (WAV, MP3, OGG, M4A, AMR, FLAC or AAC)"))
    if category in {c.value for c in CERTIFICATES}:
        return str(_("scans: PDF or pictures (PNG, JPEG, TIFF or WebP)"))
    return str(_("PDF, pictures (PNG, JPEG, TIFF, WebP), Word, Excel, PowerPoint or "
                 "OpenDocument files, plain text or CSV"))


#: Service refusals re-raised with their message in the reader's language.
translated = support.translating(message_of)


lang = support.lang


@bp.app_template_global()
def level_name(level: str) -> str:
    return str(LEVEL_NAMES.get(level, level))


@bp.app_template_global()
def category_name(category: str) -> str:
    return str(CATEGORY_NAMES.get(category, category))


@bp.app_template_global()
def reason_name(reason: str) -> str:
    return str(REASON_NAMES.get(reason, reason))


@bp.app_template_filter("size")
def size_filter(size: int) -> str:
    return _human_size(size)


@bp.app_template_filter("when")
def when_filter(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(support.settings().tz).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _int_arg(name: str, default: int | None = None) -> int | None:
    raw = request.args.get(name, "")
    if not raw:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 10 or not valid_id(int(raw)):
        raise InvalidInput(f"{name} must be a positive whole number.", code="bad_number")
    return int(raw)


def _date(raw: str | None) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"Not a date: {raw!r}", code="bad_date") from None


# ---------------------------------------------------------------------------
# Browse and search


@bp.get("/")
@login_required
@translated
def index() -> Any:
    args = request.args
    errors: list[str] = []
    query = documents.Query(per_page=PER_PAGE)
    query.text = args.get("q", "").strip()[:200] or None
    if args.get("category"):
        if args["category"] in CATEGORY_NAMES:
            query.category = Category(args["category"])
        else:
            errors.append(_("Unknown category."))
    if args.get("level"):
        if args["level"] in LEVEL_NAMES:
            query.level = Level(args["level"])
        else:
            errors.append(_("Unknown level."))
    query.tenant = args.get("tenant", "").strip()[:32] or None
    query.company = args.get("company", "").strip()[:32] or None
    dept = args.get("department", "").strip()[:65]
    if dept:
        company, _sep, code = dept.partition("/")
        if code:
            query.company, query.department = company, code
        else:
            query.department = company
    for field_name, attr in (("from", "issued_from"), ("to", "issued_to")):
        try:
            setattr(query, attr, _date(args.get(field_name)))
        except InvalidInput:
            errors.append(_("Dates are written YYYY-MM-DD."))
    page = args.get("page", "1")
    query.page = int(page) if page.isdigit() and 0 < int(page) < 100000 else 1
    query.sort = _sort_arg()
    with support.work() as ctx:
        found = document_pages.browse(ctx, query, lang())
    return render_template("documents/index.html", found=found, args=args, errors=errors,
                           levels=list(LEVEL_NAMES), categories=list(CATEGORY_NAMES))


def _sort_arg() -> str:
    """The list's order from ``?sort=``: one of the service's keys, "-" for
    descending; anything else is the default order (newest registered first)."""
    raw = request.args.get("sort", "")
    return raw if raw.removeprefix("-") in documents.SORT_KEYS else ""


def _page_url(page: int) -> str:
    args: dict[str, Any] = request.args.to_dict()
    args["page"] = str(page)
    return url_for("documents.index", **args)


@bp.app_template_global()
def documents_page_url(page: int) -> str:
    """The same list (filters and order kept) at another page."""
    return _page_url(page)


@bp.app_template_global()
def documents_sort(key: str) -> dict[str, str]:
    """A sortable column's link (filters kept, back to page 1; a second click turns
    the order round) and its state for ``aria-sort``."""
    current = _sort_arg()
    ascending = current == key
    descending = current == f"-{key}" or (not current and key == "registered")
    args: dict[str, Any] = request.args.to_dict()
    args.pop("page", None)
    # Titles and categories read A→Z first; dates, levels and registration newest first.
    first = key if key in ("title", "category") else f"-{key}"
    args["sort"] = (f"-{key}" if ascending else key) if (ascending or descending) else first
    state = "ascending" if ascending else "descending" if descending else "none"
    return {"url": url_for("documents.index", **args), "state": state}


# ---------------------------------------------------------------------------
# Register


def parse_period(form: Mapping[str, str], errors: dict[str, str]) -> Period | None:
    kind = form.get("period_kind", "duration")
    if kind == "duration":
        values = {}
        for unit, top in (("years", 100), ("months", 1200), ("days", 36500)):
            raw = form.get(f"period_{unit}", "").strip() or "0"
            if not raw.isdigit() or int(raw) > top:
                errors["period"] = _("Give the period as whole numbers of years, months "
                                     "and days.")
                return None
            values[unit] = int(raw)
        if not any(values.values()):
            return None  # the level's default period
        return Period(years=values["years"], months=values["months"], days=values["days"])
    if kind == "date":
        try:
            until = _date(form.get("period_until"))
        except InvalidInput:
            until = None
        if until is None:
            errors["period"] = _("Give the last day of secrecy as a date.")
            return None
        return Period(until=until)
    if kind == "condition":
        text = form.get("period_condition", "").strip()
        if not text or len(text) > 500:
            errors["period"] = _("Describe the declassification condition (up to 500 "
                                 "characters).")
            return None
        return Period(condition=text)
    errors["period"] = _("Choose how the secrecy period is given.")
    return None


def _uploaded(name: str) -> FileStorage | None:
    """The uploaded file, or None when the file input was left empty (no name)."""
    file = request.files.get(name)
    if file is None or not file.filename:
        return None
    return file


def _parse_register(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    title = form.get("title", "").strip()
    if not title:
        errors["title"] = _("Enter a title.")
    values["title"] = title
    category = form.get("category", "")
    if category not in CATEGORY_NAMES:
        errors["category"] = _("Choose a category.")
    else:
        values["category"] = Category(category)
    level_text = form.get("level", "")
    level = Level(level_text) if level_text in LEVEL_NAMES else None
    if level_text and level is None:
        errors["level"] = _("Choose a level.")
    values["level"] = level  # None: the category's default level
    # An internal file has no period: the form's period fields are then ignored. With
    # the category's default level, a period given is checked by the service.
    values["period"] = parse_period(form, errors) if not level or level.classified else None
    try:
        values["issued_on"] = _date(form.get("issued_on"))
    except InvalidInput:
        errors["issued_on"] = _("Give the issue date as a date.")
    values["supervisor"] = form.get("supervisor", "").strip() or None
    values["department"] = form.get("department", "").strip() or None
    values["tenant"] = form.get("tenant", "").strip() or None
    values["paper_original"] = form.get("paper_original") in ("on", "1", "true")
    file = _uploaded("file")
    if file is None and not values["paper_original"]:
        errors["file"] = _("Choose a file, or tick “paper original” to register a paper "
                           "document without a file.")
    values["content"] = cast(BinaryIO, file.stream) if file is not None else None
    values["filename"] = (file.filename or "") if file is not None else None
    return values, errors


def _status_for(code: str) -> int:
    return {"too_large": 413, "type_not_allowed": 415, "type_mismatch": 415,
            "unreadable_file": 415}.get(code, 400)


def _render_register(errors: dict[str, str], status: int) -> Any:
    with support.work() as ctx:
        options = document_pages.form_options(ctx)
        now = ctx.now.astimezone(ctx.settings.tz).strftime("%Y-%m-%dT%H:%M")
    return render_template("documents/new.html", options=options, form=request.form, now=now,
                           errors=errors, max_upload=support.settings().max_upload_bytes,
                           level_names=LEVEL_NAMES, category_names=CATEGORY_NAMES), status


@bp.route("/new", methods=["GET", "POST"])
@login_required
@translated
def new() -> Any:
    if request.method == "GET":
        return _render_register({}, 200)
    values, errors = _parse_register(forms.values(forms.posted(forms.RegisterForm)))
    if values.get("category") is Category.CALL_RECORDING:
        return _register_recording(values, errors)
    if errors:
        return _render_register(errors, 400)
    try:
        with support.work() as ctx:
            doc_id = document_pages.register(ctx, **values)
    except VaultError as exc:
        if exc.code not in ERRORS or exc.status >= 500:
            raise
        field_name = ERROR_FIELDS.get(exc.code, "form")
        return _render_register({field_name: message_of(exc)}, _status_for(exc.code))
    flash(_("The document was registered."))
    return redirect(url_for("documents.show", doc_id=doc_id))


def _register_recording(values: dict[str, Any], errors: dict[str, str]) -> Any:
    """A 录音 registered through the ordinary form is a call recording: it needs the
    call's fields and its audio, and is listed under 录音 like any other."""
    from vault.services import recordings
    from vault.web import recordings as recording_views

    call = recording_views.parse_call(forms.values(forms.posted(forms.RegisterForm)), errors)
    if values["content"] is None:
        errors["file"] = _("A call recording needs its audio file.")
    if errors:
        return _render_register(errors, 400)
    try:
        with support.work() as ctx:
            doc_id = recordings.register(
                ctx, source="upload", title=values["title"],
                department_code=values["department"], tenant_code=values["tenant"],
                content=values["content"], filename=values["filename"], **call).id
    except VaultError as exc:
        if exc.code not in recording_views.ERROR_FIELDS or exc.status >= 500:
            raise
        field_name = recording_views.ERROR_FIELDS[exc.code]
        return _render_register({field_name: recording_views.message_of(exc)},
                                _status_for(exc.code))
    flash(_("The recording was registered."))
    return redirect(url_for("recordings.show", doc_id=doc_id))


# ---------------------------------------------------------------------------
# The document page, grants, versions


@bp.get("/<id:doc_id>")
@login_required
@translated
def show(doc_id: int) -> Any:
    with support.work() as ctx:
        page = document_pages.page(ctx, doc_id, lang())
        text_state = document_pages.text_status(ctx, page.id)
        # The sections of other areas, read in the same unit of work (none of them is
        # audited: the page was).
        copy_info = copy_pages.document_section(ctx, page.id)
        notice_info = tenant_pages.notice_section(ctx, page.id, lang())
    return render_template("documents/show.html", doc=page, reason_names=REASON_NAMES,
                           copy_info=copy_info, notice_info=notice_info,
                           change_kinds=CHANGE_KINDS, viewer_kinds=VIEWER_KINDS,
                           errors={}, max_upload=support.settings().max_upload_bytes,
                           text_state=text_state)


@bp.post("/<id:doc_id>/grants")
@login_required
@translated
def grant_add(doc_id: int) -> Any:
    form = forms.posted(forms.GrantForm)
    grantee = forms.text(form.grantee).strip()[:64]
    try:
        until_day = _date(form.until.data)
    except InvalidInput:
        flash(_("Give the end of the grant as a date."))
        return redirect(url_for("documents.show", doc_id=doc_id, _anchor="grants"))
    until = None
    if until_day is not None:
        # The grant runs through the given day (group time), ending at midnight after it.
        tz = support.settings().tz
        until = datetime.combine(until_day, time(23, 59, 59), tzinfo=tz).astimezone(UTC)
    try:
        with support.work() as ctx:
            grants.grant(ctx, doc_id, grantee, until)
    except VaultError as exc:
        if exc.code not in ("unknown_user", "grant_exists", "until_in_past", "inactive_user"):
            raise
        flash(message_of(exc))
        return redirect(url_for("documents.show", doc_id=doc_id, _anchor="grants"))
    flash(_("Access granted to %(who)s.", who=grantee))
    return redirect(url_for("documents.show", doc_id=doc_id, _anchor="grants"))


@bp.post("/<id:doc_id>/grants/<username>/revoke")
@login_required
@translated
def grant_revoke(doc_id: int, username: str) -> Any:
    with support.work() as ctx:
        grants.revoke(ctx, doc_id, username[:64])
    flash(_("Access of %(who)s revoked.", who=username))
    return redirect(url_for("documents.show", doc_id=doc_id, _anchor="grants"))


@bp.post("/<id:doc_id>/versions")
@login_required
@translated
def version_add(doc_id: int) -> Any:
    file = _uploaded("file")
    if file is None:
        raise InvalidInput("Choose a file.", code="empty_file")
    try:
        with support.work() as ctx:
            number = document_pages.add_version(ctx, doc_id,
                                                cast(BinaryIO, file.stream), file.filename or "")
    except VaultError as exc:
        if ERROR_FIELDS.get(exc.code) == "file":
            exc.message = message_of(exc)
            exc.status = _status_for(exc.code)
        raise
    flash(_("Version %(number)s was added.", number=number))
    return redirect(url_for("documents.show", doc_id=doc_id))


# ---------------------------------------------------------------------------
# The viewer and downloads (bytes are sent only after the unit of work committed)


@bp.get("/<id:doc_id>/view")
@login_required
@translated
def view(doc_id: int) -> Any:
    version = _int_arg("v")
    page = _int_arg("page", 1) or 1
    with support.work() as ctx:
        shown = viewer.open_viewer(ctx, doc_id, version, lang())
    if shown.pages and page > shown.pages:
        page = shown.pages
    return render_template("documents/view.html", v=shown, page=page,
                           viewer_kinds=VIEWER_KINDS)


PAGE_MAX_AGE = 60  # seconds a browser may reuse a watermarked page image


@bp.get("/<id:doc_id>/pages/<int(min=1, max=100000):page>.png")
@login_required
@translated
def page_image(doc_id: int, page: int) -> Response:
    version = _int_arg("v")
    with support.work() as ctx:
        plan = viewer.prepare_page(ctx, doc_id, page, version, lang())
    png = plan.render()  # after the commit: the view is on the trail before any byte leaves
    # The image is this person's (their name and the minute are drawn on it): a
    # private, short-lived browser copy spares paging back and forth a re-render,
    # and no shared cache may keep it.
    return Response(png, mimetype="image/png",
                    headers={"Content-Disposition": "inline", "Content-Length": str(len(png)),
                             "Cache-Control": f"private, max-age={PAGE_MAX_AGE}"})


@bp.get("/<id:doc_id>/thumbnail.png")
@login_required
@translated
def thumbnail(doc_id: int) -> Response:
    """The first page, small, for the lists: rendered in memory and watermarked for
    this viewer like any page (audited); a private, short-lived browser copy."""
    support.refuse_head()
    with support.work() as ctx:
        plan = viewer.prepare_thumbnail(ctx, doc_id, lang())
    png = plan.render()
    return Response(png, mimetype="image/png",
                    headers={"Content-Disposition": "inline", "Content-Length": str(len(png)),
                             "Cache-Control": f"private, max-age={PAGE_MAX_AGE}"})


@bp.get("/<id:doc_id>/audio")
@login_required
@translated
def audio(doc_id: int) -> Response:
    support.refuse_head()
    version = _int_arg("v")
    byte_range: tuple[int, int | None] | None = None
    if request.headers.get("Range"):
        rng = request.range
        # Anything but one byte range is answered with the whole file (RFC 9110 allows it).
        if rng is not None and rng.units == "bytes" and len(rng.ranges) == 1:
            byte_range = rng.ranges[0]
    with support.work() as ctx:
        stream = viewer.audio(ctx, doc_id, byte_range, version)
    resp = Response(stream.chunks, status=206 if stream.partial else 200,
                    mimetype=stream.media_type, direct_passthrough=True)
    resp.headers["Accept-Ranges"] = "bytes"
    resp.headers["Content-Length"] = str(stream.length)
    if stream.partial:
        resp.headers["Content-Range"] = f"bytes {stream.start}-{stream.stop - 1}/{stream.size}"
    resp.call_on_close(stream.close)
    return resp


def content_disposition(name: str, kind: str = "attachment") -> str:
    """``attachment`` with an ASCII fallback and the UTF-8 name (RFC 6266)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_"
                       for c in name) or "document"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


@bp.get("/<id:doc_id>/download")
@login_required
@translated
def download(doc_id: int) -> Response:
    support.refuse_head()
    version = _int_arg("v")
    with support.work() as ctx:
        content = documents.open_content(ctx, doc_id, version)
        name = content.version.original_name or f"document-{doc_id}"
        media_type = content.version.media_type or "application/octet-stream"
        size = content.version.size
    resp = Response(support.coalesce(content.chunks), mimetype=media_type,
                    direct_passthrough=True)
    resp.headers["Content-Disposition"] = content_disposition(name)
    resp.headers["Content-Length"] = str(size)
    return resp


# ---------------------------------------------------------------------------
# Uploads without plaintext on disk (the spool itself: vault/crypto/spool.py)


class VaultRequest(Request):
    """Flask's request, with file uploads spooled encrypted (`SpooledEncryptedFile`)."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        tmp = support.settings().storage_dir / "tmp"
        return cast(IO[bytes], SpooledEncryptedFile(tmp))

    def _load_form_data(self) -> None:
        super()._load_form_data()
        # Keep the backslashes of a sent file name, so that it is refused, not altered.
        for _field, upload in self.__dict__["files"].items(multi=True):
            upload.filename = sent_filename(upload.headers, upload.filename)
