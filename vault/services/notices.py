"""Notices and letters with their sign-off records (通知、函件与签收记录).

A notice is a document of category ``notice`` or ``letter``. Its recipients are
tenants of the notice's company; each recipient signs off once (签收): who
signed, when, how (``on_site`` signature, ``scanned`` sheet, ``electronic``), and
optionally a scanned sign-off sheet. The sheet is a document of its own —
encrypted, versioned, audited and re-wrapped by key rotation like every file —
registered with the notice's company, department, responsible supervisor, level,
period and issue date (so it is known to the same circle and declassifies with
the notice) and the signing tenant (so it is in that tenant's archive), titled
"签收单 — <notice> — <tenant>", and linked from the sign-off.

Rules (vault/policy.py):

- recipients are chosen by those responsible for the notice who may read it
  (`policy.can_address_notice`: registrant, responsible supervisor, the owning
  department's manager, HQ executives);
- sign-offs are recorded by those, and by the owning department's members who may
  read it (`policy.can_record_sign_off`: the operations staff collecting them);
- progress and the CSV export are metadata: anyone who may know of the notice
  (`policy.can_see_metadata`).

A notice out of the actor's scope answers `NotFound`, as every document does.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from sqlalchemy import select

from vault import policy
from vault.actions import Action
from vault.errors import Conflict, Forbidden, InvalidInput, VaultError
from vault.models import Document, Letter, NoticeRecipient, SignOff, Tenant
from vault.policy import Category, Level
from vault.services import accounts, documents
from vault.services.context import Ctx
from vault.services.tenants import MOVED_OUT

NOTICE_CATEGORIES = frozenset({Category.NOTICE.value, Category.LETTER.value})
METHODS = ("on_site", "scanned", "electronic")
MAX_RECIPIENTS = 5000
MAX_SIGNER = 200
MAX_NOTE = 2000
#: A sign-off time may run this far ahead of the server's clock (clock skew).
FUTURE_SLACK = timedelta(minutes=5)
SHEET_PREFIX = "签收单"

METHOD_LABELS = {
    "on_site": ("现场签字", "on-site signature"),
    "scanned": ("扫描签收单", "scanned sheet"),
    "electronic": ("电子签收", "electronic"),
}


# ---------------------------------------------------------------------------
# Loading


def _refused(ctx: Ctx, decision: policy.Decision, action: Action, doc: Document,
             message: str) -> VaultError:
    """The policy's refusal, noted for the audit trail; the caller raises it."""
    return ctx.refuse(Forbidden(message, code=decision.reason.value), action,
                      object_type="document", object_id=str(doc.id),
                      level=documents.effective_level(ctx, doc).value)


def load_notice(ctx: Ctx, doc_id: int, action: Action) -> Document:
    """The notice if the actor may know of it (else `NotFound`, audited), and if it is
    a notice or letter (else `InvalidInput` ``not_a_notice``)."""
    doc = documents.load(ctx, doc_id, action)
    if doc.category not in NOTICE_CATEGORIES or _is_sheet(ctx, doc.id):
        raise ctx.refuse(
            InvalidInput("Only notices and letters have recipients and sign-offs (a "
                         "sign-off sheet has none of its own).", code="not_a_notice"),
            action, object_type="document", object_id=str(doc.id))
    return doc


def is_notice(doc: Document) -> bool:
    """Whether ``doc`` is of a notice's category (a sign-off sheet is too: see
    `sheet_of`)."""
    return doc.category in NOTICE_CATEGORIES


def sheet_of(ctx: Ctx, doc_id: int) -> SignOff | None:
    """The sign-off whose scanned sheet document ``doc_id`` is, if it is one."""
    return ctx.session.scalar(select(SignOff).where(SignOff.sheet_document_id == doc_id))


def _recipients(ctx: Ctx, doc_id: int) -> list[NoticeRecipient]:
    return list(ctx.session.scalars(
        select(NoticeRecipient).join(Tenant, NoticeRecipient.tenant_id == Tenant.id)
        .where(NoticeRecipient.document_id == doc_id).order_by(Tenant.code)))


def _sign_offs(ctx: Ctx, doc_id: int) -> dict[int, SignOff]:
    return {s.tenant_id: s for s in ctx.session.scalars(
        select(SignOff).where(SignOff.document_id == doc_id))}


