"""Where encrypted blobs live: the `BlobStore` interface and its two backends.

`open_blob_store` picks the backend from the settings: local files under
``VAULT_STORAGE_DIR`` (the default, `LocalBlobStore` below) or an S3-compatible
bucket when ``VAULT_STORAGE_URL=s3://bucket/prefix`` is set
(`vault.blobstore_s3.S3BlobStore`). Both keep the same contract, checked by one
set of tests run against each: blobs are written once under a random id, become
visible only at `BlobWriter.commit` (so the caller's row commits after the blob is
complete), and read back through a seekable reader.

The store only ever sees ciphertext (vault/crypto/envelope.py writes it) and
names blobs by random ids (32 lowercase hex digits), never by user file names.

Local layout under ``storage_dir`` (folders 0700, files 0600)::

    blobs/ab/cd/abcd…     committed blobs, fanned out by the first two byte pairs
    tmp/<random>.part     blobs being written

Writing is crash-safe: bytes go to ``tmp/``; `BlobWriter.commit` fsyncs the
file, renames it into place and fsyncs the folders, and only then returns the
id the caller stores in its database row. A crash leaves at most a temporary
file or an unreferenced blob (an orphan `vault doctor` finds), never a row
without its blob. Leaving the ``with`` block without committing, or with an
exception, deletes the temporary file.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from vault.config import Settings
from vault.errors import BlobStoreError, IntegrityFailure, InvalidInput
from vault.runtime import fsync_dir

__all__ = [
    "BlobInfo",
    "BlobMissing",
    "BlobStore",
    "BlobStoreError",
    "BlobWriter",
    "LocalBlobStore",
    "TmpFile",
    "check_blob_id",
    "new_blob_id",
    "open_blob_store",
]

_ID_RE = re.compile(r"[0-9a-f]{32}")
_TMP_RE = re.compile(r"[0-9a-f]{32}\.part")
DIR_MODE = 0o700
FILE_MODE = 0o600


class BlobMissing(IntegrityFailure):
    """A blob a row refers to is not in the store."""

    default_code = "blob_missing"


@dataclass(frozen=True)
class BlobInfo:
    blob_id: str
    size: int
    mtime: float  # seconds since the epoch


@dataclass(frozen=True)
class TmpFile:
    """A write in progress or left by a crash: a file in ``tmp/`` (local) or an
    unfinished multipart upload (S3). ``name`` is what `BlobStore.remove_tmp` takes."""

    name: str
    size: int
    age_seconds: float


def new_blob_id() -> str:
    return secrets.token_hex(16)


def check_blob_id(blob_id: str) -> str:
    """Return ``blob_id`` when it is 32 lowercase hex digits, else `InvalidInput`."""
    if not isinstance(blob_id, str) or not _ID_RE.fullmatch(blob_id):
        raise InvalidInput("Malformed blob id.", code="bad_blob_id")
    return blob_id


class BlobWriter(Protocol):
    """A blob being written: a write-only binary file with commit/abort."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int: ...

    def commit(self) -> str:
        """Make the blob durable and visible; returns its id."""

    def abort(self) -> None:
        """Throw the bytes away (idempotent; a no-op after commit)."""


class BlobStore(Protocol):
    """What the services need from blob storage; small enough for S3 to implement."""

    def new_writer(self) -> contextlib.AbstractContextManager[BlobWriter]: ...

    def open(self, blob_id: str) -> BinaryIO:
        """A seekable binary reader over the blob; `BlobMissing` when absent."""

    def delete(self, blob_id: str) -> bool:
        """Remove the blob; False when it was not there."""

    def exists(self, blob_id: str) -> bool: ...

    def info(self, blob_id: str) -> BlobInfo: ...

    def iter_ids(self) -> Iterator[str]: ...

    def list_tmp(self) -> list[TmpFile]: ...

    def remove_tmp(self, name: str) -> bool: ...

    def describe(self) -> str:
        """Where the blobs are, for messages (a folder or ``s3://bucket/prefix``)."""


def open_blob_store(settings: Settings) -> BlobStore:
    """The backend the settings name: S3 for ``storage_url``, else local files."""
    if settings.storage_url:
        from vault.blobstore_s3 import S3BlobStore

        return S3BlobStore.from_url(settings.storage_url)
    return LocalBlobStore(settings.storage_dir)


def _ensure_dir(path: Path) -> bool:
    """Create ``path`` 0700 when missing (parents must exist). True when created."""
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        return False
    os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask
    return True


