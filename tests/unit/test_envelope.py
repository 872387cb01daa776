"""The stored file format (vault/crypto/envelope.py): vectors, round trips, tampering."""

from __future__ import annotations

import io
import json
import os
import random
import struct
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.crypto import envelope
from vault.crypto.envelope import (
    HEADER_SIZE,
    SNIFF_BYTES,
    TAG_SIZE,
    EnvelopeError,
    RandomAccessReader,
    decrypt_stream,
    decrypt_to,
    encrypt_stream,
    new_data_key,
)
from vault.errors import IntegrityFailure, InvalidInput

VECTORS = json.loads((Path(__file__).parent / "vectors" / "envelope.json").read_text())["vectors"]

KEY = bytes(range(32))
PREFIX = bytes.fromhex("0a0b0c0d0e0f10")
DOC, VER = 7, 2
SEG = 64


def encrypt(
    plaintext: bytes,
    *,
    key: bytes = KEY,
    segment_size: int = SEG,
    document_id: int = DOC,
    version: int = VER,
    nonce_prefix: bytes | None = PREFIX,
) -> bytes:
    dst = io.BytesIO()
    result = encrypt_stream(
        key,
        io.BytesIO(plaintext),
        dst,
        document_id=document_id,
        version=version,
        segment_size=segment_size,
        nonce_prefix=nonce_prefix,
    )
    blob = dst.getvalue()
    assert result.plaintext_size == len(plaintext)
    assert result.ciphertext_size == len(blob)
    return blob


def decrypt(blob: bytes, *, key: bytes = KEY, document_id: int = DOC, version: int = VER) -> bytes:
    return b"".join(
        decrypt_stream(key, io.BytesIO(blob), document_id=document_id, version=version)
    )


def attempt(
    blob: bytes, *, key: bytes = KEY, document_id: int = DOC, version: int = VER
) -> tuple[list[bytes], EnvelopeError | None]:
    """What the reader yielded before it failed, and the failure (None when it did not)."""
    yielded: list[bytes] = []
    try:
        for chunk in decrypt_stream(
            key, io.BytesIO(blob), document_id=document_id, version=version
        ):
            yielded.append(chunk)
    except EnvelopeError as exc:
        return yielded, exc
    return yielded, None


def segments_of(plaintext: bytes, size: int = SEG) -> list[bytes]:
    """The plaintext of each segment as the format cuts it (last always short)."""
    cut = [plaintext[i : i + size] for i in range(0, len(plaintext), size)]
    if not cut or len(cut[-1]) == size:
        cut.append(b"")
    return cut


def reference_encrypt(
    key: bytes, prefix: bytes, plaintext: bytes, segment_size: int, document_id: int, version: int
) -> bytes:
    """DESIGN.md's format written out independently of the module under test."""
    header = b"VLTB" + bytes([1]) + struct.pack(">I", segment_size) + prefix
    aad = header + struct.pack(">Q", document_id) + struct.pack(">I", version)
    parts = segments_of(plaintext, segment_size)
    out = [header]
    for i, part in enumerate(parts):
        nonce = prefix + struct.pack(">I", i) + bytes([1 if i == len(parts) - 1 else 0])
        out.append(AESGCM(key).encrypt(nonce, part, aad))
    return b"".join(out)


