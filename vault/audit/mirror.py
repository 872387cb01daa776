"""The JSON-lines mirror: lines pending in a session until its commit (and the
Session listeners that write or drop them), the state file, group-committed
appends in sequence order under a file lock, and reading the files back.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import (
    Connection,
    Engine,
    event,
    func,
    select,
)
from sqlalchemy.orm import Session, SessionTransaction

from vault.audit import chain
from vault.audit.chain import ZERO_MAC, Problem
from vault.audit.checkpoints import (
    _cp_payload,
    checkpoint_line,
)
from vault.audit.common import (
    _CHECKPOINTS,
    _EV,
    _EVENTS_BETWEEN,
    _INFO_KEY,
    _MAC_AT,
    _READ_HEAD,
    CHECKPOINTS_FILE,
    DAY_FILE,
    STATE_FILE,
    _row_event,
)
from vault.audit.files import fsync_folder, write_all
from vault.errors import AuditUnavailable

if TYPE_CHECKING:
    from vault.audit.log import AuditLog

log = logging.getLogger("vault.audit")


# --------------------------------------------------------------------------- pending lines


@dataclass
class _Line:
    kind: str  # "event" or "checkpoint"
    seq: int
    day: str | None  # events: the UTC day of the event
    line: bytes
    txn: SessionTransaction | None  # innermost savepoint when recorded
    prev_seq: int = 0  # checkpoints: the previous checkpoint


@dataclass
class _Pending:
    log: AuditLog
    lines: list[_Line] = field(default_factory=list)
    committed: bool = False


def _inside(txn: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while txn is not None:
        if txn is ended:
            return True
        txn = txn.parent
    return False


def _after_commit(session: Session) -> None:
    if session.get_nested_transaction() is None:  # not a savepoint release
        pending = session.info.get(_INFO_KEY)
        if pending is not None:
            pending.committed = True


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    pending: _Pending | None = session.info.get(_INFO_KEY)
    if pending is None:
        return
    if previous.nested:
        pending.lines = [ln for ln in pending.lines if not _inside(ln.txn, previous)]
    else:
        pending.lines = []
        pending.committed = False


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return
    pending: _Pending | None = session.info.get(_INFO_KEY)
    if pending is None:
        return
    lines, committed = pending.lines, pending.committed
    pending.lines, pending.committed = [], False
    if committed and lines:
        pending.log._write_mirror(session, lines)


class AuditMirrorFailed(AuditUnavailable):
    """The mirror could not be written after the commit: the request fails, but the
    database transaction (the action and its event) is already committed."""


_listeners_lock = threading.Lock()


def _install_listeners() -> None:
    """Mirror after commit: three listeners on the Session class, installed once
    per process (cheap for sessions that never record an event)."""
    with _listeners_lock:
        if not event.contains(Session, "after_transaction_end", _after_transaction_end):
            event.listen(Session, "after_commit", _after_commit)
            event.listen(Session, "after_soft_rollback", _after_soft_rollback)
            event.listen(Session, "after_transaction_end", _after_transaction_end)


def _db_lines(conn: Connection, after: int, upto: int) -> Iterator[tuple[int, bytes, str]]:
    """Mirror lines of events ``after+1 .. upto`` rebuilt from the database:
    (seq, line, mac)."""
    prev = ZERO_MAC
    if after > 0:
        found = conn.execute(_MAC_AT, {"m_seq": after}).scalar()
        prev = found if found is not None else "?"
    rows = conn.execute(_EVENTS_BETWEEN, {"e_after": after, "e_upto": upto})
    for row in rows:
        yield row[0], chain.mirror_line(_row_event(row), row[14], prev), row[14]
        prev = row[14]


class _HeadRow(NamedTuple):
    seq: int
    mac: str


def _read_head(session: Session) -> _HeadRow | None:
    row = session.connection().execute(_READ_HEAD).one_or_none()
    return None if row is None else _HeadRow(int(row.seq), str(row.mac))


def _mirrored_state(audit_dir: Path) -> dict[str, Any]:
    """How far the mirror writers have got (waits for one that is writing)."""
    try:
        fd = os.open(Path(audit_dir) / STATE_FILE, os.O_RDONLY)
    except OSError:
        return {"seq": 0, "checkpoint": 0}
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        return _read_state(fd)
    except ValueError:
        return {"seq": 0, "checkpoint": 0}
    finally:
        os.close(fd)


@contextmanager
def _reader(session: Session) -> Iterator[Connection]:
    """A connection to read committed rows after the session's commit."""
    bind = session.get_bind()
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            try:
                yield conn
            finally:
                conn.rollback()
    else:
        yield bind


def _db_tops(session: Session) -> tuple[int, int]:
    with _reader(session) as conn:
        top_event = conn.execute(select(func.max(_EV.seq))).scalar()
        top_cp = conn.execute(select(func.max(_CHECKPOINTS.c.seq))).scalar()
    return int(top_event or 0), int(top_cp or 0)


