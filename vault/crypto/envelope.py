"""The stored file format: segmented AES-256-GCM streaming AEAD (DESIGN.md).

::

    header  = b"VLTB" | format version (1) | segment size (u32 BE, plaintext bytes)
              | nonce prefix (7 random bytes)                          -- 16 bytes
    segment = AESGCM(data key).encrypt(
                  nonce = prefix | segment index (u32 BE) | last flag (1 byte),
                  plaintext,
                  aad   = header | document id (u64 BE) | version number (u32 BE))
              → ciphertext | 16-byte tag

Every segment but the last holds exactly ``segment size`` plaintext bytes; the
last one is always short, possibly empty (a plaintext whose length is a multiple
of the segment size ends with an empty segment). So the writer needs no
look-ahead and the reader knows the last segment by its length alone.

Reading verifies each segment's tag before any of its plaintext is returned;
every failure (bad header, wrong key, wrong document or version, flipped byte,
truncation, reordering, trailing bytes) raises the one `EnvelopeError`.

Memory stays flat (a few buffers of about 1 MiB, whatever the file size):
reads fill reused buffers a batch of whole segments at a time (``readinto``),
encryption goes into reused output buffers (``encrypt_into``) and, for files
over one batch, a helper thread writes them out while the next batch is
encrypted (AES-GCM holds the GIL; file writes release it). Measured on 256 MiB:
that thread and the 1 MiB batches took storing from ~0.6x to ~0.95x of
``cp`` + ``sync``. `decrypt_stream` yields one new ``bytes`` per segment, which is
what a WSGI response needs anyway; `decrypt_to` writes to a file through reused
buffers instead.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import struct
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.errors import IntegrityFailure, InvalidInput

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "MAX_SEGMENT_SIZE",
    "SNIFF_BYTES",
    "TAG_SIZE",
    "EncryptResult",
    "EnvelopeError",
    "PlaintextFile",
    "RandomAccessReader",
    "decrypt_stream",
    "decrypt_to",
    "encrypt_stream",
    "new_data_key",
    "plaintext_size",
]

MAGIC = b"VLTB"
FORMAT_VERSION = 1
NONCE_PREFIX_SIZE = 7
HEADER_SIZE = len(MAGIC) + 1 + 4 + NONCE_PREFIX_SIZE  # 16
TAG_SIZE = 16
KEY_SIZE = 32
DEFAULT_SEGMENT_SIZE = 64 * 1024
MAX_SEGMENT_SIZE = 16 * 1024 * 1024  # a tampered header must not make us allocate gigabytes
SNIFF_BYTES = 64 * 1024  # plaintext bytes handed to the type sniffer
MAX_SEGMENTS = 2**32  # the index is a u32
_BATCH_BYTES = 1024 * 1024  # bytes per read and write syscall (whole segments)
_QUEUE_DEPTH = 3  # buffers in flight between the writer thread and the AES loop
_READ_CHUNK = 64 * 1024  # per read() call for sources without readinto

_HEADER = struct.Struct(">4sBI7s")
_AAD_TAIL = struct.Struct(">QI")
_NONCE_TAIL = struct.Struct(">IB")


class EnvelopeError(IntegrityFailure):
    """A stored file failed authentication; none of the failed data was released."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("stored file failed authentication", code="integrity_failure")
        self.detail = detail  # for logs; never contains plaintext

    def __str__(self) -> str:
        return f"{self.message} ({self.detail})" if self.detail else self.message


@dataclass(frozen=True)
class EncryptResult:
    plaintext_size: int
    ciphertext_size: int
    first_bytes: bytes  # the first SNIFF_BYTES (or fewer) plaintext bytes, for libmagic


class Writable(Protocol):
    """Where ciphertext goes: a file or a blob store writer."""

    def write(self, data: bytes | bytearray | memoryview, /) -> int: ...


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def new_data_key() -> bytes:
    """A fresh random 256-bit data key (one per stored version)."""
    return os.urandom(KEY_SIZE)


