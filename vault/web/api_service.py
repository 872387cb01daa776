"""The JSON API for customer-service records: the request register (诉求记录) —
the hotline system records a request, then posts the call's recording with the
request's number as ``request_ref`` — the follow-up visits due, and the monthly
follow-up report. Routes of the ``api`` blueprint (vault/web/api.py), described
in vault/web/openapi.py."""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from flask import url_for
from marshmallow import fields

from vault.services import followups, requests
from vault.services.followups import Report, VisitInfo
from vault.services.requests import RequestInfo, RequestSummary
from vault.web.api import _iso, _work, bp
from vault.web.api_schema import (
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

KINDS = ("repair", "complaint", "enquiry", "emergency", "suggestion")
CHANNELS = requests.CHANNELS
GRADES = ("normal", "important", "major")
LIMIT = "At most this many items (newest first); `truncated` tells if more exist."
RECORD = path_id("Request record")


# ---------------------------------------------------------------------------
# The contract


class ServiceRequestFilter(Query):
    status = Choice(requests.STATUSES, **describe("Status."))
    kind = Choice(KINDS, **describe("Type."))
    tenant = Text(32, **describe("Tenant code."))
    overdue = Choice(("true", "false"), message="must be true or false",
                     **describe("Only those open past their due time."))
    limit = Whole(1, 500, load_default=100, **describe(LIMIT))
    offset = Whole(0, requests.MAX_OFFSET, load_default=0, **describe(
        "Skip this many (the next page: offset + limit while `truncated`)."))


class JsonBool(fields.Boolean):
    """A JSON true or false, nothing else."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ma.ValidationError("must be true or false")
        return value


class ServiceRequestNew(Loose):
    kind = Choice(KINDS, required=True)
    channel = Choice(CHANNELS, required=True)
    content = Text(requests.MAX_CONTENT, required=True, metadata={"minLength": 1})
    grade = Choice(GRADES, **describe("Required for a complaint; none otherwise."))
    reply_only = JsonBool()
    tenant = Text(32, **describe("Tenant code; none: an anonymous caller."))
    caller = Text(requests.MAX_CALLER)
    handler = Text(64)
    received_at = Moment(**describe("Default: now."))
    due_at = Moment(**describe("Default: 3 days, emergencies 24 h."))


class ServiceRequestClose(Loose):
    reply = Text(requests.MAX_CONTENT, min_len=1, not_blank=True, required=True)


class VisitFilter(Query):
    status = Choice(("due", "done", "unreviewed"), **describe("Status."))
    limit = Whole(1, 500, load_default=100, **describe(LIMIT))


class ReportQuery(Query):
    company = Text(32, required=True, **describe("Company code."))
    month = Text(7, required=True, metadata={"pattern": "^[0-9]{4}-[0-9]{2}$",
                                             "description": "YYYY-MM."})


class ServiceRequestSummary(Out):
    id = Int()
    number = Str(**describe("Per company and year, e.g. SZ-2026-0042."))
    company = Str()
    kind = Str(metadata={"enum": list(KINDS)})
    grade = Null(Str(metadata={"enum": list(GRADES)}))
    channel = Str(metadata={"enum": list(CHANNELS)})
    tenant = Null(Str())
    tenant_name = Null(Str())
    anonymous = Bool()
    received_at = Moment(required=True)
    due_at = Null(Moment(required=True))
    handler = Null(Str())
    status = Str(metadata={"enum": list(requests.STATUSES)})
    overdue = Bool()
    legacy = Bool(**describe(
        "Made from a recording's reference; its content was never recorded in Vault."))


class Receipt(Out):
    id = Int()
    received_at = Moment(required=True)
    channel = Str()
    via = Null(Str())
    note = Null(Str())


class ServiceRequest(ServiceRequestSummary):
    department = Null(Str())
    caller = Null(Str())
    content = Null(Str())
    reply = Null(Str())
    reply_only = Bool()
    reply_letter = Null(Int())
    reply_letter_required = Bool()
    follow_up_owner = Null(Str())
    closed_at = Null(Moment(required=True))
    receipts = fields.List(fields.Nested(Receipt), required=True)
    recordings = fields.List(fields.Integer(), required=True)
    follow_ups = fields.List(fields.Integer(), required=True)


class ServiceRequestList(Out):
    items = fields.List(fields.Nested(ServiceRequestSummary), required=True)
    truncated = Bool()


class FollowUpVisit(Out):
    id = Int()
    company = Str()
    request = Null(Str())
    tenant = Null(Str())
    kind = Str(metadata={"enum": ["complaint", "repair", "event", "move_in", "emergency"]})
    subject = Null(Str())
    sequence = Int()
    owner = Str()
    due_on = Day(required=True)
    status = Str(metadata={"enum": ["due", "done"]})
    overdue = Bool()
    visited_on = Null(Day(required=True))
    method = Null(Str(metadata={"enum": ["on_site", "telephone"]}))
    visitor = Null(Str())
    resolved = Null(Bool())
    signature_document = Null(Int())
    reviewed_by = Null(Str())
    reviewed_at = Null(Moment(required=True))


class FollowUpVisitList(Out):
    items = fields.List(fields.Nested(FollowUpVisit), required=True)
    truncated = Bool()


class ReportLine(Out):
    kind = Str()
    due = Int()
    done = Int()
    rate = Null(fields.Float(required=True, **describe("Per cent.")))
    target = Null(Int(**describe("Per cent.")))
    met = Null(Bool())


class FollowUpReport(Out):
    company = Str()
    month = Str()
    lines = fields.List(fields.Nested(ReportLine), required=True)


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


@bp.get("/service-requests", tags=["service"])
@bp.operation("listServiceRequests",
              summary="The request register (诉求记录) you may read, newest first",
              description=(
    "The company's customer-service staff, the handler, the company's supervisors and GM; HQ "
    "executives and compliance group-wide. No content in the list. Audited."))
@bp.arguments(ServiceRequestFilter, location="query")
@bp.response(200, ServiceRequestList, description="The records.")
@bp.errors("BadRequest", "NotFound")
def list_service_requests(args: dict[str, Any]) -> Any:
    """Request records you may read, newest first (no content)."""
    limit = args["limit"]
    with _work() as ctx:
        found = requests.search(ctx, status=args.get("status"), kind=args.get("kind"),
                                tenant_code=args.get("tenant"),
                                overdue=args.get("overdue") == "true", limit=limit + 1,
                                offset=args["offset"])
        items = [summary_json(s) for s in found[:limit]]
    return {"items": items, "truncated": len(found) > limit}


@bp.post("/service-requests", tags=["service"])
@bp.operation("createServiceRequest",
              summary="Record a request (the hotline system: then POST the call's recording "
                      "with request_ref = the number)",
              description="Content, caller and reply are stored encrypted (秘密). Audited.")
@bp.arguments(ServiceRequestNew)
@bp.response(201, ServiceRequest, description="Recorded.")
@bp.errors("BadRequest", "Forbidden", "NotFound")
def create_service_request(body: dict[str, Any]) -> Any:
    """Record a request (the hotline system, or an integration)."""
    given = {"kind": body["kind"], "channel": body["channel"], "content": body["content"],
             "grade": body.get("grade"), "reply_only": body.get("reply_only", False),
             "tenant_code": body.get("tenant"), "caller": body.get("caller"),
             "handler": body.get("handler"), "received_at": body.get("received_at"),
             "due_at": body.get("due_at")}
    with _work() as ctx:
        req = requests.create(ctx, **given)
        info = request_json(requests.describe(ctx, req))
    return info, 201, {"Location": url_for("api.get_service_request", id=info["id"])}


@bp.get("/service-requests/<id('record', code='unknown_request'):id>",
        tags=["service"], parameters=[RECORD])
@bp.operation("getServiceRequest", summary="One request record with its content (audited)")
@bp.response(200, ServiceRequest, description="The record.")
@bp.errors("BadRequest", "NotFound")
def get_service_request(id: int) -> Any:
    """One request record with its content (audited)."""
    with _work() as ctx:
        return request_json(requests.show(ctx, id))


@bp.post("/service-requests/<id('record', code='unknown_request'):id>/close",
         tags=["service"], parameters=[RECORD])
@bp.operation("closeServiceRequest",
              summary="Close with the reply; schedules the follow-up visit by rule",
              description="An anonymous or reply-only complaint needs its reply letter first "
                          "(409 reply_letter_required).")
@bp.arguments(ServiceRequestClose)
@bp.response(200, ServiceRequest, description="Closed.")
@bp.errors("BadRequest", "Forbidden", "NotFound", "Conflict")
def close_service_request(body: dict[str, Any], id: int) -> Any:
    """Close with the reply; schedules the follow-up the rule asks for."""
    with _work() as ctx:
        req = requests.close(ctx, id, body["reply"])
        return request_json(requests.describe(ctx, req))


@bp.get("/visits", tags=["service"])
@bp.operation("listFollowUpVisits", summary="Follow-up visits (回访) you may read, by due date")
@bp.arguments(VisitFilter, location="query")
@bp.response(200, FollowUpVisitList, description="The visits.")
@bp.errors("BadRequest")
def list_follow_up_visits(args: dict[str, Any]) -> Any:
    """Follow-up visits you may read, by due date (no notes)."""
    limit = args["limit"]
    with _work() as ctx:
        found = followups.search(ctx, status=args.get("status"), limit=limit + 1)
        items = [visit_json(v) for v in found[:limit]]
    return {"items": items, "truncated": len(found) > limit}


@bp.get("/visits/report", tags=["service"])
@bp.operation("getFollowUpReport",
              summary="The monthly 客户回访记录: visits due and made, rates vs targets")
@bp.arguments(ReportQuery, location="query")
@bp.response(200, FollowUpReport, description="The report.")
@bp.errors("BadRequest", "Forbidden", "NotFound")
def get_follow_up_report(args: dict[str, Any]) -> Any:
    """The monthly 客户回访记录 of a company (its leadership, HQ, compliance)."""
    with _work() as ctx:
        return report_json(followups.report(ctx, args["company"], args["month"]))