def _read_state(fd: int) -> dict[str, Any]:
    raw = os.pread(fd, 4096, 0).strip()
    state: dict[str, Any] = {"seq": 0, "day": "0000-00-00", "checkpoint": 0}
    if raw:
        try:
            loaded = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"{STATE_FILE} is damaged") from exc
        state.update({k: loaded[k] for k in state if k in loaded})
    return state


def _write_state(fd: int, state: Mapping[str, Any]) -> None:
    data = (json.dumps(dict(state), sort_keys=True) + "\n").encode("ascii")
    os.pwrite(fd, data, 0)
    os.ftruncate(fd, len(data))


def _append(path: Path, lines: list[bytes]) -> None:
    """Append whole lines and fsync; on failure cut the file back (no torn line)."""
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        size = os.fstat(fd).st_size
        data = b"\n".join(lines) + b"\n"
        try:
            write_all(fd, data)
        except OSError:
            try:
                os.ftruncate(fd, size)
            except OSError:
                log.exception("could not cut %s back after a failed write", path)
            raise
    finally:
        os.close(fd)
    if created:
        fsync_folder(path)


# --------------------------------------------------------------------------- mirror writing


class _Mirror:
    """The mirror of one audit folder, one per process.

    Threads of this process queue their committed lines; whoever holds the
    writer lock takes the whole queue and writes it with one fsync per file
    (group commit). Across processes, ``flock`` on ``mirror.state`` orders the
    writers and the state file says how far the mirror goes; lines of events
    committed elsewhere but not yet mirrored are read back from the database, so
    every file stays in sequence order.
    """

    _all: dict[Path, _Mirror] = {}
    _all_lock = threading.Lock()

    @classmethod
    def _forget_all(cls) -> None:  # in a forked child: locks may have been held
        cls._all = {}
        cls._all_lock = threading.Lock()

    def __init__(self, audit_dir: Path) -> None:
        self.audit_dir = audit_dir
        self.lock = threading.Lock()  # held while writing
        self.queue_lock = threading.Lock()
        self.queue: list[_Line] = []

    @classmethod
    def of(cls, audit_dir: Path) -> _Mirror:
        key = Path(os.path.abspath(audit_dir))
        with cls._all_lock:
            mirror = cls._all.get(key)
            if mirror is None:
                mirror = cls._all[key] = cls(key)
            return mirror

    def write(
        self,
        session: Session,
        lines: list[_Line],
        *,
        sync: bool = False,
        witness: Callable[[list[bytes]], None] | None = None,
    ) -> int:
        """Write the queue; then hand the checkpoint lines this call wrote to
        ``witness`` (outside the locks)."""
        with self.queue_lock:
            self.queue.extend(lines)
        cp_lines: list[bytes] = []
        with self.lock:
            with self.queue_lock:
                batch, self.queue = self.queue, []
            if not batch and not sync:
                return 0  # another thread wrote ours
            try:
                written = self._append_in_order(session, batch, sync=sync, cp_lines=cp_lines)
            except BaseException:
                with self.queue_lock:  # give them back: the next writer retries (or fails)
                    self.queue[:0] = batch
                raise
        if cp_lines and witness is not None:
            witness(cp_lines)
        return written

    def _append_in_order(
        self, session: Session, lines: list[_Line], *, sync: bool, cp_lines: list[bytes]
    ) -> int:
        self.audit_dir.stat()  # a missing folder is an error, not something to create
        events = {ln.seq: ln for ln in lines if ln.kind == "event"}
        cps = {ln.seq: ln for ln in lines if ln.kind == "checkpoint"}
        top_event = max(events, default=0)
        top_cp = max(cps, default=0)
        if sync:
            top_event, top_cp = (max(a, b) for a, b in zip(_db_tops(session), (top_event, top_cp),
                                                             strict=True))
        # Never wait for the database while holding the file lock (a verifier may
        # hold the database and wait for the file lock): find what is missing under
        # the lock, release it, read that from the database, and try again.
        for _attempt in range(10):
            fd = os.open(self.audit_dir / STATE_FILE, os.O_RDWR | os.O_CREAT, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                state = _read_state(fd)
                missing_events = [
                    q for q in range(state["seq"] + 1, top_event + 1) if q not in events
                ]
                missing_cps = state["checkpoint"] < top_cp and not _cp_chain_complete(
                    cps, state["checkpoint"], top_cp
                )
                if not missing_events and not missing_cps:
                    return self._write_locked(fd, state, events, cps, cp_lines)
            finally:
                os.close(fd)  # also releases the lock
            if missing_events:
                for ln in _fetch_event_lines(session, missing_events[0] - 1, missing_events[-1]):
                    events.setdefault(ln.seq, ln)
            if missing_cps:
                for ln in _fetch_checkpoint_lines(session, state["checkpoint"], top_cp + 1):
                    cps.setdefault(ln.seq, ln)
        raise OSError(errno.EAGAIN, "the audit mirror could not catch up with the database")

    def _write_locked(
        self,
        fd: int,
        state: dict[str, Any],
        events: dict[int, _Line],
        cps: dict[int, _Line],
        cp_lines: list[bytes],
    ) -> int:
        written = 0
        todo = [events[q] for q in sorted(events) if q > state["seq"]]
        if todo:
            day = state["day"]
            batches: list[tuple[str, list[bytes]]] = []
            for ln in todo:
                # Never into an earlier file than the last line (clock going back).
                day = max(day, ln.day or day)
                if batches and batches[-1][0] == day:
                    batches[-1][1].append(ln.line)
                else:
                    batches.append((day, [ln.line]))
            for d, chunk in batches:
                _append(self.audit_dir / f"{d}.jsonl", chunk)
                written += len(chunk)
            state["seq"], state["day"] = todo[-1].seq, day
            _write_state(fd, state)
        cp_todo = [cps[q] for q in sorted(cps) if q > state["checkpoint"]]
        if cp_todo:
            _append(self.audit_dir / CHECKPOINTS_FILE, [ln.line for ln in cp_todo])
            written += len(cp_todo)
            state["checkpoint"] = cp_todo[-1].seq
            _write_state(fd, state)
            cp_lines.extend(ln.line for ln in cp_todo)
        return written


def _cp_chain_complete(cps: Mapping[int, _Line], after: int, top: int) -> bool:
    """Whether the checkpoints after ``after`` up to ``top`` are all at hand."""
    at = top
    while at > after:
        ln = cps.get(at)
        if ln is None:
            return False
        at = ln.prev_seq
    return at == after


os.register_at_fork(after_in_child=_Mirror._forget_all)


def _fetch_event_lines(session: Session, after: int, upto: int) -> list[_Line]:
    with _reader(session) as conn:
        out = []
        for seq, line, _mac in _db_lines(conn, after, upto):
            ts = json.loads(line)["event"]["ts"]
            out.append(_Line("event", seq, ts[:10], line, None))
    return out


def _fetch_checkpoint_lines(session: Session, after: int, before: int) -> list[_Line]:
    c = _CHECKPOINTS.c
    with _reader(session) as conn:
        rows = conn.execute(
            select(_CHECKPOINTS).where(c.seq > after, c.seq < before).order_by(c.seq)
        ).all()
    return [
        _Line(
            "checkpoint", r.seq, None, checkpoint_line(_cp_payload(r), r.signature), None,
            r.prev_seq,
        )
        for r in rows
    ]


# --------------------------------------------------------------------------- mirror reading


class _MirrorLine(NamedTuple):
    seq: int
    line: bytes
    mac: str | None
    prev: str | None
    where: str


class _MirrorReader:
    """Mirror lines of every ``YYYY-MM-DD.jsonl`` file in name order, one pass.

    Notes unreadable lines and harmless exact duplicates; a line whose sequence
    number is not above the previous one is yielded as it is (the caller names it
    out of order, duplicated or inserted).
    """

    def __init__(self, audit_dir: Path, problems: list[Problem]) -> None:
        self.problems = problems
        self.notes: list[str] = []
        try:
            names = sorted(p.name for p in Path(audit_dir).iterdir() if DAY_FILE.fullmatch(p.name))
        except OSError as exc:
            problems.append(Problem(1, f"the audit folder {audit_dir} cannot be read: {exc}"))
            names = []
        self._it = self._lines(Path(audit_dir), names)
        self._last: _MirrorLine | None = None

    def _lines(self, folder: Path, names: list[str]) -> Iterator[_MirrorLine]:
        for name in names:
            with open(folder / name, "rb") as fh:
                for lineno, raw in enumerate(fh, 1):
                    line = raw[:-1] if raw.endswith(b"\n") else raw
                    where = f"{name}:{lineno}"
                    try:
                        doc = json.loads(line)
                        ev = doc["event"]
                        seq = ev["seq"]
                        if type(seq) is not int:
                            raise ValueError("seq is not a number")
                        mac, prev = doc.get("mac"), doc.get("prev")
                    except (ValueError, KeyError, TypeError) as exc:
                        at = self._last.seq + 1 if self._last else 1
                        self.problems.append(
                            Problem(at, f"unreadable mirror line {where} ({exc})")
                        )
                        continue
                    yield _MirrorLine(
                        seq,
                        line,
                        mac if isinstance(mac, str) else None,
                        prev if isinstance(prev, str) else None,
                        where,
                    )

    def next(self) -> _MirrorLine | None:
        for item in self._it:
            last = self._last
            if last is not None and item.seq == last.seq and item.line == last.line:
                self.notes.append(
                    f"event {item.seq} is mirrored twice ({item.where}), identically: harmless "
                    "(a crash between the mirror write and its state update)"
                )
                continue
            self._last = item
            return item
        return None