def _is_sheet(ctx: Ctx, doc_id: int) -> bool:
    return ctx.session.scalar(
        select(SignOff.id).where(SignOff.sheet_document_id == doc_id).limit(1)) is not None


def may_address(ctx: Ctx, doc: Document) -> bool:
    """For showing the recipients picker; `set_recipients` decides again."""
    return policy.can_address_notice(ctx.subject, documents.facts(doc, ctx.settings.tz),
                                     ctx.now).allowed


def may_record(ctx: Ctx, doc: Document) -> bool:
    """For showing the sign-off form; `record_sign_off` decides again."""
    return policy.can_record_sign_off(ctx.subject, documents.facts(doc, ctx.settings.tz),
                                      ctx.now).allowed


def candidates(ctx: Ctx, doc: Document) -> list[Tenant]:
    """The tenants a notice may be addressed to: its company's (and the group's) active
    tenants, and those already addressed whatever their status."""
    current = {r.tenant_id for r in _recipients(ctx, doc.id)}
    rows = ctx.session.scalars(select(Tenant).order_by(Tenant.code))
    return [t for t in rows
            if t.id in current
            or (t.status != MOVED_OUT and t.company_id in (None, doc.company_id))]


# ---------------------------------------------------------------------------
# Recipients


@dataclass
class RecipientChange:
    added: list[str]
    removed: list[str]
    total: int


def set_recipients(ctx: Ctx, doc_id: int, tenant_codes: list[str]) -> RecipientChange:
    """Make ``tenant_codes`` the notice's recipients (adding and removing).

    Recipients are tenants of the notice's company (or of no company); a tenant who
    moved out is not added anew; a recipient who has signed off stays (removing them
    is a `Conflict`). Audited ``notice:recipients`` with who was added and removed."""
    action = Action.NOTICE_RECIPIENTS
    doc = load_notice(ctx, doc_id, action)
    decision = policy.can_address_notice(ctx.subject, documents.facts(doc, ctx.settings.tz),
                                         ctx.now)
    if not decision.allowed:
        raise _refused(ctx, decision, action, doc,
                       "Recipients are chosen by the notice's registrant, its responsible "
                       "supervisor or the owning department's manager.")
    # A letter drawn from the letter templates goes out only once sealed (已用印).
    seal_status = ctx.session.scalar(select(Letter.status).where(Letter.document_id == doc.id))
    if seal_status is not None:
        sendable = policy.can_send_letter(seal_status)
        if not sendable.allowed:
            raise _refused(ctx, sendable, action, doc,
                           "A letter is sent only once its seal request is approved (已用印).")
    codes: list[str] = []
    for code in tenant_codes:
        if not isinstance(code, str):
            raise InvalidInput("Tenant codes are text.", code="unknown_tenant")
        code = code.strip()
        if code and code not in codes:
            codes.append(code)
    if len(codes) > MAX_RECIPIENTS:
        raise InvalidInput(f"At most {MAX_RECIPIENTS} recipients.", code="too_many_recipients",
                           limit=MAX_RECIPIENTS)
    wanted: dict[int, Tenant] = {}
    unknown = []
    for code in codes:
        tenant = (ctx.session.scalar(select(Tenant).where(Tenant.code == code))
                  if accounts.CODE_RE.match(code) else None)
        if tenant is None or tenant.company_id not in (None, doc.company_id):
            unknown.append(code)
            continue
        wanted[tenant.id] = tenant
    if unknown:
        shown = ", ".join(c[:32] for c in unknown[:10])
        raise InvalidInput(f"No such tenant of this notice's company: {shown}.",
                           code="unknown_tenant", tenants=shown)
    current = {r.tenant_id: r for r in _recipients(ctx, doc.id)}
    signed = _sign_offs(ctx, doc.id)
    moved = [t.code for tid, t in wanted.items() if tid not in current and t.status == MOVED_OUT]
    if moved:
        raise InvalidInput(f"These tenants have moved out: {', '.join(moved[:10])}.",
                           code="tenant_moved_out", tenants=", ".join(moved[:10]))
    keep_signed = [current[tid].tenant.code for tid in current
                   if tid not in wanted and tid in signed]
    if keep_signed:
        raise Conflict(
            f"These recipients have signed off and stay on the notice: "
            f"{', '.join(sorted(keep_signed)[:10])}.",
            code="recipient_signed", tenants=", ".join(sorted(keep_signed)[:10]))
    added, removed = [], []
    for tid, tenant in wanted.items():
        if tid not in current:
            ctx.session.add(NoticeRecipient(document_id=doc.id, tenant_id=tid, added_at=ctx.now,
                                            added_by_id=ctx.actor.id if ctx.actor else None))
            added.append(tenant.code)
    for tid, row in current.items():
        if tid not in wanted:
            removed.append(row.tenant.code)
            ctx.session.delete(row)
    ctx.session.flush()
    ctx.record(action, object_type="document", object_id=str(doc.id),
               level=documents.effective_level(ctx, doc).value, reason=decision.reason.value,
               detail={"added": sorted(added), "removed": sorted(removed),
                       "recipients": len(wanted)})
    return RecipientChange(sorted(added), sorted(removed), len(wanted))


