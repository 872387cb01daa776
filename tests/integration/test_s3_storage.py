"""The services over S3 storage (a real SeaweedFS on loopback), on SQLite and
PostgreSQL: documents stored and read back, audio seeking by ranged reads, the row
committed only after the object, `vault doctor` (missing, orphans, unfinished
uploads), key rotation and the recording purge — and never a plaintext byte in
the bucket's files on the server's disk.
"""

from __future__ import annotations

import io
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from servers import S3Server
from sqlalchemy import func, select

from vault.blobstore import BlobStoreError
from vault.blobstore_s3 import PART_SIZE, S3BlobStore
from vault.config import Settings, load_settings
from vault.models import Document, DocumentVersion
from vault.policy import Category
from vault.runtime import init_runtime
from vault.services import doctor, documents, keys, recordings, samples, viewer
from vault.services.context import Infra, unit_of_work


@pytest.fixture
def settings(tmp_path: Path, database_url: str, s3_server: S3Server,
             monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Like tests/conftest.py's, with blobs under a fresh prefix of the SeaweedFS."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "home"
    home.mkdir()
    s = load_settings(environ={}, home=home, database_url=database_url,
                      storage_url=f"s3://{s3_server.new_place()}/vault")
    init_runtime(s)
    return s


def s3(infra: Infra) -> S3BlobStore:
    assert isinstance(infra.blobs, S3BlobStore)
    return infra.blobs


def register(infra: Infra, content: bytes, filename: str = "file.txt",
             category: Category = Category.NOTICE) -> int:
    with unit_of_work(infra, "boss") as ctx:
        return documents.register(ctx, title="文件", category=category,
                                  content=io.BytesIO(content), filename=filename).id


def read(infra: Infra, doc_id: int, who: str = "clerk") -> bytes:
    with unit_of_work(infra, who) as ctx:
        content = documents.open_content(ctx, doc_id)
    return b"".join(content.chunks)


def versions(infra: Infra) -> int:
    with infra.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(DocumentVersion)) or 0)


def found_in_server_files(server: S3Server, *needles: bytes) -> set[bytes]:
    """Which of ``needles`` are in the server's files on disk (each file read once)."""
    found: set[bytes] = set()
    for path in server.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found.update(n for n in needles if n in data)
    return found


def test_stored_on_s3_read_back_and_no_plaintext_in_the_bucket(
        org: Infra, s3_server: S3Server) -> None:
    marker = os.urandom(8).hex().encode()
    small = b"notice " + marker * 40000  # several segments, one PUT
    big = marker + b"\n" + os.urandom(PART_SIZE).hex().encode()  # 16 MiB: a multipart upload
    doc_id, big_id = register(org, small), register(org, big)
    assert read(org, doc_id) == small
    assert read(org, big_id) == big
    assert len(list(s3(org).iter_ids())) == 2
    assert doctor.check(org).healthy
    # The check can fail: a plaintext object put straight into the bucket is found.
    control = os.urandom(8).hex().encode()
    s3(org).client.put_object(Bucket=s3(org).location.bucket, Key="control",
                              Body=b"plain " + control)
    assert found_in_server_files(s3_server, control, marker) == {control}


def test_audio_seeking_reads_single_segments(org: Infra) -> None:
    wav = samples.wav_tone(20.0)  # about 320 kB: five segments
    now = datetime.now(UTC).replace(microsecond=0)
    with unit_of_work(org, "clerk", now=now) as ctx:
        doc_id = recordings.register(
            ctx, caller_number="+86 755-1234 5678", agent="李客服", request_ref="SQ-1",
            called_at=now - timedelta(days=1), filename="call.wav",
            content=io.BytesIO(wav)).id
    with unit_of_work(org, "boss") as ctx:
        stream = viewer.audio(ctx, doc_id, byte_range=(200_000, 201_000))
        got = b"".join(stream.chunks)
    assert got == wav[200_000:201_000]


def test_row_commits_only_after_the_object_and_a_rollback_removes_it(
        org: Infra, monkeypatch: pytest.MonkeyPatch) -> None:
    store = s3(org)
    # The object cannot be completed: no row, no object, no upload left behind.
    real = store.client.complete_multipart_upload

    def refuse(**kw: object) -> object:
        raise BlobStoreError("object store down")

    monkeypatch.setattr(store.client, "complete_multipart_upload", refuse)
    with pytest.raises(BlobStoreError):
        register(org, b"a" * (PART_SIZE + 10))
    monkeypatch.setattr(store.client, "complete_multipart_upload", real)
    assert versions(org) == 0
    assert list(store.iter_ids()) == [] and store.list_tmp() == []
    # The object is complete but the transaction does not commit: the object goes.
    with pytest.raises(RuntimeError), unit_of_work(org, "boss") as ctx:
        documents.register(ctx, title="文件", category=Category.NOTICE,
                           content=io.BytesIO(b"b" * 1000), filename="b.txt")
        assert len(list(store.iter_ids())) == 1
        raise RuntimeError("crash before the commit")
    assert versions(org) == 0
    assert list(store.iter_ids()) == []
    assert doctor.check(org).healthy


