"""Call recordings (录音) from the 24-hour hotline: registration, the request record
(诉求记录) they belong to, the archive register (录音存档记录表) and the retention purge.

A recording is a document of category ``call_recording`` (秘密 by default, like
any other file: same encryption, same scope) plus a `Recording` row with the
call's metadata. The regulation keeps recordings at least 30 days
(`Settings.recording_retention_days`, refused below 30 at start-up); after the
retention period `purge` destroys each version's data key and blob. The
metadata and the audit trail stay: what was destroyed, and when, remains known.

A recording of a special event is archived instead (提取录音另行保存): whoever may
listen to it (`policy.can_view`) may archive it, stating the reason and the event;
the archive register keeps who, when, why, and archived recordings are never
purged. Archiving is final (no un-archive): the register is a record, not a flag.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from sqlalchemy import exists, select

from vault import policy
from vault.actions import Action, Outcome
from vault.errors import ConfigError, Conflict, InvalidInput, NotFound
from vault.models import Document, Recording, RecordingArchive
from vault.policy import Category
from vault.services import documents, search_index
from vault.services.context import Ctx

#: The regulation's floor (录音保存不低于30天); Settings.check refuses less at start-up.
MIN_RETENTION_DAYS = 30
#: How far ahead of the server's clock a call time may be (clocks drift).
FUTURE_SLACK = timedelta(minutes=5)
EARLIEST_CALL = datetime(2000, 1, 1, tzinfo=UTC)
SOURCES = ("upload", "api")
MAX_REASON = 2000
MAX_EVENT = 500
MAX_AGENT = 100
MAX_LIST = 500
MAX_SEARCH = 10_000

_CALLER = re.compile(r"[0-9+\- ]{3,32}")
_REQUEST_REF = re.compile(r"[A-Za-z0-9_/-]{1,64}")


# ---------------------------------------------------------------------------
# Checking the call's metadata


def check_caller_number(value: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not _CALLER.fullmatch(text) or not any(c.isdigit() for c in text):
        raise InvalidInput(
            "The caller number must be 3–32 characters: digits, +, - and spaces.",
            code="bad_caller_number",
        )
    return text


def check_called_at(value: datetime, now: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput("The call time needs its UTC offset (e.g. 2026-05-01T09:30+08:00).",
                           code="bad_called_at")
    at = value.astimezone(UTC)
    if at < EARLIEST_CALL:
        raise InvalidInput("The call time lies before 2000.", code="bad_called_at")
    if at > now + FUTURE_SLACK:
        raise InvalidInput("The call time lies in the future.", code="called_at_in_future")
    return at


def check_agent(value: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(text) <= MAX_AGENT or not text.isprintable():
        raise InvalidInput(f"The agent must be 1–{MAX_AGENT} printable characters.",
                           code="bad_agent")
    return text


def check_request_ref(value: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not _REQUEST_REF.fullmatch(text):
        raise InvalidInput(
            "The request record reference (诉求记录) must be 1–64 characters: letters, "
            "digits, - _ and /.",
            code="bad_request_ref",
        )
    return text


def _free_text(value: str, what: str, code: str, limit: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput(f"State the {what}.", code=f"{code}_required")
    if len(text) > limit or any(not c.isprintable() and c not in "\n\t" for c in text):
        raise InvalidInput(f"The {what} must be at most {limit} printable characters.",
                           code=f"bad_{code}")
    return text


# ---------------------------------------------------------------------------
# Plain data for pages, the API and the CLI (built while the session is open)


@dataclass(frozen=True)
class ArchiveEntry:
    """One line of the 录音存档记录表."""

    document_id: int
    title: str
    request_ref: str
    called_at: datetime
    archived_by: str
    archived_by_name: str
    archived_at: datetime
    reason: str
    event: str


@dataclass(frozen=True)
class RecordingInfo:
    document_id: int
    title: str
    level: str
    marking: str
    company: str
    caller_number: str
    called_at: datetime
    agent: str
    request_ref: str
    source: str
    media_type: str | None
    size: int
    purged_at: datetime | None
    #: When the purge may destroy it (None once archived or purged).
    purge_after: datetime | None
    archive: ArchiveEntry | None
    may_view: bool
    may_archive: bool

    @property
    def playable(self) -> bool:
        return self.may_view and self.purged_at is None


def _entry(row: RecordingArchive, rec: Recording) -> ArchiveEntry:
    return ArchiveEntry(
        document_id=rec.document_id, title=rec.document.title, request_ref=rec.request_ref,
        called_at=rec.called_at,
        archived_by=row.archived_by.username if row.archived_by else "system",
        archived_by_name=row.archived_by.name if row.archived_by else "vault jobs run",
        archived_at=row.archived_at,
        reason=row.reason, event=row.event,
    )


def _archive_of(ctx: Ctx, doc_id: int) -> RecordingArchive | None:
    return ctx.session.scalar(
        select(RecordingArchive).where(RecordingArchive.document_id == doc_id))


def _info(ctx: Ctx, rec: Recording, lang: str,
          archived: RecordingArchive | None) -> RecordingInfo:
    doc = rec.document
    doc_facts = documents.facts(doc, ctx.settings.tz)
    level = policy.effective_level(doc_facts, ctx.now)
    period = documents.period_of(doc) if level.classified else policy.NO_PERIOD
    stored = [v for v in doc.versions if v.blob_id is not None]
    latest = stored[-1] if stored else (doc.versions[-1] if doc.versions else None)
    may_view = policy.can_view(ctx.subject, doc_facts, ctx.now).allowed
    retention = timedelta(days=ctx.settings.recording_retention_days)
    return RecordingInfo(
        document_id=doc.id, title=doc.title, level=level.value,
        marking=policy.marking(level, period, lang), company=doc.company.code,
        caller_number=rec.caller_number, called_at=rec.called_at, agent=rec.agent,
        request_ref=rec.request_ref, source=rec.source,
        media_type=latest.media_type if latest else None,
        size=latest.size if latest else 0,
        purged_at=rec.purged_at,
        purge_after=(rec.called_at + retention
                     if archived is None and rec.purged_at is None else None),
        archive=_entry(archived, rec) if archived is not None else None,
        may_view=may_view,
        may_archive=may_view and archived is None and rec.purged_at is None,
    )


# ---------------------------------------------------------------------------
# Registering


def register(
    ctx: Ctx,
    *,
    content: BinaryIO,
    filename: str,
    caller_number: str,
    called_at: datetime,
    agent: str,
    request_ref: str,
    title: str | None = None,
    department_code: str | None = None,
    tenant_code: str | None = None,
    source: str = "upload",
) -> Document:
    """Register a call recording: an encrypted ``call_recording`` document at its
    category's level (秘密), issued on the day of the call, plus its `Recording` row.

    Every field is checked before a byte of the audio is read; the audio's type is
    checked by content (audio only). Audited by `documents.register`.
    """
    caller_number = check_caller_number(caller_number)
    called_at = check_called_at(called_at, ctx.now)
    agent = check_agent(agent)
    request_ref = check_request_ref(request_ref)
    if source not in SOURCES:
        raise InvalidInput(f"Unknown source {source!r}; sources are: {', '.join(SOURCES)}.",
                           code="bad_source")
    tz = ctx.settings.tz
    local = called_at.astimezone(tz)
    if title is None or not title.strip():
        title = f"通话录音 {request_ref} {local:%Y-%m-%d %H:%M}"
    doc = documents.register(
        ctx, title=title, category=Category.CALL_RECORDING,
        issued_on=local.date(), department_code=department_code, tenant_code=tenant_code,
        content=content, filename=filename,
    )
    from vault.services import requests  # the register links back to recordings

    # The reference names a request record of the company; one it does not know yet
    # becomes a legacy record, as the migration made of older references.
    req = requests.link_legacy(ctx, doc.company_id, doc.department_id, doc.tenant_id,
                               request_ref, called_at)
    ctx.session.add(Recording(
        document_id=doc.id, caller_number=caller_number, called_at=called_at, agent=agent,
        request_ref=request_ref, request_id=req.id, source=source,
    ))
    ctx.session.flush()
    return doc


# ---------------------------------------------------------------------------
# Finding


def _visible(ctx: Ctx, recs: Iterable[Recording]) -> list[Recording]:
    subject = ctx.subject
    tz = ctx.settings.tz
    return [r for r in recs
            if policy.can_see_metadata(subject, documents.facts(r.document, tz), ctx.now).allowed]


def search(ctx: Ctx, request_ref: str | None = None, limit: int = 200,
           lang: str = "zh") -> list[RecordingInfo]:
    """Recordings the actor may know of (the rest does not exist), newest call first;
    of one request record when ``request_ref`` is given."""
    if not 1 <= limit <= MAX_SEARCH:
        raise InvalidInput(f"limit must be 1–{MAX_SEARCH}.", code="bad_limit")
    stmt = select(Recording).order_by(Recording.called_at.desc(), Recording.document_id.desc())
    if request_ref is not None:
        stmt = stmt.where(Recording.request_ref == check_request_ref(request_ref))
    found = _visible(ctx, ctx.session.scalars(stmt))[:limit]
    archives = {a.document_id: a for a in ctx.session.scalars(
        select(RecordingArchive).where(
            RecordingArchive.document_id.in_([r.document_id for r in found])))}
    return [_info(ctx, r, lang, archives.get(r.document_id)) for r in found]


def for_request(ctx: Ctx, request_ref: str, lang: str = "zh") -> list[RecordingInfo]:
    """The recordings of one 诉求记录 the actor may know of, in call order."""
    return sorted(search(ctx, request_ref, MAX_SEARCH, lang), key=lambda i: i.called_at)


def _load(ctx: Ctx, doc_id: int, action: Action, need: str = "metadata") -> Recording:
    doc = documents.load(ctx, doc_id, action, need=need)
    rec = ctx.session.get(Recording, doc.id)
    if rec is None:
        raise ctx.refuse(NotFound(f"Document {doc_id} is not a call recording.",
                                  code="not_a_recording"),
                         action, object_type="document", object_id=str(doc_id))
    return rec


def show(ctx: Ctx, doc_id: int, lang: str = "zh") -> RecordingInfo:
    """One recording's metadata, for someone who may know of it; audited as a
    metadata view (the audio itself is released, and audited, by the viewer)."""
    rec = _load(ctx, doc_id, Action.DOCUMENT_VIEW_METADATA)
    info = _info(ctx, rec, lang, _archive_of(ctx, rec.document_id))
    ctx.record(Action.DOCUMENT_VIEW_METADATA, object_type="document",
               object_id=str(rec.document_id), level=info.level, reason="metadata",
               detail={"part": "recording"})
    return info


def describe(ctx: Ctx, doc: Document, lang: str = "zh") -> RecordingInfo:
    """The metadata of a recording the caller already holds (just registered)."""
    rec = ctx.session.get(Recording, doc.id)
    if rec is None:
        raise NotFound(f"Document {doc.id} is not a call recording.", code="not_a_recording")
    return _info(ctx, rec, lang, _archive_of(ctx, rec.document_id))


# ---------------------------------------------------------------------------
# The archive register (录音存档记录表)


def archive(ctx: Ctx, doc_id: int, reason: str, event: str) -> RecordingArchive:
    """Keep a recording of a special event (提取录音另行保存): never purged.

    Whoever may listen to the recording (`policy.can_view`) may archive it; the
    reason and the event are required. Archiving twice, or a recording already
    destroyed, is a `Conflict`. Audited ``recording:archive``.
    """
    reason = _free_text(reason, "reason for keeping the recording", "reason", MAX_REASON)
    event = _free_text(event, "special event", "event", MAX_EVENT)
    rec = _load(ctx, doc_id, Action.RECORDING_ARCHIVE, need="view")
    # Hold the row: a purge running now either waits for this archive or has
    # already destroyed the recording (and then it cannot be archived).
    ctx.session.execute(select(Recording.document_id)
                        .where(Recording.document_id == rec.document_id).with_for_update())
    ctx.session.refresh(rec)
    level = documents.effective_level(ctx, rec.document).value
    target: dict[str, Any] = {"object_type": "document", "object_id": str(rec.document_id),
                              "level": level}
    if rec.purged_at is not None:
        raise ctx.refuse(Conflict("This recording was destroyed after the retention period; "
                                  "there is nothing left to keep.", code="recording_purged"),
                         Action.RECORDING_ARCHIVE, **target)
    if _archive_of(ctx, rec.document_id) is not None:
        raise ctx.refuse(Conflict("This recording is already in the archive register.",
                                  code="already_archived"),
                         Action.RECORDING_ARCHIVE, **target)
    assert ctx.actor is not None
    row = RecordingArchive(document_id=rec.document_id, archived_by_id=ctx.actor.id,
                           archived_at=ctx.now, reason=reason, event=event)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.record(Action.RECORDING_ARCHIVE, Outcome.ALLOWED, **target, reason="special_event",
               detail={"event": event, "why": reason, "request_ref": rec.request_ref,
                       "called_at": rec.called_at.isoformat()})
    return row


def entry_of(ctx: Ctx, row: RecordingArchive) -> ArchiveEntry:
    """The register line of an archive the caller holds (just written)."""
    rec = ctx.session.get(Recording, row.document_id)
    assert rec is not None
    return _entry(row, rec)


def archive_register(ctx: Ctx) -> list[ArchiveEntry]:
    """The 录音存档记录表, newest first: every archived recording the actor may know of."""
    rows = ctx.session.scalars(
        select(RecordingArchive).order_by(RecordingArchive.archived_at.desc(),
                                          RecordingArchive.id.desc()))
    out = []
    for row in rows:
        rec = ctx.session.get(Recording, row.document_id)
        if rec is not None and _visible(ctx, [rec]):
            out.append(_entry(row, rec))
    return out


# ---------------------------------------------------------------------------
# The retention purge


@dataclass(frozen=True)
class Purged:
    document_id: int
    title: str
    called_at: datetime
    request_ref: str
    versions: int
    size: int


def retention_days(ctx: Ctx) -> int:
    days = ctx.settings.recording_retention_days
    if days < MIN_RETENTION_DAYS:
        raise ConfigError(
            "VAULT_RECORDING_RETENTION_DAYS must be at least 30 (recordings are kept at "
            f"least 30 days); it is {days}.", code="retention_too_short")
    return days


def _deletion(ctx: Ctx, blob_id: str) -> Callable[[], object]:
    blobs = ctx.infra.blobs
    return lambda: blobs.delete(blob_id)


def purge(ctx: Ctx, dry_run: bool = False, limit: int | None = None) -> list[Purged]:
    """Destroy every recording whose call is older than the retention period, not
    archived and not yet destroyed: each version's wrapped data key is deleted in
    this transaction and its blob after the commit (a blob left behind by a crash is
    undecryptable without its key, and `vault doctor --repair` removes it). The
    `Document` and `Recording` rows stay, with ``purged_at`` set; each recording gets
    a ``recording:purge`` event (by "system" when no one acts).

    Running it again changes nothing. ``dry_run`` lists what would be destroyed and
    writes nothing, not even an event. ``limit`` bounds one batch (oldest first).
    """
    days = retention_days(ctx)
    cutoff = ctx.now - timedelta(days=days)
    stmt = (
        select(Recording)
        .where(Recording.purged_at.is_(None), Recording.called_at < cutoff)
        .where(~exists().where(RecordingArchive.document_id == Recording.document_id))
        .order_by(Recording.called_at, Recording.document_id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    if not dry_run:
        # Two purges at once (two servers' job runs) never destroy the same row twice;
        # an archive in progress keeps its row.
        stmt = stmt.with_for_update(of=Recording, skip_locked=True)
    done: list[Purged] = []
    for rec in ctx.session.scalars(stmt).all():
        doc = rec.document
        stored = [v for v in doc.versions if v.blob_id is not None or v.wrapped_key is not None]
        done.append(Purged(doc.id, doc.title, rec.called_at, rec.request_ref, len(stored),
                           sum(v.size for v in stored)))
        if dry_run:
            continue
        for ver in stored:
            blob_id = ver.blob_id
            ver.wrapped_key = None
            ver.master_key_id = None
            ver.blob_id = None
            if blob_id is not None:
                ctx.after_commit(_deletion(ctx, blob_id))
        rec.purged_at = ctx.now
        search_index.forget(ctx, doc.id)  # its text key, text and postings too
        ctx.record(
            Action.RECORDING_PURGE, object_type="document", object_id=str(doc.id),
            level=documents.effective_level(ctx, doc).value, reason="retention_expired",
            detail={"called_at": rec.called_at.isoformat(), "request_ref": rec.request_ref,
                    "retention_days": days, "versions": len(stored)},
        )
    if not dry_run:
        ctx.session.flush()
    return done
