"""The audit writer: events in the caller's transaction, the JSON-lines mirror,
signed checkpoints, verification, export and the knowers of a document.

`AuditLog` is the facade; the parts live beside it: `keys`, `mirror` (pending lines,
the after-commit listeners, group-committed appends, reading back), `checkpoints`,
`verify` (`verify_database`, `verify_offline`), `export` and `common`.

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

import hmac
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import (
    Connection,
    Select,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from vault.actions import KNOWING_ACTIONS, Action, Outcome
from vault.audit import chain, keys, witness
from vault.audit import export as _export
from vault.audit import verify as _verify
from vault.audit.checkpoints import (
    _cp_payload,
    checkpoint_line,
    key_id_of,
)
from vault.audit.common import (
    _CHECKPOINTS,
    _HEAD_CHECKPOINT,
    _INFO_KEY,
    _INSERT_EVENT,
    _LOCK_HEAD,
    _MOVE_HEAD,
    _MOVE_HEAD_START,
    CHECKPOINTS_FILE,
    STATE_FILE,
    Knower,
    RecordedEvent,
    Report,
    _day,
    _roles_text,
    _text,
    utcnow,
)
from vault.audit.mirror import (
    AuditMirrorFailed,
    _db_lines,
    _install_listeners,
    _Line,
    _Mirror,
    _Pending,
)
from vault.audit.models import WIDTHS, AuditCheckpoint, AuditEvent
from vault.audit.verify import (
    verify_offline,
)
from vault.config import Settings
from vault.errors import AuditUnavailable

log = logging.getLogger("vault.audit")

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
        """Create the keys when missing (`vault.audit.keys.init_keys`)."""
        return keys.init_keys(settings)

    def hmac_key(self) -> bytes:
        if self._hmac_key is None:
            self._hmac_key = keys.read_hmac_key(self.settings)
        return self._hmac_key

    def signing_key(self) -> Ed25519PrivateKey:
        if self._signing_key is None:
            self._signing_key = keys.read_signing_key(self.settings)
        return self._signing_key

    def public_key(self) -> Ed25519PublicKey:
        return self.signing_key().public_key()

    def public_key_pem(self) -> str:
        """The public half of the signing key (``vault audit public-key``)."""
        return keys.public_key_pem(self.public_key())

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
        event = dict(
            actor=actor, actor_roles=actor_roles, action=action, outcome=outcome,
            object_type=object_type, object_id=object_id, document_id=document_id,
            level=level, reason=reason, source=source, request_id=request_id, detail=detail,
        )
        return self.append_many(session, [event], now=now)[0]

    def append_many(
        self,
        session: Session,
        events: Sequence[Mapping[str, Any]],
        *,
        now: datetime | None = None,
    ) -> list[RecordedEvent]:
        """Append several events of one unit of work, in order, in the caller's
        transaction: what ``record`` does for each, with one lock and read of the
        head, one batched insert and one move of the head.

        Each item holds ``record``'s keyword arguments (``actor``, ``actor_roles``,
        ``action``, ``outcome`` required; ``now`` is given once for the batch).
        The chain is the one single appends make (each MAC over the previous
        one), every event has its mirror line, and a checkpoint falls due at the
        same event as with single appends (the events up to it are inserted
        before it is signed). Nothing is written when an item is invalid; the
        errors are ``record``'s.
        """
        if now is not None and now.tzinfo is None:
            raise ValueError("record(now=...) needs an aware datetime")
        prepared = [self._values(**ev) for ev in events]
        if not prepared:
            return []
        key = self.hmac_key()
        self.signing_key()  # a checkpoint may fall due: fail now, not halfway
        self._check_writable(_day(now or utcnow()))
        pending = self._pending(session)
        first_seq: int | None = None
        try:
            # The session's connection, not session.execute(): no autoflush of the
            # caller's objects (their errors are theirs), and far less overhead.
            conn = session.connection()
            head = self._lock_head(conn)
            ts = now or utcnow()
            first_seq = head.seq + 1
            prev_mac = head.mac
            cp_seq, cp_at = head.checkpoint_seq, head.checkpoint_at
            started = cp_at is None  # this batch starts the checkpoint clock
            if started:
                cp_at = ts
            nested = session.get_nested_transaction()
            lines: list[_Line] = []
            todo: list[dict[str, Any]] = []
            checkpointed = False
            for i, values in enumerate(prepared):
                seq = first_seq + i
                values["seq"] = seq
                values["ts"] = ts
                ev = chain.event_dict(**{f: values[f] for f in chain.EVENT_FIELDS})
                event_json = chain.canonical(ev)
                mac = hmac.digest(key, bytes.fromhex(prev_mac) + event_json, "sha256").hex()
                values["mac"] = mac
                lines.append(
                    _Line("event", seq, _day(ts),
                          chain.mirror_line_from_canonical(event_json, mac, prev_mac), nested)
                )
                todo.append(values)
                prev_mac = mac
                if self._due(seq, cp_seq, cp_at, ts):
                    # The checkpoint reads its leaves back from the database.
                    conn.execute(_INSERT_EVENT, todo)
                    todo = []
                    self._queue_lines(pending, lines, first_seq)
                    lines = []
                    self._checkpoint(session, seq, mac, cp_seq, ts)
                    cp_seq, cp_at, checkpointed = seq, ts, True
            if todo:
                conn.execute(_INSERT_EVENT, todo)
            last = prepared[-1]
            if started and not checkpointed:
                conn.execute(_MOVE_HEAD_START,
                             {"h_seq": last["seq"], "h_mac": last["mac"], "h_at": ts})
            else:
                conn.execute(_MOVE_HEAD, {"h_seq": last["seq"], "h_mac": last["mac"]})
            self._queue_lines(pending, lines, first_seq)
        except IntegrityError as exc:
            # The next number is taken although the head does not count it: a row
            # was put there behind the log's back. Fail closed, and say what to run.
            raise AuditUnavailable(
                f"The next audit number ({first_seq}) is already taken by a row the "
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
        return [RecordedEvent(**values) for values in prepared]

    @staticmethod
    def _queue_lines(pending: _Pending, lines: list[_Line], first_seq: int) -> None:
        """Queue the batch's mirror lines; rolled-back savepoints can have left
        stale lines with a reused seq."""
        if not lines:
            return
        if pending.lines and lines[0].seq == first_seq:
            pending.lines = [
                ln for ln in pending.lines if ln.kind != "event" or ln.seq < first_seq
            ]
        pending.lines.extend(lines)

    @staticmethod
    def _values(
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
    ) -> dict[str, Any]:
        """The checked, escaped and clipped columns of one event (without seq,
        ts and mac)."""
        action = Action(action)
        outcome = Outcome(outcome)
        if document_id is None and object_type == "document" and object_id is not None:
            document_id = int(str(object_id))
        return {
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

    _db_lines = staticmethod(_db_lines)

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
        """See `vault.audit.verify.verify_database`."""
        return _verify.verify_database(self, session, mirror=mirror, witnessed=witnessed)

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
        """See `vault.audit.export.export`."""
        return _export.export(self, session, fmt, out, since=since, until=until, actor=actor,
                              document=document, action=action, outcome=outcome,
                              progress=progress)


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