def test_doctor_finds_missing_orphans_and_unfinished_uploads(
        org: Infra, monkeypatch: pytest.MonkeyPatch) -> None:
    store = s3(org)
    kept = register(org, b"kept " * 100)
    lost = register(org, b"lost " * 100)
    with org.sessions() as s:
        lost_blob = s.scalars(select(DocumentVersion.blob_id)
                              .where(DocumentVersion.document_id == lost)).one()
    assert lost_blob is not None
    store.client.delete_object(Bucket=store.location.bucket, Key=store.key_of(lost_blob))
    with store.new_writer() as w:  # an object whose row never committed
        w.write(b"x" * 100)
        orphan = w.commit()
    crashed = store.new_writer()  # an upload a crash left unfinished
    crashed.__enter__().write(b"y" * (PART_SIZE + 1))

    report = doctor.check(org)
    assert [(p.document_id, p.blob_id) for p in report.missing] == [(lost, lost_blob)]
    assert [blob_id for blob_id, _ in report.orphans] == [orphan]
    assert len(report.tmp) == 1 and report.corrupt == []
    assert doctor.repair(org, report) == []  # young ones are left alone
    monkeypatch.setattr(doctor, "GRACE_SECONDS", 0)
    removed = doctor.repair(org, report)
    assert removed == [f"orphan blob {orphan}", f"temporary file {report.tmp[0][0]}"]
    after = doctor.check(org)
    assert after.orphans == [] and after.tmp == [] and len(after.missing) == 1
    assert read(org, kept) == b"kept " * 100


def test_doctor_finds_a_corrupt_object(org: Infra) -> None:
    store = s3(org)
    doc_id = register(org, b"text " * 100)
    with org.sessions() as s:
        blob_id = s.scalars(select(DocumentVersion.blob_id)).one()
    assert blob_id is not None
    with store.open(blob_id) as fh:
        data = bytearray(fh.read())
    data[-5] ^= 1
    store.client.delete_object(Bucket=store.location.bucket, Key=store.key_of(blob_id))
    store.client.put_object(Bucket=store.location.bucket, Key=store.key_of(blob_id),
                            Body=bytes(data))
    report = doctor.check(org)
    assert [(p.document_id, p.blob_id) for p in report.corrupt] == [(doc_id, blob_id)]


def test_key_rotation_on_s3(org: Infra) -> None:
    bodies = {register(org, f"file {i}".encode() * 100): f"file {i}".encode() * 100
              for i in range(3)}
    before = sorted(s3(org).iter_ids())
    old = org.keyring.active_id
    result = keys.rotate(org)
    assert result.rewrapped == 3 and keys.usage(org) == {result.new_key: 3}
    keys.retire(org, old)
    for doc_id, body in bodies.items():
        assert read(org, doc_id) == body
    assert sorted(s3(org).iter_ids()) == before  # objects untouched: only keys re-wrapped
    assert doctor.check(org).healthy


def test_recording_purge_deletes_the_object_with_the_key(org: Infra) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with unit_of_work(org, "clerk", now=now) as ctx:
        old = recordings.register(
            ctx, caller_number="+86 755-1234 5678", agent="李客服", request_ref="SQ-OLD",
            called_at=now - timedelta(days=31), filename="call.wav",
            content=io.BytesIO(samples.wav_tone(0.25))).id
    with org.sessions() as s:
        blob_id = s.scalars(select(DocumentVersion.blob_id)
                            .where(DocumentVersion.document_id == old)).one()
    assert blob_id is not None and s3(org).exists(blob_id)
    org = replace(org, settings=replace(org.settings, recording_retention_days=30))
    with unit_of_work(org, None, now=now) as ctx:
        purged = recordings.purge(ctx)
    assert [p.document_id for p in purged] == [old]
    with org.sessions() as s:
        ver = s.scalars(select(DocumentVersion)
                        .where(DocumentVersion.document_id == old)).one()
        assert (ver.blob_id, ver.wrapped_key) == (None, None)
        assert s.get(Document, old) is not None
    assert not s3(org).exists(blob_id)
    assert doctor.check(org).healthy