@pytest.fixture(params=[None, 1, 3, 5], ids=["batch-default", "batch-1", "batch-3", "batch-5"])
def any_batch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run with the default I/O batch and with batches of 1, 3 and 5 segments of size
    SEG, so batch boundaries and the read-ahead/write-behind threads are exercised."""
    if request.param is not None:
        monkeypatch.setattr(envelope, "_BATCH_BYTES", request.param * (SEG + TAG_SIZE))


# --- fixed vectors ---------------------------------------------------------------


@pytest.mark.usefixtures("any_batch")
@pytest.mark.parametrize("vector", VECTORS, ids=[v["description"] for v in VECTORS])
def test_vectors_encrypt_byte_for_byte(vector: dict[str, object]) -> None:
    key = bytes.fromhex(str(vector["key"]))
    prefix = bytes.fromhex(str(vector["nonce_prefix"]))
    plaintext = bytes.fromhex(str(vector["plaintext"]))
    expected = bytes.fromhex(str(vector["ciphertext"]))
    seg, doc, ver = int(vector["segment_size"]), int(vector["document_id"]), int(vector["version"])  # type: ignore[call-overload]
    got = encrypt(
        plaintext, key=key, segment_size=seg, document_id=doc, version=ver, nonce_prefix=prefix
    )
    assert got == expected
    assert reference_encrypt(key, prefix, plaintext, seg, doc, ver) == expected
    assert decrypt(expected, key=key, document_id=doc, version=ver) == plaintext


def test_vectors_cover_the_edge_cases() -> None:
    shapes = {(len(bytes.fromhex(v["plaintext"])), v["segment_size"]) for v in VECTORS}
    assert (0, 16) in shapes  # empty plaintext: one empty last segment
    assert (16, 16) in shapes  # exact multiple: empty last segment
    assert any(n > 2 * s for n, s in shapes)  # several segments


@pytest.mark.usefixtures("any_batch")
def test_exact_multiple_ends_with_empty_segment() -> None:
    blob = encrypt(b"x" * (2 * SEG))
    assert len(blob) == HEADER_SIZE + 2 * (SEG + TAG_SIZE) + TAG_SIZE
    yielded, err = attempt(blob)
    assert err is None
    assert yielded == [b"x" * SEG, b"x" * SEG, b""]


# --- round trips -----------------------------------------------------------------


@pytest.mark.usefixtures("any_batch")
@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG, 3 * SEG + 17, 1000])
def test_round_trip_sizes(size: int) -> None:
    data = os.urandom(size)
    blob = encrypt(data)
    assert decrypt(blob) == data
    assert reference_encrypt(KEY, PREFIX, data, SEG, DOC, VER) == blob


def test_round_trip_default_segment_size_and_random_prefix() -> None:
    data = os.urandom(3 * 65536 + 123)
    key = new_data_key()
    a = encrypt(data, key=key, segment_size=envelope.DEFAULT_SEGMENT_SIZE, nonce_prefix=None)
    b = encrypt(data, key=key, segment_size=envelope.DEFAULT_SEGMENT_SIZE, nonce_prefix=None)
    assert a[9:16] != b[9:16]  # fresh nonce prefix each time
    assert a != b
    assert decrypt(a, key=key) == data == decrypt(b, key=key)


def test_new_data_key_is_random_256_bit() -> None:
    keys = {new_data_key() for _ in range(8)}
    assert len(keys) == 8
    assert all(len(k) == 32 for k in keys)


class Trickle(io.RawIOBase):
    """A source that returns short reads (a pipe, a socket, a WSGI stream)."""

    def __init__(self, data: bytes, *, seed: int = 1) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._rng = random.Random(seed)

    def readable(self) -> bool:
        return True

    def readinto(self, buf: object) -> int:
        view = memoryview(buf)  # type: ignore[arg-type]
        n = min(len(view), self._rng.randint(1, 7), len(self._data) - self._pos)
        view[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


class ReadOnly:
    """A source with ``read`` but no ``readinto``, returning short reads."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        n = min(size, 5)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


class ReadRecorder:
    """A source with only ``read``; remembers the largest request."""

    def __init__(self, data: bytes) -> None:
        self._src = io.BytesIO(data)
        self.largest = 0

    def read(self, size: int = -1) -> bytes:
        self.largest = max(self.largest, size)
        return self._src.read(size)


def test_read_only_sources_are_read_in_small_allocations() -> None:
    data = os.urandom(3 * 1024 * 1024)
    src = ReadRecorder(data)
    dst = io.BytesIO()
    encrypt_stream(KEY, src, dst, document_id=DOC, version=VER)  # type: ignore[arg-type]
    assert 0 < src.largest <= 64 * 1024  # big read() allocations page-fault
    assert decrypt(dst.getvalue()) == data


@pytest.mark.usefixtures("any_batch")
@pytest.mark.parametrize("size", [0, SEG, 5 * SEG + 3])
def test_short_reads_do_not_change_segmentation(size: int) -> None:
    data = os.urandom(size)
    expected = encrypt(data)
    for src in (Trickle(data), ReadOnly(data)):
        dst = io.BytesIO()
        encrypt_stream(
            KEY, src, dst, document_id=DOC, version=VER, segment_size=SEG,  # type: ignore[arg-type]
            nonce_prefix=PREFIX,
        )
        assert dst.getvalue() == expected
    got = b"".join(decrypt_stream(KEY, Trickle(expected), document_id=DOC, version=VER))  # type: ignore[arg-type]
    assert got == data


