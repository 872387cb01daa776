"""The JSON API for copies (SPEC.md §3): requests and decisions, the one download an
approval gives, the copy and lending registers, and the inbox. Routes of the
``api`` blueprint (vault/web/api.py: token authentication, input helpers and the
error format), described in vault/web/openapi.py.

Views parse and check their input, call vault/services/copies/ (or
notifications.py) and render JSON; the services decide who may do what, and
audit it. Approvers see a request's metadata, never the file's content.

Decisions need re-authentication, as on the pages (a fresh sign-in): the body of
``approve`` and ``reject`` carries the person's current password, and a code of
their second factor when they have one. It is checked by
`totp.reauthenticate` in a unit of work of its own, which commits whatever the
outcome (the ``auth:reauth`` / ``auth:reauth_failed`` event, the failure count
toward the sign-in pause, the spent code), before the decision runs in a second
unit of work. A mismatch answers 401 ``reauth_failed``; a person whose roles
require a second factor and who has none answers 403 ``second_factor_required``.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any
from urllib.parse import quote

import marshmallow as ma
from flask import Response, jsonify, url_for
from marshmallow import fields, validate

from vault import stamping
from vault.errors import InvalidInput
from vault.policy import CopyKind, Level
from vault.services import copies, copy_pages, documents, notifications, totp
from vault.services.context import Ctx
from vault.web import support
from vault.web.api import (
    LangOnly,
    _disposition,
    _iso,
    _work,
    bad,
    bp,
)
from vault.web.api_schema import (
    MAX_ID,
    Bool,
    Choice,
    Day,
    Flag,
    FreeText,
    Int,
    Lang,
    Loose,
    Moment,
    Null,
    Out,
    Person,
    Query,
    Str,
    Text,
    Whole,
    describe,
    path_id,
    refuses_head,
)

#: Longest free texts accepted (the services' own limits).
MAX_PURPOSE = copies.MAX_PURPOSE
MAX_NOTE = 1000
MAX_PASSWORD = 1024
MAX_OTP = 64
#: The longest page list stored (``copy_requests.pages`` holds 200 characters).
MAX_PAGES_TEXT = 200
#: Most notification ids in one ``read`` call.
MAX_IDS = 1000
SCOPES = ("mine", "to_decide")
COPY_STATUSES = (copies.ISSUED, copies.RETURNED, copies.DESTROYED)
LIMIT = "At most this many items (newest first); `truncated` tells if more exist."
COMPANY = "Company code; default yours (HQ executives and compliance: all)."


# ---------------------------------------------------------------------------
# Input


class Pages(Text):
    """A page list like ``1-3,5``, as it will be stored (it must fit the column)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(MAX_PAGES_TEXT, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            chosen = stamping.parse_pages(text)
        except ValueError as exc:
            raise ma.ValidationError(str(exc)) from None
        if len(stamping.pages_text(chosen)) > MAX_PAGES_TEXT:
            raise ma.ValidationError(f"too many separate pages; at most {MAX_PAGES_TEXT} "
                                     "characters written as ranges like 1-3,5")
        return text


class PeriodText(Text):
    """A secrecy period: 15y, 1y6m, a date YYYY-MM-DD or condition:TEXT."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(500, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.startswith("condition:") and len(text) > 20:
            raise ma.ValidationError(
                "use 10y, 6m, 90d, 1y6m, a date YYYY-MM-DD or condition:TEXT")
        try:
            return documents.parse_period(text)
        except InvalidInput as exc:
            raise ma.ValidationError(exc.message) from None


PASSWORD = {"minLength": 1, "description": "Your current password: decisions need "
                                           "re-authentication."}
OTP = "A code of your second factor (or a recovery code); required when you have one."


class NewCopyRequest(Loose):
    kind = Choice(CopyKind, required=True, **describe(
        "copy, excerpt (pages), print, lend (certificates and paper originals; due_on), "
        "extend (new_period), downgrade (new_level), declassify."))
    purpose = FreeText(MAX_PURPOSE, min_len=1, not_blank=True, required=True)
    pages = Null(Pages(**describe("Excerpt only: pages like 1-3,5.")))
    due_on = Null(Day(**describe("Loan only: the return date, from today up to a year ahead.")))
    new_level = Null(Choice(Level, **describe("Downgrade only: a lower classified level.")))
    new_period = Null(PeriodText(**describe(
        "Extension only: 15y, 1y6m, a date YYYY-MM-DD or condition:TEXT; must end later.")))


class Reauth(Loose):
    password = Text(MAX_PASSWORD, required=True, metadata=PASSWORD, error_messages={
        "required": "is required: decisions need your current password"})
    otp = Null(Text(MAX_OTP, **describe(OTP)))


class Approval(Reauth):
    window_hours = Null(Whole(1, 8760, in_body=True, **describe(
        "A shorter download window (default and longest: the configured 24 h).")))
    pages = Null(Pages(**describe("Excerpt: approve only these of the pages asked.")))
    note = Null(FreeText(MAX_PURPOSE))


class Rejection(Reauth):
    reason = FreeText(MAX_PURPOSE, min_len=1, not_blank=True, required=True)


class RegisterNote(Loose):
    optional_body = True
    note = Null(FreeText(MAX_NOTE))


class MarkRead(Loose):
    optional_body = True
    ids = fields.List(
        Whole(1, MAX_ID, in_body=True),
        validate=validate.Length(
            max=MAX_IDS, error=f"must be a list of at most {MAX_IDS} notification ids"),
        error_messages={"invalid": f"must be a list of at most {MAX_IDS} notification ids"},
        **describe("The notifications to mark; all of yours when absent."))


class RequestFilter(Query):
    scope = Choice(SCOPES, load_default="mine", message="must be mine or to_decide",
                   **describe("mine: your own requests; to_decide: pending requests you may "
                              "decide now."))
    limit = Whole(1, 500, load_default=100, **describe(LIMIT))
    lang = Lang()


class CopyFilter(Query):
    status = Choice(COPY_STATUSES, message="must be issued, returned or destroyed",
                    **describe("Only copies in this state."))
    document = Whole(1, MAX_ID, **describe("Only copies of this document."))
    company = Text(32, **describe(COMPANY))
    limit = Whole(1, 500, load_default=500, **describe(LIMIT))
    lang = Lang()


class CopyLookup(Query):
    number = Text(100, min_len=1, not_blank=True, required=True, error_messages={
        "required": "is required, e.g. 机密-2026-0042 副本 3"}, **describe(
        "As printed, e.g. 机密-2026-0042 副本 3 (or 42-3)."))
    lang = Lang()


class LoanFilter(Query):
    overdue = Flag(load_default=False, **describe(
        "Only loans handed over and past their due date (1/true)."))
    open = Flag(load_default=False, **describe("Only loans not yet returned (1/true)."))
    company = Text(32, **describe(COMPANY))
    limit = Whole(1, 500, load_default=500, **describe(LIMIT))
    lang = Lang()


class NotificationFilter(Query):
    unread = Flag(load_default=False, **describe("Only unread ones (1/true)."))
    limit = Whole(1, 500, load_default=100, **describe(LIMIT))
    lang = Lang()


def _company_id(ctx: Ctx, code: str | None) -> int | None:
    if code is None:
        return None
    try:
        return copy_pages.company_filter(ctx, code)
    except InvalidInput:
        raise bad("company", f"no company {code!r}") from None


# ---------------------------------------------------------------------------
# Output


class DocumentBrief(Out):
    id = Int()
    title = Str()
    category = Str()
    level = Choice(Level, required=True, **describe("The level in force now."))
    marking = Str()
    company = Str()


REQUEST_STATUS = ["pending", "approved", "rejected", "cancelled", "spent", "void"]
REQUEST_STATE = ["pending", "approved", "rejected", "cancelled", "spent", "expired",
                 "void: reclassified", "void: approver lost the office",
                 "void: requester may no longer read the file"]


class RegisteredCopySchema(Out):
    id = Int()
    label = Str(**describe("The copy number as printed, e.g. 机密-2026-0042 副本 3."))
    number = Int()
    document = fields.Nested(DocumentBrief, required=True)
    request = Int()
    kind = Choice(CopyKind, required=True)
    version = Int()
    pages = Null(Str())
    recipient = fields.Nested(Person, required=True)
    approved_by = Null(fields.Nested(Person, required=True))
    issued_at = Moment(required=True)
    level_at_issue = Choice(Level, required=True)
    period_at_issue = Null(Str())
    level = Choice(Level, required=True,
                   **describe("The level now: a copy declassifies with its original."))
    stamped = Bool(**describe("Whether every page carries the copy number and marking."))
    media_type = Null(Str())
    size = Null(Int())
    sha256 = Null(Str())
    status = Str(metadata={"enum": list(COPY_STATUSES)})
    closed_at = Null(Moment(required=True))
    closed_by = Null(fields.Nested(Person, required=True))
    closed_note = Null(Str())


class LoanSchema(Out):
    id = Int()
    document = fields.Nested(DocumentBrief, required=True)
    request = Int()
    borrower = fields.Nested(Person, required=True)
    approved_by = Null(fields.Nested(Person, required=True))
    approved_at = Moment(required=True)
    due_on = Day(required=True)
    lent_at = Null(Moment(required=True))
    lent_by = Null(fields.Nested(Person, required=True))
    returned_at = Null(Moment(required=True))
    returned_by = Null(fields.Nested(Person, required=True))
    note = Null(Str())
    state = Str(metadata={"enum": ["approved", "lent", "overdue", "returned"]})


class CopyRequestSchema(Out):
    id = Int()
    document = fields.Nested(DocumentBrief, required=True)
    kind = Choice(CopyKind, required=True)
    status = Str(metadata={"enum": REQUEST_STATUS, "description": (
        "As stored (spent: the copy was downloaded or issued; void: the approval no longer "
        "held when used).")})
    state = Str(metadata={"enum": REQUEST_STATE, "description": (
        "As people read it: expired once an approval's download window passed unused.")})
    purpose = Str()
    pages = Null(Str(**describe("Excerpt: the pages asked for.")))
    approved_pages = Null(Str(**describe("Excerpt: the pages approved.")))
    due_on = Null(Day(required=True, **describe("Loan: the return date.")))
    new_level = Null(Str(**describe(
        "Downgrade or declassification: the level asked for.")))
    new_period = Null(Str(**describe("Extension: the period asked for.")))
    level_at_request = Choice(Level, required=True)
    version = Null(Int(**describe(
        "The version the request is bound to (none for a paper original).")))
    requester = fields.Nested(Person, required=True)
    created_at = Moment(required=True)
    decided_by = Null(fields.Nested(Person, required=True))
    decided_at = Null(Moment(required=True))
    decision_note = Null(Str())
    window_until = Null(Moment(required=True, **describe(
        "An approved copy is downloaded once before this.")))
    default_no = Bool(**describe("Top secret: the answer is no unless approved."))
    copy = Null(fields.Nested(RegisteredCopySchema, **describe(
        "The registered copy the request gave, once downloaded.")))
    loan = Null(fields.Nested(LoanSchema, **describe(
        "The loan an approved lend request opened.")))


class HistoryCopy(Out):
    id = Int()
    label = Str()
    document = Int()
    kind = Str()
    issued_at = Moment(required=True)
    status = Str()


class CopyRequestDetail(CopyRequestSchema):
    may_decide = Bool()
    decide_reason = Str(**describe("The policy's reason (why you may or may not decide)."))
    is_requester = Bool()
    may_download = Bool()
    approvers = fields.List(fields.Nested(Person), required=True,
                            **describe("Who may decide it now (while pending)."))
    requester_history = fields.List(fields.Nested(HistoryCopy), required=True,
                                    **describe("The requester's recent copies."))


class CopyRequestList(Out):
    items = fields.List(fields.Nested(CopyRequestSchema), required=True)
    truncated = Bool()


class CopyList(Out):
    items = fields.List(fields.Nested(RegisteredCopySchema), required=True)
    truncated = Bool()


class LoanList(Out):
    items = fields.List(fields.Nested(LoanSchema), required=True)
    truncated = Bool()


class NotificationSchema(Out):
    id = Int()
    kind = Str()
    subject = Str(**describe("In the language asked for."))
    subject_zh = Str()
    subject_en = Str()
    link = Null(Str(**describe("A page in Vault (sign-in needed).")))
    document = Null(Int())
    request = Null(Int())
    created_at = Moment(required=True)
    read_at = Null(Moment(required=True))


class NotificationList(Out):
    items = fields.List(fields.Nested(NotificationSchema), required=True)
    truncated = Bool()
    unread = Int(**describe("Your unread notifications in all."))


class Marked(Out):
    marked = Int()
    unread = Int()


# ---------------------------------------------------------------------------
# Presenting the rows (the schemas above say what each field is)


def _person(p: copy_pages.Person | None) -> dict[str, str] | None:
    return None if p is None else {"username": p.username, "name": p.name}


def _document(d: copy_pages.DocRow | None) -> dict[str, Any]:
    assert d is not None  # the registers' rows carry their document
    return {"id": d.id, "title": d.title, "category": d.category, "level": d.level,
            "marking": d.marking, "company": d.company}


def _copy(c: copy_pages.CopyRow) -> dict[str, Any]:
    return {
        "id": c.id, "label": c.label, "number": c.number,
        "document": _document(c.document), "request": c.request_id,
        "kind": c.kind, "version": c.version, "pages": c.pages,
        "recipient": _person(c.recipient), "approved_by": _person(c.approved_by),
        "issued_at": _iso(c.issued_at),
        "level_at_issue": c.level_at_issue, "period_at_issue": c.period_at_issue,
        "level": c.level_now,
        "stamped": c.stamped, "media_type": c.media_type, "size": c.size,
        "sha256": c.sha256, "status": c.status, "closed_at": _iso(c.closed_at),
        "closed_by": _person(c.closed_by), "closed_note": c.closed_note,
    }


def _loan(loan: copy_pages.LoanRow) -> dict[str, Any]:
    return {
        "id": loan.id, "document": _document(loan.document),
        "request": loan.request_id, "borrower": _person(loan.borrower),
        "approved_by": _person(loan.approved_by), "approved_at": _iso(loan.approved_at),
        "due_on": loan.due_on.isoformat(), "lent_at": _iso(loan.lent_at),
        "lent_by": _person(loan.lent_by), "returned_at": _iso(loan.returned_at),
        "returned_by": _person(loan.returned_by), "note": loan.note,
        "state": loan.state,
    }


def _request(r: copy_pages.RequestRow) -> dict[str, Any]:
    """A request's metadata (never the file's content)."""
    return {
        "id": r.id, "document": _document(r.document), "kind": r.kind,
        "status": r.status, "state": r.state, "purpose": r.purpose,
        "pages": r.pages, "approved_pages": r.approved_pages,
        "due_on": r.due_on.isoformat() if r.due_on else None,
        "new_level": r.new_level, "new_period": r.new_period,
        "level_at_request": r.level_at_request, "version": r.version,
        "requester": _person(r.requester), "created_at": _iso(r.created_at),
        "decided_by": _person(r.decided_by), "decided_at": _iso(r.decided_at),
        "decision_note": r.decision_note, "window_until": _iso(r.window_until),
        "default_no": r.default_no,
    }


def _with_outcome(ctx: Ctx, req_id: int, lang: str) -> dict[str, Any]:
    """A request just acted on, with the copy or loan it opened (if any)."""
    done = copy_pages.outcome(ctx, req_id, lang)
    return {**_request(done.request),
            "copy": _copy(done.copy) if done.copy is not None else None,
            "loan": _loan(done.loan) if done.loan is not None else None}


def _notification(m: copy_pages.Message) -> dict[str, Any]:
    return {
        "id": m.id, "kind": m.kind, "subject": m.subject,
        "subject_zh": m.subject_zh, "subject_en": m.subject_en, "link": m.link,
        "document": m.document_id, "request": m.request_id,
        "created_at": _iso(m.created_at), "read_at": _iso(m.read_at),
    }


def _page(items: list[Any], limit: int) -> dict[str, Any]:
    """At most ``limit`` items (the services were asked for one more)."""
    return {"items": items[:limit], "truncated": len(items) > limit}


# ---------------------------------------------------------------------------
# Requests


REQUEST = path_id("Request")
COPY = path_id("Copy")
LOAN = path_id("Loan")


@bp.post("/documents/<id('document'):id>/requests",
         tags=["copies"], parameters=[path_id("Document")])
@bp.operation("createCopyRequest",
              summary="Ask for a copy, excerpt, print, loan or classification change",
              description=(
    "Anyone who may view a classified file may ask, stating the purpose; the request goes to "
    "the approvers the rules name (top secret: HQ executives, the default being no). Files "
    "that need no approval answer 400 no_approval_needed."))
@bp.arguments(LangOnly, location="query")
@bp.arguments(NewCopyRequest)
@bp.response(201, CopyRequestSchema, description="Asked; the approvers are notified.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict")
def create_request(args: dict[str, Any], body: dict[str, Any], id: int) -> Any:
    """Ask for a copy, excerpt, print, loan, extension, downgrade or early declassification."""
    with _work() as ctx:
        req = copies.request(ctx, id, body["kind"], body["purpose"],
                             pages=body.get("pages"), new_level=body.get("new_level"),
                             new_period=body.get("new_period"), due_on=body.get("due_on"))
        info = _with_outcome(ctx, req.id, args["lang"])
    return info, 201, {"Location": url_for("api.get_request", id=info["id"])}


@bp.get("/requests", tags=["copies"])
@bp.operation("listCopyRequests", summary="Your requests, or those waiting for your decision")
@bp.arguments(RequestFilter, location="query")
@bp.response(200, CopyRequestList, description="The requests.")
@bp.errors("BadRequest")
def list_requests(args: dict[str, Any]) -> Any:
    """Your own requests (``mine``) or those waiting for your decision (``to_decide``)."""
    limit, lang = args["limit"], args["lang"]
    with _work() as ctx:
        rows = (copies.mine(ctx, limit=limit + 1) if args["scope"] == "mine"
                else copies.to_decide(ctx)[:limit + 1])
        return _page([_request(copy_pages.request_row(ctx, r, lang)) for r in rows], limit)


@bp.get("/requests/<id('request'):id>", tags=["copies"], parameters=[REQUEST])
@bp.operation("getCopyRequest", summary="A request's metadata (never the file's content)",
              description=(
    "For its requester, its approvers, whoever decided it and the readers of the owning "
    "company's registers. Audited."))
@bp.arguments(LangOnly, location="query")
@bp.response(200, CopyRequestDetail, description="The request.")
@bp.errors("BadRequest", "NotFound")
def get_request(args: dict[str, Any], id: int) -> Any:
    """A request with what you may do with it, its approvers, the requester's recent
    copies, and the copy or loan it gave. Audited (copy:view)."""
    lang = args["lang"]
    with _work() as ctx:
        page = copy_pages.request_page(ctx, id, lang)
    return {
        **_request(page.req),
        "copy": _copy(page.registered) if page.registered is not None else None,
        "loan": _loan(page.loan) if page.loan is not None else None,
        "may_decide": page.may_decide, "decide_reason": page.decide_reason,
        "is_requester": page.is_requester, "may_download": page.may_download,
        "approvers": [_person(u) for u in page.approvers],
        "requester_history": [
            {"id": c.id, "label": c.label, "document": c.document_id,
             "kind": c.kind, "issued_at": _iso(c.issued_at), "status": c.status}
            for c in page.history
        ],
    }


def _reauthenticate(body: dict[str, Any]) -> Response | None:
    """Check the password (and code) of a body parsed by a Reauth schema (copies'
    and seal decisions) as the token's owner; a response to send when they do not
    match, else None. Committed either way."""
    with _work() as ctx:
        totp.require_factor_for_decisions(ctx)
        ok = totp.reauthenticate(ctx, body["password"], body.get("otp"))
    if ok:
        return None
    resp = jsonify({"code": "reauth_failed", "message": (
        "The password (or the second-factor code in 'otp') did not match. After repeated "
        "failures, checks pause for a while.")})
    resp.status_code = 401
    # RFC 9470: the token is good, the proof of the person is not enough.
    resp.headers["WWW-Authenticate"] = (
        'Bearer realm="vault", error="insufficient_user_authentication"')
    return resp


DECISION = (
    "Needs your current password, and a code of your second factor when you have one (people "
    "whose roles require one must have set it up: 403 second_factor_required). A mismatch "
    "answers 401 reauth_failed and counts toward the sign-in pause. Nobody decides their own "
    "request (403 requester_cannot_approve); other offices answer 403 not_an_approver. An "
    "approved copy gives one download within the window.")


@bp.post("/requests/<id('request'):id>/approve", tags=["copies"], parameters=[REQUEST])
@bp.operation("approveCopyRequest", summary="Approve a request (re-authentication in the body)",
              description=DECISION)
@bp.arguments(LangOnly, location="query")
@bp.arguments(Approval)
@bp.response(200, CopyRequestSchema, description="Approved.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict", reauth=True)
def approve_request(args: dict[str, Any], body: dict[str, Any], id: int) -> Any:
    """Approve (optionally a shorter window, fewer pages); needs password (and code)."""
    refused = _reauthenticate(body)
    if refused is not None:
        return refused
    with _work() as ctx:
        req = copies.approve(ctx, id, window_hours=body.get("window_hours"),
                             pages=body.get("pages"), note=body.get("note"))
        return _with_outcome(ctx, req.id, args["lang"])


@bp.post("/requests/<id('request'):id>/reject", tags=["copies"], parameters=[REQUEST])
@bp.operation("rejectCopyRequest",
              summary="Reject a request with a reason (re-authentication in the body)",
              description="Re-authentication as for approve.")
@bp.arguments(LangOnly, location="query")
@bp.arguments(Rejection)
@bp.response(200, CopyRequestSchema, description="Rejected.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict", reauth=True)
def reject_request(args: dict[str, Any], body: dict[str, Any], id: int) -> Any:
    """Reject with a reason; needs password (and code)."""
    refused = _reauthenticate(body)
    if refused is not None:
        return refused
    with _work() as ctx:
        req = copies.reject(ctx, id, body["reason"])
        return _with_outcome(ctx, req.id, args["lang"])


@bp.post("/requests/<id('request'):id>/cancel", tags=["copies"], parameters=[REQUEST])
@bp.operation("cancelCopyRequest", summary="Withdraw your pending request")
@bp.arguments(LangOnly, location="query")
@bp.response(200, CopyRequestSchema, description="Withdrawn.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict")
def cancel_request(args: dict[str, Any], id: int) -> Any:
    """The requester withdraws a pending request."""
    with _work() as ctx:
        req = copies.cancel(ctx, id)
        return _with_outcome(ctx, req.id, args["lang"])


@bp.post("/requests/<id('request'):id>/issue", tags=["copies"], parameters=[REQUEST])
@bp.operation("issuePhotocopy",
              summary="Issue an approved photocopy of a paper-only certificate", description=(
    "The owning company's custodian (its general manager while it has none): the copy "
    "register gets the photocopy's row and copy number, to be written on the paper. The "
    "approval is checked again: a void one answers 409 void_…."))
@bp.arguments(LangOnly, location="query")
@bp.response(200, CopyRequestSchema, description="Issued.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict")
def issue_photocopy(args: dict[str, Any], id: int) -> Any:
    """The custodian issues an approved photocopy of a paper-only certificate."""
    with _work() as ctx:
        copies.issue_photocopy(ctx, id)
        return _with_outcome(ctx, id, args["lang"])


@bp.get("/requests/<id('request'):id>/download", tags=["copies"], parameters=[REQUEST])
@refuses_head  # HEAD would spend the one download and send nothing
@bp.operation("downloadCopy", summary="Download the approved copy (once)", description=(
    "Only the requester, once, within the window: the copy is numbered, stamped on every page "
    "(PDF, pictures) and entered in the copy register before the first byte is sent. Refusals "
    "are audited: 409 already_downloaded, 403 window_expired, 403 not_approved; anyone "
    "else's request is 404."), responses={"200": {
        "description": "The copy's bytes.",
        "headers": {
            "Content-Disposition": {"schema": {"type": "string"}},
            "X-Vault-Copy-Label": {"schema": {"type": "string"}, "description": (
                "The copy number (e.g. 机密-2026-0042 副本 3) as percent-encoded UTF-8.")},
            "X-Vault-Copy-SHA256": {"schema": {"type": "string"}, "description": (
                "SHA-256 (hex) of the body, as kept in the register.")},
            "X-Vault-Copy-Id": {"schema": {"type": "integer"},
                                "description": "The register row."}},
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}})
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict")
def download_copy(id: int) -> Any:
    """The one download an approval gives: numbered, stamped, registered and audited
    (committed) before the first byte is sent."""
    with _work() as ctx:
        delivery = copies.download(ctx, id)
        copy = delivery.copy
        copy_id, copy_label, digest = copy.id, copy.label, copy.sha256
        name, media_type, size = delivery.filename, delivery.media_type, delivery.size
    # Committed: the copy is on the register and the trail. The first segment is read
    # now, so stored bytes that fail authentication answer an error, not a broken body.
    first = next(delivery.chunks, b"")
    body: Iterator[bytes] = support.coalesce(chain([first], delivery.chunks))
    resp = Response(body, content_type=media_type or "application/octet-stream")
    resp.headers["Content-Length"] = str(size)
    resp.headers.set("Content-Disposition", "attachment", **_disposition(name))
    resp.headers["Cache-Control"] = "no-store"
    # The label is Chinese: percent-encoded UTF-8 (urllib.parse.unquote reads it back).
    resp.headers["X-Vault-Copy-Label"] = quote(copy_label, safe="")
    resp.headers["X-Vault-Copy-SHA256"] = digest
    resp.headers["X-Vault-Copy-Id"] = str(copy_id)
    return resp


# ---------------------------------------------------------------------------
# The copy register


@bp.get("/copies", tags=["registers"])
@bp.operation("listCopies",
              summary="The copy register (custodians, the GM, HQ executives, compliance)",
              description="Issued, returned and destroyed copies with recipient, approver and "
                          "dates. Audited.")
@bp.arguments(CopyFilter, location="query")
@bp.response(200, CopyList, description="The copies, newest first.")
@bp.errors("BadRequest", "Forbidden")
def list_copies(args: dict[str, Any]) -> Any:
    """The copy register of a company (yours by default; every company for HQ
    executives and compliance). Audited (register:view)."""
    limit, lang = args["limit"], args["lang"]
    with _work() as ctx:
        rows = copies.copy_register(ctx, company_id=_company_id(ctx, args.get("company")),
                                    status=args.get("status"),
                                    document_id=args.get("document"), limit=limit + 1)
        return _page([_copy(copy_pages.copy_row(ctx, c, lang)) for c in rows], limit)


@bp.get("/copies/lookup", tags=["registers"])
@bp.operation("lookupCopy", summary="Find a copy by the number printed on it", description=(
    "Who received it, who approved it, when (register readers and its recipient). Audited."))
@bp.arguments(CopyLookup, location="query")
@bp.response(200, RegisteredCopySchema, description="The copy.")
@bp.errors("BadRequest", "NotFound")
def lookup_copy(args: dict[str, Any]) -> Any:
    """Who received a copy, who approved it, when: by the number printed on it."""
    with _work() as ctx:
        return _copy(copy_pages.copy_row(ctx, copies.lookup(ctx, args["number"]), args["lang"]))


def register_operation(operation_id: str, summary: str, description: str) -> Any:
    """The documentation shared by the register's record-keeping operations."""
    return bp.operation(operation_id, summary=summary, description=description)


