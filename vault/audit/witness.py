"""Witnesses: every signed checkpoint also leaves the server.

Someone with write access to the database and ``audit/`` (not the keys) can
delete the newest events, the checkpoints that cover them, rewind the head and
the mirror, and the trail that is left is consistent with itself. A witness
keeps what the server cannot take back: each checkpoint's size and head MAC,
sent as it is committed, to

- a **file** (``VAULT_AUDIT_WITNESS_FILE``): JSON lines appended and fsync'd,
  meant for another mount (an NFS share of the compliance office, a disk with
  ``chattr +a``); ``vault audit verify --witness FILE`` checks that the chain
  reaches every head written there;
- **syslog** (``VAULT_AUDIT_WITNESS_SYSLOG``: ``/dev/log``, ``host`` or
  ``host:port``, UDP), through the standard library's ``SysLogHandler``; the
  lines there can be saved to a file and given to ``--witness`` as well.

A record is small (no leaves): ``{"witness": "vault-audit-checkpoint", "seq",
"prev_seq", "mac", "time", "key_id", "sig"}``. The signature is the checkpoint's
own; verification compares the record with the checkpoint in the database,
whose signature it checks with the public key.

Sending happens after the commit (a rolled-back checkpoint is never
witnessed). A witness that fails does not stop the action: it is logged at
CRITICAL ("ALARM") and the ``audit_checkpoint`` job sends the newest checkpoint
again to a file witness that lacks it.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import socket
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from vault.audit.files import fsync_folder, write_all

log = logging.getLogger("vault.audit")

TAG = "vault-audit-checkpoint"
_FIELDS = ("seq", "prev_seq", "mac", "time", "key_id", "sig")


def record_of(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The witness record of a checkpoint line's fields (payload and ``sig``)."""
    return {"witness": TAG, **{k: checkpoint[k] for k in _FIELDS}}


def record_line(record: Mapping[str, Any]) -> bytes:
    return json.dumps(dict(record), sort_keys=True, separators=(",", ":")).encode("ascii")


class Witness(Protocol):
    name: str

    def send(self, records: Sequence[Mapping[str, Any]]) -> None: ...


class FileWitness:
    """Append-only JSON lines, fsync'd (and the folder fsync'd when created)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.name = f"file {self.path}"
        self._lock = threading.Lock()

    def send(self, records: Sequence[Mapping[str, Any]]) -> None:
        if not records:
            return
        data = b"".join(record_line(r) + b"\n" for r in records)
        with self._lock:
            created = not self.path.exists()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
            if created:
                fsync_folder(self.path)

    def last_seq(self) -> int:
        """The highest checkpoint written to the file (0 when none or unreadable)."""
        try:
            records = read_records(self.path)
        except (OSError, ValueError):
            return 0
        return max((r.seq for r in records), default=0)


class _RaisingSysLogHandler(logging.handlers.SysLogHandler):
    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging API
        raise  # emit() calls this inside its except block: the caller sees the error


class SyslogWitness:
    """One syslog message per checkpoint (facility ``authpriv``, level warning)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.name = f"syslog {target}"

    def _open(self) -> logging.handlers.SysLogHandler:
        address: str | tuple[str, int]
        if self.target.startswith("/"):
            address = self.target
        else:
            host, _, port = self.target.partition(":")
            address = (host, int(port or logging.handlers.SYSLOG_UDP_PORT))
        return _RaisingSysLogHandler(
            address=address,
            facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV,
            socktype=socket.SOCK_DGRAM,
        )

    def send(self, records: Sequence[Mapping[str, Any]]) -> None:
        # A socket per send (a checkpoint a minute at most): nothing left open.
        handler = self._open()
        try:
            for r in records:
                msg = "vault: " + record_line(r).decode("ascii")
                handler.emit(logging.LogRecord(TAG, logging.WARNING, __file__, 0, msg, None, None))
        finally:
            handler.close()


def from_settings(witness_file: Path | None, witness_syslog: str | None) -> list[Witness]:
    out: list[Witness] = []
    if witness_file is not None:
        out.append(FileWitness(witness_file))
    if witness_syslog:
        out.append(SyslogWitness(witness_syslog))
    return out


def send_all(witnesses: Iterable[Witness], records: Sequence[Mapping[str, Any]]) -> bool:
    """Send to every witness; log an ALARM for each that fails. True when all took it."""
    ok = True
    for w in witnesses:
        try:
            w.send(records)
        except (OSError, ValueError) as exc:
            ok = False
            log.critical(
                "ALARM: audit checkpoint(s) %s could not be sent to the witness (%s): %s. "
                "The `audit_checkpoint` job sends the newest again.",
                ", ".join(str(r["seq"]) for r in records), w.name, exc,
            )
    return ok


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Witnessed:
    seq: int
    mac: str
    time: str
    sig: str
    where: str


def read_records(path: Path) -> list[Witnessed]:
    """Witness records of a file: our JSON lines, or syslog lines carrying them
    (anything before the first ``{`` of a line is ignored, so a saved syslog file
    works). Lines that carry no record are skipped; a damaged record is an error."""
    out: list[Witnessed] = []
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if TAG.encode() not in raw:
                continue
            text = raw.decode("utf-8", "replace")
            start = text.find("{")
            try:
                doc = json.loads(text[start:].strip().rstrip("\x00"))
                if doc.get("witness") != TAG:
                    continue
                seq = doc["seq"]
                if type(seq) is not int or seq < 1:
                    raise ValueError("seq is not a positive number")
                out.append(Witnessed(seq, str(doc["mac"]), str(doc["time"]), str(doc["sig"]),
                                     f"{path.name}:{n}"))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(f"{path.name}:{n} is not a readable witness record ({exc})") \
                    from None
    return out