@pytest.mark.usefixtures("any_batch")
def test_result_first_bytes_for_sniffing() -> None:
    data = os.urandom(3 * SNIFF_BYTES + 5000)
    dst = io.BytesIO()
    calls: list[bytes] = []
    result = encrypt_stream(
        KEY, io.BytesIO(data), dst, document_id=DOC, version=VER, segment_size=1000,
        on_first_bytes=calls.append,
    )
    assert calls == [data[:SNIFF_BYTES]]  # once, whatever the batches
    assert result.first_bytes == data[:SNIFF_BYTES]
    assert result.plaintext_size == len(data)
    short = encrypt_stream(KEY, io.BytesIO(b"%PDF-1.4"), io.BytesIO(), document_id=1, version=1)
    assert short.first_bytes == b"%PDF-1.4"


def test_on_first_bytes_runs_before_the_rest_is_read_and_can_refuse() -> None:
    data = os.urandom(40 * SNIFF_BYTES)
    src = io.BytesIO(data)
    seen: list[tuple[bytes, int]] = []

    def refuse(first: bytes) -> None:
        seen.append((first, src.tell()))
        raise InvalidInput("no", code="type_not_allowed")

    with pytest.raises(InvalidInput):
        encrypt_stream(KEY, src, io.BytesIO(), document_id=1, version=1, on_first_bytes=refuse)
    assert len(seen) == 1
    first, position = seen[0]
    assert first == data[:SNIFF_BYTES]
    assert SNIFF_BYTES <= position <= envelope._BATCH_BYTES  # at most one batch was read

    calls: list[bytes] = []
    encrypt_stream(
        KEY, io.BytesIO(b""), io.BytesIO(), document_id=1, version=1, on_first_bytes=calls.append
    )
    assert calls == [b""]


@pytest.mark.usefixtures("any_batch")
def test_max_plaintext_size() -> None:
    limit = 3 * SEG + 1
    ok = encrypt_stream(
        KEY, io.BytesIO(b"a" * limit), io.BytesIO(), document_id=1, version=1,
        segment_size=SEG, max_plaintext_size=limit,
    )
    assert ok.plaintext_size == limit
    src = io.BytesIO(b"a" * (8 * 1024 * 1024))
    with pytest.raises(InvalidInput) as info:
        encrypt_stream(
            KEY, src, io.BytesIO(), document_id=1, version=1,
            segment_size=SEG, max_plaintext_size=limit,
        )
    assert info.value.code == "too_large"
    assert src.tell() <= limit + envelope._BATCH_BYTES  # stopped early, within one batch


@pytest.mark.parametrize(
    "kwargs",
    [
        {"segment_size": 0},
        {"segment_size": envelope.MAX_SEGMENT_SIZE + 1},
        {"nonce_prefix": b"123456"},
        {"document_id": -1},
        {"document_id": 2**64},
        {"version": 2**32},
    ],
)
def test_encrypt_rejects_bad_parameters(kwargs: dict[str, int | bytes]) -> None:
    args: dict[str, object] = {"document_id": 1, "version": 1}
    args.update(kwargs)
    with pytest.raises(ValueError):
        encrypt_stream(KEY, io.BytesIO(b"x"), io.BytesIO(), **args)  # type: ignore[arg-type]


def test_encrypt_rejects_short_key() -> None:
    with pytest.raises(ValueError):
        encrypt_stream(KEY[:16], io.BytesIO(b"x"), io.BytesIO(), document_id=1, version=1)


# --- the error ---------------------------------------------------------------------


def test_envelope_error_is_an_integrity_failure_with_a_clear_message() -> None:
    _, err = attempt(b"garbage")
    assert isinstance(err, EnvelopeError)
    assert isinstance(err, IntegrityFailure)
    assert err.code == "integrity_failure"
    assert err.message == "stored file failed authentication"
    assert str(err).startswith("stored file failed authentication")


# --- tampering ---------------------------------------------------------------------

PLAIN = bytes(random.Random(5).randrange(256) for _ in range(3 * SEG + 20))
BLOB = encrypt(PLAIN)
SEGMENTS = segments_of(PLAIN)  # 64, 64, 64, 20
FULL = SEG + TAG_SIZE


def segment_of_offset(offset: int) -> int:
    """Index of the segment holding ciphertext byte ``offset`` (-1 for the header)."""
    return -1 if offset < HEADER_SIZE else (offset - HEADER_SIZE) // FULL