def _check_ids(document_id: int, version: int) -> bytes:
    if not 0 <= document_id < 2**64:
        raise ValueError(f"document_id out of range: {document_id}")
    if not 0 <= version < 2**32:
        raise ValueError(f"version out of range: {version}")
    return _AAD_TAIL.pack(document_id, version)


def _aead(key: bytes, *, reading: bool) -> AESGCM:
    if len(key) != KEY_SIZE:
        if reading:
            raise EnvelopeError("data key has the wrong length")
        raise ValueError(f"data key must be {KEY_SIZE} bytes, not {len(key)}")
    return AESGCM(key)


def _fill(src: BinaryIO | _Readable, view: memoryview) -> int:
    """Read until ``view`` is full or the stream ends; returns the bytes read.

    Loops because pipes, sockets and WSGI streams return short reads before EOF.
    """
    readinto = getattr(src, "readinto", None)
    total, want = 0, len(view)
    while total < want:
        if readinto is not None:
            n = readinto(view[total:])
        else:  # read() allocates: keep each allocation small (large ones page-fault)
            chunk = src.read(min(want - total, _READ_CHUNK))
            n = len(chunk)
            view[total : total + n] = chunk
        if not n:  # 0 = EOF; None = non-blocking stream with nothing ready: treat as EOF
            break
        total += n
    return total


def _parse_header(header: bytes) -> tuple[int, bytes]:
    if len(header) != HEADER_SIZE:
        raise EnvelopeError("file shorter than its header")
    magic, fmt, segment_size, _prefix = _HEADER.unpack(header)
    if magic != MAGIC:
        raise EnvelopeError("not a Vault blob (bad magic)")
    if fmt != FORMAT_VERSION:
        raise EnvelopeError(f"unknown format version {fmt}")
    if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
        raise EnvelopeError(f"segment size {segment_size} out of range")
    return segment_size, header


def _nonce(header: bytes) -> bytearray:
    nonce = bytearray(12)
    nonce[:NONCE_PREFIX_SIZE] = header[HEADER_SIZE - NONCE_PREFIX_SIZE :]
    return nonce


class _Writer:
    """Writes filled buffers to ``dst``; from a background thread once a file is big.

    AES-GCM holds the GIL and file writes release it, so a writer thread lets the
    disk work while the next batch is encrypted. Small files (one batch) never
    start a thread. A write error is raised in the caller at its next `buffer`.
    """

    def __init__(self, dst: Writable, size: int) -> None:
        self._dst = dst
        self._size = size
        self._free: queue.SimpleQueue[memoryview] = queue.SimpleQueue()
        self._full: queue.SimpleQueue[tuple[memoryview, int] | None] = queue.SimpleQueue()
        self._free.put(memoryview(bytearray(size)))
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def buffer(self) -> memoryview:
        buf = self._free.get()
        if self._error is not None:
            raise self._error
        return buf

    def put(self, buf: memoryview, n: int, *, more: bool) -> None:
        if self._thread is None:
            if not more:
                _write_all(self._dst, buf[:n])
                self._free.put(buf)
                return
            for _ in range(_QUEUE_DEPTH - 1):
                self._free.put(memoryview(bytearray(self._size)))
            self._thread = threading.Thread(target=self._run, name="vault-blob-writer", daemon=True)
            self._thread.start()
        self._full.put((buf, n))

    def _run(self) -> None:
        while (item := self._full.get()) is not None:
            buf, n = item
            if self._error is None:
                try:
                    _write_all(self._dst, buf[:n])
                except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                    self._error = exc
            self._free.put(buf)

    def close(self, *, failed: bool = False) -> None:
        """Wait for pending writes; raise a write error unless already failing."""
        if self._thread is not None:
            self._full.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None and not failed:
            raise self._error


def _write_all(dst: Writable, view: memoryview) -> None:
    while view:
        n = dst.write(view)
        if n is None or n <= 0:  # a raw non-blocking stream: not supported
            raise OSError("short write to the blob store")
        view = view[n:]