@bp.post("/copies/<id('copy'):id>/return", tags=["registers"], parameters=[COPY])
@register_operation("returnCopy", "Record a copy returned",
                    "The owning company's custodian only.")
@bp.arguments(LangOnly, location="query")
@bp.arguments(RegisterNote, required=False)
@bp.response(200, RegisteredCopySchema, description="Recorded.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict")
def return_copy(args: dict[str, Any], body: dict[str, Any], id: int) -> Any:
    """The custodian records that a copy came back."""
    return _close_copy(id, copies.RETURNED, body.get("note"), args["lang"])


@bp.post("/copies/<id('copy'):id>/destroy", tags=["registers"], parameters=[COPY])
@register_operation("destroyCopy", "Record a copy destroyed",
                    "The owning company's custodian only.")
@bp.arguments(LangOnly, location="query")
@bp.arguments(RegisterNote, required=False)
@bp.response(200, RegisteredCopySchema, description="Recorded.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict")
def destroy_copy(args: dict[str, Any], body: dict[str, Any], id: int) -> Any:
    """The custodian records that a copy was destroyed."""
    return _close_copy(id, copies.DESTROYED, body.get("note"), args["lang"])


def _close_copy(id: int, status: str, note: str | None, lang: str) -> Any:
    with _work() as ctx:
        return _copy(copy_pages.copy_row(ctx, copies.close_copy(ctx, id, status, note),
                                         lang))


