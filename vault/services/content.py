"""One path to a stored version's plaintext: unwrap the data key, open the blob,
decrypt (issue 13, item 3).

Every reader of content goes through here: downloads (`documents.open_content`),
registered copies (`copies.download`), the viewer (pages, pictures, text, audio)
and `vault doctor`. Nothing here decides who may read: the callers have asked the
policy and written the audit event first. The plaintext only ever lives in memory,
segment by segment, each authenticated before it is yielded (`IntegrityFailure`
at the first one that is not).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

from vault.crypto import envelope
from vault.models import DocumentVersion
from vault.services.context import Ctx, Infra


@dataclass(frozen=True)
class StoredVersion:
    """Where a version's ciphertext lives and the key that opens it, detached from
    the session (so a stream can be read after its unit of work committed)."""

    document_id: int
    number: int
    blob_id: str
    master_key_id: str
    wrapped_key: bytes

    @classmethod
    def of(cls, version: DocumentVersion) -> StoredVersion:
        assert version.blob_id is not None, "a paper original has no stored content"
        assert version.master_key_id is not None and version.wrapped_key is not None
        return cls(version.document_id, version.number, version.blob_id,
                   version.master_key_id, bytes(version.wrapped_key))


def _infra(ctx: Ctx | Infra) -> Infra:
    return ctx.infra if isinstance(ctx, Ctx) else ctx  # doctor has only the Infra


def open_version(ctx: Ctx | Infra, version: DocumentVersion | StoredVersion,
                 ) -> Generator[bytes, None, None]:
    """The verified plaintext of ``version``, streamed segment by segment.

    The data key is unwrapped now (a missing master key fails here, before anything
    is sent); the blob is opened when the first chunk is asked for and closed when
    the stream ends or is closed."""
    stored = version if isinstance(version, StoredVersion) else StoredVersion.of(version)
    infra = _infra(ctx)
    key = infra.keyring.unwrap(stored.master_key_id, stored.wrapped_key)
    blobs = infra.blobs

    def chunks() -> Generator[bytes, None, None]:
        with blobs.open(stored.blob_id) as fh:
            yield from envelope.decrypt_stream(key, fh, document_id=stored.document_id,
                                               version=stored.number)

    return chunks()


def verify_version(ctx: Ctx | Infra, version: DocumentVersion | StoredVersion) -> None:
    """Read ``version`` through to its end, keeping nothing: `IntegrityFailure` if any
    segment (or the length) fails authentication."""
    for _ in open_version(ctx, version):
        pass


def read_version(ctx: Ctx | Infra, version: DocumentVersion | StoredVersion,
                 limit: int | None = None) -> bytes:
    """The verified plaintext in memory (or its first ``limit`` bytes)."""
    parts: list[bytes] = []
    total = 0
    stream = open_version(ctx, version)
    try:
        for chunk in stream:
            parts.append(chunk)
            total += len(chunk)
            if limit is not None and total >= limit:
                break
    finally:
        stream.close()
    data = b"".join(parts)
    return data[:limit] if limit is not None else data


def open_range(ctx: Ctx | Infra, version: DocumentVersion | StoredVersion,
               ) -> tuple[envelope.RandomAccessReader, Callable[[], None]]:
    """Random access to ``version`` (audio seeking, HTTP ranges): a reader whose
    segments are each verified when read, and the function that closes the blob."""
    stored = version if isinstance(version, StoredVersion) else StoredVersion.of(version)
    infra = _infra(ctx)
    key = infra.keyring.unwrap(stored.master_key_id, stored.wrapped_key)
    fh = infra.blobs.open(stored.blob_id)
    try:
        reader = envelope.RandomAccessReader(key, fh, document_id=stored.document_id,
                                             version=stored.number)
    except BaseException:
        fh.close()
        raise
    return reader, fh.close