def _read_batches(src: BinaryIO, size: int) -> Generator[memoryview, None, None]:
    """Yield ``src`` in views of ``size`` bytes; the last one is shorter (maybe empty).

    One reused buffer: a view is valid until the next one is requested. (A
    read-ahead thread was measured and gave nothing: the kernel already reads
    ahead, and AES-GCM on 64 KiB segments holds the GIL.)
    """
    buf = memoryview(bytearray(size))
    while True:
        n = _fill(src, buf)
        yield buf[:n]
        if n < size:
            return


def _per_batch(segment_size: int) -> int:
    """Segments per read/write batch (reads and writes of about `_BATCH_BYTES`)."""
    return max(1, _BATCH_BYTES // (segment_size + TAG_SIZE))


def encrypt_stream(
    key: bytes,
    src: BinaryIO,
    dst: Writable,
    *,
    document_id: int,
    version: int,
    segment_size: int = DEFAULT_SEGMENT_SIZE,
    nonce_prefix: bytes | None = None,
    max_plaintext_size: int | None = None,
    on_first_bytes: Callable[[bytes], None] | None = None,
) -> EncryptResult:
    """Encrypt everything ``src`` yields into ``dst``; returns sizes and the first bytes.

    ``nonce_prefix`` (7 bytes) is random unless given (fixed test vectors only).
    ``max_plaintext_size`` stops the write with `InvalidInput` (code ``too_large``)
    as soon as more arrives. ``on_first_bytes`` is called once with the first
    `SNIFF_BYTES` of plaintext (fewer when the file is shorter) before any
    ciphertext is written and before more than one batch (about 1 MiB) is read,
    so the caller can refuse a file type early by raising.

    ``src`` is read on the calling thread; a file bigger than one batch is written
    to ``dst`` from a helper thread (joined before this returns or raises).
    """
    if not 1 <= segment_size <= MAX_SEGMENT_SIZE:
        raise ValueError(f"segment_size must be 1..{MAX_SEGMENT_SIZE}, not {segment_size}")
    if nonce_prefix is None:
        nonce_prefix = os.urandom(NONCE_PREFIX_SIZE)
    if len(nonce_prefix) != NONCE_PREFIX_SIZE:
        raise ValueError(f"nonce_prefix must be {NONCE_PREFIX_SIZE} bytes")
    aead = _aead(key, reading=False)
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, segment_size, nonce_prefix)
    aad = header + _check_ids(document_id, version)
    nonce = _nonce(header)

    per_batch = _per_batch(segment_size)
    batch = per_batch * segment_size
    inview = memoryview(bytearray(batch))
    writer = _Writer(dst, per_batch * (segment_size + TAG_SIZE))
    first = b""
    written, total, index = HEADER_SIZE, 0, 0
    try:
        _write_all(dst, memoryview(header))
        while True:
            n = _fill(src, inview)
            total += n
            if max_plaintext_size is not None and total > max_plaintext_size:
                raise InvalidInput(
                    f"The file is larger than the limit of {max_plaintext_size} bytes.",
                    code="too_large",
                    limit=max_plaintext_size,
                )
            more = n == batch  # a short batch holds the last segment (maybe empty)
            if len(first) < SNIFF_BYTES:
                first += bytes(inview[: min(n, SNIFF_BYTES - len(first))])
            if on_first_bytes is not None and (len(first) >= SNIFF_BYTES or not more):
                on_first_bytes(first)
                on_first_bytes = None
            out = writer.buffer()
            pos = opos = 0
            while True:
                size = min(segment_size, n - pos)
                last = size < segment_size
                if index >= MAX_SEGMENTS:
                    raise ValueError("file too large for the segment index")
                _NONCE_TAIL.pack_into(nonce, NONCE_PREFIX_SIZE, index, last)
                end = opos + size + TAG_SIZE
                aead.encrypt_into(nonce, inview[pos : pos + size], aad, out[opos:end])
                pos, opos, index = pos + size, end, index + 1
                if last or (more and pos == n):
                    break
            writer.put(out, opos, more=more)
            written += opos
            if not more:
                break
    except BaseException:
        writer.close(failed=True)
        raise
    writer.close()
    return EncryptResult(total, written, first)