# ---------------------------------------------------------------------------
# The lending register


@bp.get("/loans", tags=["registers"])
@bp.operation("listLoans", summary="The lending register (借出)", description=(
    "Approved, lent, overdue and returned loans of certificates and paper originals, by due "
    "date. Audited."))
@bp.arguments(LoanFilter, location="query")
@bp.response(200, LoanList, description="The loans.")
@bp.errors("BadRequest", "Forbidden")
def list_loans(args: dict[str, Any]) -> Any:
    """The lending register; ``overdue`` (handed over, past the due date) or ``open``
    (not yet returned). Audited (register:view)."""
    limit, lang = args["limit"], args["lang"]
    with _work() as ctx:
        rows = copies.loans(ctx, company_id=_company_id(ctx, args.get("company")),
                            overdue=args["overdue"], open_only=args["open"], limit=limit + 1)
        return _page([_loan(copy_pages.loan_row(ctx, loan, lang)) for loan in rows], limit)


@bp.post("/loans/<id('loan'):id>/hand-over", tags=["registers"], parameters=[LOAN])
@register_operation("handOverLoan", "Record the original handed to the borrower",
                    "The owning company's custodian, once the loan is approved.")
@bp.arguments(LangOnly, location="query")
@bp.arguments(RegisterNote, required=False)
@bp.response(200, LoanSchema, description="Recorded.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict")
def hand_over_loan(args: dict[str, Any], body: dict[str, Any], id: int) -> Any:
    """The custodian hands the original to the borrower."""
    with _work() as ctx:
        return _loan(copy_pages.loan_row(ctx, copies.hand_over(ctx, id, body.get("note")),
                                         args["lang"]))