# ---------------------------------------------------------------------------
# Sign-offs


def _check_signer(name: str) -> str:
    if not isinstance(name, str):
        raise InvalidInput("Give the name of the person who signed.", code="bad_signer")
    name = name.strip()
    if not name or len(name) > MAX_SIGNER or any(
            unicodedata.category(c) in ("Cc", "Cs") for c in name):
        raise InvalidInput(f"The signer's name must be 1–{MAX_SIGNER} printable characters.",
                           code="bad_signer", limit=MAX_SIGNER)
    return name


def _check_note(note: str | None) -> str | None:
    if note is None or not note.strip():
        return None
    note = note.strip().replace("\r\n", "\n")
    if len(note) > MAX_NOTE or any(
            unicodedata.category(c) in ("Cc", "Cs") and c not in "\n\t" for c in note):
        raise InvalidInput(f"The note must be at most {MAX_NOTE} printable characters.",
                           code="bad_note", limit=MAX_NOTE)
    return note


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise InvalidInput(f"Unknown method {method!r}; methods are: {', '.join(METHODS)}.",
                           code="bad_method")
    return method


def _check_signed_at(ctx: Ctx, doc: Document, signed_at: datetime) -> datetime:
    if not isinstance(signed_at, datetime) or signed_at.tzinfo is None:
        raise InvalidInput("Give the time of the sign-off with its time zone.",
                           code="bad_signed_at")
    if signed_at > ctx.now + FUTURE_SLACK:
        raise InvalidInput("The sign-off cannot be in the future.", code="signed_in_future")
    issued = datetime.combine(doc.issued_on, datetime.min.time(), tzinfo=ctx.settings.tz)
    if signed_at < issued:
        raise InvalidInput(f"The sign-off cannot come before the notice was issued "
                           f"({doc.issued_on.isoformat()}).", code="signed_before_issue",
                           issued_on=doc.issued_on.isoformat())
    return signed_at


def sheet_title(notice_title: str, tenant: Tenant) -> str:
    """"签收单 — <notice> — <tenant>", the notice's title shortened to fit 500 characters."""
    tail = f" — {tenant.name}"
    room = 500 - len(SHEET_PREFIX) - len(" — ") - len(tail)
    title = notice_title if len(notice_title) <= room else notice_title[: room - 1] + "…"
    return f"{SHEET_PREFIX} — {title}{tail}"


def _register_sheet(ctx: Ctx, doc: Document, tenant: Tenant, content: BinaryIO,
                    filename: str) -> Document:
    """The scanned sheet as a document of its own, in the notice's circle (see the
    module docstring). `documents.register` encrypts, versions and audits it."""
    sheet = documents.register(
        ctx, title=sheet_title(doc.title, tenant), category=Category.NOTICE,
        level=Level(doc.level), period=documents.period_of(doc) if Level(doc.level).classified
        else None, issued_on=doc.issued_on, tenant_code=tenant.code, content=content,
        filename=filename)
    # The notice's circle, not the recorder's: registered for the recorder's company,
    # department and supervision by default, then moved to the notice's.
    sheet.company_id = doc.company_id
    sheet.department_id = doc.department_id
    sheet.supervisor_id = doc.supervisor_id
    ctx.session.flush()
    return sheet


