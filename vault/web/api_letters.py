"""The JSON API for outgoing letters (对外发文与用章申请): templates, drafting, a letter
with its seal requests, the seal request and its decisions (the current password in
the body, as every approval), sending to tenants. Routes of the ``api`` blueprint
(vault/web/api.py), described in vault/web/openapi_letters.py."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import url_for

from vault.errors import NotFound
from vault.policy import Level
from vault.services import letters
from vault.services.letters import LetterRow, LetterView, SealRow, TemplateRow
from vault.web.api import (
    MAX_ID,
    _clean_text,
    _created,
    _iso,
    _json_object,
    _work,
    arg_int,
    arg_text,
    bad,
    bp,
)
from vault.web.api_copies import _reauthenticate


def _id(value: int, code: str) -> int:
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"No record {value}.", code=code)
    return value


def template_json(t: TemplateRow) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "company": t.company, "letterhead": t.letterhead,
            "closing": t.closing, "active": t.active}


def row_json(r: LetterRow) -> dict[str, Any]:
    return {"id": r.id, "number": r.number, "kind": r.kind, "title": r.title,
            "document": r.document_id, "company": r.company, "status": r.status,
            "drafter": r.drafter, "created_at": _iso(r.created_at), "sealed_by": r.sealed_by,
            "sealed_at": _iso(r.sealed_at)}


def seal_json(s: SealRow) -> dict[str, Any]:
    return {"id": s.id, "letter": s.letter_id, "letter_number": s.letter_number,
            "requester": s.requester, "purpose": s.purpose, "route": list(s.route),
            "awaiting": s.awaiting, "status": s.status, "created_at": _iso(s.created_at),
            "decided_at": _iso(s.decided_at),
            "decisions": [{"step": d.step + 1, "office": d.scope, "decided_by": d.decided_by,
                           "decided_at": _iso(d.decided_at), "approved": d.approved,
                           "note": d.note} for d in s.decisions]}


def letter_json(v: LetterView) -> dict[str, Any]:
    return {**row_json(v.letter), "template": v.template,
            "seal_requests": [seal_json(s) for s in v.seals],
            "requests": [number for _, number in v.requests], "recipients": v.recipients,
            "may_request_seal": v.may_request_seal, "may_decide": v.may_decide,
            "may_send": v.may_send}


def _text(body: dict[str, Any], field: str, limit: int, required: bool = True) -> str | None:
    value = body.get(field)
    if value is None or value == "":
        if required:
            raise bad(field, "is required")
        return None
    return _clean_text(field, value, limit)


@bp.get("/letter-templates")
def list_letter_templates() -> Any:
    """The templates you may draft with."""
    with _work() as ctx:
        return {"items": [template_json(t) for t in letters.templates(ctx)]}


@bp.get("/letters")
def list_letters() -> Any:
    """Letters you may know of, newest first."""
    status = arg_text("status", 16)
    if status not in (None, "draft", "pending", "sealed"):
        raise bad("status", "must be one of: draft, pending, sealed")
    kind = arg_text("kind", 16)
    if kind not in (None, *letters.KINDS):
        raise bad("kind", "must be one of: letter, open")
    limit = arg_int("limit", 100, 1, 500) or 100
    with _work() as ctx:
        found = letters.search(ctx, status=status, kind=kind, limit=limit + 1)
    return {"items": [row_json(r) for r in found[:limit]], "truncated": len(found) > limit}


@bp.post("/letters")
def draft_letter() -> Any:
    """Draft a letter from a template: its PDF is stored encrypted."""
    body = _json_object()
    template = body.get("template")
    if not isinstance(template, int) or isinstance(template, bool) or not 1 <= template <= MAX_ID:
        raise bad("template", "must be a template id")
    kind = body.get("kind", "letter")
    if kind not in letters.KINDS:
        raise bad("kind", "must be one of: letter, open")
    level = body.get("level")
    if level is not None and level not in [lv.value for lv in Level]:
        raise bad("level", "must be a level")
    raw_day = _text(body, "date", 10, required=False)
    try:
        letter_on = date.fromisoformat(raw_day) if raw_day else None
    except ValueError:
        raise bad("date", "must be a date (YYYY-MM-DD)") from None
    refs = body.get("requests", [])
    if not isinstance(refs, list) or len(refs) > letters.MAX_ATTACHED or not all(
            isinstance(r, str) and 0 < len(r) <= 64 for r in refs):
        raise bad("requests", f"must be a list of at most {letters.MAX_ATTACHED} numbers")
    with _work() as ctx:
        view = letters.draft(
            ctx, template_id=template,
            title=_text(body, "title", letters.MAX_TITLE) or "",
            addressee=_text(body, "addressee", letters.MAX_ADDRESSEE) or "",
            body=_text(body, "body", letters.MAX_BODY) or "", letter_on=letter_on,
            kind=kind, level=Level(level) if level else None, request_refs=refs)
        info = letter_json(view)
    return _created(info, url_for("api.get_letter", id=info["id"]))


@bp.get("/letters/<int:id>")
def get_letter(id: int) -> Any:
    """One letter with its seal requests (audited)."""
    with _work() as ctx:
        return letter_json(letters.show(ctx, _id(id, "unknown_letter")))


@bp.post("/letters/<int:id>/seal-request")
def request_letter_seal(id: int) -> Any:
    """Ask for the company seal (用章申请)."""
    body = _json_object()
    purpose = _text(body, "purpose", letters.MAX_PURPOSE)
    with _work() as ctx:
        seal = seal_json(letters.request_seal(ctx, _id(id, "unknown_letter"), purpose))
    return _created(seal, url_for("api.get_letter", id=id))


@bp.get("/seal-requests")
def list_seal_requests_to_decide() -> Any:
    """Seal requests whose awaited step you may decide now."""
    with _work() as ctx:
        return {"items": [seal_json(s) for s in letters.to_decide(ctx)]}


@bp.post("/seal-requests/<int:id>/approve")
def approve_seal_request(id: int) -> Any:
    """Approve the awaited step; needs your password (and code)."""
    seal_id = _id(id, "unknown_seal_request")
    body = _json_object()
    note = _text(body, "note", letters.MAX_PURPOSE, required=False)
    refused = _reauthenticate(body)
    if refused is not None:
        return refused
    with _work() as ctx:
        return seal_json(letters.approve_seal(ctx, seal_id, note))


@bp.post("/seal-requests/<int:id>/reject")
def reject_seal_request(id: int) -> Any:
    """Refuse with a reason; needs your password (and code)."""
    seal_id = _id(id, "unknown_seal_request")
    body = _json_object()
    reason = _text(body, "reason", letters.MAX_PURPOSE)
    refused = _reauthenticate(body)
    if refused is not None:
        return refused
    with _work() as ctx:
        return seal_json(letters.reject_seal(ctx, seal_id, reason))


@bp.post("/letters/<int:id>/send")
def send_letter(id: int) -> Any:
    """Send a sealed letter to tenants (they become its recipients, who sign off)."""
    body = _json_object()
    tenants = body.get("tenants")
    if not isinstance(tenants, list) or not 1 <= len(tenants) <= 5000 or not all(
            isinstance(t, str) and 0 < len(t) <= 32 for t in tenants):
        raise bad("tenants", "must be a list of 1 to 5000 tenant codes")
    with _work() as ctx:
        change = letters.send(ctx, _id(id, "unknown_letter"), tenants)
    return {"added": change.added, "removed": change.removed, "total": change.total}
