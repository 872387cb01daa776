"""The JSON API for leak reports (泄密报告) and the certificate register (证照).
Routes of the ``api`` blueprint (vault/web/api.py: token authentication, input
helpers and the error format), described in vault/web/openapi.py.

Anyone may report a leak; the answer is the report's receipt, the same whatever a
copy number leads to. HQ executives and compliance read reports with their trace
(as reported and as it stands now); a reporter reads the receipt of their own.
There is no operation that deletes a report.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from marshmallow import fields

from vault.errors import NotFound
from vault.policy import CERTIFICATES, Level
from vault.services import accounts, certificate_pages, certificates, leak_pages, leaks
from vault.services.context import Ctx
from vault.web.api import _work, bp
from vault.web.api_schema import (
    MAX_ID,
    Body,
    Bool,
    Choice,
    Day,
    Flag,
    FreeText,
    Int,
    Lang,
    Moment,
    Null,
    Out,
    Person,
    Query,
    Str,
    Text,
    Whole,
    bad,
    describe,
    path_id,
)

LIMIT = "At most this many items (newest first); `truncated` tells if more exist."

# ---------------------------------------------------------------------------
# Leak reports


class NewLeakReport(Body):
    document = Whole(1, MAX_ID, in_body=True, allow_none=True,
                     **describe("The id of a document you know of."))
    copy_number = Text(leaks.MAX_COPY_NUMBER, allow_none=True, **describe(
        "Or: the copy number read off a page found outside, e.g. 机密-2026-0042 副本 3."))
    description = FreeText(leaks.MAX_DESCRIPTION, min_len=1, not_blank=True, required=True,
                           **describe("What was found, where and when."))


class LeakReport(Out):
    id = Int()
    by = Str(metadata={
        "description": "What the reporter named.",
        "enum": ["document", "copy_number", "description"]})
    document = Null(Int(**describe(
        "The document: as named by the reporter; for HQ executives and compliance also "
        "the one a copy number led to.")))
    copy_number = Null(Str(**describe("As read off the page found.")))
    description = Str()
    reported_at = Moment(required=True)
    deadline_at = Moment(required=True, **describe("24 hours after the report."))
    status = Str(metadata={"enum": ["open", "handled"]})
    state = Str(metadata={"enum": ["open", "overdue", "handled", "handled_late"],
                          "description": "overdue: open past the deadline; handled_late: "
                                         "handled after it."})
    # HQ executives and compliance only:
    given_document = Null(fields.Integer(**describe(
        "The document id as the reporter gave it (HQ executives and compliance only).")))
    title = Null(fields.String(**describe("HQ executives and compliance only.")))
    copy = Null(fields.String(**describe(
        "The registered copy the number matched (HQ executives and compliance only).")))
    reporter = fields.Nested(Person)
    handled_at = Null(Moment())
    handled_by = Null(fields.Nested(Person))
    handling_note = Null(fields.String())


class LeakTraceDocument(Out):
    id = Int()
    title = Str()
    category = Str()
    level = Choice(Level, required=True)
    marking = Str()
    company = Str()


class LeakTraceKnower(Out):
    username = Str()
    name = Str()
    actions = fields.List(fields.String(), required=True)
    count = Int()
    first_at = Moment(required=True)
    last_at = Moment(required=True)


class LeakTraceEvent(Out):
    username = Str()
    name = Str()
    action = Str()
    at = Moment(required=True)


class LeakTraceCopy(Out):
    id = Int()
    label = Str()
    number = Int()
    kind = Str()
    recipient = fields.Nested(Person, required=True)
    approved_by = Null(fields.Nested(Person, required=True))
    issued_at = Moment(required=True)
    status = Str(metadata={"enum": ["issued", "returned", "destroyed"]})
    closed_at = Null(Moment(required=True))


class LeakTraceLoan(Out):
    id = Int()
    borrower = fields.Nested(Person, required=True)
    approved_by = Null(fields.Nested(Person, required=True))
    approved_at = Moment(required=True)
    due_on = Day(required=True)
    lent_at = Null(Moment(required=True))
    returned_at = Null(Moment(required=True))
    state = Str(metadata={"enum": ["approved", "lent", "overdue", "returned"]})


class LeakTrace(Out):
    version = Int()
    computed_at = Moment(required=True)
    document = Null(fields.Nested(LeakTraceDocument, required=True, **describe(
        "Null when the copy number matched no register line.")))
    knowers = fields.List(fields.Nested(LeakTraceKnower), required=True, **describe(
        "Everyone who viewed, downloaded, exported or received a copy of the file, with "
        "first and last time."))
    events = fields.List(fields.Nested(LeakTraceEvent), required=True, **describe(
        "The knowing events one by one (the latest 2000)."))
    events_total = Int()
    copies = fields.List(fields.Nested(LeakTraceCopy), required=True, **describe(
        "Every registered copy and its holder."))
    loans = fields.List(fields.Nested(LeakTraceLoan), required=True)


class LeakReportDetail(LeakReport):
    trace = Null(fields.Nested(LeakTrace, **describe(
        "As it stood when reported (HQ executives and compliance only).")))
    live_trace = Null(fields.Nested(LeakTrace, **describe(
        "Recomputed now (HQ executives and compliance only).")))


class LeakReportList(Out):
    items = fields.List(fields.Nested(LeakReport), required=True)
    truncated = Bool()


class LeakFilter(Query):
    open = Flag(load_default=False, **describe("Only reports not yet handled."))
    limit = Whole(1, 500, load_default=100, **describe(LIMIT))


@bp.post("/leaks", tags=["leaks"])
@bp.operation("createLeakReport", summary="Report a suspected leak (泄密报告)", description=(
    "Name a document you know of, or the copy number read off a page found outside (one of "
    "the two). Every HQ executive is notified at once; the deadline is 24 hours. The answer "
    "is the receipt, the same whatever a copy number leads to. Reports are never deleted."))
@bp.arguments(NewLeakReport)
@bp.response(201, LeakReport, description="Received.")
@bp.errors("BadRequest", "Forbidden", "NotFound")
def create_leak(body: dict[str, Any]) -> Any:
    with _work() as ctx:
        leak = leaks.report(ctx, document_id=body.get("document"),
                            copy_number=body.get("copy_number") or None,
                            description=body["description"])
        info = leaks.summary(leak, ctx.now, full=False)
    return info, 201, {"Location": url_for("api.get_leak", id=info["id"])}


@bp.get("/leaks", tags=["leaks"])
@bp.operation("listLeakReports", summary="Leak reports (every one for HQ executives and "
                                         "compliance; your own otherwise)")
@bp.arguments(LeakFilter, location="query")
@bp.response(200, LeakReportList, description="Newest first.")
@bp.errors("BadRequest")
def list_leaks(args: dict[str, Any]) -> Any:
    limit = args["limit"]
    with _work() as ctx:
        items = leak_pages.listing(ctx, args["open"], limit + 1).rows
    return {"items": items[:limit], "truncated": len(items) > limit}


@bp.get("/leaks/<id('leak'):id>", tags=["leaks"], parameters=[path_id("Report")])
@bp.operation("getLeakReport", summary="One leak report, with its trace for HQ executives "
                                       "and compliance", description=(
    "The trace: everyone who viewed, downloaded or exported the file, every registered copy "
    "and its holder, every loan, with times — as reported and recomputed now. A reporter "
    "gets the receipt of their own report; anyone else 404. Audited."))
@bp.response(200, LeakReportDetail, description="The report.")
@bp.errors("BadRequest", "NotFound")
def get_leak(id: int) -> Any:
    with _work() as ctx:
        return leaks.show(ctx, id).describe(ctx.now)


# ---------------------------------------------------------------------------
# Certificates


class CertificateLoan(Out):
    id = Int()
    borrower = fields.Nested(Person, required=True)
    due_on = Day(required=True)
    lent_at = Null(Moment(required=True, **describe("Null: approved, not handed over.")))


class Certificate(Out):
    id = Int(**describe("The certificate's document id."))
    title = Str()
    kind = Str(metadata={"enum": sorted(c.value for c in CERTIFICATES)})
    company = Str()
    level = Choice(Level, required=True)
    marking = Str()
    number = Null(Str())
    custodian = Null(fields.Nested(Person, required=True))
    original_location = Null(Str())
    valid_until = Null(Day(required=True))
    validity = Null(Str(metadata={"enum": ["valid", "expiring", "expired"]}))
    may_edit = Bool(**describe("Whether you may record its details."))
    open_loans = fields.List(fields.Nested(CertificateLoan), required=True)


class CertificateList(Out):
    items = fields.List(fields.Nested(Certificate), required=True)


class CertificateFilter(Query):
    company = Text(32, **describe("Company code; default yours (HQ executives and "
                                  "compliance: all)."))
    lang = Lang()


class CertificateUpdate(Body):
    """A field left out keeps its value; null or an empty string clears it."""

    number = Text(certificates.MAX_NUMBER, allow_none=True)
    custodian = Text(64, allow_none=True, **describe(
        "User name of an active person of the owning company."))
    original_location = Text(certificates.MAX_LOCATION, allow_none=True)
    valid_until = Day(allow_none=True, empty_is_null=True,
                      **describe("Last day of validity."))


class LangOnly(Query):
    lang = Lang()


def _company_id(ctx: Ctx, code: str | None) -> int | None:
    if code is None:
        return None
    try:
        return accounts.get_company(ctx.session, code).id
    except NotFound:
        raise bad("company", f"no company {code!r}") from None


def _certificate(row: certificate_pages.CertificateRow) -> dict[str, Any]:
    return {
        "id": row.id, "title": row.title, "kind": row.kind, "company": row.company,
        "level": row.level, "marking": row.marking, "number": row.number,
        "custodian": row.custodian_person, "original_location": row.location,
        "valid_until": row.valid_until, "validity": row.validity or None,
        "may_edit": row.may_edit,
        "open_loans": [{"id": x.id, "borrower": x.borrower_person, "due_on": x.due_on,
                        "lent_at": x.lent_at} for x in row.loans],
    }


@bp.get("/certificates", tags=["certificates"])
@bp.operation("listCertificates", summary="The certificate register (custodians, the GM, HQ "
                                          "executives, compliance)", description=(
    "Number, custodian, where the original is kept, validity and open loans. Copies and "
    "loans are asked for with POST /api/v1/documents/{id}/requests. Audited."))
@bp.arguments(CertificateFilter, location="query")
@bp.response(200, CertificateList, description="The certificates.")
@bp.errors("BadRequest", "Forbidden")
def list_certificates(args: dict[str, Any]) -> Any:
    with _work() as ctx:
        rows = certificate_pages.rows(ctx, _company_id(ctx, args.get("company")), args["lang"])
    return {"items": [_certificate(r) for r in rows]}


@bp.put("/certificates/<id('document'):id>", tags=["certificates"],
        parameters=[path_id("Certificate (document)")])
@bp.operation("updateCertificate", summary="Record a certificate's number, custodian, "
                                           "location and validity", description=(
    "By the owning company's custodian or general manager (for HQ's certificates, also the "
    "HQ executives). Audited."))
@bp.arguments(LangOnly, location="query")
@bp.arguments(CertificateUpdate)
@bp.response(200, Certificate, description="Saved.")
@bp.errors("BadRequest", "Forbidden", "NotFound")
def put_certificate(args: dict[str, Any], body: dict[str, Any], id: int) -> Any:
    names = {"number": "number", "custodian": "custodian_username",
             "original_location": "original_location", "valid_until": "valid_until"}
    changes = {names[k]: v for k, v in body.items()}
    with _work() as ctx:
        certificates.set_details(ctx, id, **changes)
        row = certificate_pages.one(ctx, id, args["lang"])
    return _certificate(row)
