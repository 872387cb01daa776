"""Versioned master keys that wrap the per-version data keys (RFC 3394 AES key wrap).

Where the keys live (``keys/``, folder 0700, files 0600):

- ``master-<id>.key``: one master key, 32 random bytes as base64 text. Ids look
  like ``mk-20240501093000-3f2a`` (UTC creation time and 4 random hex digits),
  so they sort by age and two nodes never pick the same one.
- ``master-active``: the id of the key that wraps new data keys. Replaced
  atomically (temporary file, fsync, rename, fsync of the folder).
- ``retired/master-<id>.key``: keys taken out of use by `Keyring.retire`. They are
  moved, not deleted, and never loaded: a database backup from before the
  rotation can still be opened by moving the file back. Deleting a retired file
  crypto-shreds whatever old backups it wrapped; that is the operator's call.

Alternatively ``VAULT_MASTER_KEY`` (base64 of 32 bytes; ``Settings.master_key``)
gives one key with id ``env``, which is then always the active key. File keys
found in ``keys/`` are loaded next to it so rows still wrapped by them can be
read and re-wrapped; rotation needs file keys (unset the variable first).

Any file or folder readable by group or others is refused with a message
naming the path and the ``chmod`` that fixes it; symbolic links are refused.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_wrap,
)

from vault.config import Settings
from vault.errors import ConfigError, Conflict, IntegrityFailure
from vault.runtime import fsync_dir, write_new_secret

__all__ = ["ENV_KEY_ID", "Keyring", "KeyUnwrapError"]

ENV_KEY_ID = "env"
ACTIVE_FILE = "master-active"
RETIRED_DIR = "retired"
LOCK_FILE = ".master.lock"
KEY_SIZE = 32
_ID_RE = re.compile(r"mk-\d{14}-[0-9a-f]{4}")
_FILE_RE = re.compile(r"master-(mk-\d{14}-[0-9a-f]{4})\.key")


class KeyUnwrapError(IntegrityFailure):
    """A wrapped data key could not be unwrapped: the file cannot be read."""


def _check_mode(path: Path, st: os.stat_result, *, folder: bool) -> None:
    if stat.S_IMODE(st.st_mode) & 0o077:
        want = "700" if folder else "600"
        raise ConfigError(
            f"{path} is accessible by other users (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run `chmod {want} {path}`.",
            code="key_permissions",
            path=str(path),
        )


def _check_dir(path: Path) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise ConfigError(
            f"The keys folder {path} does not exist. Run `vault init` first.",
            code="keys_missing",
        ) from None
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"{path} is not a folder.", code="key_permissions", path=str(path))
    _check_mode(path, st, folder=True)


def _read_secret(path: Path) -> tuple[bytes, os.stat_result]:
    """Read a key file, refusing links, non-files and modes more open than 0600."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ConfigError(
            f"Cannot read {path} ({exc.strerror}); key files must be regular files, not links.",
            code="key_unreadable",
            path=str(path),
        ) from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{path} is not a regular file.", code="key_unreadable")
        _check_mode(path, st, folder=False)
        return fh.read(), st