def _start(
    key: bytes, src: BinaryIO, document_id: int, version: int
) -> tuple[AESGCM, int, bytes, bytearray]:
    aad_tail = _check_ids(document_id, version)
    header = bytearray(HEADER_SIZE)
    n = _fill(src, memoryview(header))
    segment_size, _ = _parse_header(bytes(header[:n]))
    aead = _aead(key, reading=True)
    return aead, segment_size, bytes(header) + aad_tail, _nonce(bytes(header))


def _segments(
    src: BinaryIO, segment_size: int
) -> Generator[tuple[int, memoryview, bool], None, None]:
    """``(index, ciphertext, last)`` for each segment, in order; truncation raises.

    The last segment is the short piece at the end of the file (16 bytes or
    more); a file ending on a full segment has lost its last segment.
    """
    full = segment_size + TAG_SIZE
    per_batch = _per_batch(segment_size)
    index = 0
    with contextlib.closing(_read_batches(src, per_batch * full)) as batches:
        for batch in batches:
            n = len(batch)
            more = n == per_batch * full
            for pos in range(0, n, full):
                size = min(full, n - pos)
                if size < TAG_SIZE:
                    break
                if index >= MAX_SEGMENTS:
                    raise EnvelopeError("too many segments")
                yield index, batch[pos : pos + size], size < full
                if size < full:
                    return
                index += 1
            if not more:
                raise EnvelopeError(f"truncated at segment {index}")


def decrypt_stream(
    key: bytes, src: BinaryIO, *, document_id: int, version: int
) -> Iterator[bytes]:
    """Yield the plaintext segment by segment, each only after its tag verified.

    Raises `EnvelopeError` (at the first failing segment) on any failure,
    including a missing last segment and bytes after it.
    """
    aead, segment_size, aad, nonce = _start(key, src, document_id, version)
    with contextlib.closing(_segments(src, segment_size)) as segments:
        for index, segment, last in segments:
            _NONCE_TAIL.pack_into(nonce, NONCE_PREFIX_SIZE, index, last)
            try:
                plain = aead.decrypt(nonce, segment, aad)
            except InvalidTag:
                raise EnvelopeError(f"segment {index} failed authentication") from None
            yield plain


def decrypt_to(
    key: bytes, src: BinaryIO, dst: BinaryIO, *, document_id: int, version: int
) -> int:
    """Decrypt ``src`` into the file ``dst`` through reused buffers; returns the size.

    On `EnvelopeError` ``dst`` holds exactly the verified segments before the
    failing one: the caller removes it (the export leaves no output file). A file
    bigger than one batch is written from a helper thread, joined before return.
    """
    aead, segment_size, aad, nonce = _start(key, src, document_id, version)
    writer = _Writer(dst, _per_batch(segment_size) * segment_size)
    out = writer.buffer()
    opos = total = 0
    segments = _segments(src, segment_size)
    try:
        for index, segment, last in segments:
            size = len(segment) - TAG_SIZE
            if opos + size > len(out):
                writer.put(out, opos, more=True)
                out, opos = writer.buffer(), 0
            target = out[opos : opos + size]
            _NONCE_TAIL.pack_into(nonce, NONCE_PREFIX_SIZE, index, last)
            try:
                aead.decrypt_into(nonce, segment, aad, target)
            except InvalidTag:
                target[:] = bytes(size)  # decrypt_into leaves unverified plaintext behind
                raise EnvelopeError(f"segment {index} failed authentication") from None
            opos += size
            total += size
        final, opos = opos, 0
        writer.put(out, final, more=False)
    except BaseException:
        if opos:  # the verified segments of this batch, so the output is an exact prefix
            with contextlib.suppress(Exception):
                writer.put(out, opos, more=False)
        writer.close(failed=True)
        raise
    finally:
        segments.close()
    writer.close()
    return total


