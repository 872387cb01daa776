"""The content index: extraction in the background, encrypted text, keyed postings.

- `enqueue` (called by registration and every new version, in their unit of
  work) marks the document's text row ``pending``: the upload answers at once.
- `work` (the ``index`` job of `vault jobs run`, `vault index work` and
  `vault index rebuild`) claims pending rows one at a time with a conditional
  UPDATE — the lease machinery of `vault.services.jobs`, per document, so several
  workers share the queue and a dead worker's row is taken over when its lease
  runs out — decrypts the file in memory, extracts its text (`vault.extract`;
  OCR through Tesseract's stdin), and in one unit of work replaces the
  document's postings and stores the text encrypted under a data key of its own,
  wrapped by the master key like a file version's.
- The postings hold ``(HMAC(index key, token)[:8], document, version, tf)`` and
  nothing else; the index key is wrapped by the master key and re-wrapped on
  rotation (`rewrap_all`). `forget` destroys a document's text key, text and
  postings (the recording purge).

A worker only writes its result if the row still names its claim: a newer
version queued meanwhile wins and is extracted next.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vault import extract, textindex
from vault.actions import Action, Outcome
from vault.crypto import envelope
from vault.errors import VaultError
from vault.models import Document, DocumentText, DocumentVersion, IndexKey, Posting
from vault.services.content import StoredVersion, read_version
from vault.services.context import Ctx, Infra, unit_of_work

log = logging.getLogger(__name__)

INDEX_KEY_ID = 1
#: How long a claimed document stays with its worker (OCR of a long scan included).
LEASE = timedelta(minutes=15)
#: Files larger than this are indexed by title only (their text is not extracted).
MAX_EXTRACT_BYTES = 256 * 1024 * 1024
#: Progress is written to the text row at most this often (seconds).
PROGRESS_EVERY = 2.0

PENDING, RUNNING, DONE, FAILED, PURGED = "pending", "running", "done", "failed", "purged"

_keys: dict[tuple[str, bytes], bytes] = {}


# ---------------------------------------------------------------------------
# The index key


def index_key(infra: Infra, session: Session | None = None) -> bytes | None:
    """The HMAC key of the index, unwrapped. Without ``session`` it is made on first
    use (in a transaction of its own); read through a caller's ``session`` (which on
    SQLite already holds the writer lock) it is None until then: nothing is indexed."""
    if session is not None:
        row = session.get(IndexKey, INDEX_KEY_ID)
        if row is None:
            return None
        return _unwrap(infra, row.master_key_id, bytes(row.wrapped_key))
    with infra.sessions() as own:
        row = own.get(IndexKey, INDEX_KEY_ID)
        if row is None:
            master_id, wrapped = infra.keyring.wrap(envelope.new_data_key())
            own.add(IndexKey(id=INDEX_KEY_ID, wrapped_key=wrapped, master_key_id=master_id,
                             created_at=datetime.now(UTC)))
            try:
                own.commit()
            except IntegrityError:  # another process made it at the same moment
                own.rollback()
            row = own.get(IndexKey, INDEX_KEY_ID)
            assert row is not None
        master_id, wrapped = row.master_key_id, bytes(row.wrapped_key)
    return _unwrap(infra, master_id, wrapped)


def _unwrap(infra: Infra, master_id: str, wrapped: bytes) -> bytes:
    key = _keys.get((master_id, wrapped))
    if key is None:
        key = infra.keyring.unwrap(master_id, wrapped)
        _keys.clear()
        _keys[(master_id, wrapped)] = key
    return key


def rewrap_all(ctx: Ctx) -> int:
    """Re-wrap the index key and every text key under the active master key."""
    ring = ctx.infra.keyring
    done = 0
    row = ctx.session.get(IndexKey, INDEX_KEY_ID)
    if row is not None and row.master_key_id != ring.active_id:
        row.master_key_id, row.wrapped_key = ring.rewrap(row.master_key_id, row.wrapped_key)
        done += 1
    texts = ctx.session.scalars(
        select(DocumentText).where(DocumentText.wrapped_key.is_not(None),
                                   DocumentText.master_key_id != ring.active_id)
    )
    for text in texts:
        assert text.master_key_id is not None and text.wrapped_key is not None
        text.master_key_id, text.wrapped_key = ring.rewrap(text.master_key_id, text.wrapped_key)
        done += 1
    if done:
        ctx.record(Action.KEY_ROTATE, object_type="master_key", object_id=ring.active_id,
                   reason="rewrapped_index", detail={"rows": done})
    return done


def key_usage(session: Session) -> list[tuple[str, int]]:
    """(master key id, wrapped keys) of the index key and the text keys."""
    rows = session.execute(
        select(DocumentText.master_key_id, func.count())
        .where(DocumentText.wrapped_key.is_not(None))
        .group_by(DocumentText.master_key_id)
    ).all()
    out = [(str(k), int(n)) for k, n in rows]
    out += [(r.master_key_id, 1) for r in session.scalars(select(IndexKey))]
    return out


# ---------------------------------------------------------------------------
# The queue


def enqueue(ctx: Ctx, document_id: int, version: int) -> None:
    """Queue ``version`` of the document (0: no content, title only) for extraction."""
    row = ctx.session.get(DocumentText, document_id)
    if row is None:
        ctx.session.add(DocumentText(document_id=document_id, version=version, state=PENDING,
                                     queued_at=ctx.now))
        ctx.session.flush()
        return
    row.version, row.state, row.queued_at = version, PENDING, ctx.now
    row.holder = row.locked_until = row.error = None
    row.attempts = row.pages_done = row.pages_total = 0


def _latest_version(doc: Document) -> int:
    stored = [v.number for v in doc.versions if v.blob_id is not None]
    return max(stored, default=0)


def enqueue_all(infra: Infra, document_id: int | None = None, now: datetime | None = None,
                batch: int = 500) -> int:
    """Queue every document (or one) again at its latest version: a rebuild."""
    now = now or datetime.now(UTC)
    count = 0
    last = 0
    while True:
        with unit_of_work(infra, None, now, source="cli") as ctx:
            stmt = select(Document).order_by(Document.id).where(Document.id > last).limit(batch)
            if document_id is not None:
                stmt = stmt.where(Document.id == document_id)
            docs = list(ctx.session.scalars(stmt))
            for doc in docs:
                enqueue(ctx, doc.id, _latest_version(doc))
            if docs:
                last = docs[-1].id
                count += len(docs)
        if len(docs) < batch or document_id is not None:
            return count


def queued(infra: Infra) -> int:
    with infra.sessions() as session:
        return int(session.scalar(
            select(func.count()).select_from(DocumentText)
            .where(DocumentText.state.in_((PENDING, RUNNING)))
        ) or 0)


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[-100:]


def claim(infra: Infra, holder: str, now: datetime) -> tuple[int, int] | None:
    """Take the next pending document (or one whose worker's lease ran out)."""
    takeable = or_(DocumentText.state == PENDING,
                   (DocumentText.state == RUNNING) & (DocumentText.locked_until < now))
    with infra.sessions() as session:
        candidates = session.execute(
            select(DocumentText.document_id, DocumentText.version).where(takeable)
            .order_by(DocumentText.queued_at, DocumentText.document_id).limit(20)
        ).all()
    for doc_id, version in candidates:
        with infra.sessions() as session:
            result = session.execute(
                update(DocumentText)
                .where(DocumentText.document_id == doc_id, DocumentText.version == version,
                       takeable)
                .values(state=RUNNING, holder=holder, locked_until=now + LEASE,
                        attempts=DocumentText.attempts + 1, pages_done=0)
                .execution_options(synchronize_session=False)
            )
            session.commit()
        if int(getattr(result, "rowcount", 0) or 0) == 1:
            return int(doc_id), int(version)
    return None


# ---------------------------------------------------------------------------
# One document


@dataclass(frozen=True)
class IndexOutcome:
    document_id: int
    state: str  # done, failed, superseded
    method: str
    tokens: int


def _read_version(infra: Infra, doc_id: int, version: int) -> tuple[str, bytes | None, str | None]:
    """(title, plaintext or None, media type) — in memory only."""
    with infra.sessions() as session:
        doc = session.get(Document, doc_id)
        if doc is None:
            return "", None, None
        title = doc.title
        ver = session.scalar(select(DocumentVersion).where(
            DocumentVersion.document_id == doc_id, DocumentVersion.number == version))
        if ver is None or ver.blob_id is None or ver.wrapped_key is None \
                or ver.master_key_id is None:
            return title, None, None
        if ver.size > MAX_EXTRACT_BYTES:
            raise extract.ExtractionError(
                f"the file is larger than {MAX_EXTRACT_BYTES // (1024 * 1024)} MiB")
        stored, media_type = StoredVersion.of(ver), ver.media_type
    return title, read_version(infra, stored), media_type


def _progress_writer(infra: Infra, doc_id: int, holder: str) -> Callable[[int, int], None]:
    last = [0.0]

    def write(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY and done < total:
            return
        last[0] = now
        with infra.sessions() as session:
            session.execute(
                update(DocumentText)
                .where(DocumentText.document_id == doc_id, DocumentText.holder == holder)
                .values(pages_done=done, pages_total=total)
                .execution_options(synchronize_session=False)
            )
            session.commit()

    return write


def _insert_postings(session: Session, rows: list[tuple[int, int, int, int]]) -> None:
    """Insert postings through the driver (a thousand rows per document: the ORM's
    per-row bookkeeping would cost more than the database). PostgreSQL: COPY."""
    if not rows:
        return
    dbapi = session.connection().connection.dbapi_connection
    assert dbapi is not None
    cursor = dbapi.cursor()
    try:
        if session.get_bind().dialect.name == "postgresql":
            with cursor.copy(
                    "COPY postings (token, document_id, version, tf) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(
                "INSERT INTO postings (token, document_id, version, tf) VALUES (?, ?, ?, ?)",
                rows)
    finally:
        cursor.close()


def process(infra: Infra, doc_id: int, version: int, holder: str,
            now: datetime | None = None, ocr: bool = True) -> IndexOutcome:
    """Extract, encrypt and index one claimed document."""
    key = index_key(infra)
    assert key is not None
    error: str | None = None
    result = extract.Extracted("", "none")
    title = ""
    try:
        title, data, media_type = _read_version(infra, doc_id, version)
        if data is not None:
            result = extract.extract(data, media_type, ocr=ocr,
                                     progress=_progress_writer(infra, doc_id, holder))
            del data
    except extract.ExtractionError as exc:
        error = str(exc)
    except VaultError as exc:  # a blob failing authentication, a missing master key
        error = f"{exc.__class__.__name__}: {exc.code}"
    counts = textindex.document_tokens(f"{title}\n{result.text}")
    hashed = textindex.hashed_counts(key, counts)
    length = sum(counts.values())
    ciphertext = wrapped = master_id = None
    if result.text:
        data_key = envelope.new_data_key()
        out = io.BytesIO()
        envelope.encrypt_stream(data_key, io.BytesIO(result.text.encode("utf-8")), out,
                                document_id=doc_id, version=version)
        ciphertext = out.getvalue()
        master_id, wrapped = infra.keyring.wrap(data_key)
    state = FAILED if error else DONE
    with unit_of_work(infra, None, now or datetime.now(UTC), source="job") as ctx:
        row = ctx.session.scalar(
            select(DocumentText).where(DocumentText.document_id == doc_id).with_for_update())
        if row is None or row.holder != holder or row.version != version \
                or row.state != RUNNING:
            return IndexOutcome(doc_id, "superseded", result.method, 0)
        ctx.session.execute(delete(Posting).where(Posting.document_id == doc_id))
        _insert_postings(ctx.session, [(h, doc_id, version, n) for h, n in hashed.items()])
        row.state, row.method, row.error = state, result.method, error
        row.pages_total = row.pages_done = result.pages
        row.ocr_pages, row.chars, row.tokens = result.ocr_pages, len(result.text), length
        row.ciphertext, row.wrapped_key, row.master_key_id = ciphertext, wrapped, master_id
        row.indexed_version = version
        row.holder = row.locked_until = None
        row.finished_at = ctx.now
        doc = ctx.session.get(Document, doc_id)
        ctx.record(
            Action.DOCUMENT_INDEX, Outcome.FAILED if error else Outcome.ALLOWED,
            object_type="document", object_id=str(doc_id),
            level=doc.level if doc else None, reason=state,
            detail={"version": version, "method": result.method, "pages": result.pages,
                    "ocr_pages": result.ocr_pages, "tokens": len(hashed),
                    **({"error": error} if error else {})},
        )
    return IndexOutcome(doc_id, state, result.method, len(hashed))


def work(infra: Infra, *, max_docs: int | None = None, max_seconds: float | None = None,
         holder: str | None = None, now: Callable[[], datetime] | None = None,
         on_done: Callable[[IndexOutcome], object] | None = None,
         ocr: bool = True) -> list[IndexOutcome]:
    """Process the queue until it is empty or a bound is reached."""
    holder = holder or holder_id()
    clock = now or (lambda: datetime.now(UTC))
    started = time.monotonic()
    done: list[IndexOutcome] = []
    while max_docs is None or len(done) < max_docs:
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
        claimed = claim(infra, holder, clock())
        if claimed is None:
            break
        try:
            outcome = process(infra, *claimed, holder, clock(), ocr=ocr)
        except Exception:  # noqa: BLE001 - one bad file must not stop the queue
            log.exception("indexing document %s failed", claimed[0])
            _give_up(infra, claimed[0], holder)
            outcome = IndexOutcome(claimed[0], FAILED, "none", 0)
        done.append(outcome)
        if on_done is not None:
            on_done(outcome)
    return done


def _give_up(infra: Infra, doc_id: int, holder: str) -> None:
    with infra.sessions() as session:
        session.execute(
            update(DocumentText)
            .where(DocumentText.document_id == doc_id, DocumentText.holder == holder)
            .values(state=FAILED, holder=None, locked_until=None, error="internal error")
            .execution_options(synchronize_session=False)
        )
        session.commit()


def job(ctx: Ctx) -> dict[str, int]:
    """The ``index`` job of `vault jobs run`: the queue, for at most four minutes."""
    outcomes = work(ctx.infra, max_seconds=240)
    return {"indexed": sum(o.state == DONE for o in outcomes),
            "failed": sum(o.state == FAILED for o in outcomes),
            "left": queued(ctx.infra)}


# ---------------------------------------------------------------------------
# Purge, status, text


def forget(ctx: Ctx, document_id: int) -> None:
    """Destroy a document's extracted text (its key first) and its postings."""
    ctx.session.execute(delete(Posting).where(Posting.document_id == document_id))
    row = ctx.session.get(DocumentText, document_id)
    if row is not None:
        row.wrapped_key = row.master_key_id = row.ciphertext = None
        row.state, row.tokens, row.chars = PURGED, 0, 0
        row.holder = row.locked_until = None


@dataclass(frozen=True)
class TextStatus:
    state: str  # pending, running, done, failed, purged, none (never queued)
    version: int
    method: str | None
    pages_done: int
    pages_total: int
    ocr_pages: int
    chars: int
    error: str | None
    finished_at: datetime | None


def status(session: Session, document_id: int) -> TextStatus:
    row = session.get(DocumentText, document_id)
    if row is None:
        return TextStatus("none", 0, None, 0, 0, 0, 0, None, None)
    return TextStatus(row.state, row.version, row.method, row.pages_done, row.pages_total,
                      row.ocr_pages, row.chars, row.error, row.finished_at)


def read_text(infra: Infra, row: DocumentText) -> str | None:
    """The decrypted text of a row (the caller checked the reader may view the file)."""
    if row.ciphertext is None or row.wrapped_key is None or row.master_key_id is None \
            or row.indexed_version is None:
        return None
    key = infra.keyring.unwrap(row.master_key_id, row.wrapped_key)
    plain = b"".join(envelope.decrypt_stream(key, io.BytesIO(row.ciphertext),
                                             document_id=row.document_id,
                                             version=row.indexed_version or 0))
    return plain.decode("utf-8")