def _decode_key(text: bytes | str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_SIZE:
        raise ConfigError(
            f"{where} must hold a base64-encoded {KEY_SIZE}-byte key; `vault doctor` says "
            "how to recover.", code="bad_master_key"
        )
    return key


def _write_new(path: Path, content: bytes) -> None:
    """Create ``path`` 0600 with ``content`` atomically and durably (temporary file,
    fsync, link into place, fsync of the folder); never overwrites."""
    if not write_new_secret(path, content):
        raise FileExistsError(path)


def _write_tmp(path: Path, content: bytes) -> None:
    """Create the temporary file ``path`` 0600 with ``content`` and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _new_key_id() -> str:
    return f"mk-{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(2)}"


def _key_path(keys_dir: Path, key_id: str) -> Path:
    return keys_dir / f"master-{key_id}.key"


@contextlib.contextmanager
def _locked(keys_dir: Path) -> Iterator[None]:
    """Serialise key changes between processes sharing ``keys/``."""
    fd = os.open(keys_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Keyring:
    """The master keys of one installation; wraps and unwraps data keys.

    Another process (``vault keys rotate``) may change ``keys/`` while this one
    runs: `wrap` notices a new active key and `unwrap` loads a key it has not
    seen yet before giving up.
    """

    def __init__(
        self, keys: Mapping[str, bytes], active_id: str, keys_dir: Path | None = None
    ) -> None:
        if active_id not in keys:
            raise ConfigError(
                f"Active master key {active_id!r} is not loaded.", code="no_master_key"
            )
        self._keys = dict(keys)
        self._active = active_id
        self._dir = keys_dir
        self._env = active_id == ENV_KEY_ID
        self._active_stamp: tuple[int, int] | None = None

    # --- loading -----------------------------------------------------------------

    @classmethod
    def load(cls, settings: Settings) -> Keyring:
        """Load the master keys; `ConfigError` saying what to run when they are unusable."""
        keys_dir = settings.keys_dir
        env_key = (
            _decode_key(settings.master_key, "VAULT_MASTER_KEY") if settings.master_key else None
        )
        if env_key is not None and not keys_dir.is_dir():
            return cls({ENV_KEY_ID: env_key}, ENV_KEY_ID)
        _check_dir(keys_dir)
        keys = cls._load_files(keys_dir)
        if env_key is not None:
            keys[ENV_KEY_ID] = env_key
            return cls(keys, ENV_KEY_ID, keys_dir)
        active, stamp = cls._read_active(keys_dir)
        if active is None:
            raise ConfigError(
                f"No master key in {keys_dir}: run `vault init` (or set VAULT_MASTER_KEY).",
                code="no_master_key",
            )
        if active not in keys:
            raise ConfigError(
                f"{keys_dir / ACTIVE_FILE} names {active}, but "
                f"{_key_path(keys_dir, active)} is missing.",
                code="no_master_key",
            )
        ring = cls(keys, active, keys_dir)
        ring._active_stamp = stamp
        return ring

    @staticmethod
    def _load_files(keys_dir: Path) -> dict[str, bytes]:
        keys: dict[str, bytes] = {}
        for path in sorted(keys_dir.glob("master-*.key")):
            match = _FILE_RE.fullmatch(path.name)
            if not match:
                continue
            keys[match.group(1)] = _decode_key(_read_secret(path)[0], str(path))
        return keys

    @staticmethod
    def _read_active(keys_dir: Path) -> tuple[str | None, tuple[int, int] | None]:
        path = keys_dir / ACTIVE_FILE
        try:
            raw, st = _read_secret(path)
        except FileNotFoundError:
            return None, None
        key_id = raw.decode("ascii", "replace").strip()
        if not _ID_RE.fullmatch(key_id):
            raise ConfigError(f"{path} does not name a master key.", code="no_master_key")
        return key_id, (st.st_ino, st.st_mtime_ns)

    @classmethod
    def create_first(cls, settings: Settings) -> str | None:
        """Create and activate the first master key (`vault init`).

        Never overwrites: returns None when a key is already there (or
        ``VAULT_MASTER_KEY`` is set), else the new key's id. A key file left
        without ``master-active`` by a crash is activated instead of adding one.
        """
        if settings.master_key:
            _decode_key(settings.master_key, "VAULT_MASTER_KEY")
            return None
        keys_dir = settings.keys_dir
        if not keys_dir.exists():
            keys_dir.mkdir(parents=True, mode=0o700)
            os.chmod(keys_dir, 0o700)
        _check_dir(keys_dir)
        with _locked(keys_dir):
            active, _ = cls._read_active(keys_dir)
            if active is not None:
                return None
            existing = cls._load_files(keys_dir)
            if len(existing) > 1:
                raise ConfigError(
                    f"{keys_dir} holds several master keys but no {ACTIVE_FILE}: write the id "
                    f"of the one in use into {keys_dir / ACTIVE_FILE}.",
                    code="no_master_key",
                )
            if existing:
                (key_id,) = existing
            else:
                key_id = _new_key_id()
                key = base64.b64encode(os.urandom(KEY_SIZE)) + b"\n"
                _write_new(_key_path(keys_dir, key_id), key)
                fsync_dir(keys_dir)
            _set_active(keys_dir, key_id)
        return key_id

    # --- reading -----------------------------------------------------------------

    @property
    def active_id(self) -> str:
        self._refresh_active()
        return self._active

    @property
    def ids(self) -> tuple[str, ...]:
        """Every loaded master key id, oldest first (``env`` last)."""
        return tuple(sorted(self._keys, key=lambda k: (k == ENV_KEY_ID, k)))

    @property
    def from_environment(self) -> bool:
        return self._env

    def wrap(self, data_key: bytes) -> tuple[str, bytes]:
        """Wrap ``data_key`` under the active master key: ``(master key id, wrapped)``."""
        if len(data_key) != KEY_SIZE:
            raise ValueError(f"data key must be {KEY_SIZE} bytes")
        active = self.active_id
        return active, aes_key_wrap(self._keys[active], data_key)

    def unwrap(self, master_key_id: str, wrapped: bytes) -> bytes:
        """The data key ``wrapped`` under ``master_key_id``; `IntegrityFailure` when impossible."""
        key = self._keys.get(master_key_id)
        if key is None:
            self._reload()
            key = self._keys.get(master_key_id)
        if key is None:
            raise KeyUnwrapError(
                f"Master key {master_key_id!r} is not available (retired or missing from "
                f"{self._dir or 'VAULT_MASTER_KEY'}): the file cannot be read.",
                code="master_key_missing",
                key_id=master_key_id,
            )
        try:
            data_key = aes_key_unwrap(key, bytes(wrapped))
        except (InvalidUnwrap, ValueError):
            raise KeyUnwrapError(
                f"The data key failed to unwrap with master key {master_key_id!r}: "
                "the stored key was altered or belongs to another installation.",
                code="key_unwrap_failed",
                key_id=master_key_id,
            ) from None
        if len(data_key) != KEY_SIZE:
            raise KeyUnwrapError(
                f"The data key unwrapped with master key {master_key_id!r} has the wrong length.",
                code="key_unwrap_failed",
                key_id=master_key_id,
            )
        return data_key

    def rewrap(self, master_key_id: str, wrapped: bytes) -> tuple[str, bytes]:
        """Re-wrap under the active key. Already active: returned unchanged (idempotent).

        Only the 40-byte wrapped key changes; the blob is not touched. The old
        master key stays loaded, so a crash between re-wrapping and storing the
        row loses nothing: the row still unwraps with its old key.
        """
        active = self.active_id
        if master_key_id == active:
            return master_key_id, bytes(wrapped)
        data_key = self.unwrap(master_key_id, wrapped)
        return active, aes_key_wrap(self._keys[active], data_key)

    # --- changing ----------------------------------------------------------------

    def rotate(self) -> str:
        """Create a new master key and make it the active one; returns its id.

        Existing rows keep working (their key stays loaded); the caller re-wraps
        them with `rewrap` and may then `retire` the old key.
        """
        keys_dir = self._writable_dir("rotate")
        with _locked(keys_dir):
            key_id = _new_key_id()
            while key_id in self._keys or _key_path(keys_dir, key_id).exists():
                key_id = _new_key_id()
            key = os.urandom(KEY_SIZE)
            _write_new(_key_path(keys_dir, key_id), base64.b64encode(key) + b"\n")
            fsync_dir(keys_dir)
            _set_active(keys_dir, key_id)
            self._keys[key_id] = key
            self._active = key_id
            _, self._active_stamp = self._read_active(keys_dir)
        return key_id

    def retire(self, key_id: str, in_use: Callable[[str], int]) -> Path:
        """Take ``key_id`` out of use: moved to ``keys/retired/`` and no longer loaded.

        Refused (`Conflict`) for the active key and while ``in_use(key_id)`` (the
        caller's count of data keys still wrapped by it) is not zero. Returns the
        retired file's new path.
        """
        keys_dir = self._writable_dir("retire")
        with _locked(keys_dir):
            self._refresh_active()
            if key_id == self._active:
                raise Conflict(
                    f"Master key {key_id} is the active key: rotate first.",
                    code="key_active",
                    key_id=key_id,
                )
            if not _ID_RE.fullmatch(key_id) or not _key_path(keys_dir, key_id).exists():
                raise Conflict(f"No master key {key_id!r} in {keys_dir}.", code="key_unknown")
            count = in_use(key_id)
            if count:
                raise Conflict(
                    f"Master key {key_id} still wraps {count} data key(s): run "
                    "`vault keys rotate` to re-wrap them first.",
                    code="key_in_use",
                    key_id=key_id,
                    count=count,
                )
            retired = keys_dir / RETIRED_DIR
            if not retired.exists():
                retired.mkdir(mode=0o700)
            os.chmod(retired, 0o700)
            target = retired / f"master-{key_id}.key"
            os.rename(_key_path(keys_dir, key_id), target)
            fsync_dir(retired)
            fsync_dir(keys_dir)
            self._keys.pop(key_id, None)
        return target

    # --- internals ---------------------------------------------------------------

    def _writable_dir(self, what: str) -> Path:
        if self._env or self._dir is None:
            raise ConfigError(
                f"Cannot {what} master keys while VAULT_MASTER_KEY is set: it holds one key. "
                "Unset it and use key files under keys/ to rotate.",
                code="env_master_key",
            )
        _check_dir(self._dir)
        return self._dir

    def _refresh_active(self) -> None:
        """Follow a rotation done by another process (cheap: one stat)."""
        if self._env or self._dir is None:
            return
        try:
            st = os.stat(self._dir / ACTIVE_FILE)
        except FileNotFoundError:
            return
        if (st.st_ino, st.st_mtime_ns) == self._active_stamp:
            return
        active, stamp = self._read_active(self._dir)
        if active is not None and active not in self._keys:
            self._reload()
        if active is not None and active in self._keys:
            self._active, self._active_stamp = active, stamp

    def _reload(self) -> None:
        if self._dir is None or not self._dir.is_dir():
            return
        _check_dir(self._dir)
        self._keys.update(self._load_files(self._dir))


def _set_active(keys_dir: Path, key_id: str) -> None:
    """Point ``master-active`` at ``key_id`` atomically and durably."""
    tmp = keys_dir / f".{ACTIVE_FILE}.{secrets.token_hex(4)}.tmp"
    _write_tmp(tmp, key_id.encode("ascii") + b"\n")
    try:
        os.replace(tmp, keys_dir / ACTIVE_FILE)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(keys_dir)
