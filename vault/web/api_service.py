"""The JSON API for customer-service records: the request register (诉求记录) —
the hotline system records a request, then posts the call's recording with the
request's number as ``request_ref`` — the follow-up visits due, and the monthly
follow-up report. Routes of the ``api`` blueprint (vault/web/api.py), described
in vault/web/openapi.py."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import url_for

from vault.errors import NotFound
from vault.services import followups, requests
from vault.services.followups import Report, VisitInfo
from vault.services.requests import RequestInfo, RequestSummary
from vault.web.api import (
    MAX_ID,
    _clean_text,
    _created,
    _datetime,
    _iso,
    _json_object,
    _work,
    arg_int,
    arg_text,
    bad,
    bp,
)

KINDS = ("repair", "complaint", "enquiry", "emergency", "suggestion")
CHANNELS = requests.CHANNELS
GRADES = ("normal", "important", "major")


def _id(value: int, code: str = "unknown_request") -> int:
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"No record {value}.", code=code)
    return value


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def summary_json(s: RequestSummary) -> dict[str, Any]:
    return {
        "id": s.id, "number": s.number, "company": s.company, "kind": s.kind,
        "grade": s.grade, "channel": s.channel, "tenant": s.tenant_code,
        "tenant_name": s.tenant_name, "anonymous": s.anonymous,
        "received_at": _iso(s.received_at), "due_at": _iso(s.due_at), "handler": s.handler,
        "status": s.status, "overdue": s.overdue, "legacy": s.legacy,
    }


def request_json(info: RequestInfo) -> dict[str, Any]:
    return {
        **summary_json(info.summary),
        "department": info.department, "caller": info.caller, "content": info.content,
        "reply": info.reply, "reply_only": info.reply_only,
        "reply_letter": info.reply_letter_id,
        "reply_letter_required": info.reply_letter_required,
        "follow_up_owner": info.follow_up_owner, "closed_at": _iso(info.closed_at),
        "receipts": [{"id": r.id, "received_at": _iso(r.received_at), "channel": r.channel,
                      "via": r.via, "note": r.note} for r in info.receipts],
        "recordings": [rec.document_id for rec in info.recordings],
        "follow_ups": list(info.follow_up_ids),
    }


def visit_json(v: VisitInfo) -> dict[str, Any]:
    return {
        "id": v.id, "company": v.company, "request": v.request_number, "tenant": v.tenant_code,
        "kind": v.kind, "subject": v.subject, "sequence": v.sequence, "owner": v.owner_role,
        "due_on": _day(v.due_on), "status": v.status, "overdue": v.overdue,
        "visited_on": _day(v.visited_on), "method": v.method, "visitor": v.visitor,
        "resolved": v.resolved, "signature_document": v.signature_document_id,
        "reviewed_by": v.reviewed_by, "reviewed_at": _iso(v.reviewed_at),
    }


def report_json(rep: Report) -> dict[str, Any]:
    return {"company": rep.company, "month": rep.month,
            "lines": [{"kind": ln.kind, "due": ln.due, "done": ln.done, "rate": ln.rate,
                       "target": ln.target, "met": ln.met} for ln in rep.lines]}


def _choice(field: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise bad(field, f"must be one of: {', '.join(choices)}")
    return value


def _optional_text(body: dict[str, Any], field: str, limit: int) -> str | None:
    value = body.get(field)
    if value is None or value == "":
        return None
    return _clean_text(field, value, limit)


@bp.get("/service-requests")
def list_service_requests() -> Any:
    """Request records you may read, newest first (no content)."""
    status = arg_text("status", 16)
    if status is not None:
        _choice("status", status, requests.STATUSES)
    kind = arg_text("kind", 16)
    if kind is not None:
        _choice("kind", kind, KINDS)
    tenant = arg_text("tenant", 32)
    overdue = arg_text("overdue", 5)
    if overdue not in (None, "true", "false"):
        raise bad("overdue", "must be true or false")
    limit = arg_int("limit", 100, 1, 500) or 100
    with _work() as ctx:
        found = requests.search(ctx, status=status, kind=kind, tenant_code=tenant,
                                overdue=overdue == "true", limit=limit + 1)
        items = [summary_json(s) for s in found[:limit]]
    return {"items": items, "truncated": len(found) > limit}


@bp.post("/service-requests")
def create_service_request() -> Any:
    """Record a request (the hotline system, or an integration)."""
    body = _json_object()
    fields: dict[str, Any] = {
        "kind": _choice("kind", body.get("kind"), KINDS),
        "channel": _choice("channel", body.get("channel"), CHANNELS),
        "content": _clean_text("content", body.get("content"), requests.MAX_CONTENT),
    }
    grade = body.get("grade")
    fields["grade"] = None if grade in (None, "") else _choice("grade", grade, GRADES)
    reply_only = body.get("reply_only", False)
    if not isinstance(reply_only, bool):
        raise bad("reply_only", "must be true or false")
    fields["reply_only"] = reply_only
    fields["tenant_code"] = _optional_text(body, "tenant", 32)
    fields["caller"] = _optional_text(body, "caller", requests.MAX_CALLER)
    fields["handler"] = _optional_text(body, "handler", 64)
    for name in ("received_at", "due_at"):
        value = body.get(name)
        fields[name] = None if value in (None, "") else _datetime(name, value)
    with _work() as ctx:
        req = requests.create(ctx, **fields)
        info = request_json(requests.describe(ctx, req))
    return _created(info, url_for("api.get_service_request", id=info["id"]))


@bp.get("/service-requests/<int:id>")
def get_service_request(id: int) -> Any:
    """One request record with its content (audited)."""
    with _work() as ctx:
        return request_json(requests.show(ctx, _id(id)))


@bp.post("/service-requests/<int:id>/close")
def close_service_request(id: int) -> Any:
    """Close with the reply; schedules the follow-up the rule asks for."""
    body = _json_object()
    reply = body.get("reply")
    if reply is None or (isinstance(reply, str) and not reply.strip()):
        raise bad("reply", "is required")
    text = _clean_text("reply", reply, requests.MAX_CONTENT)
    with _work() as ctx:
        req = requests.close(ctx, _id(id), text)
        return request_json(requests.describe(ctx, req))


@bp.get("/visits")
def list_follow_up_visits() -> Any:
    """Follow-up visits you may read, by due date (no notes)."""
    status = arg_text("status", 16)
    if status is not None:
        _choice("status", status, ("due", "done", "unreviewed"))
    limit = arg_int("limit", 100, 1, 500) or 100
    with _work() as ctx:
        found = followups.search(ctx, status=status, limit=limit + 1)
        items = [visit_json(v) for v in found[:limit]]
    return {"items": items, "truncated": len(found) > limit}


@bp.get("/visits/report")
def get_follow_up_report() -> Any:
    """The monthly 客户回访记录 of a company (its leadership, HQ, compliance)."""
    company = arg_text("company", 32)
    month = arg_text("month", 7)
    if company is None:
        raise bad("company", "is required")
    if month is None:
        raise bad("month", "is required")
    with _work() as ctx:
        return report_json(followups.report(ctx, company, month))
