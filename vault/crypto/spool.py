"""The encrypted upload spool: where an upload waits for the service without its
plaintext ever reaching the disk (moved here from vault/web/documents.py, next to the
envelope; the web's request class and the API's streaming uploads use it)."""

from __future__ import annotations

import io
import os
import struct
import tempfile
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class SpooledEncryptedFile(io.RawIOBase):
    """Where an upload waits for the service: memory first, then an unnamed temporary
    file under ``storage/tmp`` holding AES-256-GCM chunks under a fresh random key that
    lives only in this object. Werkzeug's default spools large uploads to plain
    temporary files; this keeps the plaintext off the disk. Written once, then read
    back (decrypting, each chunk verified) after ``seek(0)``; gone on close.
    """

    CHUNK = 256 * 1024

    def __init__(self, tmp_dir: Path, max_memory: int = 1024 * 1024) -> None:
        super().__init__()
        self._tmp_dir = Path(tmp_dir)
        self._max_memory = max_memory
        self._aead: AESGCM | None = AESGCM(AESGCM.generate_key(bit_length=256))
        self._pending = bytearray()  # plaintext not yet encrypted (or all of it in memory)
        self._file: IO[bytes] | None = None
        self._chunks = 0  # chunks written
        self._last_size = 0  # plaintext size of the last chunk
        self._size = 0
        self._reading = False
        self._pos = 0  # read position (plaintext)
        self._out = b""  # decrypted, not yet read
        self._next = 0  # next chunk to decrypt

    @property
    def spilled(self) -> bool:
        """Whether the upload outgrew memory (and went encrypted to disk)."""
        return self._file is not None

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return not self._reading

    def seekable(self) -> bool:
        return True

    def _nonce(self, index: int) -> bytes:
        return struct.pack(">4xQ", index)

    def _emit(self, data: bytes | bytearray) -> None:
        assert self._file is not None and self._aead is not None
        self._file.write(self._aead.encrypt(self._nonce(self._chunks), bytes(data), None))
        self._chunks += 1
        self._last_size = len(data)

    def write(self, data: Any) -> int:
        if self.closed or self._reading:
            raise ValueError("the upload spool is not open for writing")
        view = memoryview(data).cast("B")
        n = len(view)
        self._pending += view
        self._size += n
        if self._file is None and len(self._pending) > self._max_memory:
            # O_TMPFILE where the system has it: never visible by name, gone on a crash.
            self._file = tempfile.TemporaryFile(dir=self._tmp_dir)
        if self._file is not None:
            while len(self._pending) >= self.CHUNK:
                self._emit(self._pending[: self.CHUNK])
                del self._pending[: self.CHUNK]
        return n

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if self.closed:
            raise ValueError("the upload spool is closed")
        if whence == os.SEEK_END and offset == 0 and not self._reading:
            return self._size
        if offset != 0 or whence != os.SEEK_SET:
            raise io.UnsupportedOperation("the upload spool only rewinds to the start")
        if not self._reading:
            self._reading = True
            if self._file is not None:
                if self._pending or self._chunks == 0:
                    self._emit(self._pending)
                self._pending = bytearray()
                self._file.flush()
        if self._file is not None:
            self._file.seek(0)
        self._pos, self._out, self._next = 0, b"", 0
        return 0

    def tell(self) -> int:
        return self._pos if self._reading else self._size

    def _decrypt_next(self) -> bytes:
        assert self._file is not None and self._aead is not None
        if self._next >= self._chunks:
            return b""
        size = self.CHUNK if self._next < self._chunks - 1 else self._last_size
        sealed = self._file.read(size + 16)
        try:
            plain = self._aead.decrypt(self._nonce(self._next), sealed, None)
        except Exception:  # noqa: BLE001 - InvalidTag or a short read: the spool was altered
            raise OSError("the upload spool failed authentication") from None
        self._next += 1
        return plain

    def readinto(self, buffer: Any) -> int:
        if self.closed:
            raise ValueError("the upload spool is closed")
        if not self._reading:
            self.seek(0)
        view = memoryview(buffer).cast("B")
        if self._file is None:
            chunk = self._pending[self._pos : self._pos + len(view)]
            view[: len(chunk)] = chunk
            self._pos += len(chunk)
            return len(chunk)
        filled = 0
        while filled < len(view):
            if not self._out:
                self._out = self._decrypt_next()
                if not self._out:
                    break
            n = min(len(view) - filled, len(self._out))
            view[filled : filled + n] = self._out[:n]
            self._out = self._out[n:]
            filled += n
        self._pos += filled
        return filled

    def close(self) -> None:
        if not self.closed:
            self._aead = None
            self._pending = bytearray()
            self._out = b""
            if self._file is not None:
                self._file.close()
                self._file = None
        super().close()
