"""Flask-WTF forms of the areas whose pages post plain HTML forms.

The templates write their own inputs (names as below) with ``csrf_token()``; a view
reads a post through its form class (`posted`), never `request.form` by hand. The
CSRF token is checked by CSRFProtect before any view (400 "the form expired") and
again by the form. The fields carry no validators of their own: the services bound
every value and refuse with a reason, which the views put beside the field in the
reader's language (zh/en). A text is taken up to one character past the service's
limit (`text`), so that a longer one is refused, not cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from flask import abort
from flask_wtf import FlaskForm
from wtforms import Field, SelectMultipleField, StringField, TextAreaField


class Form(FlaskForm):
    """A post of one of the pages; fields read as typed (missing: empty)."""


F = TypeVar("F", bound=Form)


def posted(form_class: type[F]) -> F:
    """The request's post read through ``form_class`` (its CSRF token checked)."""
    form = form_class()
    if not form.validate_on_submit():
        abort(400)  # CSRFProtect answered a bad token already; nothing else fails
    return form


def text(field: Field, limit: int | None = None, default: str = "") -> str:
    """What was typed in ``field`` (``default`` when absent), up to ``limit`` characters."""
    data = field.data
    if not isinstance(data, str):
        return default
    return data if limit is None else data[:limit]


def values(form: Form) -> Mapping[str, str]:
    """The form's text fields as a mapping of what was typed (absent ones left out)."""
    return {name: f.data for name, f in form._fields.items() if isinstance(f.data, str)}


class Choices(SelectMultipleField):
    """Checkboxes of one name (tenant codes…); the service judges each value."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("validate_choice", False)
        kwargs.setdefault("coerce", str)
        super().__init__(*args, **kwargs)


class PeriodFields:
    """The secrecy-period fieldset (templates/_period.html): by duration, date or
    condition; parsed by `vault.web.documents.parse_period`."""

    period_kind = StringField()
    period_years = StringField()
    period_months = StringField()
    period_days = StringField()
    period_until = StringField()
    period_condition = TextAreaField()


# ---------------------------------------------------------------------------
# Documents and recordings (vault/web/documents.py, recordings.py)


class CallFields:
    """A call recording's own fields (the recording form, and the document form when
    its category is 录音)."""

    caller_number = StringField()
    agent = StringField()
    request_ref = StringField()
    called_at = StringField()


class RegisterForm(CallFields, PeriodFields, Form):
    """The document form (its file is read apart, as it arrives encrypted)."""

    title = StringField()
    category = StringField()
    level = StringField()
    issued_on = StringField()
    supervisor = StringField()
    department = StringField()
    tenant = StringField()
    paper_original = StringField()


class RecordingForm(CallFields, Form):
    title = StringField()
    department = StringField()
    tenant = StringField()


class GrantForm(Form):
    grantee = StringField()
    until = StringField()


# ---------------------------------------------------------------------------
# Copies, loans and registers (vault/web/copies.py)


class CopyRequestForm(PeriodFields, Form):
    kind = StringField()
    purpose = TextAreaField()
    pages = StringField()
    due_on = StringField()
    new_level = StringField()


class ApproveForm(Form):
    window_hours = StringField()
    pages = StringField()
    note = TextAreaField()


class RejectForm(Form):
    reason = TextAreaField()


class NoteForm(Form):
    """A register entry's note (loan hand-over and return, an annual review)."""

    note = TextAreaField()


class CloseCopyForm(Form):
    status = StringField()
    note = TextAreaField()
    back = StringField()


# ---------------------------------------------------------------------------
# Leak reports (vault/web/leaks.py)


class LeakReportForm(Form):
    document = StringField()
    copy_number = StringField()
    description = TextAreaField()


# ---------------------------------------------------------------------------
# Certificates (vault/web/certificates.py)


class CertificateForm(Form):
    number = StringField()
    custodian = StringField()
    location = StringField()
    valid_until = StringField()


# ---------------------------------------------------------------------------
# Annual review (vault/web/review.py)


class ReviewChangeForm(NoteForm):
    level = StringField()
    period = StringField()


# ---------------------------------------------------------------------------
# Tenants and notices (vault/web/tenants.py)


class TenantForm(Form):
    code = StringField()
    name = StringField()
    unit = StringField()
    contact = StringField()
    company = StringField()
    status = StringField()


class RecipientsForm(Form):
    tenant = Choices()


class SignOffForm(Form):
    tenant = StringField()
    signer = StringField()
    signed_at = StringField()
    method = StringField()
    note = TextAreaField()


# ---------------------------------------------------------------------------
# Customer service (vault/web/service.py)


class ServiceRequestForm(Form):
    kind = StringField()
    channel = StringField()
    content = TextAreaField()
    tenant = StringField()
    caller = StringField()
    grade = StringField()
    reply_only = StringField()
    handler = StringField()
    received_at = StringField()
    due_at = StringField()


class HandlerForm(Form):
    handler = StringField()


class ReceiptForm(Form):
    channel = StringField()
    via = StringField()
    note = TextAreaField()


class ReplyForm(Form):
    reply = TextAreaField()


class ScheduleVisitForm(Form):
    kind = StringField()
    trigger_on = StringField()
    subject = StringField()
    tenant = StringField()


class VisitForm(Form):
    visited_on = StringField()
    method = StringField()
    notes = TextAreaField()
    resolved = StringField()
    next_visit_on = StringField()
    signature_data = StringField()  # a drawn signature as a PNG data URL


class OpinionForm(Form):
    opinion = TextAreaField()


class ReportSendForm(Form):
    company = StringField()
    month = StringField()


class DepositForm(Form):
    tenant = StringField()
    item = StringField()
    note = TextAreaField()


class CollectForm(Form):
    collected_by = StringField()


# ---------------------------------------------------------------------------
# Recordings (vault/web/recordings.py)


class ArchiveRecordingForm(Form):
    reason = TextAreaField()
    event = StringField()


# ---------------------------------------------------------------------------
# Letters and seal requests (vault/web/letters.py)


class LetterForm(Form):
    template = StringField()
    kind = StringField()
    title = StringField()
    addressee = StringField()
    body = TextAreaField()
    letter_on = StringField()
    requests = StringField()  # the request records an open letter answers


class SealRequestForm(Form):
    purpose = TextAreaField()


class SealApprovalForm(Form):
    note = TextAreaField()


class AttachRequestsForm(Form):
    requests = StringField()


class LetterTemplateForm(Form):
    template_id = StringField()
    name = StringField()
    letterhead = TextAreaField()
    closing = TextAreaField()
    company = StringField()
    active = StringField()


# ---------------------------------------------------------------------------
# Search (vault/web/search.py)


class SearchForm(Form):
    q = StringField()
    category = StringField()
    level = StringField()
    tenant = StringField()
    company = StringField()
    department = StringField()
    issued_from = StringField(name="from")
    issued_to = StringField(name="to")
    page = StringField()


# ---------------------------------------------------------------------------
# The compliance console's export (vault/web/compliance.py)


class ExportForm(Form):
    """The audit trail's filters (as the trail page's query string) and the format."""

    actor = StringField()
    document = StringField()
    action = StringField()
    outcome = StringField()
    since = StringField()
    until = StringField()
    format = StringField()
