"""The content index: extraction in the background, encrypted text, keyed postings.

- `enqueue` (called by registration and every new version, in their unit of
  work) marks the document's text row ``pending``: the upload answers at once.
- `work` (the ``index`` job of `vault jobs run`, `vault index work` and
  `vault index rebuild`) claims a batch of pending rows (up to `BATCH`) with one
  conditional UPDATE — the lease machinery of `vault.services.jobs`, per
  document, so several workers share the queue and a dead worker's rows are
  taken over when their lease runs out — decrypts each file in memory, extracts
  its text (`vault.extract`; OCR through Tesseract's stdin), tokenises, hashes
  and encrypts it, and then in one unit of work replaces the batch's postings
  (one bulk insert: COPY on PostgreSQL), stores the texts encrypted under data
  keys of their own, wrapped by the master key like a file version's, and writes
  one ``document:index`` event per document (one commit, one fsync, for the
  batch). A batch whose extraction runs long (OCR) is written every
  `BATCH_SECONDS`.
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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, or_, select, update
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


def _takeable(now: datetime) -> ColumnElement[bool]:
    return or_(DocumentText.state == PENDING,
               (DocumentText.state == RUNNING) & (DocumentText.locked_until < now))


def claim_batch(infra: Infra, holder: str, now: datetime, limit: int = 1
                ) -> list[tuple[int, int]]:
    """Take up to ``limit`` pending documents (or ones whose worker's lease ran out)
    with one conditional UPDATE: (document, version) of those this worker now holds.
    Another worker's UPDATE of the same rows finds them no longer takeable."""
    with infra.sessions() as session:
        ids = list(session.scalars(
            select(DocumentText.document_id).where(_takeable(now))
            .order_by(DocumentText.queued_at, DocumentText.document_id).limit(limit)
        ))
        if not ids:
            return []
        session.execute(
            update(DocumentText)
            .where(DocumentText.document_id.in_(ids), _takeable(now))
            .values(state=RUNNING, holder=holder, locked_until=now + LEASE,
                    attempts=DocumentText.attempts + 1, pages_done=0)
            .execution_options(synchronize_session=False)
        )
        claimed = session.execute(
            select(DocumentText.document_id, DocumentText.version)
            .where(DocumentText.document_id.in_(ids), DocumentText.holder == holder,
                   DocumentText.state == RUNNING)
            .order_by(DocumentText.queued_at, DocumentText.document_id)
        ).all()
        session.commit()
    return [(int(d), int(v)) for d, v in claimed]


def claim(infra: Infra, holder: str, now: datetime) -> tuple[int, int] | None:
    """Take the next pending document (or one whose worker's lease ran out)."""
    for _ in range(5):  # lost a race for every candidate: look again
        taken = claim_batch(infra, holder, now, 1)
        if taken:
            return taken[0]
        with infra.sessions() as session:
            if session.scalar(select(func.count()).select_from(DocumentText)
                              .where(_takeable(now))) == 0:
                return None
    return None


def _renew(infra: Infra, holder: str, now: datetime) -> None:
    """Extend this worker's lease on the documents it still holds (a long batch)."""
    with infra.sessions() as session:
        session.execute(
            update(DocumentText)
            .where(DocumentText.holder == holder, DocumentText.state == RUNNING)
            .values(locked_until=now + LEASE)
            .execution_options(synchronize_session=False)
        )
        session.commit()


# ---------------------------------------------------------------------------
# Documents, a batch at a time


@dataclass(frozen=True)
class IndexOutcome:
    document_id: int
    state: str  # done, failed, superseded
    method: str
    tokens: int


@dataclass(frozen=True)
class _Source:
    """What is needed to read one claimed version (no plaintext)."""

    document_id: int
    version: int
    title: str
    stored: StoredVersion | None = None  # None: no content (title only)
    media_type: str | None = None
    size: int = 0


@dataclass(frozen=True)
class _Prepared:
    """One document ready to be written: hashed postings and the encrypted text."""

    source: _Source
    state: str
    method: str
    pages: int
    ocr_pages: int
    chars: int
    length: int
    postings: dict[int, int]
    ciphertext: bytes | None
    wrapped: bytes | None
    master_id: str | None
    error: str | None


def _sources(infra: Infra, claimed: list[tuple[int, int]]) -> list[_Source]:
    """The claimed versions' titles and wrapped keys, in two statements."""
    ids = [d for d, _ in claimed]
    with infra.sessions() as session:
        titles = dict(session.execute(
            select(Document.id, Document.title).where(Document.id.in_(ids))).all())
        versions = {(v.document_id, v.number): v for v in session.scalars(
            select(DocumentVersion).where(DocumentVersion.document_id.in_(ids),
                                          DocumentVersion.number.in_({n for _, n in claimed})))}
        out = []
        for doc_id, number in claimed:
            title = str(titles.get(doc_id, ""))
            ver = versions.get((doc_id, number))
            if ver is None or ver.blob_id is None or ver.wrapped_key is None \
                    or ver.master_key_id is None:
                out.append(_Source(doc_id, number, title))
                continue
            out.append(_Source(doc_id, number, title, StoredVersion.of(ver), ver.media_type,
                               int(ver.size)))
    return out


def _read(infra: Infra, src: _Source) -> bytes | None:
    """The plaintext of a claimed version, in memory only."""
    if src.stored is None:
        return None
    if src.size > MAX_EXTRACT_BYTES:
        raise extract.ExtractionError(
            f"the file is larger than {MAX_EXTRACT_BYTES // (1024 * 1024)} MiB")
    return read_version(infra, src.stored)


class _Hasher:
    """Keyed token hashes for one batch: a token met again in the batch is not hashed
    again. The tokens live in memory for the batch only, like the texts."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.seen: dict[str, int] = {}

    def counts(self, counts: Counter[str]) -> dict[int, int]:
        seen, key = self.seen, self.key
        out: dict[int, int] = {}
        for token, n in counts.items():
            h = seen.get(token)
            if h is None:
                h = seen[token] = textindex.token_hash(key, token)
            out[h] = out.get(h, 0) + n
        return out


def _prepare(infra: Infra, src: _Source, hasher: _Hasher, holder: str,
             ocr: bool) -> _Prepared:
    """Extract, tokenise, hash and encrypt one document (no database write)."""
    error: str | None = None
    result = extract.Extracted("", "none")
    try:
        data = _read(infra, src)
        if data is not None:
            result = extract.extract(data, src.media_type, ocr=ocr,
                                     progress=_progress_writer(infra, src.document_id, holder))
            del data
    except extract.ExtractionError as exc:
        error = str(exc)
    except VaultError as exc:  # a blob failing authentication, a missing master key
        error = f"{exc.__class__.__name__}: {exc.code}"
    counts = textindex.document_tokens(f"{src.title}\n{result.text}")
    ciphertext = wrapped = master_id = None
    if result.text:
        ciphertext, master_id, wrapped = seal_text(infra, src.document_id, src.version,
                                                   result.text)
    return _Prepared(src, FAILED if error else DONE, result.method, result.pages,
                     result.ocr_pages, len(result.text), sum(counts.values()),
                     hasher.counts(counts), ciphertext, wrapped, master_id, error)


def seal_text(infra: Infra, document_id: int, version: int, text: str
              ) -> tuple[bytes, str, bytes]:
    """(ciphertext, master key id, wrapped key): ``text`` encrypted under a data key
    of its own, bound to the document and version, the key wrapped by the master key."""
    data_key = envelope.new_data_key()
    out = io.BytesIO()
    envelope.encrypt_stream(data_key, io.BytesIO(text.encode("utf-8")), out,
                            document_id=document_id, version=version)
    master_id, wrapped = infra.keyring.wrap(data_key)
    return out.getvalue(), master_id, wrapped


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


def insert_postings(session: Session, rows: list[tuple[int, int, int, int]]) -> None:
    """Insert postings through the driver, in token order (neighbouring B-tree pages):
    a thousand rows per document, the ORM's per-row bookkeeping would cost more than
    the database. PostgreSQL: COPY; SQLite: one executemany."""
    if not rows:
        return
    rows.sort()
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


def _write(infra: Infra, holder: str, now: datetime, batch: list[_Prepared]
           ) -> list[IndexOutcome]:
    """Write a batch in one unit of work: the postings of every document still held
    by this worker at the version it extracted (others were superseded meanwhile),
    their encrypted texts and one ``document:index`` event each."""
    by_id = {p.source.document_id: p for p in batch}
    with unit_of_work(infra, None, now, source="job") as ctx:
        session = ctx.session
        rows = {r.document_id: r for r in session.scalars(
            select(DocumentText).where(DocumentText.document_id.in_(list(by_id)))
            .with_for_update())}
        current = [p for p in batch
                   if (row := rows.get(p.source.document_id)) is not None
                   and row.holder == holder and row.version == p.source.version
                   and row.state == RUNNING]
        ids = [p.source.document_id for p in current]
        levels = dict(session.execute(
            select(Document.id, Document.level).where(Document.id.in_(ids))).all())
        if ids:
            session.execute(delete(Posting).where(Posting.document_id.in_(ids))
                            .execution_options(synchronize_session=False))
            insert_postings(session, [(h, p.source.document_id, p.source.version, n)
                                       for p in current for h, n in p.postings.items()])
        if current:
            session.execute(update(Document), [
                {"id": p.source.document_id, "text_tokens": p.length} for p in current])
        for p in current:
            src, row = p.source, rows[p.source.document_id]
            row.state, row.method, row.error = p.state, p.method, p.error
            row.pages_total = row.pages_done = p.pages
            row.ocr_pages, row.chars, row.tokens = p.ocr_pages, p.chars, p.length
            row.ciphertext, row.wrapped_key, row.master_key_id = (
                p.ciphertext, p.wrapped, p.master_id)
            row.indexed_version = src.version
            row.holder = row.locked_until = None
            row.finished_at = ctx.now
            ctx.record(
                Action.DOCUMENT_INDEX, Outcome.FAILED if p.error else Outcome.ALLOWED,
                object_type="document", object_id=str(src.document_id),
                level=levels.get(src.document_id), reason=p.state,
                detail={"version": src.version, "method": p.method, "pages": p.pages,
                        "ocr_pages": p.ocr_pages, "tokens": len(p.postings),
                        **({"error": p.error} if p.error else {})},
            )
    written = {p.source.document_id for p in current}
    return [IndexOutcome(p.source.document_id, p.state, p.method, len(p.postings))
            if p.source.document_id in written
            else IndexOutcome(p.source.document_id, "superseded", p.method, 0)
            for p in batch]


def process(infra: Infra, doc_id: int, version: int, holder: str,
            now: datetime | None = None, ocr: bool = True) -> IndexOutcome:
    """Extract, encrypt and index one claimed document."""
    key = index_key(infra)
    assert key is not None
    (src,) = _sources(infra, [(doc_id, version)])
    prepared = _prepare(infra, src, _Hasher(key), holder, ocr)
    return _write(infra, holder, now or datetime.now(UTC), [prepared])[0]


#: Documents claimed and written per transaction by `work`.
BATCH = 50
#: A batch is written once its extraction has taken this long, even if not complete
#: (OCR): the progress of the others shows meanwhile, and a crash loses little.
BATCH_SECONDS = 20.0


def work(infra: Infra, *, max_docs: int | None = None, max_seconds: float | None = None,
         holder: str | None = None, now: Callable[[], datetime] | None = None,
         on_done: Callable[[IndexOutcome], object] | None = None,
         ocr: bool = True, batch: int = BATCH) -> list[IndexOutcome]:
    """Process the queue until it is empty or a bound is reached: claim up to
    ``batch`` documents at once, extract them one after the other, and write their
    postings, texts and audit events together (one transaction, one fsync)."""
    holder = holder or holder_id()
    clock = now or (lambda: datetime.now(UTC))
    started = time.monotonic()
    done: list[IndexOutcome] = []
    key = index_key(infra)
    assert key is not None
    while max_docs is None or len(done) < max_docs:
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            break
        size = batch if max_docs is None else min(batch, max_docs - len(done))
        claimed = claim_batch(infra, holder, clock(), max(1, size))
        if not claimed:
            break
        hasher = _Hasher(key)
        pending: list[_Prepared] = []
        sources = _sources(infra, claimed)
        flushed = time.monotonic()
        for i, src in enumerate(sources):
            try:
                pending.append(_prepare(infra, src, hasher, holder, ocr))
            except Exception:  # noqa: BLE001 - one bad file must not stop the queue
                log.exception("indexing document %s failed", src.document_id)
                _give_up(infra, src.document_id, holder)
                outcome = IndexOutcome(src.document_id, FAILED, "none", 0)
                done.append(outcome)
                if on_done is not None:
                    on_done(outcome)
            last = i == len(sources) - 1
            if pending and (last or time.monotonic() - flushed > BATCH_SECONDS):
                for outcome in _write_or_split(infra, holder, clock(), pending):
                    done.append(outcome)
                    if on_done is not None:
                        on_done(outcome)
                pending = []
                if not last:
                    _renew(infra, holder, clock())
                flushed = time.monotonic()
    return done


def _write_or_split(infra: Infra, holder: str, now: datetime, batch: list[_Prepared]
                    ) -> list[IndexOutcome]:
    """Write the batch; if that fails, each document alone (one bad row must not
    cost the others their work), giving up on those that still fail."""
    try:
        return _write(infra, holder, now, batch)
    except Exception:  # noqa: BLE001 - fall back to one at a time
        if len(batch) == 1:
            log.exception("indexing document %s failed", batch[0].source.document_id)
            _give_up(infra, batch[0].source.document_id, holder)
            return [IndexOutcome(batch[0].source.document_id, FAILED, "none", 0)]
        log.warning("writing a batch of %d indexed documents failed; one at a time",
                    len(batch))
    out: list[IndexOutcome] = []
    for one in batch:
        out += _write_or_split(infra, holder, now, [one])
    return out


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
    ctx.session.execute(update(Document).where(Document.id == document_id)
                        .values(text_tokens=0).execution_options(synchronize_session=False))


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


def status_of(infra: Infra, document_id: int) -> TextStatus:
    """`status` in a session of its own (`vault index status`)."""
    with infra.sessions() as session:
        return status(session, document_id)


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
