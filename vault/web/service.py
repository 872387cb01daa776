"""Customer-service pages: the request register (诉求记录) and complaints, follow-up
visits (回访) with a signature pad, the supervisor's review, the monthly report
(客户回访记录) with CSV, and the deposit register (临时物品寄存).

Views translate: they parse the form, call `vault.services.requests`,
`followups` or `deposits` in one unit of work and render plain data after the
commit. Every decision is the services'. A drawn signature arrives as a PNG data
URL in a form field and is stored by the service as an encrypted image document.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Any, BinaryIO, cast

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import login_required

from vault.errors import InvalidInput, VaultError
from vault.services import (
    accounts,
    deposits,
    document_pages,
    followups,
    letters,
    meetings,
    requests,
    service_pdf,
)
from vault.web import documents as doc_views
from vault.web import forms, support

bp = Blueprint("service", __name__)

support.NAV.append(("service.requests_index", lambda: lazy_gettext("Requests"), None))
support.NAV.append(("service.visits_index", lambda: lazy_gettext("Follow-ups"), None))
support.NAV.append(("service.deposits_index", lambda: lazy_gettext("Deposits"), None))

REGISTER_PAGE = 50  # request register lines per page (paged in SQL)
MAX_SIGNATURE_FIELD = 8 * 1024 * 1024
PNG_PREFIX = "data:image/png;base64,"

KIND_NAMES: dict[str, Any] = {
    "repair": lazy_gettext("Repair (报修)"), "complaint": lazy_gettext("Complaint (投诉)"),
    "enquiry": lazy_gettext("Enquiry (咨询)"), "emergency": lazy_gettext("Emergency (紧急)"),
    "suggestion": lazy_gettext("Suggestion (建议)"),
}
CHANNEL_NAMES: dict[str, Any] = {
    "hotline": lazy_gettext("Hotline"), "visit": lazy_gettext("Walk-in visit"),
    "meeting": lazy_gettext("Tenant meeting"), "web": lazy_gettext("Website / forum"),
    "letter": lazy_gettext("Letter"),
}
GRADE_NAMES: dict[str, Any] = {
    "normal": lazy_gettext("Ordinary (一般)"), "important": lazy_gettext("Important (重要)"),
    "major": lazy_gettext("Major (重大)"),
}
STATUS_NAMES: dict[str, Any] = {
    "open": lazy_gettext("open"), "in_progress": lazy_gettext("in progress"),
    "closed": lazy_gettext("closed"), "due": lazy_gettext("due"), "done": lazy_gettext("done"),
}
FOLLOW_UP_NAMES: dict[str, Any] = {
    "complaint": lazy_gettext("Complaint handled"), "repair": lazy_gettext("Repair done"),
    "event": lazy_gettext("Community event"), "move_in": lazy_gettext("Move-in"),
    "emergency": lazy_gettext("Emergency handled"), "handling": lazy_gettext("Requests answered"),
}
OWNER_NAMES: dict[str, Any] = {
    "staff": lazy_gettext("customer-service staff (物业助理)"),
    "supervisor": lazy_gettext("supervisor (部门主管)"),
    "company_gm": lazy_gettext("general manager (公司经理)"),
}
METHOD_NAMES: dict[str, Any] = {
    "on_site": lazy_gettext("On site (上门回访)"),
    "telephone": lazy_gettext("Telephone (电话回访)"),
}

ERRORS: dict[str, Any] = {
    "bad_request_kind": lazy_gettext("Choose the type of request."),
    "bad_channel": lazy_gettext("Choose the channel."),
    "bad_grade": lazy_gettext("Choose the complaint's grade."),
    "grade_required": lazy_gettext("A complaint needs its grade (ordinary, important, major)."),
    "grade_not_complaint": lazy_gettext(
        "Only a complaint carries a grade or asks for a reply letter only."),
    "content_required": lazy_gettext("Describe the request."),
    "bad_content": lazy_gettext("The content must be at most 10000 printable characters."),
    "bad_caller": lazy_gettext("The caller must be at most 200 printable characters."),
    "bad_received_at": lazy_gettext("Give a valid time received (not in the future)."),
    "bad_due_at": lazy_gettext("Give a valid due time, after the time received."),
    "bad_handler": lazy_gettext("The handler must be an active colleague of this company."),
    "not_request_keeper": lazy_gettext(
        "Only the company's customer-service staff, supervisors and general manager "
        "handle requests."),
    "request_closed": lazy_gettext("This request is closed."),
    "reply_required": lazy_gettext("Write the reply given to the customer."),
    "bad_reply": lazy_gettext("The reply must be at most 10000 printable characters."),
    "reply_letter_required": lazy_gettext(
        "An anonymous or reply-only complaint closes only with its reply letter attached."),
    "receipt_not_complaint": lazy_gettext("Only a complaint gathers repeated receipts."),
    "bad_via": lazy_gettext("The department must be at most 200 characters."),
    "bad_note": lazy_gettext("The note is too long."),
    "unknown_request": lazy_gettext("No such request record."),
    "unknown_follow_up": lazy_gettext("No such follow-up visit."),
    "bad_method": lazy_gettext("Choose on site or telephone."),
    "on_site_required": lazy_gettext("This visit must be made on site."),
    "notes_required": lazy_gettext("Write what the customer said."),
    "bad_notes": lazy_gettext("The notes must be at most 5000 printable characters."),
    "bad_visited_on": lazy_gettext(
        "The visit day lies before the matter was handled or in the future."),
    "signature_required": lazy_gettext(
        "An on-site visit needs the customer's signature: draw it or attach the scanned sheet."),
    "signature_on_telephone": lazy_gettext("A telephone visit carries no signature."),
    "bad_signature": lazy_gettext(
        "The signature must be an image or a scanned PDF (at most 5 MiB)."),
    "next_visit_required": lazy_gettext(
        "Unresolved: set the next visit's date (after this visit)."),
    "next_visit_not_needed": lazy_gettext("Resolved: no next visit is due."),
    "visit_recorded": lazy_gettext("This visit is recorded already."),
    "not_follow_up_owner": lazy_gettext(
        "This follow-up is for someone else to make (by the complaint's grade)."),
    "visit_not_recorded": lazy_gettext("Only a recorded visit can be reviewed."),
    "visit_reviewed": lazy_gettext("This visit is reviewed already."),
    "visitor_cannot_review": lazy_gettext("You cannot review your own visit."),
    "not_follow_up_reviewer": lazy_gettext(
        "Visits are reviewed by the company's supervisors and the department's manager."),
    "opinion_required": lazy_gettext("Write your review opinion."),
    "bad_opinion": lazy_gettext("The opinion must be at most 5000 printable characters."),
    "bad_month": lazy_gettext("Give the month as YYYY-MM (e.g. 2026-11)."),
    "not_report_reader": lazy_gettext(
        "The monthly follow-up report is for the company's leadership and supervisors."),
    "unknown_company": lazy_gettext("No such company."),
    "subject_required": lazy_gettext("Name the event."),
    "bad_subject": lazy_gettext("The name must be at most 200 characters."),
    "bad_trigger_on": lazy_gettext("The day of the event lies in the future or before 2000."),
    "bad_follow_up_kind": lazy_gettext("Choose the type of follow-up."),
    "item_required": lazy_gettext("Describe the item."),
    "bad_item": lazy_gettext("The item must be at most 200 characters."),
    "collected_by_required": lazy_gettext("Name who collected it."),
    "bad_collected_by": lazy_gettext("The name must be at most 200 characters."),
    "already_collected": lazy_gettext("This item was collected already."),
    "not_deposit_keeper": lazy_gettext("The company's own staff keep its deposit register."),
    "unknown_deposit": lazy_gettext("No such deposit."),
    "bad_time": lazy_gettext("Give a valid time (not in the future)."),
    # A date or time that cannot be read is refused, never taken as empty.
    "unreadable_received_at": lazy_gettext(
        "The time received is not a time: give it as YYYY-MM-DD HH:MM (e.g. 2026-12-07 09:30)."),
    "unreadable_due_at": lazy_gettext(
        "The due time is not a time: give it as YYYY-MM-DD HH:MM (e.g. 2026-12-07 09:30)."),
    "unreadable_trigger_on": lazy_gettext(
        "The day of the event is not a date: give it as YYYY-MM-DD (e.g. 2026-12-07)."),
    "unreadable_visited_on": lazy_gettext(
        "The day of the visit is not a date: give it as YYYY-MM-DD (e.g. 2026-12-07)."),
    "unreadable_next_visit_on": lazy_gettext(
        "The next visit's day is not a date: give it as YYYY-MM-DD (e.g. 2026-12-07)."),
    "bad_limit": lazy_gettext("Too many rows asked for at once."),
    "bad_status": lazy_gettext("Unknown status."),
    "not_meeting_minutes": lazy_gettext("This document is not the minutes of a tenant meeting."),
    "too_many_attendees": lazy_gettext("At most 500 tenants."),
}


#: Refusals in the reader's language: this area's texts, then the document pages'.
message_of = support.messages(ERRORS, doc_views.message_of)


translated = support.translating(message_of)
lang = support.lang


@bp.app_template_global()
def service_name(table: str, key: str | None) -> str:
    names: dict[str, dict[str, Any]] = {
        "kind": KIND_NAMES, "channel": CHANNEL_NAMES, "grade": GRADE_NAMES,
        "status": STATUS_NAMES, "follow_up": FOLLOW_UP_NAMES, "owner": OWNER_NAMES,
        "method": METHOD_NAMES,
    }
    if key is None:
        return ""
    return str(names.get(table, {}).get(key, key))


def _local(raw: str, field: str) -> datetime | None:
    """A datetime-local form value in group time; None when empty. An unreadable
    value (or a year outside 1900–2999) is refused, naming the field: it is never
    taken as empty."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw[:40]) if len(raw) <= 40 else None
    except ValueError:
        value = None
    if value is None or not 1900 <= value.year <= 2999:
        raise InvalidInput(f"{field}: not a time; give it as YYYY-MM-DD HH:MM.",
                           code=f"unreadable_{field}", field=field)
    return value if value.tzinfo else value.replace(tzinfo=support.settings().tz)


