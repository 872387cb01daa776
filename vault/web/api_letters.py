"""The JSON API for outgoing letters (对外发文与用章申请): templates, drafting, a letter
with its seal requests, the seal request and its decisions (the current password in
the body, as every approval), sending to tenants. Routes of the ``api`` blueprint
(vault/web/api.py) on the schemas of vault/web/api_schema.py (docs/api.md): each
schema below validates a request or serialises an answer and is what
/api/v1/openapi.json says."""

from __future__ import annotations

from typing import Any

from flask import url_for
from marshmallow import fields, validate

from vault.policy import ApproverScope, Level
from vault.services import letters
from vault.services.letters import LetterRow, LetterView, SealRow, TemplateRow
from vault.web.api import _iso, _work, bp
from vault.web.api_copies import Reauth, _reauthenticate
from vault.web.api_schema import (
    MAX_ID,
    Bool,
    Choice,
    Day,
    Int,
    Loose,
    Moment,
    Null,
    Out,
    Query,
    Str,
    Text,
    Whole,
    describe,
    path_id,
)

STATUSES = ("draft", "pending", "sealed")
OFFICES = [s.value for s in ApproverScope]
MAX_TENANTS = 5000
MAX_TENANT_CODE = 32

# ---------------------------------------------------------------------------
# Answers


class LetterTemplateSchema(Out):
    id = Int()
    name = Str()
    company = Null(Str(**describe("Company code; null: the whole group.")))
    letterhead = Str()
    closing = Str()
    active = Bool()


class LetterTemplateList(Out):
    items = fields.List(fields.Nested(LetterTemplateSchema), required=True)


class LetterSummary(Out):
    id = Int()
    number = Str(**describe("Per company and year, e.g. SZ-函-2026-001."))
    kind = Choice(letters.KINDS, required=True)
    title = Str()
    document = Int(**describe("The letter's PDF (a document of category letter)."))
    company = Str()
    status = Choice(STATUSES, required=True, **describe("sealed: 已用印, may be sent."))
    drafter = Str()
    created_at = Moment(required=True)
    sealed_by = Null(Str(**describe("Who sealed it (the last approver).")))
    sealed_at = Null(Moment(required=True))


class SealDecision(Out):
    step = Int()
    office = Choice(OFFICES, required=True)
    decided_by = Str()
    decided_at = Moment(required=True)
    approved = Bool()
    note = Null(Str())


class SealRequestSchema(Out):
    id = Int()
    letter = Int()
    letter_number = Str()
    requester = Str()
    purpose = Str()
    route = fields.List(Choice(OFFICES), required=True, **describe(
        "The offices deciding in order: the department's manager, then the general "
        "manager (policy.seal_route)."))
    awaiting = Null(Choice(OFFICES, required=True))
    status = Choice(("pending", "approved", "rejected", "cancelled"), required=True)
    created_at = Moment(required=True)
    decided_at = Null(Moment(required=True))
    decisions = fields.List(fields.Nested(SealDecision), required=True)


class LetterSchema(LetterSummary):
    template = Str()
    seal_requests = fields.List(fields.Nested(SealRequestSchema), required=True)
    requests = fields.List(fields.String(), required=True, **describe(
        "Numbers of the requests an open letter answers."))
    recipients = Int()
    may_request_seal = Bool()
    may_decide = Bool()
    may_send = Bool()


class LetterList(Out):
    items = fields.List(fields.Nested(LetterSummary), required=True)
    truncated = Bool()


class SealRequestList(Out):
    items = fields.List(fields.Nested(SealRequestSchema), required=True)


class LetterSent(Out):
    added = fields.List(fields.String(), required=True)
    removed = fields.List(fields.String(), required=True)
    total = Int()


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


# ---------------------------------------------------------------------------
# Requests


class LetterFilter(Query):
    status = Choice(STATUSES, **describe("Status."))
    kind = Choice(letters.KINDS, **describe("Type."))
    limit = Whole(1, 500, load_default=100, **describe("At most this many."))


