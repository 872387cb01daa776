"""The compliance console: the audit trail with filters (person, document, action,
outcome, time range; newest first, paginated), the denied attempts, a document's
whole history and who has known it, export as CSV or JSON lines, and the chain's
status with verification on demand.

Compliance officers only: `vault.services.compliance_console` asks
`policy.can_review_audit` and audits every refusal. Reading the trail, verifying
and exporting are audit events themselves. Times are shown in the group's time
zone; the date filters are whole local days, both ends included.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from vault.services import compliance_console
from vault.services.compliance_console import Filters
from vault.web import forms, labels, support

bp = Blueprint("compliance", __name__, url_prefix="/compliance")

support.NAV.append(("compliance.trail", lambda: _("Compliance"), "reviews_audit"))

FILTER_FIELDS = ("actor", "document", "action", "outcome", "since", "until")
# Control characters (a NUL would be refused by PostgreSQL): no user name has them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MIN_YEAR, MAX_YEAR = 1900, 2999
CHUNK = 64 * 1024


@bp.app_context_processor
def _audit_words() -> dict[str, Any]:
    from vault.web.admin import role_labels

    return {"audit_labels": labels, "audit_roles": role_labels}


def outcome_labels() -> dict[str, str]:
    return {"allowed": _("allowed"), "denied": _("denied"), "failed": _("failed")}


def _local(ts: datetime | None) -> str:
    if ts is None:
        return "—"
    return ts.astimezone(support.settings().tz).strftime("%Y-%m-%d %H:%M:%S")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=support.settings().tz).astimezone(UTC)


def _parse_filters(args: Mapping[str, str]) -> tuple[Filters, dict[str, str], list[str]]:
    """Filters from a query string or form; also the raw values (to refill the form
    and the page links) and what was wrong with them."""
    raw = {k: _CONTROL.sub("\ufffd", (args.get(k) or "").strip()[:200]) for k in FILTER_FIELDS}
    errors: list[str] = []
    document = None
    if raw["document"]:
        if raw["document"].isascii() and raw["document"].isdigit() and len(raw["document"]) < 10:
            document = int(raw["document"])
        else:
            errors.append(_("The document is given by its number."))
    action = raw["action"] or None
    if action is not None and action not in compliance_console.ACTIONS:
        errors.append(_("Unknown action."))
        action = None
    outcome = raw["outcome"] or None
    if outcome is not None and outcome not in compliance_console.OUTCOMES:
        errors.append(_("Unknown outcome."))
        outcome = None
    days: dict[str, date | None] = {"since": None, "until": None}
    for key in days:
        if raw[key]:
            try:
                day = date.fromisoformat(raw[key])
            except ValueError:
                day = None
            if day is None or not MIN_YEAR <= day.year <= MAX_YEAR:
                errors.append(_("Dates are written YYYY-MM-DD."))
            else:
                days[key] = day
    since = _day_start(days["since"]) if days["since"] else None
    until_day = days["until"]
    until = _day_start(until_day + timedelta(days=1)) if until_day else None
    if since is not None and until is not None and since >= until:
        errors.append(_("The time range ends before it starts."))
    filters = Filters(actor=raw["actor"] or None, document=document, action=action,
                      outcome=outcome, since=since, until=until)
    return filters, raw, errors


def _page_number() -> int:
    text = request.args.get("page", "1")
    return int(text) if text.isascii() and text.isdigit() and 0 < len(text) < 7 else 1


def _trail_page(endpoint: str, fixed: dict[str, str]) -> Any:
    args = MultiDict(request.args)
    for key, value in fixed.items():
        args[key] = value
    filters, raw, errors = _parse_filters(args)
    page = None
    with support.work() as ctx:
        if errors:
            compliance_console.require_reviewer(ctx)  # 403 before any 400
        else:
            page = compliance_console.trail(ctx, filters, _page_number())
    links = {k: v for k, v in raw.items() if v and k not in fixed}
    return render_template(
        "compliance/trail.html", page=page, raw=raw, fixed=fixed, links=links,
        errors=errors, endpoint=endpoint, actions=compliance_console.ACTIONS,
        outcomes=outcome_labels(), when=_local,
    ), 400 if errors else 200


@bp.get("/")
@login_required
def trail() -> Any:
    return _trail_page("compliance.trail", {})


@bp.get("/denied")
@login_required
def denied() -> Any:
    return _trail_page("compliance.denied", {"outcome": "denied"})


@bp.get("/documents")
@login_required
def document_lookup() -> Any:
    text = (request.args.get("id") or "").strip()
    if text.isascii() and text.isdigit() and len(text) < 10:
        return redirect(url_for("compliance.document_history", doc_id=int(text)))
    with support.work() as ctx:
        compliance_console.require_reviewer(ctx)
    return render_template("compliance/document_lookup.html",
                           error=_("The document is given by its number.") if text else None,
                           ), 400 if text else 200


@bp.get("/documents/<id:doc_id>")
@login_required
def document_history(doc_id: int) -> Any:
    with support.work() as ctx:
        history = compliance_console.document_history(ctx, doc_id)
    return render_template("compliance/document.html", history=history, when=_local,
                           outcomes=outcome_labels())


@bp.post("/export")
@login_required
def export() -> Any:
    form = forms.posted(forms.ExportForm)
    filters, _raw, errors = _parse_filters(forms.values(form))
    fmt = forms.text(form.format, default="csv")
    if fmt not in ("csv", "jsonl"):
        errors.append(_("Choose CSV or JSON lines."))
    if errors:
        with support.work() as ctx:
            compliance_console.require_reviewer(ctx)
        return render_template("compliance/trail.html", page=None, raw=_raw, fixed={},
                               links={}, errors=errors, endpoint="compliance.trail",
                               actions=compliance_console.ACTIONS, outcomes=outcome_labels(),
                               when=_local), 400
    # Spooled to a temporary file, so memory stays flat for any size of trail;
    # the export event is committed before the first byte leaves.
    out = tempfile.TemporaryFile(mode="w+", encoding="utf-8", newline="")
    try:
        if fmt == "csv":
            out.write("\ufeff")  # so that spreadsheet programs read the Chinese right
        with support.work() as ctx:
            count = compliance_console.export(ctx, fmt, out, filters)
            stamp = ctx.now.astimezone(support.settings().tz).strftime("%Y%m%d-%H%M%S")
        out.flush()
        out.seek(0)
    except BaseException:
        out.close()
        raise
    name = f"audit-{stamp}.{fmt}"
    mimetype = "text/csv" if fmt == "csv" else "application/x-ndjson"
    resp = Response(_stream(out), mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    resp.headers["X-Vault-Events"] = str(count)
    return resp


def _stream(fh: IO[str]) -> Iterator[bytes]:
    try:
        raw = fh.buffer  # type: ignore[attr-defined]
        raw.seek(0)
        while chunk := raw.read(CHUNK):
            yield chunk
    finally:
        fh.close()


@bp.get("/chain")
@login_required
def chain() -> str:
    with support.work() as ctx:
        status = compliance_console.chain_status(ctx)
    return render_template("compliance/chain.html", status=status, report=None, when=_local)


@bp.post("/chain/verify")
@login_required
def verify() -> Any:
    forms.posted(forms.Form)  # its CSRF token (also checked by CSRFProtect)
    with support.work() as ctx:
        report = compliance_console.verify(ctx)
    with support.work() as ctx:
        status = compliance_console.chain_status(ctx)
    return render_template("compliance/chain.html", status=status, report=report, when=_local)