def record_sign_off(
    ctx: Ctx,
    doc_id: int,
    tenant_code: str,
    signer_name: str,
    signed_at: datetime,
    method: str,
    sheet: tuple[BinaryIO, str] | None = None,
    note: str | None = None,
) -> SignOff:
    """Record that recipient ``tenant_code`` signed the notice off.

    One sign-off per recipient (a second is a `Conflict`); only recipients sign;
    ``scanned`` needs the sheet (``sheet=(stream, filename)``), which any method may
    carry. The time is neither in the future nor before the notice's issue date.
    Audited ``notice:sign_off``; the sheet's registration is audited as well."""
    action = Action.NOTICE_SIGN_OFF
    doc = load_notice(ctx, doc_id, action)
    decision = policy.can_record_sign_off(ctx.subject, documents.facts(doc, ctx.settings.tz),
                                          ctx.now)
    if not decision.allowed:
        raise _refused(ctx, decision, action, doc,
                       "Sign-offs are recorded by those responsible for the notice and the owning "
                       "department's staff who may read it.")
    method = _check_method(method)
    signer = _check_signer(signer_name)
    note = _check_note(note)
    signed_at = _check_signed_at(ctx, doc, signed_at)
    if method == "scanned" and sheet is None:
        raise InvalidInput("A scanned sign-off needs the scanned sheet.", code="sheet_required")
    code = tenant_code.strip() if isinstance(tenant_code, str) else ""
    tenant = (ctx.session.scalar(select(Tenant).where(Tenant.code == code))
              if accounts.CODE_RE.match(code) else None)
    recipient = None
    if tenant is not None:
        recipient = ctx.session.scalar(select(NoticeRecipient).where(
            NoticeRecipient.document_id == doc.id, NoticeRecipient.tenant_id == tenant.id))
    if tenant is None or recipient is None:
        raise ctx.refuse(
            InvalidInput(f"{code[:32]!r} is not a recipient of this notice; add it to the "
                         "recipients first.", code="not_a_recipient", tenant=code[:32]),
            action, object_type="document", object_id=str(doc.id))
    existing = ctx.session.scalar(select(SignOff).where(
        SignOff.document_id == doc.id, SignOff.tenant_id == tenant.id))
    if existing is not None:
        raise ctx.refuse(
            Conflict(f"{tenant.code} has already signed off this notice.",
                     code="already_signed", tenant=tenant.code),
            action, object_type="document", object_id=str(doc.id))
    sheet_doc = None
    if sheet is not None:
        stream, filename = sheet
        sheet_doc = _register_sheet(ctx, doc, tenant, stream, filename)
    row = SignOff(document_id=doc.id, tenant_id=tenant.id, signer_name=signer,
                  signed_at=signed_at, method=method,
                  sheet_document_id=sheet_doc.id if sheet_doc is not None else None,
                  recorded_by_id=ctx.actor.id if ctx.actor else None, recorded_at=ctx.now,
                  note=note)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.record(action, object_type="document", object_id=str(doc.id),
               level=documents.effective_level(ctx, doc).value, reason=decision.reason.value,
               detail={"tenant": tenant.code, "method": method,
                       "signed_at": signed_at.isoformat(),
                       "sheet": sheet_doc.id if sheet_doc is not None else None})
    return row


# ---------------------------------------------------------------------------
# Progress and export


@dataclass
class RecipientRow:
    code: str
    name: str
    unit: str | None
    status: str
    signed: bool
    signer: str | None = None
    signed_at: datetime | None = None
    method: str | None = None
    sheet_document_id: int | None = None
    #: Whether the reader may know of the sheet's document (to link to it).
    sheet_visible: bool = False
    recorded_by: str | None = None
    note: str | None = None


