"""The audit writer: events in the caller's transaction, the JSON-lines mirror,
signed checkpoints, verification, export and the knowers of a document.

Writing an event (`AuditLog.record`)
    Takes the head row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's writer
    lock, which `vault.db.make_engine` takes with ``BEGIN IMMEDIATE``), computes
    the MAC, inserts the event and moves the head — all in the caller's
    transaction, so the caller's commit commits both or neither. It fails closed:
    a missing or damaged key, an audit folder that cannot be appended to, or any
    database error raises `AuditUnavailable` before anything is committed.

Mirroring after commit
    ``record`` leaves the event's mirror line in ``session.info``. Three
    listeners on the `Session` class (installed once by `AuditLog()`) act on it:
    when the *outermost* transaction commits, the lines are appended, in
    sequence order, to ``audit/YYYY-MM-DD.jsonl`` (checkpoints to
    ``audit/checkpoints.jsonl``) and fsync'd, inside ``session.commit()``. A
    rollback, or a rolled-back savepoint, discards its lines.

    Threads of a process share one writer that writes everybody's queued lines
    with one fsync (group commit); processes take an exclusive ``flock`` on
    ``audit/mirror.state``, which records how far the mirror goes. Events that
    another writer committed but has not mirrored yet are read back from the
    database and written first, so every file stays in sequence order. The
    writer never waits for the database while it holds the file lock.

    If the write fails, ``session.commit()`` raises `AuditMirrorFailed` (an
    `AuditUnavailable`): the request fails and no content may be released,
    but the database transaction *is* committed — the event is safe there, and
    the next successful write (or `AuditLog.sync_mirror`) fills the gap. Undo
    steps for a rolled-back unit of work must not run for this error. The
    failure is also logged at CRITICAL ("ALARM") on the ``vault.audit`` logger.

    A line goes to the file of its event's UTC day, or to the newest file
    already written if that is later (a clock running backwards around midnight
    must not put a later event in an earlier file).

Checkpoints
    Every ``settings.checkpoint_every`` events or when the last checkpoint is older
    than ``settings.checkpoint_seconds`` (checked on each append; `maybe_checkpoint`
    for a job on a quiet trail), the writer signs, with Ed25519, the size, the head
    MAC, the time and the *leaves* (16 bytes of SHA-256 per mirror line since the
    previous checkpoint). The leaves let `verify_offline` name the first altered line of
    a copied folder with the public key alone.

Witnesses
    Once a checkpoint is committed and mirrored it is also sent to the configured
    witnesses (`vault.audit.witness`: a file on another mount, syslog), out of
    reach of whoever can rewrite the database and ``audit/``. `verify_database`
    and `verify_offline` take the records of a witness file and check that the
    chain reaches every witnessed head: a truncated tail is then named.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TextIO, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Table,
    bindparam,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction

from vault.actions import KNOWING_ACTIONS, Action, Outcome
from vault.audit import chain, witness
from vault.audit.chain import ZERO_MAC, Problem
from vault.audit.models import WIDTHS, AuditCheckpoint, AuditEvent, AuditHead
from vault.config import AUDIT_KEY_FILE, SIGNING_KEY_FILE, Settings
from vault.errors import AuditUnavailable
from vault.runtime import ensure_dir, write_new_secret

log = logging.getLogger("vault.audit")

HMAC_KEY_BYTES = 32
# An event the database has but the mirror lacks is "in flight" for this long.
MIRROR_GRACE = timedelta(seconds=60)
STATE_FILE = "mirror.state"
CHECKPOINTS_FILE = "checkpoints.jsonl"
DAY_FILE = re.compile(r"\d{4}-\d{2}-\d{2}\.jsonl")
_INFO_KEY = "vault.audit.pending"
_EVENTS = cast(Table, AuditEvent.__table__)
_HEAD = cast(Table, AuditHead.__table__)
_CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)
_EV = _EVENTS.c
_EVENT_COLUMNS = [_EV[name] for name in chain.EVENT_FIELDS]
_HEAD_ID = 1

# Built once: statements with bound parameters are compiled once and cached.
_LOCK_HEAD = (
    select(_HEAD.c.seq, _HEAD.c.mac, _HEAD.c.checkpoint_seq, _HEAD.c.checkpoint_at)
    .where(_HEAD.c.id == _HEAD_ID)
    .with_for_update()
)
_INSERT_EVENT = insert(_EVENTS)
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == _HEAD_ID)
    .values(seq=bindparam("h_seq"), mac=bindparam("h_mac"))
)
_MOVE_HEAD_START = _MOVE_HEAD.values(checkpoint_at=bindparam("h_at"))
_HEAD_CHECKPOINT = (
    update(_HEAD)
    .where(_HEAD.c.id == _HEAD_ID)
    .values(checkpoint_seq=bindparam("h_cp_seq"), checkpoint_at=bindparam("h_cp_at"))
)
_READ_HEAD = select(_HEAD.c.seq, _HEAD.c.mac).where(_HEAD.c.id == _HEAD_ID)
_MAC_AT = select(_EV.mac).where(_EV.seq == bindparam("m_seq"))
_EVENTS_BETWEEN = (
    select(*_EVENT_COLUMNS, _EV.mac)
    .where(_EV.seq > bindparam("e_after"), _EV.seq <= bindparam("e_upto"))
    .order_by(_EV.seq)
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _day(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d")


def _row_event(row: Sequence[Any]) -> dict[str, Any]:
    return chain.event_dict(*row[:14])


def _roles_text(roles: str | Iterable[str] | None) -> str:
    if roles is None:
        return ""
    items = [roles] if isinstance(roles, str) else list(roles)
    parts = sorted({p.strip() for item in items for p in str(item).split(",") if p.strip()})
    return ",".join(parts)


def _text(value: object, name: str) -> str | None:
    if value is None:
        return None
    return chain.clip(chain.escape_text(str(value)), WIDTHS[name])


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class Report:
    """The outcome of a verification; ``first_bad_seq``/``problem`` name the first bad event."""

    ok: bool
    events: int = 0
    checkpoints: int = 0
    first_bad_seq: int | None = None
    problem: str | None = None
    problems: tuple[Problem, ...] = ()
    last_seq: int = 0
    covered_seq: int = 0  # the last event covered by a valid signed checkpoint
    notes: tuple[str, ...] = ()

    @property
    def uncovered(self) -> int:
        """Events after the last checkpoint (offline: only their continuity was checked)."""
        return max(0, self.last_seq - self.covered_seq)

    def summary(self) -> str:
        head = (
            f"{self.events} events, {self.checkpoints} checkpoints: "
            + ("OK" if self.ok else f"BROKEN at event {self.first_bad_seq}: {self.problem}")
        )
        lines = [head]
        lines += [f"  event {p.seq}: {p.message}" for p in self.problems[1:20]]
        if len(self.problems) > 20:
            lines.append(f"  … and {len(self.problems) - 20} more problems")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _report(
    problems: Iterable[Problem],
    *,
    events: int,
    checkpoints: int,
    last_seq: int,
    covered_seq: int,
    notes: Iterable[str] = (),
) -> Report:
    ordered = tuple(sorted(problems, key=lambda p: p.seq))
    first = ordered[0] if ordered else None
    return Report(
        ok=not ordered,
        events=events,
        checkpoints=checkpoints,
        first_bad_seq=first.seq if first else None,
        problem=first.message if first else None,
        problems=ordered,
        last_seq=last_seq,
        covered_seq=covered_seq,
        notes=tuple(notes),
    )


class RecordedEvent(NamedTuple):
    """What `AuditLog.record` stored (the row is an `AuditEvent`)."""

    seq: int
    ts: datetime
    actor: str
    actor_roles: str
    source: str | None
    action: str
    object_type: str | None
    object_id: str | None
    document_id: int | None
    level: str | None
    outcome: str
    reason: str | None
    request_id: str | None
    detail: str | None
    mac: str


class Knower(NamedTuple):
    actor: str
    action: str
    ts: datetime
    seq: int


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


# --------------------------------------------------------------------------- the log


class AuditLog:
    """The audit trail of one Vault installation (keys in ``settings.keys_dir``,
    mirror in ``settings.audit_dir``). Thread-safe; one per process is enough."""

    def __init__(self, settings: Settings) -> None:
        _install_listeners()
        self.settings = settings
        self.audit_dir = Path(settings.audit_dir)
        self._hmac_key: bytes | None = None
        self._signing_key: Ed25519PrivateKey | None = None
        self.witnesses: list[witness.Witness] = witness.from_settings(
            settings.audit_witness_file, settings.audit_witness_syslog
        )

    # ---------------------------------------------------------------- keys

    @staticmethod
    def init_keys(settings: Settings) -> list[str]:
        """Create the HMAC key and the Ed25519 signing key when missing (0600, in a
        0700 folder); never overwrite one. Returns the paths created."""
        created: list[str] = []
        keys = Path(settings.keys_dir)
        if ensure_dir(keys, 0o700):
            created.append(str(keys))
        hmac_path = keys / AUDIT_KEY_FILE
        if not hmac_path.exists() and write_new_secret(hmac_path, os.urandom(HMAC_KEY_BYTES)):
            created.append(str(hmac_path))
        signing_path = keys / SIGNING_KEY_FILE
        if not signing_path.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            if write_new_secret(signing_path, pem):
                created.append(str(signing_path))
        return created

    def hmac_key(self) -> bytes:
        if self._hmac_key is None:
            path = Path(self.settings.keys_dir) / AUDIT_KEY_FILE
            try:
                key = path.read_bytes()
            except OSError as exc:
                raise AuditUnavailable(
                    f"The audit key {path} cannot be read ({exc.strerror}); nothing can be "
                    "audited, so the action is refused. Run `vault init` to create it.",
                    code="audit_key_missing",
                ) from exc
            if len(key) != HMAC_KEY_BYTES:
                raise AuditUnavailable(
                    f"The audit key {path} is damaged (not {HMAC_KEY_BYTES} bytes); the action "
                    "is refused.",
                    code="audit_key_damaged",
                )
            self._hmac_key = key
        return self._hmac_key

    def signing_key(self) -> Ed25519PrivateKey:
        if self._signing_key is None:
            path = Path(self.settings.keys_dir) / SIGNING_KEY_FILE
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except OSError as exc:
                raise AuditUnavailable(
                    f"The audit signing key {path} cannot be read ({exc.strerror}); the action "
                    "is refused. Run `vault init` to create it.",
                    code="audit_key_missing",
                ) from exc
            except ValueError as exc:
                raise AuditUnavailable(
                    f"The audit signing key {path} is damaged; the action is refused.",
                    code="audit_key_damaged",
                ) from exc
            if not isinstance(key, Ed25519PrivateKey):
                raise AuditUnavailable(
                    f"The audit signing key {path} is not an Ed25519 key.",
                    code="audit_key_damaged",
                )
            self._signing_key = key
        return self._signing_key

    def public_key(self) -> Ed25519PublicKey:
        return self.signing_key().public_key()

    def public_key_pem(self) -> str:
        """The public half of the signing key (``vault audit public-key``)."""
        return (
            self.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def key_id(self) -> str:
        return key_id_of(self.public_key())

    # ---------------------------------------------------------------- writing

    def record(
        self,
        session: Session,
        *,
        actor: str,
        actor_roles: str | Iterable[str] | None,
        action: Action | str,
        outcome: Outcome | str,
        object_type: str | None = None,
        object_id: object = None,
        document_id: int | None = None,
        level: str | None = None,
        reason: str | None = None,
        source: str | None = None,
        request_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> RecordedEvent:
        """Append one event in the caller's transaction (the caller commits).

        ``document_id`` is the document the event concerns (for a file's history
        and its knowers); it defaults to ``object_id`` when ``object_type`` is
        ``"document"``. User-typed text is escaped and clipped to the column.

        Raises `AuditUnavailable` (the caller must refuse the action and roll
        back) when a key is missing, the audit folder cannot be appended to or
        the database refuses the event; ValueError for a programming error
        (unknown action or outcome, a detail key that looks like a secret, a
        float, binary content).
        """
        action = Action(action)
        outcome = Outcome(outcome)
        if now is not None and now.tzinfo is None:
            raise ValueError("record(now=...) needs an aware datetime")
        if document_id is None and object_type == "document" and object_id is not None:
            document_id = int(str(object_id))
        values: dict[str, Any] = {
            "actor": _text(actor, "actor") or "",
            "actor_roles": chain.clip(
                chain.escape_text(_roles_text(actor_roles)), WIDTHS["actor_roles"]
            ),
            "source": _text(source, "source"),
            "action": action.value,
            "object_type": _text(object_type, "object_type"),
            "object_id": _text(object_id, "object_id"),
            "document_id": None if document_id is None else int(document_id),
            "level": _text(level, "level"),
            "outcome": outcome.value,
            "reason": _text(reason, "reason"),
            "request_id": _text(request_id, "request_id"),
            "detail": chain.detail_text(detail),
        }
        key = self.hmac_key()
        self.signing_key()  # a checkpoint may fall due: fail now, not halfway
        self._check_writable(_day(now or utcnow()))
        pending = self._pending(session)
        try:
            # The session's connection, not session.execute(): no autoflush of the
            # caller's objects (their errors are theirs), and far less overhead.
            conn = session.connection()
            head = self._lock_head(conn)
            ts = now or utcnow()
            seq = head.seq + 1
            values["seq"] = seq
            values["ts"] = ts
            ev = chain.event_dict(**{f: values[f] for f in chain.EVENT_FIELDS})
            event_json = chain.canonical(ev)
            mac = hmac.digest(key, bytes.fromhex(head.mac) + event_json, "sha256").hex()
            values["mac"] = mac
            conn.execute(_INSERT_EVENT, values)
            if head.checkpoint_at is None:  # start the checkpoint clock
                conn.execute(_MOVE_HEAD_START, {"h_seq": seq, "h_mac": mac, "h_at": ts})
            else:
                conn.execute(_MOVE_HEAD, {"h_seq": seq, "h_mac": mac})
            # Rolled-back savepoints can leave stale lines with a reused seq.
            if pending.lines:
                pending.lines = [
                    ln for ln in pending.lines if ln.kind != "event" or ln.seq < seq
                ]
            pending.lines.append(
                _Line(
                    "event",
                    seq,
                    _day(ts),
                    chain.mirror_line_from_canonical(event_json, mac, head.mac),
                    session.get_nested_transaction(),
                )
            )
            if self._due(seq, head.checkpoint_seq, head.checkpoint_at, ts):
                self._checkpoint(session, seq, mac, head.checkpoint_seq, ts)
        except IntegrityError as exc:
            # The next number is taken although the head does not count it: a row
            # was put there behind the log's back. Fail closed, and say what to run.
            raise AuditUnavailable(
                f"The next audit number ({values.get('seq')}) is already taken by a row the "
                "audit head does not count: the trail was altered. Every action is refused "
                "until it is repaired; run `vault audit verify` to see which events.",
                code="audit_forged_row",
            ) from exc
        except SQLAlchemyError as exc:
            raise AuditUnavailable(
                f"The audit event could not be written to the database ({exc.__class__.__name__});"
                " the action is refused.",
                code="audit_db_error",
            ) from exc
        return RecordedEvent(**values)

    def _pending(self, session: Session) -> _Pending:
        pending: _Pending | None = session.info.get(_INFO_KEY)
        if pending is None:
            pending = _Pending(self)
            session.info[_INFO_KEY] = pending
        elif pending.log is not self:
            if pending.lines and pending.log.audit_dir != self.audit_dir:
                raise ValueError("one transaction cannot write to two audit trails")
            pending.log = self
        return pending

    def _check_writable(self, day: str, *, checkpoints: bool = False) -> None:
        """Fail before the action commits when the mirror cannot be appended to."""
        names = [f"{day}.jsonl", STATE_FILE] + ([CHECKPOINTS_FILE] if checkpoints else [])
        for name in names:
            path = self.audit_dir / name
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            except OSError as exc:
                raise AuditUnavailable(
                    f"The audit folder cannot be written ({path}: {exc.strerror}); the action "
                    "is refused. Check that the folder exists and is writable.",
                    code="audit_folder_unwritable",
                ) from exc
            os.close(fd)

    class _Head(NamedTuple):
        seq: int
        mac: str
        checkpoint_seq: int
        checkpoint_at: datetime | None

    def _lock_head(self, conn: Connection) -> AuditLog._Head:
        row = conn.execute(_LOCK_HEAD).one_or_none()
        if row is None:
            raise AuditUnavailable(
                "The audit head row is missing: the database is not migrated (run "
                "`vault migrate`) or was tampered with; the action is refused.",
                code="audit_head_missing",
            )
        if not isinstance(row.mac, str) or not chain.is_mac(row.mac):
            raise AuditUnavailable(
                "The audit head row is damaged (its mac is not a MAC); the action is refused. "
                "Run `vault audit verify`.",
                code="audit_head_damaged",
            )
        checkpoint_at = row.checkpoint_at
        if checkpoint_at is not None and checkpoint_at.tzinfo is None:
            checkpoint_at = checkpoint_at.replace(tzinfo=UTC)
        return AuditLog._Head(int(row.seq), str(row.mac), int(row.checkpoint_seq), checkpoint_at)

    # ---------------------------------------------------------------- checkpoints

    def _due(
        self, seq: int, checkpoint_seq: int, checkpoint_at: datetime | None, now: datetime
    ) -> bool:
        if seq <= checkpoint_seq:
            return False
        if seq - checkpoint_seq >= max(1, self.settings.checkpoint_every):
            return True
        return checkpoint_at is not None and now - checkpoint_at >= timedelta(
            seconds=self.settings.checkpoint_seconds
        )

    def maybe_checkpoint(
        self, session: Session, now: datetime | None = None, *, force: bool = False
    ) -> AuditCheckpoint | None:
        """Sign a checkpoint when one is due (or, with ``force``, whenever there are
        events since the last one), in the caller's transaction. For a job on a
        quiet trail: appends do this themselves. Returns the checkpoint or None."""
        now = now or utcnow()
        self.signing_key()
        self._check_writable(_day(now), checkpoints=True)
        self._pending(session)
        try:
            head = self._lock_head(session.connection())
            if head.seq <= head.checkpoint_seq:
                return None
            if not force and not self._due(head.seq, head.checkpoint_seq, head.checkpoint_at, now):
                return None
            return self._checkpoint(session, head.seq, head.mac, head.checkpoint_seq, now)
        except SQLAlchemyError as exc:
            raise AuditUnavailable(
                f"The audit checkpoint could not be written ({exc.__class__.__name__}).",
                code="audit_db_error",
            ) from exc

    def _checkpoint(
        self, session: Session, seq: int, mac: str, prev_seq: int, now: datetime
    ) -> AuditCheckpoint:
        self._check_writable(_day(now), checkpoints=True)
        conn = session.connection()
        leaves = b"".join(
            chain.leaf(line) for _seq, line, _mac in self._db_lines(conn, prev_seq, seq)
        )
        signer = self.signing_key()
        payload = chain.checkpoint_payload(
            seq=seq,
            prev_seq=prev_seq,
            mac=mac,
            time=chain.format_ts(now),
            key_id=key_id_of(signer.public_key()),
            leaves=leaves.hex(),
        )
        signature = signer.sign(chain.checkpoint_message(payload)).hex()
        row = {
            "seq": seq,
            "prev_seq": prev_seq,
            "mac": mac,
            "created_at": now,
            "key_id": payload["key_id"],
            "signature": signature,
            "leaves": payload["leaves"],
        }
        conn.execute(insert(_CHECKPOINTS), row)
        conn.execute(_HEAD_CHECKPOINT, {"h_cp_seq": seq, "h_cp_at": now})
        pending = self._pending(session)
        pending.lines = [ln for ln in pending.lines if ln.kind != "checkpoint" or ln.seq < seq]
        pending.lines.append(
            _Line(
                "checkpoint",
                seq,
                None,
                checkpoint_line(payload, signature),
                session.get_nested_transaction(),
                prev_seq,
            )
        )
        return AuditCheckpoint(**row)

    @staticmethod
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

    # ---------------------------------------------------------------- mirror

    def _write_mirror(self, session: Session, lines: list[_Line]) -> None:
        try:
            _Mirror.of(self.audit_dir).write(session, lines, witness=self._witness_lines)
        except (OSError, SQLAlchemyError, ValueError) as exc:
            log.critical(
                "ALARM: the audit mirror in %s could not be written (%s). The events are "
                "committed in the database; the mirror is behind until the next successful "
                "write or `AuditLog.sync_mirror`.",
                self.audit_dir,
                exc,
            )
            raise AuditMirrorFailed(
                f"The audit mirror could not be written ({exc}); the request is refused.",
                code="audit_mirror_failed",
            ) from exc

    def _witness_lines(self, lines: list[bytes]) -> None:
        """Send committed, mirrored checkpoint lines to every witness (never raises:
        a failing witness is an ALARM in the log, caught up by the job)."""
        if self.witnesses:
            witness.send_all(self.witnesses, [witness.record_of(json.loads(ln)) for ln in lines])

    def witness_catch_up(self, session: Session) -> int:
        """Send the newest checkpoint to every file witness that lacks it (after a
        failed send). Returns how many witnesses were sent to."""
        files = [w for w in self.witnesses if isinstance(w, witness.FileWitness)]
        if not files:
            return 0
        c = _CHECKPOINTS.c
        row = session.execute(select(_CHECKPOINTS).order_by(c.seq.desc()).limit(1)).first()
        if row is None:
            return 0
        behind = [w for w in files if w.last_seq() < row.seq]
        if behind:
            record = witness.record_of({**_cp_payload(row), "sig": row.signature})
            witness.send_all(behind, [record])
        return len(behind)

    def after_commit(self, session: Session) -> int:
        """Make sure the mirror holds this session's committed events.

        Nothing to do normally: the session listeners write the mirror inside
        ``session.commit()`` (which raises `AuditUnavailable` when that fails).
        Kept so callers may state the step explicitly; returns the number of
        lines it had to write (0 normally).
        """
        pending: _Pending | None = session.info.get(_INFO_KEY)
        if pending is None or not pending.lines or not pending.committed:
            return 0
        lines, pending.lines, pending.committed = pending.lines, [], False
        self._write_mirror(session, lines)
        return len(lines)

    def sync_mirror(self, session: Session) -> int:
        """Append to the mirror every committed event and checkpoint it lacks (after
        a failed mirror write, or to rebuild a lost mirror). Returns the number of
        lines written."""
        try:
            return _Mirror.of(self.audit_dir).write(
                session, [], sync=True, witness=self._witness_lines
            )
        except (OSError, SQLAlchemyError, ValueError) as exc:
            raise AuditMirrorFailed(
                f"The audit mirror could not be written ({exc}).", code="audit_mirror_failed"
            ) from exc

    # ---------------------------------------------------------------- verification

    def verify_database(
        self,
        session: Session,
        *,
        mirror: bool = True,
        witnessed: Sequence[witness.Witnessed] | None = None,
    ) -> Report:
        """Recompute the database chain, check every checkpoint (signature, head MAC
        at its seq, leaves) and, with ``mirror``, compare the mirror files and
        ``checkpoints.jsonl`` line by line with the database. With ``witnessed``
        (the records of a witness file), the trail must reach every witnessed
        checkpoint, unchanged.

        Safe while writers append (PostgreSQL reads per statement): the head is
        read first, events appended meanwhile are checked like the others, and
        events whose mirror line is still being written when the files end are
        counted as in flight, not as missing, once the mirror writer has passed
        them.
        """
        key = self.hmac_key()
        public = self.public_key()
        problems: list[Problem] = []  # checkpoints, head
        mirror_problems: list[Problem] = []
        notes: list[str] = []
        head0 = _read_head(session)
        c = _CHECKPOINTS.c
        checkpoints = session.execute(select(_CHECKPOINTS).order_by(c.seq)).all()

        checker = chain.ChainChecker(key)
        # What the mirror writers had finished before we list the files: every such
        # line must be there; later ones may still be on their way.
        state0 = _mirrored_state(self.audit_dir) if mirror else None
        reader = _MirrorReader(self.audit_dir, mirror_problems) if mirror else None
        mirror_next = reader.next() if reader else None
        tail_unmirrored: list[tuple[int, str]] = []  # (seq, ts) after the mirror's end
        cp_index = 0
        cp_prev = 0
        leaves: list[bytes] = []  # leaves[i] belongs to event cp_prev + 1 + i
        covered = 0
        stored_prev = ZERO_MAC
        last_mac = ZERO_MAC
        mac_at_head0: str | None = ZERO_MAC if head0 is not None and head0.seq == 0 else None
        expected_cp_lines: list[bytes] = []

        def check_checkpoint(cp: Any, got_leaves: list[bytes], mac_at: str | None) -> None:
            nonlocal covered
            payload = _cp_payload(cp)
            if cp.prev_seq != cp_prev:
                problems.append(
                    Problem(cp_prev + 1, f"checkpoint {cp.seq} does not follow checkpoint "
                            f"{cp_prev} (a checkpoint was removed or forged)")
                )
            try:
                public.verify(bytes.fromhex(cp.signature), chain.checkpoint_message(payload))
            except (InvalidSignature, ValueError):
                problems.append(
                    Problem(cp.prev_seq + 1, f"checkpoint {cp.seq} has a bad signature "
                            "(checkpoint edited or forged)")
                )
                return
            if b"".join(got_leaves).hex() != cp.leaves:
                bad = _first_leaf_mismatch(got_leaves, cp.leaves, cp.prev_seq)
                problems.append(
                    Problem(bad, f"event {bad} does not match signed checkpoint {cp.seq}")
                )
            if mac_at is not None and mac_at != cp.mac:
                problems.append(
                    Problem(cp.seq, f"head mac at {cp.seq} differs from signed checkpoint")
                )
            covered = cp.seq
            expected_cp_lines.append(checkpoint_line(payload, cp.signature))

        for ev, mac in _stored_events(session):
            seq = ev["seq"]
            if seq > checker.expected:  # a gap: its leaves are unknown and never match
                leaves.extend(b"" for _ in range(checker.expected, seq))
                stored_prev = "?"
            event_json = checker.feed(ev, mac)
            line = (
                chain.mirror_line_from_canonical(event_json, mac, stored_prev)
                if event_json is not None
                else b""
            )
            leaves.append(chain.leaf(line))
            stored_prev = last_mac = mac
            if head0 is not None and seq == head0.seq:
                mac_at_head0 = mac
            while cp_index < len(checkpoints) and checkpoints[cp_index].seq <= seq:
                cp = checkpoints[cp_index]
                upto = cp.seq - cp_prev
                start = max(0, cp.prev_seq - cp_prev)
                check_checkpoint(cp, leaves[start:upto], mac if cp.seq == seq else None)
                leaves = leaves[upto:]
                cp_prev = cp.seq
                cp_index += 1
            if reader is not None:
                while mirror_next is not None and mirror_next.seq < seq:
                    mirror_problems.append(
                        Problem(mirror_next.seq, f"the mirror has event {mirror_next.seq} "
                                "that the database lacks (removed from the database, or "
                                "forged in the mirror)")
                    )
                    mirror_next = reader.next()
                if mirror_next is None:
                    tail_unmirrored.append((seq, ev["ts"]))
                elif mirror_next.seq > seq:
                    mirror_problems.append(Problem(seq, f"event {seq} is missing from the mirror"))
                else:
                    if mirror_next.line != line:
                        mirror_problems.append(
                            Problem(seq, f"mirror line of event {seq} ({mirror_next.where}) "
                                    "differs from the database")
                        )
                    mirror_next = reader.next()
        result = checker.result()
        last_seq = checker.expected - 1

        for cp in checkpoints[cp_index:]:
            problems.append(
                Problem(last_seq + 1, f"checkpoint {cp.seq} covers events up to {cp.seq} but "
                        f"the database ends at {last_seq} (events removed)")
            )
        if head0 is None:
            problems.append(Problem(last_seq + 1, "the audit head row is missing"))
        elif last_seq < head0.seq:
            problems.append(
                Problem(last_seq + 1, f"the head says {head0.seq} events but the database "
                        f"ends at {last_seq} (events removed at the end)")
            )
        elif mac_at_head0 != head0.mac:
            problems.append(
                Problem(head0.seq, f"the head mac does not match event {head0.seq} (events "
                        "removed or forged at the end)")
            )
        elif last_seq > head0.seq:  # appended while we read, or forged past the head
            head1 = _read_head(session)
            if head1 is None or head1.seq < last_seq:
                at = head0.seq + 1
                problems.append(
                    Problem(at, f"events {at}–{last_seq} lie beyond the head (forged)")
                )
            elif head1.seq == last_seq and head1.mac != last_mac:
                problems.append(
                    Problem(last_seq, f"the head mac does not match event {last_seq}")
                )

        if reader is not None and state0 is not None:
            extra: list[_MirrorLine] = []
            while mirror_next is not None:
                extra.append(mirror_next)
                mirror_next = reader.next()
            if extra:  # lines of events committed after our read, or forged lines
                self._compare_late_lines(session, last_seq, extra, mirror_problems)
            if tail_unmirrored:
                self._judge_unmirrored_tail(state0, tail_unmirrored, mirror_problems, notes)
            notes.extend(reader.notes)
            self._compare_checkpoint_file(
                session, state0, expected_cp_lines, checkpoints, mirror_problems
            )
        if witnessed is not None:
            _check_witnessed(
                witnessed,
                {cp.seq: (cp.mac, cp.signature) for cp in checkpoints},
                last_seq,
                problems,
                notes,
            )
        return _report(
            [*result.problems, *problems, *mirror_problems],  # this order within a seq
            events=result.count,
            checkpoints=len(checkpoints),
            last_seq=last_seq,
            covered_seq=covered,
            notes=notes,
        )

    def _judge_unmirrored_tail(
        self,
        state0: Mapping[str, Any],
        tail: list[tuple[int, str]],
        problems: list[Problem],
        notes: list[str],
    ) -> None:
        """Events the database has after the mirror's last line: removed from the
        mirror (a problem: the writers had written them before we looked), just
        committed and about to be mirrored (a note), or left out by a failed mirror
        write (a problem once older than `MIRROR_GRACE`)."""
        removed = [seq for seq, _ts in tail if seq <= state0["seq"]]
        if removed:
            problems.append(
                Problem(removed[0], f"events {removed[0]}–{removed[-1]} are missing from the "
                        "end of the mirror (removed)")
            )
        written = int(_mirrored_state(self.audit_dir)["seq"])
        recent = utcnow() - MIRROR_GRACE
        behind, in_flight, passed = [], 0, 0
        for seq, ts in tail:
            if seq <= state0["seq"]:
                continue
            if seq <= written:
                passed += 1
                continue
            try:
                young = chain.parse_ts(ts) >= recent
            except ValueError:
                young = False
            if young:
                in_flight += 1
            else:
                behind.append(seq)
        if behind:
            problems.append(
                Problem(behind[0], f"events {behind[0]}–{behind[-1]} are missing from the "
                        "mirror (the mirror is behind the database after a failed mirror "
                        "write; `AuditLog.sync_mirror` appends them)")
            )
        if passed:
            notes.append(f"{passed} events were mirrored while verifying and not compared")
        if in_flight:
            notes.append(f"{in_flight} events committed moments ago are not in the mirror yet")

    def _compare_late_lines(
        self, session: Session, after: int, lines: list[_MirrorLine], problems: list[Problem]
    ) -> None:
        top = max(ln.seq for ln in lines)
        stored = {seq: line for seq, line, _mac in self._db_lines(session.connection(), after, top)}
        for ln in lines:
            want = stored.get(ln.seq)
            if want is None:
                problems.append(
                    Problem(ln.seq, f"the mirror has event {ln.seq} that the database lacks "
                            f"({ln.where})")
                )
            elif want != ln.line:
                problems.append(
                    Problem(ln.seq, f"mirror line of event {ln.seq} ({ln.where}) differs "
                            "from the database")
                )

    def _compare_checkpoint_file(
        self,
        session: Session,
        state0: Mapping[str, Any],
        expected: list[bytes],
        checkpoints: Sequence[Any],
        problems: list[Problem],
    ) -> None:
        path = self.audit_dir / CHECKPOINTS_FILE
        try:
            got = [ln for ln in path.read_bytes().split(b"\n") if ln]
        except FileNotFoundError:
            got = []
        except OSError as exc:
            problems.append(Problem(1, f"{path} cannot be read: {exc.strerror}"))
            return
        recent = utcnow() - MIRROR_GRACE
        for i, want in enumerate(expected):
            cp = checkpoints[i]
            if i >= len(got):
                # Written before we looked (removed since), or overdue: a problem;
                # committed moments ago: on its way.
                at = cp.created_at if cp.created_at.tzinfo else cp.created_at.replace(tzinfo=UTC)
                if cp.seq <= state0["checkpoint"] or at < recent:
                    problems.append(
                        Problem(cp.prev_seq + 1, f"checkpoint {cp.seq} is missing from {path.name}")
                    )
            elif got[i] != want:
                problems.append(
                    Problem(cp.prev_seq + 1, f"checkpoint {cp.seq} in {path.name} differs "
                            "from the database")
                )
        if len(got) > len(expected):
            # Checkpoints made while we verified (PostgreSQL), or forged lines.
            after = checkpoints[-1].seq if checkpoints else 0
            c = _CHECKPOINTS.c
            later = [
                checkpoint_line(_cp_payload(r), r.signature)
                for r in session.execute(
                    select(_CHECKPOINTS).where(c.seq > after).order_by(c.seq)
                )
            ]
            if got[len(expected) :] != later[: len(got) - len(expected)]:
                problems.append(
                    Problem(
                        after + 1,
                        f"{path.name} has checkpoint(s) after {after} that the database lacks",
                    )
                )

    # ---------------------------------------------------------------- reading

    @staticmethod
    def query(
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        document: int | None = None,
        action: Action | str | Iterable[Action | str] | None = None,
        outcome: Outcome | str | None = None,
    ) -> Select[AuditEvent]:
        """Events matching the filters, in trail order (``since`` inclusive, ``until``
        exclusive)."""
        stmt = select(AuditEvent).order_by(AuditEvent.seq)
        if since is not None:
            stmt = stmt.where(AuditEvent.ts >= since)
        if until is not None:
            stmt = stmt.where(AuditEvent.ts < until)
        if actor is not None:
            stmt = stmt.where(AuditEvent.actor == actor)
        if document is not None:
            stmt = stmt.where(AuditEvent.document_id == int(document))
        if action is not None:
            if isinstance(action, str):
                stmt = stmt.where(AuditEvent.action == Action(action).value)
            else:
                stmt = stmt.where(AuditEvent.action.in_([Action(a).value for a in action]))
        if outcome is not None:
            stmt = stmt.where(AuditEvent.outcome == Outcome(outcome).value)
        return stmt

    def history(self, session: Session, document_id: int) -> list[AuditEvent]:
        """Everything the trail says about one document, oldest first."""
        return list(session.scalars(self.query(document=document_id)))

    def knowers(self, session: Session, document_id: int) -> list[Knower]:
        """Who has known the document (知悉记录): every allowed view, download,
        export or copy download, oldest first."""
        stmt = self.query(
            document=document_id, action=sorted(KNOWING_ACTIONS), outcome=Outcome.ALLOWED
        )
        return [Knower(e.actor, e.action, e.ts, e.seq) for e in session.scalars(stmt)]

    def export(
        self,
        session: Session,
        fmt: str,
        out: TextIO,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        document: int | None = None,
        action: Action | str | None = None,
        outcome: Outcome | str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Write matching events as ``csv`` (header row; cells that a spreadsheet
        would run as a formula are prefixed with ``'``) or ``jsonl`` (one canonical
        JSON object per event, with its ``mac``). Returns the number written;
        ``progress(done, total)`` is called as it goes. Auditing the export itself
        is the caller's job (``audit:export``)."""
        if fmt not in ("csv", "jsonl"):
            raise ValueError(f"unknown export format {fmt!r}; use csv or jsonl")
        stmt = self.query(
            since=since, until=until, actor=actor, document=document, action=action,
            outcome=outcome,
        )
        total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        columns = [*chain.EVENT_FIELDS, "mac"]
        writer = csv.writer(out) if fmt == "csv" else None
        if writer is not None:
            writer.writerow(columns)
        done = 0
        for ev in session.scalars(stmt.execution_options(yield_per=1000)):
            record = {**ev.as_event(), "mac": ev.mac}
            if writer is not None:
                writer.writerow([_csv_cell(record[c]) for c in columns])
            else:
                out.write(chain.canonical(record).decode("utf-8") + "\n")
            done += 1
            if progress is not None and done % 500 == 0:
                progress(done, total)
        if progress is not None:
            progress(done, total)
        return done