def _day(raw: str, field: str) -> date | None:
    """A date form value; None when empty, refused (naming the field) when unreadable."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw) if len(raw) <= 10 else None
    except ValueError:
        value = None
    if value is None or not 1900 <= value.year <= 2999:
        raise InvalidInput(f"{field}: not a date; give it as YYYY-MM-DD.",
                           code=f"unreadable_{field}", field=field)
    return value


def _refused(exc: VaultError, redirect_to: str) -> Any:
    """A refusal on a form posted from a page: back to the page, with the reason."""
    if exc.status >= 500:
        raise exc
    flash(message_of(exc), "error")
    return redirect(redirect_to, 303)


# ---------------------------------------------------------------------------
# The request register


@bp.get("/requests/")
@login_required
@translated
def requests_index() -> Any:
    args = request.args
    status = args.get("status", "") or None
    kind = args.get("kind", "") or None
    overdue = args.get("overdue") == "1"
    raw_page = args.get("page", "1")
    page = int(raw_page) if raw_page.isascii() and raw_page.isdigit() and len(raw_page) < 7 \
        else 1
    page = max(page, 1)
    with support.work() as ctx:
        # One more than a page: whether a next page exists, without counting them all.
        rows = requests.search(ctx, status=status, kind=kind, overdue=overdue,
                               limit=REGISTER_PAGE + 1, offset=(page - 1) * REGISTER_PAGE)
        may_add = requests.service_department(ctx) is not None
    filters = {k: v for k, v in (("status", status), ("kind", kind),
                                 ("overdue", "1" if overdue else None)) if v}
    return render_template("service/requests.html", rows=rows[:REGISTER_PAGE],
                           status=status or "", kind=kind or "", overdue=overdue,
                           may_add=may_add, kinds=list(KIND_NAMES), page=page,
                           more=len(rows) > REGISTER_PAGE, filters=filters)


def _render_new(errors: dict[str, str], status: int) -> Any:
    with support.work() as ctx:
        options = document_pages.form_options(ctx)
        now = ctx.now.astimezone(ctx.settings.tz).strftime("%Y-%m-%dT%H:%M")
    return render_template("service/request_new.html", options=options, form=request.form,
                           errors=errors, now=now, kinds=list(KIND_NAMES),
                           channels=list(CHANNEL_NAMES), grades=list(GRADE_NAMES)), status


FIELDS = {"bad_request_kind": "kind", "bad_channel": "channel", "bad_grade": "grade",
          "grade_required": "grade", "grade_not_complaint": "grade",
          "content_required": "content", "bad_content": "content", "bad_caller": "caller",
          "bad_received_at": "received_at", "bad_due_at": "due_at", "bad_handler": "handler",
          "unknown_tenant": "tenant", "unknown_department": "form",
          "not_request_keeper": "form"}


@bp.route("/requests/new", methods=["GET", "POST"])
@login_required
@translated
def request_new() -> Any:
    if request.method == "GET":
        return _render_new({}, 200)
    form = forms.posted(forms.ServiceRequestForm)
    errors: dict[str, str] = {}
    received = due = None
    try:
        received = _local(forms.text(form.received_at), "received_at")
    except InvalidInput as exc:
        errors["received_at"] = message_of(exc)
    try:
        due = _local(forms.text(form.due_at), "due_at")
    except InvalidInput as exc:
        errors["due_at"] = message_of(exc)
    if errors:
        return _render_new(errors, 400)
    try:
        with support.work() as ctx:
            req = requests.create(
                ctx, kind=forms.text(form.kind), channel=forms.text(form.channel),
                content=forms.text(form.content, requests.MAX_CONTENT + 1),
                tenant_code=forms.text(form.tenant).strip() or None,
                caller=forms.text(form.caller, requests.MAX_CALLER + 1) or None,
                grade=forms.text(form.grade) or None,
                reply_only=form.reply_only.data == "1",
                handler=forms.text(form.handler).strip() or None,
                received_at=received, due_at=due)
            req_id, number = req.id, req.number
    except VaultError as exc:
        field = FIELDS.get(exc.code)
        if field is None or exc.status >= 500:
            raise
        return _render_new({field: message_of(exc)}, 403 if exc.status == 403 else 400)
    flash(_("Request %(number)s was recorded.", number=number))
    return redirect(url_for("service.request_show", req_id=req_id))


@bp.get("/requests/<id:req_id>")
@login_required
@translated
def request_show(req_id: int) -> Any:
    with support.work() as ctx:
        info = requests.show(ctx, req_id)
        visits = followups.search(ctx, request_id=info.summary.id)
        options = document_pages.form_options(ctx)
        open_letters = letters.open_letters_for_request(ctx, info.summary.id)
    return render_template("service/request_show.html", r=info, s=info.summary, visits=visits,
                           options=options, channels=list(CHANNEL_NAMES),
                           open_letters=open_letters)


def _back(req_id: int) -> str:
    return url_for("service.request_show", req_id=req_id)


@bp.post("/requests/<id:req_id>/start")
@login_required
@translated
def request_start(req_id: int) -> Any:
    form = forms.posted(forms.HandlerForm)
    try:
        with support.work() as ctx:
            requests.start(ctx, req_id,
                           forms.text(form.handler).strip() or None)
    except VaultError as exc:
        return _refused(exc, _back(req_id))
    flash(_("The request is in progress."))
    return redirect(_back(req_id), 303)


@bp.post("/requests/<id:req_id>/receipt")
@login_required
@translated
def request_receipt(req_id: int) -> Any:
    form = forms.posted(forms.ReceiptForm)
    try:
        with support.work() as ctx:
            requests.add_receipt(ctx, req_id, channel=forms.text(form.channel),
                                 via=forms.text(form.via) or None,
                                 note=forms.text(form.note) or None)
    except VaultError as exc:
        return _refused(exc, _back(req_id))
    flash(_("The repeated complaint was added to this record."))
    return redirect(_back(req_id), 303)


@bp.post("/requests/<id:req_id>/reply-letter")
@login_required
@translated
def request_reply_letter(req_id: int) -> Any:
    upload = doc_views._uploaded("letter")
    if upload is None:
        flash(_("Choose the reply letter's file."), "error")
        return redirect(_back(req_id), 303)
    try:
        with support.work() as ctx:
            requests.attach_reply_letter(ctx, req_id,
                                         cast(BinaryIO, upload.stream), upload.filename or "")
    except VaultError as exc:
        return _refused(exc, _back(req_id))
    flash(_("The reply letter was filed (encrypted)."))
    return redirect(_back(req_id), 303)


@bp.post("/requests/<id:req_id>/close")
@login_required
@translated
def request_close(req_id: int) -> Any:
    form = forms.posted(forms.ReplyForm)
    try:
        with support.work() as ctx:
            requests.close(ctx, req_id,
                           forms.text(form.reply, requests.MAX_CONTENT + 1))
    except VaultError as exc:
        return _refused(exc, _back(req_id))
    flash(_("The request was closed."))
    return redirect(_back(req_id), 303)


# ---------------------------------------------------------------------------
# Follow-up visits


@bp.get("/visits/")
@login_required
@translated
def visits_index() -> Any:
    status = request.args.get("status", "due")
    if status not in ("due", "done", "unreviewed", "all"):
        status = "due"
    with support.work() as ctx:
        rows = followups.search(ctx, status=None if status == "all" else status)
        today = ctx.now.astimezone(ctx.settings.tz).date()
        company = accounts.own_company(ctx)
        open_letters = letters.search(ctx, kind="open")
    return render_template("service/visits.html", rows=rows, status=status, today=today,
                           company=company, kinds=["event", "move_in"],
                           open_letters=open_letters)


@bp.post("/visits/schedule")
@login_required
@translated
def visit_schedule() -> Any:
    form = forms.posted(forms.ScheduleVisitForm)
    back = url_for("service.visits_index")
    try:
        day = _day(forms.text(form.trigger_on), "trigger_on")
        if day is None:
            raise InvalidInput("Give the day of the event.", code="bad_trigger_on")
        with support.work() as ctx:
            fu = followups.schedule(ctx, kind=forms.text(form.kind), trigger_on=day,
                                    subject=forms.text(form.subject),
                                    tenant_code=forms.text(form.tenant).strip() or None)
            fid = fu.id
    except VaultError as exc:
        return _refused(exc, back)
    flash(_("The follow-up visit was scheduled."))
    return redirect(url_for("service.visit_show", visit_id=fid), 303)


@bp.get("/visits/<id:visit_id>")
@login_required
@translated
def visit_show(visit_id: int) -> Any:
    with support.work() as ctx:
        v = followups.show(ctx, visit_id)
        today = ctx.now.astimezone(ctx.settings.tz).date()
    return render_template("service/visit_show.html", v=v, today=today)


def _signature(form: forms.VisitForm) -> tuple[bytes | None, str]:
    """The drawn signature (a PNG data URL) or the scanned sheet, if any."""
    drawn = forms.text(form.signature_data)
    if drawn:
        if len(drawn) > MAX_SIGNATURE_FIELD or not drawn.startswith(PNG_PREFIX):
            return b"not an image", "signature.png"
        try:
            return base64.b64decode(drawn[len(PNG_PREFIX):], validate=True), "signature.png"
        except (binascii.Error, ValueError):
            return b"not an image", "signature.png"
    upload = doc_views._uploaded("signature_file")
    if upload is not None:
        return upload.stream.read(followups.MAX_SIGNATURE + 1), upload.filename or "sheet"
    return None, ""


@bp.post("/visits/<id:visit_id>/record")
@login_required
@translated
def visit_record(visit_id: int) -> Any:
    form = forms.posted(forms.VisitForm)
    back = url_for("service.visit_show", visit_id=visit_id)
    resolved = form.resolved.data == "1"
    try:
        visited = _day(forms.text(form.visited_on), "visited_on")
        if visited is None:
            raise InvalidInput("Give the day of the visit.", code="bad_visited_on")
        nxt = _day(forms.text(form.next_visit_on), "next_visit_on")
        signature, name = _signature(form)
        with support.work() as ctx:
            followups.record_visit(
                ctx, visit_id, method=forms.text(form.method),
                visited_on=visited, notes=forms.text(form.notes, followups.MAX_NOTES + 1),
                resolved=resolved, signature=signature, signature_filename=name,
                next_visit_on=nxt)
    except VaultError as exc:
        return _refused(exc, back)
    flash(_("The visit was recorded."))
    return redirect(back, 303)


@bp.post("/visits/<id:visit_id>/review")
@login_required
@translated
def visit_review(visit_id: int) -> Any:
    form = forms.posted(forms.OpinionForm)
    back = url_for("service.visit_show", visit_id=visit_id)
    try:
        with support.work() as ctx:
            followups.review(ctx, visit_id,
                             forms.text(form.opinion, followups.MAX_NOTES + 1))
    except VaultError as exc:
        return _refused(exc, back)
    flash(_("Your review was signed."))
    return redirect(back, 303)


@bp.get("/visits/report")
@login_required
@translated
def visits_report() -> Any:
    company = request.args.get("company", "").strip()
    month = request.args.get("month", "").strip()
    with support.work() as ctx:
        company = company or accounts.own_company(ctx)
        month = month or ctx.now.astimezone(ctx.settings.tz).strftime("%Y-%m")
    try:
        with support.work() as ctx:
            rep = followups.report(ctx, company, month)
    except VaultError as exc:
        if exc.status >= 500 or exc.code not in ERRORS:
            raise
        return render_template("service/report.html", rep=None, company=company, month=month,
                               error=message_of(exc)), exc.status
    return render_template("service/report.html", rep=rep, company=company, month=month,
                           error=None)


@bp.get("/visits/report.csv")
@login_required
@translated
def visits_report_csv() -> Response:
    company = request.args.get("company", "").strip()
    month = request.args.get("month", "").strip()
    with support.work() as ctx:
        rep = followups.report(ctx, company, month)
    name = f"follow-up-report-{rep.company}-{rep.month}.csv"
    return Response(rep.csv(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


@bp.get("/visits/report.pdf")
@login_required
@translated
def visits_report_pdf() -> Response:
    company = request.args.get("company", "").strip()
    month = request.args.get("month", "").strip()
    with support.work() as ctx:
        rep = followups.report(ctx, company, month)
    data = service_pdf.report_pdf(rep, support.settings().font_file, lang())
    name = f"follow-up-report-{rep.company}-{rep.month}.pdf"
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


@bp.post("/visits/report/send")
@login_required
@translated
def visits_report_send() -> Any:
    form = forms.posted(forms.ReportSendForm)
    company = forms.text(form.company).strip()
    month = forms.text(form.month).strip()
    back = url_for("service.visits_report", company=company, month=month)
    try:
        with support.work() as ctx:
            sent = followups.send_report(ctx, company, month)[1]
    except VaultError as exc:
        return _refused(exc, back)
    flash(_("The report was sent to %(n)s inbox(es) of the company's leadership.", n=sent))
    return redirect(back, 303)


# ---------------------------------------------------------------------------
# Deposits


@bp.get("/deposits/")
@login_required
@translated
def deposits_index() -> Any:
    open_only = request.args.get("open") == "1"
    with support.work() as ctx:
        rows = deposits.register(ctx, open_only=open_only)
        options = document_pages.form_options(ctx)
    return render_template("service/deposits.html", rows=rows, open_only=open_only,
                           options=options)


@bp.post("/deposits/")
@login_required
@translated
def deposit_add() -> Any:
    form = forms.posted(forms.DepositForm)
    back = url_for("service.deposits_index")
    try:
        with support.work() as ctx:
            deposits.receive(ctx, forms.text(form.tenant).strip(), forms.text(form.item),
                             forms.text(form.note) or None)
    except VaultError as exc:
        return _refused(exc, back)
    flash(_("The item was entered in the deposit register."))
    return redirect(back, 303)


@bp.post("/deposits/<id:deposit_id>/collect")
@login_required
@translated
def deposit_collect(deposit_id: int) -> Any:
    form = forms.posted(forms.CollectForm)
    back = url_for("service.deposits_index")
    try:
        with support.work() as ctx:
            deposits.collect(ctx, deposit_id,
                             forms.text(form.collected_by))
    except VaultError as exc:
        return _refused(exc, back)
    flash(_("The item was handed back."))
    return redirect(back, 303)



# ---------------------------------------------------------------------------
# Tenant meetings (租户大会): the tenants present


@bp.get("/meetings/<id:doc_id>")
@login_required
@translated
def meeting_show(doc_id: int) -> Any:
    with support.work() as ctx:
        m = meetings.show(ctx, doc_id)
    return render_template("service/meeting.html", m=m, present={c for c, _n in m.attendees})


@bp.post("/meetings/<id:doc_id>/attendees")
@login_required
@translated
def meeting_attendees(doc_id: int) -> Any:
    back = url_for("service.meeting_show", doc_id=doc_id)
    codes = (forms.posted(forms.RecipientsForm).tenant.data or [])[: meetings.MAX_ATTENDEES + 1]
    try:
        with support.work() as ctx:
            m = meetings.set_attendees(ctx, doc_id, codes)
    except VaultError as exc:
        return _refused(exc, back)
    flash(_("%(n)s tenants recorded as present.", n=len(m.attendees)))
    return redirect(back, 303)
