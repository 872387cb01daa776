"""Delivering a registered copy: the one download of an approved copy, numbered,
stamped and registered with its audit event before a byte leaves; photocopies of
paper-only certificates issued by the custodian.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, select, update

from vault import policy, stamping
from vault.actions import Action
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound, VaultError
from vault.models import (
    CopyRequest,
    RegisteredCopy,
    User,
)
from vault.policy import CopyKind, Level, Period
from vault.services import accounts, documents, notifications
from vault.services.content import StoredVersion, open_version, read_version
from vault.services.context import Ctx
from vault.services.copies.common import (
    APPROVED,
    DELIVERING,
    ISSUED,
    MAX_STAMP_BYTES,
    SPENT,
    VOID_STATES,
    _event,
    _facts,
    _keeps_loans,
    _note,
    _pages,
    _void,
    approval_facts,
    label,
    state,
)
from vault.services.copies.requests import (
    _reads_register_of,
)

# ---------------------------------------------------------------------------
# Delivering a registered copy


@dataclass
class Delivery:
    copy: RegisteredCopy
    filename: str
    media_type: str
    size: int
    chunks: Iterator[bytes]


def _refuse_download(ctx: Ctx, req: CopyRequest | None, req_id: int, error: Exception,
                     reason: str) -> Exception:
    assert isinstance(error, (Forbidden, NotFound, Conflict))
    extra = _event(req) if req is not None else {"object_type": "copy_request",
                                                 "object_id": str(req_id)}
    return ctx.refuse(error, Action.COPY_DOWNLOAD, reason=reason, **extra)


def _collect(ctx: Ctx, req: CopyRequest, collector: policy.Subject, action: Action) -> None:
    """`policy.can_collect` at the moment of use: refused (and audited) for another
    person, a used or unapproved approval, a passed window; void (nothing released,
    the request marked void, requester and approver told) when it no longer holds."""
    decision = policy.can_collect(collector, approval_facts(ctx, req), ctx.now)
    if decision.allowed:
        return
    reason = decision.reason
    if reason in VOID_STATES:
        raise _void(ctx, req, reason, req.decided_by, action)
    error: VaultError
    if reason is policy.Reason.ALREADY_USED and action is Action.COPY_ISSUE:
        error = Conflict("This photocopy has been issued already.", code="already_issued")
    elif reason is policy.Reason.ALREADY_USED:
        error = Conflict("This approval has been used: an approved copy is downloaded once. "
                         "Ask again if you need another copy.", code="already_downloaded")
    elif reason is policy.Reason.WINDOW_OVER:
        error = Forbidden("The download window of this approval has passed. Ask again.",
                          code="window_expired")
    elif reason is policy.Reason.NOT_APPROVED:
        shown = state(req, ctx.now)
        error = Forbidden(f"This request is {shown}; only an approved request gives a copy.",
                          code="not_approved")
    else:  # inactive, or not the requester
        error = NotFound(f"No request {req.id}.", code="unknown_request")
    raise ctx.refuse(error, action, **_event(req))


def download(ctx: Ctx, req_id: int, lang: str = "zh") -> Delivery:
    """The one download an approval allows: numbered, stamped, registered, audited.

    Refused (and audited) for anyone but the requester, after the window, a second
    time, or when the requester may no longer read the file. The register row and
    the event are written in this unit of work; the caller commits, then sends.
    """
    req = ctx.session.get(CopyRequest, req_id)
    subject = ctx.subject
    if req is None or subject.user_id != req.requester_id:
        # Another person's approval is not theirs to use: the same answer as no request.
        raise _refuse_download(ctx, req, req_id,
                               NotFound(f"No request {req_id}.", code="unknown_request"),
                               "not_requester" if req is not None else "unknown_request")
    kind = CopyKind(req.kind)
    if kind not in DELIVERING:
        raise _refuse_download(ctx, req, req_id, Conflict(
            "This request delivers no file.", code="nothing_to_download"), "nothing_to_download")
    if req.version_number is None:
        raise _refuse_download(ctx, req, req_id, Conflict(
            "This is a photocopy of a paper original: the custodian issues it.",
            code="paper_copy"), "paper_copy")
    _collect(ctx, req, subject, Action.COPY_DOWNLOAD)
    doc = req.document
    doc_facts = _facts(ctx, doc)
    ver = next((v for v in doc.versions if v.number == req.version_number), None)
    if ver is None or ver.blob_id is None or ver.wrapped_key is None or not ver.master_key_id:
        raise _refuse_download(ctx, req, req_id, NotFound(
            "The approved version is no longer stored.", code="unknown_version"),
            "unknown_version")
    # Spend it first: of two downloads at the same moment exactly one goes on.
    spent = ctx.session.execute(
        update(CopyRequest).where(CopyRequest.id == req.id, CopyRequest.status == APPROVED)
        .values(status=SPENT, spent_at=ctx.now).execution_options(synchronize_session=False)
    )
    if getattr(spent, "rowcount", 0) != 1:
        raise _refuse_download(ctx, req, req_id, Conflict(
            "This approval has been used.", code="already_downloaded"), "already_downloaded")
    level = policy.effective_level(doc_facts, ctx.now)
    period = documents.period_of(doc) if level.classified else policy.NO_PERIOD
    number = int(ctx.session.scalar(
        select(func.coalesce(func.max(RegisteredCopy.number), 0))
        .where(RegisteredCopy.document_id == doc.id)
    ) or 0) + 1
    # The copy number carries the level of the original at issue (复印件视同原件).
    copy_label = label(level, doc, number)
    stored = StoredVersion.of(ver)
    media_type = ver.media_type or "application/octet-stream"
    stamped = stamping.can_stamp(media_type)
    pages = req.approved_pages or req.pages
    name = ver.original_name or f"document-{doc.id}"
    if stamped:
        if ver.size > MAX_STAMP_BYTES:
            raise InvalidInput("This file is too large to be stamped as a copy.",
                               code="too_large_to_stamp")
        assert ctx.actor is not None
        lines = stamp_lines(ctx, level, period, copy_label, ctx.actor)
        try:
            data, media_type = stamping.stamp(
                media_type, read_version(ctx, stored), stamping.Stamp(tuple(lines)),
                ctx.settings.font_file,
                pages=_pages(pages, None) if pages else None,
            )
        except stamping.StampError as exc:
            raise InvalidInput(f"The file cannot be stamped: {exc}", code="unstampable") from None
        digest, size = hashlib.sha256(data).hexdigest(), len(data)
        chunks: Iterator[bytes] = iter([data])
    else:
        # Cannot carry a visible mark: delivered as stored; the register keeps its fingerprint.
        h = hashlib.sha256()
        size = 0
        for chunk in open_version(ctx, stored):
            h.update(chunk)
            size += len(chunk)
        digest = h.hexdigest()
        chunks = open_version(ctx, stored)
    assert ctx.actor is not None
    copy = RegisteredCopy(
        document_id=doc.id, number=number, request_id=req.id, kind=kind.value,
        version_number=ver.number, pages=pages if kind is CopyKind.EXCERPT else None,
        recipient_id=ctx.actor.id, approved_by_id=req.decided_by_id, issued_at=ctx.now,
        level_at_issue=level.value, period_at_issue=period.spec() or None, label=copy_label,
        stamped=stamped, media_type=media_type, size=size, sha256=digest, status=ISSUED,
    )
    ctx.session.add(copy)
    ctx.session.flush()
    ctx.record(Action.COPY_DOWNLOAD, level=level.value, reason="released",
               **_event(req, copy=copy_label, copy_id=copy.id, sha256=digest,
                        stamped=stamped, version=ver.number, pages=copy.pages))
    return Delivery(copy, copy_filename(doc.title, name, number), media_type, size, chunks)


_UNSAFE_IN_NAMES = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def copy_filename(title: str, stored_name: str, number: int) -> str:
    """The copy's file name: the document's title (what people know it by), the copy
    number and the stored file's extension — ``2027年度经营计划 (副本 1).pdf``.
    Characters no file system takes become spaces; long titles are cut."""
    base = " ".join(_UNSAFE_IN_NAMES.sub(" ", title).split())[:120].strip(" .") or "document"
    _stem, dot, ext = stored_name.rpartition(".")
    ext = ext if dot and ext.isascii() and ext.isalnum() and len(ext) <= 8 else ""
    return f"{base} (副本 {number}).{ext.lower()}" if ext else f"{base} (副本 {number})"


def issue_photocopy(ctx: Ctx, req_id: int, note: str | None = None) -> RegisteredCopy:
    """The custodian issues an approved photocopy of a paper-only certificate: the copy
    register gets its row and copy number, which the custodian writes on the paper
    (复印件视同原件). The approval is checked again at this moment (`can_collect`
    for the requester, who receives it), exactly as for a download."""
    req = ctx.session.get(CopyRequest, req_id)
    missing = NotFound(f"No request {req_id}.", code="unknown_request")
    if req is None or not _reads_register_of(ctx, req.document):
        raise ctx.refuse(missing, Action.COPY_ISSUE, object_type="copy_request",
                         object_id=str(req_id))
    decision = _keeps_loans(ctx, req.document)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("Only the owning company's custodian issues photocopies "
                                   "(its general manager while it has none).",
                                   code=decision.reason.value), Action.COPY_ISSUE, **_event(req))
    if CopyKind(req.kind) is not CopyKind.COPY or req.version_number is not None:
        raise Conflict("This request is not for a photocopy of a paper original.",
                       code="not_a_photocopy")
    _collect(ctx, req, accounts.subject_of(req.requester), Action.COPY_ISSUE)
    spent = ctx.session.execute(
        update(CopyRequest).where(CopyRequest.id == req.id, CopyRequest.status == APPROVED)
        .values(status=SPENT, spent_at=ctx.now).execution_options(synchronize_session=False))
    if getattr(spent, "rowcount", 0) != 1:
        raise Conflict("This approval has been used.", code="already_issued")
    ctx.session.refresh(req)
    doc = req.document
    level = documents.effective_level(ctx, doc)
    period = documents.period_of(doc) if level.classified else policy.NO_PERIOD
    number = int(ctx.session.scalar(
        select(func.coalesce(func.max(RegisteredCopy.number), 0))
        .where(RegisteredCopy.document_id == doc.id)) or 0) + 1
    copy_label = label(level, doc, number)
    assert ctx.actor is not None
    copy = RegisteredCopy(
        document_id=doc.id, number=number, request_id=req.id, kind=CopyKind.COPY.value,
        version_number=0,  # the paper original: no stored version
        recipient_id=req.requester_id, approved_by_id=req.decided_by_id, issued_at=ctx.now,
        level_at_issue=level.value, period_at_issue=period.spec() or None, label=copy_label,
        stamped=False, media_type=None, size=0, sha256="", status=ISSUED,
        closed_note=None,
    )
    ctx.session.add(copy)
    ctx.session.flush()
    ctx.record(Action.COPY_ISSUE, level=level.value, reason="issued",
               **_event(req, copy=copy_label, copy_id=copy.id, paper=True,
                        recipient=req.requester.username, note=_note(note)))
    notifications.notify(ctx, [req.requester], notifications.Message(
        kind="copy_issued",
        subject_zh=f"已发放：《{doc.title}》复印件 {copy_label}，请到保管员处领取",
        subject_en=f"Issued: photocopy {copy_label} of “{doc.title}”; collect it from the "
                   "custodian",
        link=f"/copies/{req.id}", document_id=doc.id, request_id=req.id))
    return copy


def stamp_lines(ctx: Ctx, level: Level, period: Period, copy_label: str,
                recipient: User) -> list[str]:
    today = ctx.now.astimezone(ctx.settings.tz).strftime("%Y-%m-%d")
    return [
        policy.marking(level, period, "zh"),
        f"{copy_label}（复印件视同原件）",
        f"领取人 {recipient.name}（{recipient.username}）",
        f"{today}",
    ]