def test_tamper_fixture_shape() -> None:
    assert len(SEGMENTS) == 4
    assert len(BLOB) == HEADER_SIZE + 3 * FULL + 20 + TAG_SIZE
    assert decrypt(BLOB) == PLAIN


@pytest.mark.usefixtures("any_batch")
@pytest.mark.parametrize("mask", [0x01, 0x80, 0xFF])
def test_every_single_byte_flip_is_detected(mask: int) -> None:
    for offset in range(len(BLOB)):
        bad = bytearray(BLOB)
        bad[offset] ^= mask
        yielded, err = attempt(bytes(bad))
        assert err is not None, f"flip at {offset} went unnoticed"
        failed = segment_of_offset(offset)
        # Only segments before the damaged one came out, and those intact.
        assert yielded == SEGMENTS[: max(failed, 0)], f"flip at {offset}"


@pytest.mark.usefixtures("any_batch")
def test_every_byte_flip_is_detected_by_decrypt_to_and_random_access() -> None:
    for offset in range(len(BLOB)):
        bad = bytearray(BLOB)
        bad[offset] ^= 0x10
        out = io.BytesIO()
        with pytest.raises(EnvelopeError):
            decrypt_to(KEY, io.BytesIO(bytes(bad)), out, document_id=DOC, version=VER)
        failed = segment_of_offset(offset)
        assert out.getvalue() == b"".join(SEGMENTS[: max(failed, 0)])
        try:
            reader = RandomAccessReader(KEY, io.BytesIO(bytes(bad)), document_id=DOC, version=VER)
        except EnvelopeError:
            assert failed in (-1, len(SEGMENTS) - 1)  # header or last segment: refused on open
            continue
        for index, expected in enumerate(SEGMENTS):
            if index == failed:
                with pytest.raises(EnvelopeError):
                    reader.read_segment(index)
            else:
                assert reader.read_segment(index) == expected


@pytest.mark.usefixtures("any_batch")
def test_truncation_anywhere_is_detected() -> None:
    boundaries = {HEADER_SIZE + i * FULL for i in range(len(SEGMENTS))}
    assert len(BLOB) - 20 - TAG_SIZE in boundaries  # the last segment starts on a boundary
    for length in range(len(BLOB)):
        yielded, err = attempt(BLOB[:length])
        assert err is not None, f"truncation to {length} bytes went unnoticed"
        k = len(yielded)
        assert yielded == SEGMENTS[:k]
        complete = max(0, (length - HEADER_SIZE) // FULL)
        assert k == complete, f"truncation to {length}: {k} segments released"
        with pytest.raises(EnvelopeError):
            RandomAccessReader(KEY, io.BytesIO(BLOB[:length]), document_id=DOC, version=VER)


@pytest.mark.usefixtures("any_batch")
@pytest.mark.parametrize(
    "extra", [b"\x00", b"x" * TAG_SIZE, b"y" * (FULL + 3), BLOB[HEADER_SIZE : HEADER_SIZE + FULL]]
)
def test_trailing_bytes_are_detected(extra: bytes) -> None:
    yielded, err = attempt(BLOB + extra)
    assert err is not None
    assert yielded == SEGMENTS[: len(yielded)]
    assert len(yielded) < len(SEGMENTS)
    with pytest.raises(EnvelopeError):
        RandomAccessReader(KEY, io.BytesIO(BLOB + extra), document_id=DOC, version=VER)


def split(blob: bytes) -> tuple[bytes, list[bytes]]:
    body = blob[HEADER_SIZE:]
    return blob[:HEADER_SIZE], [body[i : i + FULL] for i in range(0, len(body), FULL)]


@pytest.mark.usefixtures("any_batch")
@pytest.mark.parametrize("i,j", [(0, 1), (1, 2), (0, 2), (2, 3), (0, 3)])
def test_swapped_segments_are_detected(i: int, j: int) -> None:
    header, parts = split(BLOB)
    parts[i], parts[j] = parts[j], parts[i]
    yielded, err = attempt(header + b"".join(parts))
    assert err is not None
    assert yielded == SEGMENTS[:i]


@pytest.mark.usefixtures("any_batch")
def test_dropped_or_duplicated_segments_are_detected() -> None:
    header, parts = split(BLOB)
    for variant in (
        parts[:1] + parts[2:],  # a middle segment removed
        parts[:-1],  # the last segment removed (truncation at a boundary)
        parts[:2] + parts[1:],  # a segment repeated
        parts[:-1] + parts[:1] + parts[-1:],
    ):
        yielded, err = attempt(header + b"".join(variant))
        assert err is not None
        assert yielded == SEGMENTS[: len(yielded)]


@pytest.mark.usefixtures("any_batch")
def test_segments_from_another_blob_are_detected() -> None:
    other = encrypt(PLAIN, nonce_prefix=bytes(7))  # same key, doc, version; other prefix
    header, parts = split(BLOB)
    _, other_parts = split(other)
    for index in range(len(parts)):
        mixed = list(parts)
        mixed[index] = other_parts[index]
        yielded, err = attempt(header + b"".join(mixed))
        assert err is not None
        assert yielded == SEGMENTS[:index]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"document_id": DOC + 1},
        {"version": VER + 1},
        {"document_id": VER, "version": DOC},
        {"key": bytes(32)},
        {"key": KEY[:16]},
    ],
)
def test_wrong_document_version_or_key_releases_nothing(kwargs: dict[str, object]) -> None:
    yielded, err = attempt(BLOB, **kwargs)  # type: ignore[arg-type]
    assert err is not None
    assert yielded == []


