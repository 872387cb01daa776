"""The JSON API for leak reports (泄密报告) and the certificate register (证照).
Routes of the ``api`` blueprint (vault/web/api.py: token authentication, input
helpers and the error format), described in vault/web/openapi.py.

Anyone may report a leak; the answer is the report's receipt, the same whatever a
copy number leads to. HQ executives and compliance read reports with their trace
(as reported and as it stands now); a reporter reads the receipt of their own.
There is no operation that deletes a report.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

from flask import url_for

from vault import policy
from vault.services import certificates, leaks
from vault.services.context import Ctx
from vault.web.api import (
    MAX_ID,
    _clean_text,
    _created,
    _date,
    _json_object,
    _lang,
    _work,
    arg_int,
    bad,
    bp,
)
from vault.web.api_copies import _company_id, _row_id, arg_flag


def _free_text(field: str, value: Any, max_len: int, required: bool) -> str | None:
    """A description or note: lines and tabs allowed, other control characters not."""
    if value is None or value == "":
        if required:
            raise bad(field, "is required")
        return None
    if not isinstance(value, str):
        raise bad(field, "must be a string")
    if len(value) > max_len:
        raise bad(field, f"at most {max_len} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\t" for c in value):
        raise bad(field, "contains control characters")
    if required and not value.strip():
        raise bad(field, "is required")
    return value


# ---------------------------------------------------------------------------
# Leak reports


@bp.post("/leaks")
def create_leak() -> Any:
    """Report a suspected leak of a document or of a copy number found outside."""
    body = _json_object()
    document = body.get("document")
    if document is not None and (isinstance(document, bool) or not isinstance(document, int)
                                 or not 1 <= document <= MAX_ID):
        raise bad("document", f"must be a whole number from 1 to {MAX_ID}")
    number_value = body.get("copy_number")
    copy_number = (None if number_value is None or number_value == ""
                   else _clean_text("copy_number", number_value, leaks.MAX_COPY_NUMBER))
    description = _free_text("description", body.get("description"), leaks.MAX_DESCRIPTION,
                             required=True)
    with _work() as ctx:
        leak = leaks.report(ctx, document_id=document, copy_number=copy_number,
                            description=description)
        info = leaks.summary(leak, ctx.now, full=False)
    return _created(info, url_for("api.get_leak", id=info["id"]))


@bp.get("/leaks")
def list_leaks() -> Any:
    """Every report for HQ executives and compliance; your own reports otherwise."""
    open_only = arg_flag("open")
    limit = arg_int("limit", 100, 1, 500) or 100
    with _work() as ctx:
        full = policy.can_investigate_leaks(ctx.subject).allowed
        rows = leaks.list_reports(ctx, open_only=open_only, limit=limit + 1)
        items = [leaks.summary(x, ctx.now, full) for x in rows]
    return {"items": items[:limit], "truncated": len(items) > limit}


@bp.get("/leaks/<int:id>")
def get_leak(id: int) -> Any:
    """One report; with both traces for HQ executives and compliance. Audited."""
    leak_id = _row_id(id, "leak")
    with _work() as ctx:
        return leaks.show(ctx, leak_id).describe(ctx.now)


# ---------------------------------------------------------------------------
# Certificates


def _certificate(ctx: Ctx, row: certificates.Row) -> dict[str, Any]:
    doc, cert = row.document, row.certificate
    custodian = cert.custodian if cert is not None else None
    return {
        "id": doc.id, "title": doc.title, "kind": doc.category, "company": doc.company.code,
        "level": row.level.value, "marking": row.marking,
        "number": cert.number if cert else None,
        "custodian": ({"username": custodian.username, "name": custodian.name}
                      if custodian is not None else None),
        "original_location": cert.original_location if cert else None,
        "valid_until": cert.valid_until.isoformat() if cert and cert.valid_until else None,
        "validity": row.validity or None,
        "may_edit": row.may_edit,
        "open_loans": [{
            "id": x.id, "borrower": {"username": x.borrower.username, "name": x.borrower.name},
            "due_on": x.due_on.isoformat(),
            "lent_at": x.lent_at.isoformat() if x.lent_at else None,
        } for x in row.open_loans],
    }


@bp.get("/certificates")
def list_certificates() -> Any:
    """The certificate register (custodians, the GM, HQ executives, compliance)."""
    lang = _lang()
    with _work() as ctx:
        rows = certificates.list_certificates(ctx, _company_id(ctx), lang)
        return {"items": [_certificate(ctx, r) for r in rows]}


@bp.put("/certificates/<int:id>")
def put_certificate(id: int) -> Any:
    """Record a certificate's details (the owning company's custodian or GM). A field
    left out keeps its value; null or "" clears it."""
    doc_id, lang = _row_id(id, "document"), _lang()
    body = _json_object()
    changes: dict[str, Any] = {}
    for field, key, limit in (("number", "number", certificates.MAX_NUMBER),
                              ("custodian", "custodian_username", 64),
                              ("original_location", "original_location",
                               certificates.MAX_LOCATION)):
        if field in body:
            value = body[field]
            changes[key] = None if value is None else _clean_text(field, value, limit)
    if "valid_until" in body:
        value = body["valid_until"]
        day: date | None = None if value is None or value == "" else _date("valid_until", value)
        changes["valid_until"] = day
    with _work() as ctx:
        certificates.set_details(ctx, doc_id, **changes)
        return _certificate(ctx, certificates.get(ctx, doc_id, lang))
