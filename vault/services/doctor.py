"""`vault doctor`: broken key files first (each named with its recovery step, before
anything needs the keys), then orphan blobs, rows whose blob is missing, blobs that
fail authentication, and temporary files left by a crash. `repair` removes orphans
and temporary files older than an hour (younger ones may be uploads in flight)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from vault.config import AUDIT_KEY_FILE, SECRET_KEY_FILE, SIGNING_KEY_FILE, Settings
from vault.crypto import keyring
from vault.errors import ConfigError, IntegrityFailure
from vault.models import DocumentVersion
from vault.services.content import StoredVersion, verify_version
from vault.services.context import Infra

GRACE_SECONDS = 3600


@dataclass(frozen=True)
class KeyProblem:
    """A key file that cannot be used: which, what is wrong, what to do."""

    path: str
    what: str
    recovery: str


def check_keys(settings: Settings, usage: Mapping[str, int] | None = None) -> list[KeyProblem]:
    """Every key file under ``keys/``, read as the commands would read it, without
    needing any of them to work. ``usage``: data keys wrapped per master key id (from
    the database), to say whether a broken master key still matters."""
    keys_dir = settings.keys_dir
    if not keys_dir.is_dir():
        return [KeyProblem(str(keys_dir), "the keys folder is missing",
                           "restore keys/ from your key backup; on a new installation run "
                           "`vault init`")]
    problems: list[KeyProblem] = []

    def read(path: Path) -> bytes | None:
        try:
            return keyring._read_secret(path)[0]
        except FileNotFoundError:
            return None
        except ConfigError as exc:
            problems.append(KeyProblem(str(path), exc.message,
                                       "fix the file's mode or type as the message says"))
            return b""

    backup = "restore it from your key backup (a key cannot be made again)"
    if not settings.secret_key:
        raw = read(keys_dir / SECRET_KEY_FILE)
        if raw is not None and not raw.strip():
            problems.append(KeyProblem(
                str(keys_dir / SECRET_KEY_FILE), "empty",
                "delete it and run `vault init`, which writes a new one (everyone signs in "
                "again; no stored data depends on it)"))
    found: dict[str, bool] = {}
    for path in sorted(keys_dir.glob("master-*.key")):
        match = keyring._FILE_RE.fullmatch(path.name)
        if not match:
            continue
        raw = read(path)
        try:
            keyring._decode_key(raw or b"", str(path))
            found[match.group(1)] = True
        except ConfigError:
            found[match.group(1)] = False
            wraps = None if usage is None else usage.get(match.group(1), 0)
            step = backup + "; without it the files it wraps cannot be read"
            if wraps == 0:
                step += (f". The database has no data key wrapped by {match.group(1)}: if it "
                         "is not the active key, moving the file out of keys/ is safe")
            elif wraps:
                step += f" ({wraps} data key(s) are wrapped by it)"
            problems.append(KeyProblem(
                str(path), "empty, partial or not a base64 32-byte key" if raw is not None
                else "unreadable", step))
    if not settings.master_key:
        active_path = keys_dir / keyring.ACTIVE_FILE
        raw = read(active_path)
        active = (raw or b"").decode("ascii", "replace").strip()
        newest = max(found, default=None)
        hint = (f"write the id of the key in use into it (`echo {newest} > {active_path}`; "
                "the newest master-*.key is usually it)" if newest else
                "restore keys/ from your key backup, or run `vault init` on a new installation")
        if raw is None and found:
            problems.append(KeyProblem(str(active_path), "missing", hint))
        elif raw is not None and not keyring._ID_RE.fullmatch(active):
            problems.append(KeyProblem(str(active_path), "empty or not a key id", hint))
        elif raw is not None and active not in found:
            problems.append(KeyProblem(str(active_path), f"names {active}, whose file is missing",
                                       backup))
    from vault.audit.common import HMAC_KEY_BYTES

    raw = read(keys_dir / AUDIT_KEY_FILE)
    if raw is not None and len(raw) != HMAC_KEY_BYTES:
        problems.append(KeyProblem(
            str(keys_dir / AUDIT_KEY_FILE), f"{len(raw)} bytes instead of {HMAC_KEY_BYTES}",
            backup + "; never let `vault init` make a new one over a trail with events (the "
            "chain could no longer be verified)"))
    raw = read(keys_dir / SIGNING_KEY_FILE)
    if raw is not None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        try:
            key = serialization.load_pem_private_key(raw, password=None)
            ok = isinstance(key, Ed25519PrivateKey)
        except (ValueError, TypeError):
            ok = False
        if not ok:
            problems.append(KeyProblem(
                str(keys_dir / SIGNING_KEY_FILE), "empty, partial or not an Ed25519 key",
                backup + " (a new key signs new checkpoints only; offline checks then need "
                "its new public key)"))
    for path in sorted(keys_dir.glob(".*.tmp")):
        if path.name.startswith(f".{keyring.LOCK_FILE}"):
            continue
        problems.append(KeyProblem(str(path), "a temporary file left by an interrupted write",
                                   "delete it (the key it was for was not written)"))
    return problems


@dataclass(frozen=True)
class Problem:
    document_id: int
    version: int
    blob_id: str
    what: str


@dataclass
class Report:
    checked: int = 0
    orphans: list[tuple[str, float]] = field(default_factory=list)  # (blob id, age seconds)
    missing: list[Problem] = field(default_factory=list)
    corrupt: list[Problem] = field(default_factory=list)
    tmp: list[tuple[str, float]] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not (self.orphans or self.missing or self.corrupt or self.tmp)


def check(infra: Infra, progress: Callable[[int, int], None] | None = None) -> Report:
    """Walk every version row and every stored blob; decrypt each blob fully."""
    report = Report()
    with infra.sessions() as session:
        rows = session.execute(
            select(DocumentVersion.document_id, DocumentVersion.number, DocumentVersion.blob_id,
                   DocumentVersion.master_key_id, DocumentVersion.wrapped_key)
            .where(DocumentVersion.blob_id.is_not(None))
            .order_by(DocumentVersion.id)
        ).all()
    blobs = infra.blobs
    referenced = set()
    for i, (doc_id, number, blob_id, key_id, wrapped) in enumerate(rows, 1):
        assert blob_id is not None and key_id is not None and wrapped is not None
        if not blobs.exists(blob_id):
            report.missing.append(Problem(doc_id, number, blob_id, "blob missing"))
        else:
            try:
                verify_version(infra, StoredVersion(doc_id, number, blob_id, key_id,
                                                    bytes(wrapped)))
            except IntegrityFailure as exc:
                detail = getattr(exc, "detail", "") or exc.message
                report.corrupt.append(Problem(doc_id, number, blob_id, detail))
        referenced.add(blob_id)
        report.checked = i
        if progress:
            progress(i, len(rows))
    now = time.time()
    for blob_id in blobs.iter_ids():
        if blob_id not in referenced:
            report.orphans.append((blob_id, max(0.0, now - blobs.info(blob_id).mtime)))
    report.tmp = [(t.name, t.age_seconds) for t in blobs.list_tmp()]
    return report


def repair(infra: Infra, report: Report) -> list[str]:
    """Remove orphans and temporary files older than an hour. Returns what was removed."""
    removed = []
    for blob_id, age in report.orphans:
        if age >= GRACE_SECONDS and infra.blobs.delete(blob_id):
            removed.append(f"orphan blob {blob_id}")
    for name, age in report.tmp:
        if age >= GRACE_SECONDS and infra.blobs.remove_tmp(name):
            removed.append(f"temporary file {name}")
    return removed