class LocalWriter:
    """Writes one blob to ``tmp/``; see `LocalBlobStore.new_writer`."""

    def __init__(self, store: LocalBlobStore) -> None:
        self._store = store
        self._tmp = store.tmp_dir / f"{new_blob_id()}.part"
        fd = os.open(
            self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE
        )
        self._file: BinaryIO | None = os.fdopen(fd, "wb")
        self.blob_id: str | None = None
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        if self._file is None:
            raise ValueError("blob writer is closed")
        n = self._file.write(data)
        self.size += n
        return n

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def commit(self) -> str:
        if self._file is None:
            raise ValueError("blob writer is closed")
        blob_id = new_blob_id()
        final = self._store.path_of(blob_id)
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            new_dirs = self._store.make_parents(final)
            os.rename(self._tmp, final)
            # The rename and any new folders must survive a crash before the row does.
            fsync_dir(final.parent)
            for folder in new_dirs:
                fsync_dir(folder.parent)
            fsync_dir(self._tmp.parent)
        except BaseException:
            self.abort()
            raise
        self.blob_id = blob_id
        return blob_id

    def abort(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if self.blob_id is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._tmp)


class LocalBlobStore:
    """Blobs as files under ``storage_dir`` (``VAULT_STORAGE_DIR``)."""

    def __init__(self, storage_dir: Path) -> None:
        self.root = Path(storage_dir)
        self.blobs_dir = self.root / "blobs"
        self.tmp_dir = self.root / "tmp"
        if not self.root.is_dir():
            self.root.mkdir(parents=True, mode=DIR_MODE)
        for folder in (self.blobs_dir, self.tmp_dir):
            _ensure_dir(folder)
            os.chmod(folder, DIR_MODE)

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalBlobStore:
        return cls(settings.storage_dir)

    def describe(self) -> str:
        return str(self.blobs_dir)

    # --- paths -------------------------------------------------------------------

    def path_of(self, blob_id: str) -> Path:
        check_blob_id(blob_id)
        return self.blobs_dir / blob_id[:2] / blob_id[2:4] / blob_id

    def make_parents(self, final: Path) -> list[Path]:
        """Create the fan-out folders of ``final``; returns those created."""
        created = []
        for folder in (final.parent.parent, final.parent):
            if _ensure_dir(folder):
                created.append(folder)
        return created

    # --- the interface -----------------------------------------------------------

    @contextlib.contextmanager
    def new_writer(self) -> Iterator[LocalWriter]:
        """``with store.new_writer() as w: w.write(...); blob_id = w.commit()``."""
        writer = LocalWriter(self)
        try:
            yield writer
        finally:
            if writer.blob_id is None:
                writer.abort()

    def open(self, blob_id: str) -> BinaryIO:
        path = self.path_of(blob_id)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise BlobMissing(
                "The stored file is missing from the blob store.", blob_id=blob_id
            ) from None
        # Unbuffered: the envelope reads whole segments with readinto.
        return os.fdopen(fd, "rb", buffering=0)

    def delete(self, blob_id: str) -> bool:
        path = self.path_of(blob_id)
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        fsync_dir(path.parent)
        return True

    def exists(self, blob_id: str) -> bool:
        try:
            return stat.S_ISREG(os.lstat(self.path_of(blob_id)).st_mode)
        except FileNotFoundError:
            return False

    def info(self, blob_id: str) -> BlobInfo:
        try:
            st = os.lstat(self.path_of(blob_id))
        except FileNotFoundError:
            raise BlobMissing(
                "The stored file is missing from the blob store.", blob_id=blob_id
            ) from None
        return BlobInfo(blob_id, st.st_size, st.st_mtime)

    def iter_ids(self) -> Iterator[str]:
        """Every committed blob id (anything else found under blobs/ is ignored)."""
        for first in sorted(_listdir(self.blobs_dir)):
            if not re.fullmatch(r"[0-9a-f]{2}", first):
                continue
            for second in sorted(_listdir(self.blobs_dir / first)):
                if not re.fullmatch(r"[0-9a-f]{2}", second):
                    continue
                for name in sorted(_listdir(self.blobs_dir / first / second)):
                    if _ID_RE.fullmatch(name) and name.startswith(first + second):
                        yield name

    def list_tmp(self) -> list[TmpFile]:
        """Our files in ``tmp/`` with their age: writes in progress or left by a crash."""
        now = time.time()
        found = []
        for name in sorted(_listdir(self.tmp_dir)):
            if not _TMP_RE.fullmatch(name):
                continue
            try:
                st = os.lstat(self.tmp_dir / name)
            except FileNotFoundError:
                continue
            found.append(TmpFile(name, st.st_size, max(0.0, now - st.st_mtime)))
        return found

    def remove_tmp(self, name: str) -> bool:
        """Delete one temporary file by the name `list_tmp` gave."""
        if not _TMP_RE.fullmatch(name):
            raise InvalidInput("Malformed temporary file name.", code="bad_blob_id")
        try:
            os.unlink(self.tmp_dir / name)
        except FileNotFoundError:
            return False
        return True


def _listdir(path: Path) -> list[str]:
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []
