"""The JSON API for copies (SPEC.md §3): requests and decisions, the one download an
approval gives, the copy and lending registers, and the inbox. Routes of the
``api`` blueprint (vault/web/api.py: token authentication, input helpers and the
error format), described in vault/web/openapi.py.

Views parse and check their input, call vault/services/copies.py (or
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

import unicodedata
from collections.abc import Iterator
from datetime import date
from itertools import chain
from typing import Any
from urllib.parse import quote

from flask import Response, jsonify, request, url_for
from sqlalchemy import select

from vault import policy, stamping
from vault.actions import Action
from vault.errors import Forbidden, InvalidInput, NotFound
from vault.models import CopyRequest, Document, Loan, Notification, RegisteredCopy, User
from vault.policy import CopyKind, Level
from vault.services import accounts, copies, documents, notifications, totp
from vault.services.context import Ctx
from vault.web import support
from vault.web.api import (
    MAX_ID,
    _clean_text,
    _created,
    _date,
    _disposition,
    _doc_id,
    _enum,
    _iso,
    _json_object,
    _lang,
    _work,
    arg_int,
    arg_text,
    bad,
    bp,
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


# ---------------------------------------------------------------------------
# Input


def _text(field: str, value: Any, max_len: int) -> str:
    """A free text (purpose, note, reason): lines and tabs allowed, other control
    characters and lone surrogates not."""
    if not isinstance(value, str):
        raise bad(field, "must be a string")
    if len(value) > max_len:
        raise bad(field, f"at most {max_len} characters")
    if any(unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\t" for c in value):
        raise bad(field, "contains control characters")
    return value


def _optional_text(body: dict[str, Any], field: str, max_len: int) -> str | None:
    value = body.get(field)
    if value is None or value == "":
        return None
    return _text(field, value, max_len)


def _required_text(body: dict[str, Any], field: str, max_len: int) -> str:
    value = body.get(field)
    if value is None or value == "" or (isinstance(value, str) and not value.strip()):
        raise bad(field, "is required")
    return _text(field, value, max_len)


def _pages(field: str, value: Any) -> str | None:
    """A page list like ``1-3,5``, as it will be stored (it must fit the column)."""
    if value is None or value == "":
        return None
    text = _clean_text(field, value, MAX_PAGES_TEXT)
    try:
        chosen = stamping.parse_pages(text)
    except ValueError as exc:
        raise bad(field, str(exc)) from None
    if len(stamping.pages_text(chosen)) > MAX_PAGES_TEXT:
        raise bad(field, f"too many separate pages; at most {MAX_PAGES_TEXT} characters "
                         "written as ranges like 1-3,5")
    return text


def _period(field: str, value: Any) -> policy.Period | None:
    if value is None or value == "":
        return None
    text = _clean_text(field, value, 500)
    if not text.startswith("condition:") and len(text) > 20:
        raise bad(field, "use 10y, 6m, 90d, 1y6m, a date YYYY-MM-DD or condition:TEXT")
    try:
        return documents.parse_period(text)
    except InvalidInput as exc:
        raise bad(field, exc.message) from None


def _int_value(field: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise bad(field, f"must be a whole number from {lo} to {hi}")
    return value


def _row_id(value: int, what: str) -> int:
    """A path id; a larger number names no row (the same answer as an absent one)."""
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"No {what} {value}.", code=f"unknown_{what}")
    return value


def _optional_object() -> dict[str, Any]:
    """The JSON body of an operation whose fields are all optional: none at all is ``{}``."""
    if not request.content_length and request.mimetype != "application/json":
        return {}
    return _json_object()


def arg_flag(field: str) -> bool:
    value = request.args.get(field)
    if value is None or value == "":
        return False
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    raise bad(field, "must be true or false (1 or 0)")


def _limit(default: int, largest: int) -> int:
    return arg_int("limit", default, 1, largest) or default


def _company_id(ctx: Ctx) -> int | None:
    code = arg_text("company", 32)
    if code is None:
        return None
    try:
        return accounts.get_company(ctx.session, code).id
    except NotFound:
        raise bad("company", f"no company {code!r}") from None


# ---------------------------------------------------------------------------
# Output


def _person(user: User | None) -> dict[str, str] | None:
    return None if user is None else {"username": user.username, "name": user.name}


def _document(ctx: Ctx, doc: Document, lang: str) -> dict[str, Any]:
    level = documents.effective_level(ctx, doc)
    period = documents.period_of(doc) if level.classified else policy.NO_PERIOD
    return {"id": doc.id, "title": doc.title, "category": doc.category,
            "level": level.value, "marking": policy.marking(level, period, lang),
            "company": doc.company.code}


def _copy(ctx: Ctx, copy: RegisteredCopy, lang: str) -> dict[str, Any]:
    return {
        "id": copy.id, "label": copy.label, "number": copy.number,
        "document": _document(ctx, copy.document, lang), "request": copy.request_id,
        "kind": copy.kind, "version": copy.version_number, "pages": copy.pages,
        "recipient": _person(copy.recipient), "approved_by": _person(copy.approved_by),
        "issued_at": _iso(copy.issued_at),
        "level_at_issue": copy.level_at_issue, "period_at_issue": copy.period_at_issue,
        "level": copies.copy_level(ctx, copy).value,
        "stamped": copy.stamped, "media_type": copy.media_type, "size": copy.size,
        "sha256": copy.sha256, "status": copy.status, "closed_at": _iso(copy.closed_at),
        "closed_by": _person(copy.closed_by), "closed_note": copy.closed_note,
    }


def _loan(ctx: Ctx, loan: Loan, lang: str) -> dict[str, Any]:
    today = ctx.now.astimezone(ctx.settings.tz).date()
    return {
        "id": loan.id, "document": _document(ctx, loan.document, lang),
        "request": loan.request_id, "borrower": _person(loan.borrower),
        "approved_by": _person(loan.approved_by), "approved_at": _iso(loan.approved_at),
        "due_on": loan.due_on.isoformat(), "lent_at": _iso(loan.lent_at),
        "lent_by": _person(loan.lent_by), "returned_at": _iso(loan.returned_at),
        "returned_by": _person(loan.returned_by), "note": loan.note,
        "state": copies.loan_state(loan, today),
    }


def _request(ctx: Ctx, req: CopyRequest, lang: str) -> dict[str, Any]:
    """A request's metadata (never the file's content)."""
    return {
        "id": req.id, "document": _document(ctx, req.document, lang), "kind": req.kind,
        "status": req.status, "state": copies.state(req, ctx.now), "purpose": req.purpose,
        "pages": req.pages, "approved_pages": req.approved_pages,
        "due_on": req.due_on.isoformat() if req.due_on else None,
        "new_level": req.new_level, "new_period": req.new_period,
        "level_at_request": req.level_at_request, "version": req.version_number,
        "requester": _person(req.requester), "created_at": _iso(req.created_at),
        "decided_by": _person(req.decided_by), "decided_at": _iso(req.decided_at),
        "decision_note": req.decision_note, "window_until": _iso(req.window_until),
        "default_no": req.default_no,
    }


def _with_outcome(ctx: Ctx, req: CopyRequest, lang: str) -> dict[str, Any]:
    """A request just acted on, with the copy or loan it opened (if any)."""
    copy = ctx.session.scalar(select(RegisteredCopy).where(RegisteredCopy.request_id == req.id))
    loan = ctx.session.scalar(select(Loan).where(Loan.request_id == req.id))
    return {**_request(ctx, req, lang),
            "copy": _copy(ctx, copy, lang) if copy is not None else None,
            "loan": _loan(ctx, loan, lang) if loan is not None else None}


def _notification(note: Notification, lang: str) -> dict[str, Any]:
    return {
        "id": note.id, "kind": note.kind,
        "subject": note.subject_en if lang == "en" else note.subject_zh,
        "subject_zh": note.subject_zh, "subject_en": note.subject_en, "link": note.link,
        "document": note.document_id, "request": note.request_id,
        "created_at": _iso(note.created_at), "read_at": _iso(note.read_at),
    }


def _page(items: list[Any], limit: int) -> dict[str, Any]:
    """At most ``limit`` items (the services were asked for one more)."""
    return {"items": items[:limit], "truncated": len(items) > limit}


# ---------------------------------------------------------------------------
# Requests


@bp.post("/documents/<int:id>/requests")
def create_request(id: int) -> Any:
    """Ask for a copy, excerpt, print, loan, extension, downgrade or early declassification."""
    doc_id, lang = _doc_id(id), _lang()
    body = _json_object()
    kind_text = body.get("kind")
    if kind_text is None or kind_text == "":
        raise bad("kind", "is required")
    kind = _enum("kind", _clean_text("kind", kind_text, 16), CopyKind)
    purpose = _required_text(body, "purpose", MAX_PURPOSE)
    pages = _pages("pages", body.get("pages"))
    due = body.get("due_on")
    due_on: date | None = None if due is None or due == "" else _date("due_on", due)
    level_text = body.get("new_level")
    new_level = (None if level_text is None or level_text == ""
                 else _enum("new_level", _clean_text("new_level", level_text, 16), Level))
    new_period = _period("new_period", body.get("new_period"))
    with _work() as ctx:
        req = copies.request(ctx, doc_id, kind, purpose, pages=pages, new_level=new_level,
                             new_period=new_period, due_on=due_on)
        info = _with_outcome(ctx, req, lang)
    return _created(info, url_for("api.get_request", id=info["id"]))


@bp.get("/requests")
def list_requests() -> Any:
    """Your own requests (``mine``) or those waiting for your decision (``to_decide``)."""
    scope = arg_text("scope", 16) or "mine"
    if scope not in SCOPES:
        raise bad("scope", "must be mine or to_decide")
    limit, lang = _limit(100, 500), _lang()
    with _work() as ctx:
        rows = (copies.mine(ctx, limit=limit + 1) if scope == "mine"
                else copies.to_decide(ctx)[:limit + 1])
        return _page([_request(ctx, r, lang) for r in rows], limit)


@bp.get("/requests/<int:id>")
def get_request(id: int) -> Any:
    """A request with what you may do with it, its approvers, the requester's recent
    copies, and the copy or loan it gave. Audited (copy:view)."""
    req_id, lang = _row_id(id, "request"), _lang()
    with _work() as ctx:
        view = copies.show(ctx, req_id)
        return {
            **_request(ctx, view.request, lang),
            "copy": _copy(ctx, view.copy, lang) if view.copy is not None else None,
            "loan": _loan(ctx, view.loan, lang) if view.loan is not None else None,
            "may_decide": view.may_decide, "decide_reason": view.decide_reason,
            "is_requester": view.is_requester, "may_download": view.may_download,
            "approvers": [_person(u) for u in view.approvers],
            "requester_history": [
                {"id": c.id, "label": c.label, "document": c.document_id,
                 "kind": c.kind, "issued_at": _iso(c.issued_at), "status": c.status}
                for c in view.history
            ],
        }


def _reauthenticate(body: dict[str, Any]) -> Response | None:
    """Check the password (and code) in ``body`` as the token's owner; a response
    to send when they do not match, else None. Committed either way."""
    password = _clean_text("password", body.get("password", ""), MAX_PASSWORD)
    if not password:
        raise bad("password", "is required: decisions need your current password")
    otp_value = body.get("otp")
    otp = None if otp_value is None or otp_value == "" else _clean_text("otp", otp_value, MAX_OTP)
    with _work() as ctx:
        assert ctx.actor is not None
        if totp.is_required(ctx, ctx.actor) and not totp.has_factor(ctx, ctx.actor):
            raise ctx.refuse(Forbidden(
                "Your roles require a second factor for decisions: set one up under "
                "/security, then send its code as 'otp'.", code="second_factor_required"),
                Action.AUTH_REAUTH_FAILED, object_type="user", object_id=ctx.actor.username)
        ok = totp.reauthenticate(ctx, password, otp)
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


@bp.post("/requests/<int:id>/approve")
def approve_request(id: int) -> Any:
    """Approve (optionally a shorter window, fewer pages); needs password (and code)."""
    req_id, lang = _row_id(id, "request"), _lang()
    body = _json_object()
    hours = body.get("window_hours")
    window_hours = None if hours is None else _int_value("window_hours", hours, 1, 8760)
    pages = _pages("pages", body.get("pages"))
    note = _optional_text(body, "note", MAX_PURPOSE)
    refused = _reauthenticate(body)
    if refused is not None:
        return refused
    with _work() as ctx:
        req = copies.approve(ctx, req_id, window_hours=window_hours, pages=pages, note=note)
        return _with_outcome(ctx, req, lang)


@bp.post("/requests/<int:id>/reject")
def reject_request(id: int) -> Any:
    """Reject with a reason; needs password (and code)."""
    req_id, lang = _row_id(id, "request"), _lang()
    body = _json_object()
    reason = _required_text(body, "reason", MAX_PURPOSE)
    refused = _reauthenticate(body)
    if refused is not None:
        return refused
    with _work() as ctx:
        req = copies.reject(ctx, req_id, reason)
        return _with_outcome(ctx, req, lang)


@bp.post("/requests/<int:id>/cancel")
def cancel_request(id: int) -> Any:
    """The requester withdraws a pending request."""
    req_id, lang = _row_id(id, "request"), _lang()
    with _work() as ctx:
        req = copies.cancel(ctx, req_id)
        return _with_outcome(ctx, req, lang)


@bp.post("/requests/<int:id>/issue")
def issue_photocopy(id: int) -> Any:
    """The custodian issues an approved photocopy of a paper-only certificate."""
    req_id, lang = _row_id(id, "request"), _lang()
    with _work() as ctx:
        copies.issue_photocopy(ctx, req_id)
        req = ctx.session.get(CopyRequest, req_id)
        assert req is not None
        return _with_outcome(ctx, req, lang)


@bp.get("/requests/<int:id>/download")
def download_copy(id: int) -> Any:
    """The one download an approval gives: numbered, stamped, registered and audited
    (committed) before the first byte is sent."""
    support.refuse_head()  # HEAD would spend the one download and send nothing
    req_id = _row_id(id, "request")
    with _work() as ctx:
        delivery = copies.download(ctx, req_id)
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


@bp.get("/copies")
def list_copies() -> Any:
    """The copy register of a company (yours by default; every company for HQ
    executives and compliance). Audited (register:view)."""
    status = arg_text("status", 16)
    if status is not None and status not in COPY_STATUSES:
        raise bad("status", "must be issued, returned or destroyed")
    document = arg_int("document", None, 1, MAX_ID)
    limit, lang = _limit(500, 500), _lang()
    with _work() as ctx:
        rows = copies.copy_register(ctx, company_id=_company_id(ctx), status=status,
                                    document_id=document, limit=limit + 1)
        return _page([_copy(ctx, c, lang) for c in rows], limit)


@bp.get("/copies/lookup")
def lookup_copy() -> Any:
    """Who received a copy, who approved it, when: by the number printed on it."""
    number = arg_text("number", 100)
    if number is None or not number.strip():
        raise bad("number", "is required, e.g. 机密-2026-0042 副本 3")
    lang = _lang()
    with _work() as ctx:
        return _copy(ctx, copies.lookup(ctx, number), lang)


def _close_copy(id: int, status: str) -> Any:
    copy_id, lang = _row_id(id, "copy"), _lang()
    note = _optional_text(_optional_object(), "note", MAX_NOTE)
    with _work() as ctx:
        return _copy(ctx, copies.close_copy(ctx, copy_id, status, note), lang)


@bp.post("/copies/<int:id>/return")
def return_copy(id: int) -> Any:
    """The custodian records that a copy came back."""
    return _close_copy(id, copies.RETURNED)


@bp.post("/copies/<int:id>/destroy")
def destroy_copy(id: int) -> Any:
    """The custodian records that a copy was destroyed."""
    return _close_copy(id, copies.DESTROYED)


# ---------------------------------------------------------------------------
# The lending register


@bp.get("/loans")
def list_loans() -> Any:
    """The lending register; ``overdue`` (handed over, past the due date) or ``open``
    (not yet returned). Audited (register:view)."""
    overdue, open_only = arg_flag("overdue"), arg_flag("open")
    limit, lang = _limit(500, 500), _lang()
    with _work() as ctx:
        rows = copies.loans(ctx, company_id=_company_id(ctx), overdue=overdue,
                            open_only=open_only, limit=limit + 1)
        return _page([_loan(ctx, loan, lang) for loan in rows], limit)


@bp.post("/loans/<int:id>/hand-over")
def hand_over_loan(id: int) -> Any:
    """The custodian hands the original to the borrower."""
    loan_id, lang = _row_id(id, "loan"), _lang()
    note = _optional_text(_optional_object(), "note", MAX_NOTE)
    with _work() as ctx:
        return _loan(ctx, copies.hand_over(ctx, loan_id, note), lang)


@bp.post("/loans/<int:id>/return")
def return_loan(id: int) -> Any:
    """The custodian records the original back."""
    loan_id, lang = _row_id(id, "loan"), _lang()
    note = _optional_text(_optional_object(), "note", MAX_NOTE)
    with _work() as ctx:
        return _loan(ctx, copies.return_loan(ctx, loan_id, note), lang)


# ---------------------------------------------------------------------------
# Notifications


@bp.get("/notifications")
def list_notifications() -> Any:
    """Your inbox, newest first (``unread`` for the unread ones only)."""
    unread_only = arg_flag("unread")
    limit, lang = _limit(100, 500), _lang()
    with _work() as ctx:
        rows = notifications.inbox(ctx, unread_only, limit + 1)
        return {**_page([_notification(n, lang) for n in rows], limit),
                "unread": notifications.unread_count(ctx)}


@bp.post("/notifications/read")
def read_notifications() -> Any:
    """Mark your notifications read: those in ``ids``, or all of them."""
    body = _optional_object()
    ids_value = body.get("ids")
    ids: list[int] | None = None
    if ids_value is not None:
        if not isinstance(ids_value, list) or len(ids_value) > MAX_IDS:
            raise bad("ids", f"must be a list of at most {MAX_IDS} notification ids")
        ids = [_int_value("ids", v, 1, MAX_ID) for v in ids_value]
    with _work() as ctx:
        marked = notifications.mark_read(ctx, ids)
        return {"marked": marked, "unread": notifications.unread_count(ctx)}