class LetterNew(Loose):
    template = Whole(1, MAX_ID, in_body=True, required=True)
    title = Text(letters.MAX_TITLE, min_len=1, required=True)
    addressee = Text(letters.MAX_ADDRESSEE, min_len=1, required=True, **describe("致"))
    body = Text(letters.MAX_BODY, min_len=1, required=True)
    date = Day(**describe("Default: today."))
    kind = Choice(letters.KINDS, load_default="letter")
    level = Choice(Level, **describe("Default: internal (the letter category's)."))
    requests = fields.List(
        Text(64, min_len=1), load_default=list,
        validate=validate.Length(
            max=letters.MAX_ATTACHED,
            error=f"must be a list of at most {letters.MAX_ATTACHED} numbers"),
        error_messages={"invalid": f"must be a list of at most {letters.MAX_ATTACHED} numbers"},
        **describe("An open letter: the request numbers it answers."))


class SealRequestNew(Loose):
    purpose = Text(letters.MAX_PURPOSE, min_len=1, required=True)


class SealApproval(Reauth):
    note = Null(Text(letters.MAX_PURPOSE))


class SealRejection(Reauth):
    reason = Text(letters.MAX_PURPOSE, min_len=1, required=True)


class LetterSend(Loose):
    tenants = fields.List(
        Text(MAX_TENANT_CODE, min_len=1), required=True,
        validate=validate.Length(
            min=1, max=MAX_TENANTS,
            error=f"must be a list of 1 to {MAX_TENANTS} tenant codes"),
        error_messages={"invalid": f"must be a list of 1 to {MAX_TENANTS} tenant codes",
                        "required": "is required", "null": "is required"})


# ---------------------------------------------------------------------------
# Operations


LETTER = path_id("Letter")
SEAL = path_id("Seal request")


@bp.get("/letter-templates", tags=["letters"])
@bp.operation("listLetterTemplates",
              summary="The letter templates (对外发文模版) you may draft with")
@bp.response(200, LetterTemplateList, description="The templates.")
@bp.errors()
def list_letter_templates() -> Any:
    """The templates you may draft with."""
    with _work() as ctx:
        return {"items": [template_json(t) for t in letters.templates(ctx)]}


@bp.get("/letters", tags=["letters"])
@bp.operation("listLetters", summary="Outgoing letters you may know of, newest first")
@bp.arguments(LetterFilter, location="query")
@bp.response(200, LetterList, description="The letters.")
@bp.errors("BadRequest")
def list_letters(args: dict[str, Any]) -> Any:
    """Letters you may know of, newest first."""
    limit = args["limit"]
    with _work() as ctx:
        found = letters.search(ctx, status=args.get("status"), kind=args.get("kind"),
                               limit=limit + 1)
    return {"items": [row_json(r) for r in found[:limit]], "truncated": len(found) > limit}


@bp.post("/letters", tags=["letters"])
@bp.operation("draftLetter",
              summary="Draft a letter from a template (its PDF is stored encrypted)",
              description="Sent to tenants only once its seal request is approved.")
@bp.arguments(LetterNew)
@bp.response(201, LetterSchema, description="Drafted.")
@bp.errors("BadRequest", "Forbidden", "NotFound")
def draft_letter(body: dict[str, Any]) -> Any:
    """Draft a letter from a template: its PDF is stored encrypted."""
    with _work() as ctx:
        view = letters.draft(
            ctx, template_id=body["template"], title=body["title"],
            addressee=body["addressee"], body=body["body"], letter_on=body.get("date"),
            kind=body["kind"], level=body.get("level"), request_refs=body["requests"])
        info = letter_json(view)
    return info, 201, {"Location": url_for("api.get_letter", id=info["id"])}