def plaintext_size(segment_size: int, ciphertext_size: int) -> int:
    """The plaintext size a well-formed blob of ``ciphertext_size`` bytes holds."""
    body = ciphertext_size - HEADER_SIZE
    full = segment_size + TAG_SIZE
    segments, rest = divmod(body, full)
    if body < TAG_SIZE or rest < TAG_SIZE:
        raise EnvelopeError("file length does not match its segment size")
    return segments * segment_size + rest - TAG_SIZE


class RandomAccessReader:
    """Read single segments or byte ranges of a seekable blob (audio seeking, HTTP Range).

    Opening verifies the header and the last segment, which authenticates the
    length of the blob (a truncated blob has no valid last segment); each
    segment read later is verified before it is returned.
    """

    def __init__(self, key: bytes, src: BinaryIO, *, document_id: int, version: int) -> None:
        src.seek(0)
        self._aead, self.segment_size, self._aad, self._nonce = _start(
            key, src, document_id, version
        )
        self._src = src
        self.ciphertext_size = src.seek(0, os.SEEK_END)
        self.plaintext_size = plaintext_size(self.segment_size, self.ciphertext_size)
        self.segment_count = self.plaintext_size // self.segment_size + 1
        self._buf = bytearray(self.segment_size + TAG_SIZE)
        self.read_segment(self.segment_count - 1)

    def read_segment(self, index: int) -> bytes:
        """The verified plaintext of segment ``index`` (0-based)."""
        if not 0 <= index < self.segment_count:
            raise IndexError(f"segment {index} out of range 0..{self.segment_count - 1}")
        last = index == self.segment_count - 1
        size = self.plaintext_size % self.segment_size if last else self.segment_size
        full = size + TAG_SIZE
        self._src.seek(HEADER_SIZE + index * (self.segment_size + TAG_SIZE))
        view = memoryview(self._buf)[:full]
        if _fill(self._src, view) != full:
            raise EnvelopeError(f"segment {index} truncated")
        _NONCE_TAIL.pack_into(self._nonce, NONCE_PREFIX_SIZE, index, last)
        try:
            return self._aead.decrypt(self._nonce, view, self._aad)
        except InvalidTag:
            raise EnvelopeError(f"segment {index} failed authentication") from None

    def iter_range(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """Yield the verified plaintext bytes ``[start, stop)``, one chunk per segment."""
        stop = self.plaintext_size if stop is None else min(stop, self.plaintext_size)
        if start < 0 or start > stop:
            raise ValueError(f"bad range {start}..{stop}")
        pos = start
        while pos < stop:
            index, offset = divmod(pos, self.segment_size)
            data = self.read_segment(index)
            chunk = data[offset : offset + (stop - pos)]
            if not chunk:  # cannot happen on a verified blob; never loop forever
                raise EnvelopeError("range beyond end of file")
            yield chunk
            pos += len(chunk)


class PlaintextFile(io.RawIOBase):
    """A read-only, seekable file over a blob's verified plaintext, for parsers that
    seek (a PDF's cross-reference table and a ZIP's directory sit at the end). Only
    the segments asked for are decrypted, one at a time, each verified first; the
    plaintext is never written anywhere."""

    def __init__(self, reader: RandomAccessReader) -> None:
        super().__init__()
        self._reader = reader
        self._pos = 0
        self._cached: tuple[int, bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos,
                os.SEEK_END: self._reader.plaintext_size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if self._pos >= self._reader.plaintext_size:
            return 0
        index, offset = divmod(self._pos, self._reader.segment_size)
        if self._cached is None or self._cached[0] != index:
            self._cached = (index, self._reader.read_segment(index))
        chunk = self._cached[1][offset : offset + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)
