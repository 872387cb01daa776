"""Runtime folders and keys: what `vault init` creates and what start-up checks.

Creates what is missing and never overwrites a key. Folders holding keys are
0700 and key files 0600.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from vault.config import SECRET_KEY_FILE, Settings


def ensure_dir(path: Path, mode: int) -> bool:
    """Create ``path`` with ``mode`` when missing. Returns True when created."""
    if path.is_dir():
        return False
    path.mkdir(parents=True, mode=mode)
    os.chmod(path, mode)
    return True


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new_secret(path: Path, content: bytes) -> bool:
    """Write a secret file 0600 atomically, refusing to overwrite. Returns True when
    written.

    The bytes go to a temporary file beside it, which is fsynced, then linked into
    place (a link fails when the name exists) and the folder fsynced: a crash leaves
    no file or the whole one, never an empty or partial key (at worst a
    ``.NAME.*.tmp`` that `vault doctor` names)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


def init_runtime(settings: Settings) -> list[str]:
    """Create folders and keys that are missing. Returns what was created."""
    created: list[str] = []
    if ensure_dir(settings.keys_dir, 0o700):
        created.append(str(settings.keys_dir))
    os.chmod(settings.keys_dir, 0o700)
    for folder in (settings.storage_dir, settings.audit_dir):
        if ensure_dir(folder, 0o750):
            created.append(str(folder))
    secret = secrets.token_urlsafe(48).encode("ascii")
    if not settings.secret_key and write_new_secret(settings.keys_dir / SECRET_KEY_FILE, secret):
        created.append(str(settings.keys_dir / SECRET_KEY_FILE))
    return created