@bp.get("/letters/<id('letter'):id>", tags=["letters"], parameters=[LETTER])
@bp.operation("getLetter", summary="A letter with its seal requests and decisions (audited)")
@bp.response(200, LetterSchema, description="The letter.")
@bp.errors("BadRequest", "NotFound")
def get_letter(id: int) -> Any:
    """One letter with its seal requests (audited)."""
    with _work() as ctx:
        return letter_json(letters.show(ctx, id))


@bp.post("/letters/<id('letter'):id>/seal-request", tags=["letters"], parameters=[LETTER])
@bp.operation("requestLetterSeal", summary="Ask for the company seal (用章申请)",
              description=(
    "By the drafter, the responsible supervisor, the department's manager or an HQ "
    "executive; 409 letter_not_draft while one is pending or once sealed."))
@bp.arguments(SealRequestNew)
@bp.response(201, SealRequestSchema, description="Asked.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict")
def request_letter_seal(body: dict[str, Any], id: int) -> Any:
    """Ask for the company seal (用章申请)."""
    with _work() as ctx:
        seal = seal_json(letters.request_seal(ctx, id, body["purpose"]))
    return seal, 201, {"Location": url_for("api.get_letter", id=id)}


@bp.post("/letters/<id('letter'):id>/send", tags=["letters"], parameters=[LETTER])
@bp.operation("sendLetter",
              summary="Send a sealed letter to tenants (then track their sign-offs)",
              description=(
    "403 letter_not_sealed before 已用印. The list replaces the recipients; their "
    "sign-offs: /api/v1/notices/{id}/sign-offs."))
@bp.arguments(LetterSend)
@bp.response(200, LetterSent, description="Sent.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict")
def send_letter(body: dict[str, Any], id: int) -> Any:
    """Send a sealed letter to tenants (they become its recipients, who sign off)."""
    with _work() as ctx:
        change = letters.send(ctx, id, body["tenants"])
    return {"added": change.added, "removed": change.removed, "total": change.total}


@bp.get("/seal-requests", tags=["letters"])
@bp.operation("listSealRequestsToDecide",
              summary="Seal requests whose awaited step you may decide now")
@bp.response(200, SealRequestList, description="To decide.")
@bp.errors()
def list_seal_requests_to_decide() -> Any:
    """Seal requests whose awaited step you may decide now."""
    with _work() as ctx:
        return {"items": [seal_json(s) for s in letters.to_decide(ctx)]}


@bp.post("/seal-requests/<id('seal request', code='unknown_seal_request'):id>/approve",
         tags=["letters"], parameters=[SEAL])
@bp.operation("approveSealRequest",
              summary="Approve the awaited step (re-authentication in the body)",
              description=(
    "The last step seals the letter (已用印). Others answer 403 not_an_approver; the "
    "requester 403 requester_cannot_approve."))
@bp.arguments(SealApproval)
@bp.response(200, SealRequestSchema, description="Approved.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict", reauth=True)
def approve_seal_request(body: dict[str, Any], id: int) -> Any:
    """Approve the awaited step; needs your password (and code)."""
    refused = _reauthenticate(body)
    if refused is not None:
        return refused
    with _work() as ctx:
        return seal_json(letters.approve_seal(ctx, id, body.get("note")))


@bp.post("/seal-requests/<id('seal request', code='unknown_seal_request'):id>/reject",
         tags=["letters"], parameters=[SEAL])
@bp.operation("rejectSealRequest",
              summary="Refuse with a reason (re-authentication in the body)",
              description="The letter returns to draft; the requester is told the reason.")
@bp.arguments(SealRejection)
@bp.response(200, SealRequestSchema, description="Refused.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict", reauth=True)
def reject_seal_request(body: dict[str, Any], id: int) -> Any:
    """Refuse with a reason; needs your password (and code)."""
    refused = _reauthenticate(body)
    if refused is not None:
        return refused
    with _work() as ctx:
        return seal_json(letters.reject_seal(ctx, id, body["reason"]))