@pytest.mark.parametrize(
    "header",
    [
        b"XLTB" + BLOB[4:HEADER_SIZE],
        b"VLTB\x02" + BLOB[5:HEADER_SIZE],
        b"VLTB\x01" + struct.pack(">I", 0) + BLOB[9:HEADER_SIZE],
        b"VLTB\x01" + struct.pack(">I", 2**31) + BLOB[9:HEADER_SIZE],
        b"VLTB\x01" + struct.pack(">I", SEG * 2) + BLOB[9:HEADER_SIZE],
        b"VLTB\x01" + struct.pack(">I", SEG) + bytes(7),
    ],
)
def test_forged_headers_are_refused(header: bytes) -> None:
    result: list[tuple[list[bytes], EnvelopeError | None]] = []
    # A forged segment size must not make the reader allocate a huge buffer.
    peak = peak_bytes(lambda: result.append(attempt(header + BLOB[HEADER_SIZE:])))
    assert peak < 2 * envelope.MAX_SEGMENT_SIZE
    yielded, err = result[0]
    assert err is not None
    assert yielded == []


@pytest.mark.usefixtures("any_batch")
def test_decrypt_to_round_trip_and_size() -> None:
    data = os.urandom(5 * SEG + 9)
    out = io.BytesIO()
    size = decrypt_to(KEY, io.BytesIO(encrypt(data)), out, document_id=DOC, version=VER)
    assert size == len(data)
    assert out.getvalue() == data


# --- random access -----------------------------------------------------------------


def test_random_access_segments_and_ranges() -> None:
    data = os.urandom(7 * SEG + 33)
    reader = RandomAccessReader(KEY, io.BytesIO(encrypt(data)), document_id=DOC, version=VER)
    assert reader.plaintext_size == len(data)
    assert reader.segment_count == 8
    for i in range(8):
        assert reader.read_segment(i) == data[i * SEG : (i + 1) * SEG]
    with pytest.raises(IndexError):
        reader.read_segment(8)
    rng = random.Random(3)
    for _ in range(200):
        a = rng.randrange(len(data) + 1)
        b = rng.randrange(a, len(data) + 1)
        assert b"".join(reader.iter_range(a, b)) == data[a:b]
    assert b"".join(reader.iter_range()) == data
    assert b"".join(reader.iter_range(len(data) - 3, len(data) + 100)) == data[-3:]
    with pytest.raises(ValueError):
        list(reader.iter_range(-1, 5))


@pytest.mark.parametrize("size", [0, SEG])
def test_random_access_empty_last_segment(size: int) -> None:
    data = os.urandom(size)
    reader = RandomAccessReader(KEY, io.BytesIO(encrypt(data)), document_id=DOC, version=VER)
    assert reader.plaintext_size == size
    assert reader.read_segment(reader.segment_count - 1) == b""
    assert b"".join(reader.iter_range()) == data


def test_random_access_refuses_wrong_version() -> None:
    with pytest.raises(EnvelopeError):
        RandomAccessReader(KEY, io.BytesIO(BLOB), document_id=DOC, version=VER + 1)