@bp.post("/loans/<id('loan'):id>/return", tags=["registers"], parameters=[LOAN])
@register_operation("returnLoan", "Record the original back",
                    "The owning company's custodian.")
@bp.arguments(LangOnly, location="query")
@bp.arguments(RegisterNote, required=False)
@bp.response(200, LoanSchema, description="Recorded.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict")
def return_loan(args: dict[str, Any], body: dict[str, Any], id: int) -> Any:
    """The custodian records the original back."""
    with _work() as ctx:
        return _loan(copy_pages.loan_row(ctx, copies.return_loan(ctx, id, body.get("note")),
                                         args["lang"]))


# ---------------------------------------------------------------------------
# Notifications


@bp.get("/notifications", tags=["notifications"])
@bp.operation("listNotifications", summary="Your inbox")
@bp.arguments(NotificationFilter, location="query")
@bp.response(200, NotificationList, description="Your notifications, newest first.")
@bp.errors("BadRequest")
def list_notifications(args: dict[str, Any]) -> Any:
    """Your inbox, newest first (``unread`` for the unread ones only)."""
    limit, lang = args["limit"], args["lang"]
    with _work() as ctx:
        rows = notifications.inbox(ctx, args["unread"], limit + 1)
        return {**_page([_notification(copy_pages.message(n, lang)) for n in rows], limit),
                "unread": notifications.unread_count(ctx)}


@bp.post("/notifications/read", tags=["notifications"])
@bp.operation("markNotificationsRead", summary="Mark notifications read")
@bp.arguments(MarkRead, required=False)
@bp.response(200, Marked, description="Marked.")
@bp.errors("BadRequest")
def read_notifications(body: dict[str, Any]) -> Any:
    """Mark your notifications read: those in ``ids``, or all of them."""
    with _work() as ctx:
        marked = notifications.mark_read(ctx, body.get("ids"))
        return {"marked": marked, "unread": notifications.unread_count(ctx)}