@dataclass
class Progress:
    document_id: int
    title: str
    category: str
    level: str
    marking: str
    company_id: int
    recipients: list[RecipientRow]

    @property
    def signed(self) -> list[RecipientRow]:
        return [r for r in self.recipients if r.signed]

    @property
    def unsigned(self) -> list[RecipientRow]:
        return [r for r in self.recipients if not r.signed]

    @property
    def total(self) -> int:
        return len(self.recipients)

    @property
    def signed_count(self) -> int:
        return len(self.signed)

    @property
    def unsigned_count(self) -> int:
        return self.total - self.signed_count

    @property
    def percent(self) -> int:
        """Signed share, rounded to the nearest whole percent (2 of 3: 67), yet 100
        only when everyone has signed and 0 only when nobody has."""
        if not self.total or not self.signed_count:
            return 0
        if self.signed_count == self.total:
            return 100
        return min(99, max(1, (200 * self.signed_count + self.total) // (2 * self.total)))


def _progress(ctx: Ctx, doc: Document, lang: str) -> Progress:
    tz = ctx.settings.tz
    level = documents.effective_level(ctx, doc)
    period = documents.period_of(doc) if level.classified else policy.NO_PERIOD
    signed = _sign_offs(ctx, doc.id)
    subject = ctx.subject
    rows = []
    for r in _recipients(ctx, doc.id):
        t, s = r.tenant, signed.get(r.tenant_id)
        row = RecipientRow(code=t.code, name=t.name, unit=t.unit, status=t.status,
                           signed=s is not None)
        if s is not None:
            row.signer, row.signed_at, row.method = s.signer_name, s.signed_at, s.method
            row.sheet_document_id, row.note = s.sheet_document_id, s.note
            row.recorded_by = s.recorded_by.name if s.recorded_by is not None else None
            if s.sheet is not None:
                row.sheet_visible = policy.can_see_metadata(
                    subject, documents.facts(s.sheet, tz), ctx.now).allowed
        rows.append(row)
    return Progress(document_id=doc.id, title=doc.title, category=doc.category,
                    level=level.value, marking=policy.marking(level, period, lang),
                    company_id=doc.company_id, recipients=rows)


def progress(ctx: Ctx, doc_id: int, lang: str = "zh") -> Progress:
    """Who has signed and who has not, with counts and the signed percentage; for
    anyone who may know of the notice (metadata; not audited — reading the notice's
    page is)."""
    doc = load_notice(ctx, doc_id, Action.DOCUMENT_VIEW_METADATA)
    return _progress(ctx, doc, lang)


def progress_of(ctx: Ctx, doc: Document, lang: str = "zh") -> Progress | None:
    """The progress of an already loaded document, or None when it is no notice (for
    the document page's section)."""
    if not is_notice(doc) or _is_sheet(ctx, doc.id):
        return None
    return _progress(ctx, doc, lang)


CSV_HEADER = (
    "租户编号 Tenant code",
    "租户名称 Tenant name",
    "单元 Unit",
    "已签收 Signed",
    "签收人 Signer",
    "签收时间 Signed at",
    "签收方式 Method",
    "签收单文件编号 Sheet document",
    "备注 Note",
)


def _cell(value: object) -> str:
    """A spreadsheet cell that can never be read as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def export_csv(ctx: Ctx, doc_id: int) -> str:
    """The sign-off list as CSV for a spreadsheet: UTF-8 with a byte-order mark (so
    Excel reads the Chinese), a Chinese and English header row, one row per
    recipient, times in the group's time zone. Audited ``notice:export``."""
    doc = load_notice(ctx, doc_id, Action.NOTICE_EXPORT)
    report = _progress(ctx, doc, "zh")
    tz = ctx.settings.tz
    offset = ctx.settings.utc_offset_hours
    zone = f"UTC{'+' if offset >= 0 else '-'}{abs(offset)}"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header = list(CSV_HEADER)
    header[5] = f"{header[5]} ({zone})"
    writer.writerow(header)
    for r in report.recipients:
        zh, en = METHOD_LABELS.get(r.method or "", ("", ""))
        writer.writerow([
            _cell(r.code), _cell(r.name), _cell(r.unit),
            "是 yes" if r.signed else "否 no",
            _cell(r.signer),
            r.signed_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if r.signed_at else "",
            f"{zh} {en}" if r.method else "",
            r.sheet_document_id or "",
            _cell(r.note),
        ])
    ctx.record(Action.NOTICE_EXPORT, object_type="document", object_id=str(doc.id),
               level=report.level, reason="csv",
               detail={"recipients": report.total, "signed": report.signed_count})
    return "\ufeff" + out.getvalue()