# --- flat memory -------------------------------------------------------------------


class Zeros(io.RawIOBase):
    """``size`` bytes of a pattern without holding them in memory."""

    def __init__(self, size: int) -> None:
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buf: object) -> int:
        view = memoryview(buf)  # type: ignore[arg-type]
        n = min(len(view), self._left)
        view[:n] = b"\x5a" * n
        self._left -= n
        return n


class Sink(io.RawIOBase):
    def __init__(self) -> None:
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b: object) -> int:
        n = len(memoryview(b))  # type: ignore[arg-type]
        self.size += n
        return n


def peak_bytes(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat(tmp_path: Path) -> None:
    size = 48 * 1024 * 1024
    path = tmp_path / "blob"
    with path.open("wb") as dst:
        encrypt_stream(KEY, Zeros(size), dst, document_id=1, version=1)  # type: ignore[arg-type]

    def enc() -> None:
        encrypt_stream(KEY, Zeros(size), Sink(), document_id=1, version=1)  # type: ignore[arg-type]

    def dec() -> None:
        with path.open("rb") as src:
            total = sum(len(c) for c in decrypt_stream(KEY, src, document_id=1, version=1))
        assert total == size

    def dec_to() -> None:
        with path.open("rb") as src:
            decrypt_to(KEY, src, Sink(), document_id=1, version=1)  # type: ignore[arg-type]

    for fn in (enc, dec, dec_to):
        # A few batch buffers (about 1 MiB each), whatever the file size.
        assert peak_bytes(fn) < 8 * 1024 * 1024, fn.__name__


# --- the I/O threads -----------------------------------------------------------------


def io_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("vault-blob-")]


@pytest.mark.usefixtures("any_batch")
def test_abandoned_reader_leaves_no_thread() -> None:
    data = os.urandom(40 * SEG)
    stream = decrypt_stream(KEY, io.BytesIO(encrypt(data)), document_id=DOC, version=VER)
    assert next(stream) == data[:SEG]
    stream.close()
    assert io_threads() == []


class FailingSink(io.RawIOBase):
    def __init__(self, fail_after: int) -> None:
        self.left = fail_after

    def writable(self) -> bool:
        return True

    def write(self, b: object) -> int:
        if self.left <= 0:
            raise OSError(28, "No space left on device")
        self.left -= 1
        return len(memoryview(b))  # type: ignore[arg-type]


@pytest.mark.usefixtures("any_batch")
@pytest.mark.parametrize("fail_after", [0, 1, 2, 4])
def test_write_errors_reach_the_caller(fail_after: int) -> None:
    data = os.urandom(6 * envelope._BATCH_BYTES)  # several batches whatever their size
    with pytest.raises(OSError, match="No space"):
        encrypt_stream(
            KEY, io.BytesIO(data), FailingSink(fail_after),  # type: ignore[arg-type]
            document_id=DOC, version=VER, segment_size=SEG,
        )
    assert io_threads() == []
    blob = encrypt(data)
    with pytest.raises(OSError, match="No space"):
        decrypt_to(KEY, io.BytesIO(blob), FailingSink(fail_after), document_id=DOC, version=VER)  # type: ignore[arg-type]
    assert io_threads() == []


class FailingSource(io.RawIOBase):
    def __init__(self, data: bytes, fail_at: int) -> None:
        self._data, self._pos, self._fail_at = data, 0, fail_at

    def readable(self) -> bool:
        return True

    def readinto(self, buf: object) -> int:
        if self._pos >= self._fail_at:
            raise OSError(5, "Input/output error")
        view = memoryview(buf)  # type: ignore[arg-type]
        n = min(len(view), self._fail_at - self._pos)
        view[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


@pytest.mark.usefixtures("any_batch")
def test_read_errors_reach_the_caller() -> None:
    data = os.urandom(40 * SEG)
    blob = encrypt(data)
    yielded: list[bytes] = []
    with pytest.raises(OSError, match="Input/output"):
        for chunk in decrypt_stream(
            KEY, FailingSource(blob, HEADER_SIZE + 7 * FULL + 5),  # type: ignore[arg-type]
            document_id=DOC, version=VER,
        ):
            yielded.append(chunk)
    assert b"".join(yielded) == data[: len(b"".join(yielded))]
    assert len(yielded) <= 7
    assert io_threads() == []