# --------------------------------------------------------------------------- helpers


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _cp_payload(row: Any) -> dict[str, Any]:
    return chain.checkpoint_payload(
        seq=row.seq,
        prev_seq=row.prev_seq,
        mac=row.mac,
        time=chain.format_ts(row.created_at),
        key_id=row.key_id,
        leaves=row.leaves,
    )


def checkpoint_line(payload: Mapping[str, Any], signature: str) -> bytes:
    return chain.canonical({**payload, "sig": signature})


def _first_leaf_mismatch(got: list[bytes], leaves_hex: str, prev_seq: int) -> int:
    try:
        want = chain.split_leaves(leaves_hex)
    except ValueError:
        return prev_seq + 1
    for i, (a, b) in enumerate(zip(got, want, strict=False)):
        if a != b:
            return prev_seq + 1 + i
    return prev_seq + 1 + min(len(got), len(want))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


# chain.EVENT_FIELDS, then mac (a unit test keeps them equal).
_ALL_EVENTS_SQL = (
    "SELECT seq, ts, actor, actor_roles, source, action, object_type, object_id, "
    "document_id, level, outcome, reason, request_id, detail, mac "
    "FROM audit_events ORDER BY seq"
)


def _ts_text(value: object) -> str:
    """A stored time as the trail writes it, from the driver's raw value."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat(timespec="microseconds") + "Z"
        return chain.format_ts(value)
    if isinstance(value, str):
        # SQLite: SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff".
        if len(value) == 26 and value[10] == " " and value[19] == ".":
            return value[:10] + "T" + value[11:] + "Z"
        try:
            return chain.format_ts(datetime.fromisoformat(value).replace(tzinfo=UTC))
        except ValueError:
            return value  # not a time: the MAC will not match
    return str(value)


def _stored_events(session: Session) -> Iterator[tuple[dict[str, Any], str]]:
    """Every stored event in sequence order, as (event, mac), read with the driver's
    raw rows (verification speed: no ORM, no type processing)."""
    conn = session.connection().execution_options(stream_results=True, max_row_buffer=5000)
    for row in conn.exec_driver_sql(_ALL_EVENTS_SQL):
        yield (
            {
                "seq": row[0],
                "ts": _ts_text(row[1]),
                "actor": row[2],
                "actor_roles": row[3],
                "source": row[4],
                "action": row[5],
                "object_type": row[6],
                "object_id": row[7],
                "document_id": row[8],
                "level": row[9],
                "outcome": row[10],
                "reason": row[11],
                "request_id": row[12],
                "detail": row[13],
            },
            row[14],
        )


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
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                if n <= 0:
                    raise OSError(errno.EIO, "short write")
                view = view[n:]
            os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, size)
            except OSError:
                log.exception("could not cut %s back after a failed write", path)
            raise
    finally:
        os.close(fd)
    if created:
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


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
        for seq, line, _mac in AuditLog._db_lines(conn, after, upto):
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


def _load_public_key(public_key_pem: str | bytes) -> Ed25519PublicKey:
    data = public_key_pem.encode("ascii") if isinstance(public_key_pem, str) else public_key_pem
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key")
    return key


@dataclass
class _Cp:
    seq: int
    prev_seq: int
    mac: str
    leaves: list[bytes]
    sig: str = ""


def _check_witnessed(
    witnessed: Sequence[witness.Witnessed],
    checkpoints: Mapping[int, tuple[str, str]],
    last_seq: int,
    problems: list[Problem],
    notes: list[str],
) -> None:
    """Every witnessed checkpoint must be in the trail, as witnessed: a trail that
    ends before the newest witnessed head was cut at the end."""
    if not witnessed:
        notes.append("the witness holds no checkpoint: nothing to compare")
        return
    newest = max(witnessed, key=lambda w: w.seq)
    if newest.seq > last_seq:
        problems.append(
            Problem(last_seq + 1, f"the trail ends at event {last_seq}, but the witness saw "
                    f"checkpoint {newest.seq} (a trail of {newest.seq} events, signed "
                    f"{newest.time}, {newest.where}): events {last_seq + 1}–{newest.seq} "
                    "were removed (truncated)")
        )
    for w in sorted(witnessed, key=lambda w: w.seq):
        if w.seq > last_seq:
            continue
        have = checkpoints.get(w.seq)
        if have is None:
            problems.append(
                Problem(w.seq, f"witnessed checkpoint {w.seq} ({w.where}) is missing from the "
                        "trail (removed)")
            )
        elif have != (w.mac, w.sig):
            problems.append(
                Problem(w.seq, f"checkpoint {w.seq} differs from the witnessed one ({w.where}): "
                        "the trail was rewritten")
            )
    if newest.seq <= last_seq:
        notes.append(
            f"the trail reaches the newest witnessed checkpoint ({newest.seq}, {newest.time})"
            + (f"; events {newest.seq + 1}–{last_seq} are not witnessed yet"
               if last_seq > newest.seq else "")
        )


def verify_offline(
    audit_dir: str | Path,
    public_key_pem: str | bytes,
    *,
    witnessed: Sequence[witness.Witnessed] | None = None,
) -> Report:
    """Check a copied ``audit/`` folder with the public signing key alone.

    Every checkpoint's signature and succession is checked; each event line
    covered by a checkpoint must hash to the signed leaf, so an edited, removed,
    swapped or inserted line is named. Events after the last checkpoint can only
    be checked for continuity (sequence numbers and ``prev`` = previous ``mac``):
    the report counts them as not covered.
    """
    folder = Path(audit_dir)
    public = _load_public_key(public_key_pem)
    problems: list[Problem] = []
    notes: list[str] = []

    cps: list[_Cp] = []
    cp_path = folder / CHECKPOINTS_FILE
    try:
        raw_cps = [ln for ln in cp_path.read_bytes().split(b"\n") if ln.strip()]
    except FileNotFoundError:
        raw_cps = []
        notes.append(f"no {CHECKPOINTS_FILE}: no event is covered by a signed checkpoint")
    prev_seq = 0
    for n, raw in enumerate(raw_cps, 1):
        try:
            doc = json.loads(raw)
            payload = chain.checkpoint_payload(
                seq=int(doc["seq"]),
                prev_seq=int(doc["prev_seq"]),
                mac=str(doc["mac"]),
                time=str(doc["time"]),
                key_id=str(doc["key_id"]),
                leaves=str(doc["leaves"]),
            )
            sig = bytes.fromhex(str(doc["sig"]))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(Problem(prev_seq + 1, f"unreadable checkpoint line {n} ({exc})"))
            continue
        try:
            public.verify(sig, chain.checkpoint_message(payload))
            leaves = chain.split_leaves(payload["leaves"])
            if len(leaves) != payload["seq"] - payload["prev_seq"]:
                raise ValueError("wrong number of leaves")
        except (InvalidSignature, ValueError):
            problems.append(
                Problem(
                    payload["prev_seq"] + 1,
                    f"checkpoint {payload['seq']} has a bad signature (edited or forged, or "
                    "signed with another key)",
                )
            )
            continue
        if payload["prev_seq"] != prev_seq:
            problems.append(
                Problem(
                    prev_seq + 1,
                    f"checkpoint {payload['seq']} follows {payload['prev_seq']}, not "
                    f"{prev_seq}: a checkpoint was removed or reordered",
                )
            )
            if payload["prev_seq"] < prev_seq:
                continue
        cps.append(
            _Cp(payload["seq"], payload["prev_seq"], payload["mac"], leaves, sig.hex())
        )
        prev_seq = payload["seq"]
    covered = cps[-1].seq if cps else 0

    cp_at = 0

    def expected_leaf(seq: int) -> tuple[_Cp, bytes] | None:
        nonlocal cp_at
        while cp_at < len(cps) and cps[cp_at].seq < seq:
            cp_at += 1
        if cp_at < len(cps) and cps[cp_at].prev_seq < seq <= cps[cp_at].seq:
            cp = cps[cp_at]
            return cp, cp.leaves[seq - cp.prev_seq - 1]
        return None

    reader = _MirrorReader(folder, problems)
    expected, prev_mac, count = 1, ZERO_MAC, 0
    cur = reader.next()
    while cur is not None:
        nxt = reader.next()
        seq = cur.seq
        if seq < expected:
            what = "duplicate event" if seq == expected - 1 else "out of order:"
            problems.append(
                Problem(seq, f"{what} {seq} at {cur.where}, after event {expected - 1} "
                        "(inserted or moved line)")
            )
            cur = nxt
            continue
        if seq > expected:
            if nxt is not None and nxt.seq == expected:
                problems.append(
                    Problem(expected, f"out of order: event {expected} comes after event {seq} "
                            f"({nxt.where})")
                )
            elif seq == expected + 1:
                problems.append(Problem(expected, f"missing event {expected}"))
            else:
                problems.append(Problem(expected, f"missing events {expected}–{seq - 1}"))
            prev_mac = "?"
        count += 1
        if prev_mac != "?" and cur.prev != prev_mac:
            problems.append(
                Problem(seq, f"chain broken at event {seq} ({cur.where}): its prev is not the "
                        "mac of the event before (edited, removed or inserted)")
            )
        found = expected_leaf(seq)
        if found is not None:
            cp, want = found
            if chain.leaf(cur.line) != want:
                problems.append(
                    Problem(seq, f"event {seq} ({cur.where}) does not match signed checkpoint "
                            f"{cp.seq}: line edited, swapped or forged")
                )
            elif seq == cp.seq and cur.mac != cp.mac:  # unreachable unless SHA-256 breaks
                problems.append(Problem(seq, f"event {seq} mac differs from checkpoint"))
        prev_mac = cur.mac or "?"
        expected = seq + 1
        cur = nxt
    last_seq = expected - 1
    if covered > last_seq:
        problems.append(
            Problem(last_seq + 1, f"missing events {last_seq + 1}–{covered} (covered by a "
                    "signed checkpoint)")
        )
    notes.extend(reader.notes)
    if last_seq > covered:
        notes.append(
            f"events {covered + 1}–{last_seq} are after the last checkpoint: not covered, "
            "only their continuity was checked"
        )
    if witnessed is not None:
        _check_witnessed(
            witnessed, {cp.seq: (cp.mac, cp.sig) for cp in cps}, last_seq, problems, notes
        )
    return _report(
        problems,
        events=count,
        checkpoints=len(cps),
        last_seq=last_seq,
        covered_seq=min(covered, last_seq),
        notes=notes,
    )


__all__ = [
    "AuditLog",
    "AuditMirrorFailed",
    "Knower",
    "RecordedEvent",
    "Report",
    "checkpoint_line",
    "key_id_of",
    "verify_offline",
]
