"""The blob-store contract, run against both backends: local files and a real
S3-compatible server (SeaweedFS on loopback, see tests/conftest.py s3_server).

What the services rely on: random ids, nothing visible before `commit`, nothing left
after an abort or an exception, write-once objects, seekable reads (single segments
for the viewer and audio), orphans and unfinished writes listed for `vault doctor`.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest
from servers import S3Server

from vault import blobstore_s3
from vault.blobstore import (
    BlobMissing,
    BlobStore,
    BlobStoreError,
    LocalBlobStore,
    open_blob_store,
)
from vault.blobstore_s3 import PART_SIZE, S3BlobStore, S3Reader, parse_storage_url
from vault.config import load_settings
from vault.crypto.envelope import (
    RandomAccessReader,
    decrypt_stream,
    encrypt_stream,
    new_data_key,
)
from vault.errors import ConfigError, IntegrityFailure, InvalidInput


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture(scope="module")
def s3_client(s3_server: S3Server) -> Any:
    """The module's S3 client, made by `S3BlobStore.from_url` as Vault makes it (its
    configuration, the ``AWS_*`` variables): a client takes 0.1-0.5 s to make (a new
    boto3 session loads botocore's models again), the stores below share it."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in s3_server.env().items():
            mp.setenv(name, value)
        return S3BlobStore.from_url(f"s3://{s3_server.new_place()}/").client


def new_s3_store(server: S3Server, client: Any, prefix: str) -> S3BlobStore:
    """A store of its own: a fresh prefix (tests/servers.py, `new_place`), then ``prefix``."""
    return S3BlobStore(parse_storage_url(f"s3://{server.new_place()}/{prefix}"), client)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "storage")
    return new_s3_store(request.getfixturevalue("s3_server"),
                        request.getfixturevalue("s3_client"), "vault/")


def put(store: BlobStore, data: bytes) -> str:
    with store.new_writer() as w:
        w.write(data)
        return w.commit()


def pending(store: BlobStore) -> list[str]:
    return [t.name for t in store.list_tmp()]


def test_commit_returns_a_random_id_and_the_bytes_read_back(store: BlobStore) -> None:
    ids = {put(store, b"same bytes") for _ in range(3)}
    assert len(ids) == 3
    for blob_id in ids:
        assert store.exists(blob_id)
        assert store.info(blob_id).size == len(b"same bytes")
        with store.open(blob_id) as fh:
            assert fh.read() == b"same bytes"
    assert sorted(store.iter_ids()) == sorted(ids)
    assert pending(store) == []


def test_empty_blob(store: BlobStore) -> None:
    blob_id = put(store, b"")
    with store.open(blob_id) as fh:
        assert fh.read() == b""
    assert store.info(blob_id).size == 0


@pytest.mark.parametrize("start", [1000, 500_000])  # within and beyond the first GET on S3
def test_open_is_seekable_and_reads_ranges(store: BlobStore, start: int) -> None:
    data = os.urandom(700_000)
    blob_id = put(store, data)
    with store.open(blob_id) as fh:
        assert fh.seek(0, os.SEEK_END) == len(data)
        fh.seek(start)
        assert fh.read(10) == data[start : start + 10]
        assert fh.read(5) == data[start + 10 : start + 15]  # a sequential continuation
        assert fh.read(20) == data[start + 15 : start + 35]  # and on
        fh.seek(-3, os.SEEK_END)
        assert fh.read(100) == data[-3:]
        assert fh.read(1) == b""
        fh.seek(start - 7)
        buf = bytearray(9)
        assert fh.readinto(buf) == 9 and bytes(buf) == data[start - 7 : start + 2]
        fh.seek(0)
        assert fh.read() == data


def test_nothing_is_visible_before_commit(store: BlobStore) -> None:
    with store.new_writer() as w:
        w.write(b"x" * 100)
        assert list(store.iter_ids()) == []
        blob_id = w.commit()
    assert list(store.iter_ids()) == [blob_id]


def test_exception_inside_the_block_leaves_nothing(store: BlobStore) -> None:
    with pytest.raises(RuntimeError), store.new_writer() as w:
        w.write(b"y" * (PART_SIZE + 10))  # big enough to have started a multipart upload
        raise RuntimeError("boom")
    assert list(store.iter_ids()) == []
    assert pending(store) == []


def test_leaving_without_commit_discards(store: BlobStore) -> None:
    with store.new_writer() as w:
        w.write(b"z" * (PART_SIZE + 1))
    assert list(store.iter_ids()) == []
    assert pending(store) == []


def test_explicit_abort_is_idempotent_and_closes(store: BlobStore) -> None:
    with store.new_writer() as w:
        w.write(b"a")
        w.abort()
        w.abort()
        with pytest.raises(ValueError):
            w.write(b"b")
    assert list(store.iter_ids()) == []


def test_write_after_commit_is_refused(store: BlobStore) -> None:
    with store.new_writer() as w:
        w.write(b"a")
        w.commit()
        with pytest.raises(ValueError):
            w.write(b"b")
        with pytest.raises(ValueError):
            w.commit()


def test_delete(store: BlobStore) -> None:
    blob_id = put(store, b"gone soon")
    assert store.delete(blob_id) is True
    assert store.delete(blob_id) is False
    assert not store.exists(blob_id)
    with pytest.raises(BlobMissing):
        store.open(blob_id)
    with pytest.raises(BlobMissing):
        store.info(blob_id)


@pytest.mark.parametrize("bad", ["", "../etc/passwd", "A" * 32, "0" * 31, "0" * 33, "g" * 32])
def test_ids_are_validated(store: BlobStore, bad: str) -> None:
    for call in (store.open, store.delete, store.exists, store.info):
        with pytest.raises(InvalidInput):
            call(bad)


def test_unknown_temporary_names_are_refused(store: BlobStore) -> None:
    with pytest.raises(InvalidInput):
        store.remove_tmp("../../x")


def test_a_write_left_by_a_crash_is_listed_and_removed(store: BlobStore) -> None:
    crashed = store.new_writer()  # a crash: the block is never left
    w = crashed.__enter__()
    w.write(b"q" * (PART_SIZE + 5))  # on S3 a multipart upload has begun
    left = store.list_tmp()
    assert len(left) == 1 and left[0].age_seconds < 600
    assert store.remove_tmp(left[0].name) is True
    assert store.remove_tmp(left[0].name) is False
    assert pending(store) == []
    assert list(store.iter_ids()) == []


def test_large_envelope_round_trip_by_stream_and_by_segment(store: BlobStore) -> None:
    """More than two parts: streamed up, streamed down, and single segments read back."""
    key = new_data_key()
    plain = os.urandom(1 << 20) * 19  # 19 MiB: three parts of 8 MiB on S3
    with store.new_writer() as w:
        result = encrypt_stream(key, io.BytesIO(plain), w, document_id=3, version=1)
        blob_id = w.commit()
    assert store.info(blob_id).size == result.ciphertext_size
    with store.open(blob_id) as fh:
        back = b"".join(decrypt_stream(key, fh, document_id=3, version=1))
    assert back == plain
    with store.open(blob_id) as fh:
        reader = RandomAccessReader(key, fh, document_id=3, version=1)
        seg = reader.segment_size
        assert reader.read_segment(200) == plain[200 * seg : 201 * seg]
        assert reader.read_segment(5) == plain[5 * seg : 6 * seg]
        assert b"".join(reader.iter_range(10_000_000, 10_000_100)) == plain[10_000_000:10_000_100]


def test_tampered_blob_fails_authentication(store: BlobStore) -> None:
    key = new_data_key()
    with store.new_writer() as w:
        encrypt_stream(key, io.BytesIO(b"secret " * 1000), w, document_id=1, version=1)
        blob_id = w.commit()
    with store.open(blob_id) as fh:
        data = bytearray(fh.read())
    data[100] ^= 1
    forged = put(store, bytes(data))
    with pytest.raises(IntegrityFailure), store.open(forged) as fh:
        b"".join(decrypt_stream(key, fh, document_id=1, version=1))


# ---------------------------------------------------------------------------
# S3 only: write-once, streaming shape, configuration


@pytest.fixture
def s3_store(s3_server: S3Server, s3_client: Any) -> S3BlobStore:
    return new_s3_store(s3_server, s3_client, "p")


def test_an_existing_object_is_never_overwritten(s3_store: S3BlobStore,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    first = put(s3_store, b"the first version")
    # Force the next writer to pick the same id: both PUT and multipart are conditional.
    monkeypatch.setattr("vault.blobstore_s3.new_blob_id", lambda: first)
    for size in (10, PART_SIZE + 10):
        with pytest.raises(BlobStoreError, match="written once"), s3_store.new_writer() as w:
            w.write(b"x" * size)
            w.commit()
    with s3_store.open(first) as fh:
        assert fh.read() == b"the first version"
    assert pending(s3_store) == []


def test_upload_goes_in_parts_of_8_mib_with_one_reused_buffer(
        s3_store: S3BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = s3_store.client.upload_part

    def counting(**kw: Any) -> Any:
        calls.append(len(kw["Body"]))
        return real(**kw)

    monkeypatch.setattr(s3_store.client, "upload_part", counting)  # the client is shared
    with s3_store.new_writer() as w:
        buffers = {id(w._buf)}
        for _ in range(20):
            w.write(b"m" * (1 << 20))
            buffers.add(id(w._buf))
        blob_id = w.commit()
    assert calls == [PART_SIZE, PART_SIZE, 4 << 20]
    assert len(buffers) == 1
    assert s3_store.info(blob_id).size == 20 << 20


def test_a_whole_read_is_two_gets_and_a_segment_read_one(s3_store: S3BlobStore) -> None:
    key = new_data_key()
    plain = os.urandom(3 << 20)
    with s3_store.new_writer() as w:
        encrypt_stream(key, io.BytesIO(plain), w, document_id=9, version=2)
        blob_id = w.commit()
    with s3_store.open(blob_id) as fh:
        assert b"".join(decrypt_stream(key, fh, document_id=9, version=2)) == plain
        assert isinstance(fh, S3Reader) and fh.requests == 2  # the first bytes, then a stream
    with s3_store.open(blob_id) as fh:
        reader = RandomAccessReader(key, fh, document_id=9, version=2)
        before = fh.requests
        reader.read_segment(17)
        assert fh.requests == before + 1


def test_a_small_blob_is_one_get(s3_store: S3BlobStore) -> None:
    key = new_data_key()
    with s3_store.new_writer() as w:
        encrypt_stream(key, io.BytesIO(b"notice " * 10_000), w, document_id=1, version=1)
        blob_id = w.commit()
    with s3_store.open(blob_id) as fh:
        assert b"".join(decrypt_stream(key, fh, document_id=1, version=1)) == b"notice " * 10_000
        assert isinstance(fh, S3Reader) and fh.requests == 1


def test_a_missing_object_after_open_is_blob_missing(s3_store: S3BlobStore) -> None:
    blob_id = put(s3_store, b"x" * 600_000)
    fh = s3_store.open(blob_id)
    s3_store.delete(blob_id)
    fh.seek(400_000)  # beyond the bytes fetched on open
    with pytest.raises((BlobMissing, BlobStoreError)):
        fh.read(10)
    fh.close()


def test_unreachable_store_is_a_blob_store_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from botocore.config import Config
    from servers import free_port as _free_port

    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{_free_port()}",
                          aws_access_key_id="x", aws_secret_access_key="y",
                          region_name="us-east-1", config=Config(retries={"max_attempts": 1}))
    store = S3BlobStore(parse_storage_url("s3://nowhere/p"), client)
    with pytest.raises(BlobStoreError):
        store.exists("0" * 32)
    with pytest.raises(BlobStoreError), store.new_writer() as w:
        w.write(b"x")
        w.commit()


@pytest.mark.parametrize("url, bucket, prefix", [
    ("s3://vault-blobs", "vault-blobs", ""),
    ("s3://vault-blobs/", "vault-blobs", ""),
    ("s3://vault-blobs/group/prod", "vault-blobs", "group/prod/"),
])
def test_storage_urls(url: str, bucket: str, prefix: str) -> None:
    loc = parse_storage_url(url)
    assert (loc.bucket, loc.prefix) == (bucket, prefix)


@pytest.mark.parametrize("url", ["vault-blobs", "file:///x", "s3://", "s3://UPPER/x",
                                 "s3://b/x?acl=1", "s3://ok-bucket/a//b", "s3://ok-bucket/../x"])
def test_bad_storage_urls_are_refused_at_start(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        parse_storage_url(url)
    s = load_settings(environ={"VAULT_STORAGE_URL": url}, home=tmp_path)
    with pytest.raises(ConfigError):
        s.check()


def test_settings_choose_the_backend(tmp_path: Path, s3_env: S3Server) -> None:
    local = open_blob_store(load_settings(environ={}, home=tmp_path))
    assert isinstance(local, LocalBlobStore)
    s3 = open_blob_store(load_settings(environ={"VAULT_STORAGE_URL": "s3://b-x/p"},
                                       home=tmp_path))
    assert isinstance(s3, S3BlobStore) and s3.describe() == "s3://b-x/p/"


def test_stores_of_one_configuration_share_one_client(tmp_path: Path, s3_env: S3Server,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A client costs 0.1-0.2 s of CPU to make: every store the process opens with the
    same configuration (another bucket or prefix too) uses the one client; another
    configuration (other credentials) gets a client of its own."""
    settings = load_settings(environ={"VAULT_STORAGE_URL": f"s3://{s3_env.new_place()}/a"},
                             home=tmp_path)
    first = open_blob_store(settings)
    made = len(blobstore_s3._clients)
    again = open_blob_store(settings)
    elsewhere = S3BlobStore.from_url(f"s3://{s3_env.new_bucket()}/b")
    assert isinstance(first, S3BlobStore) and isinstance(again, S3BlobStore)
    assert again.client is first.client and elsewhere.client is first.client
    assert len(blobstore_s3._clients) == made
    with elsewhere.open(put(elsewhere, b"through the shared client")) as fh:  # it works
        assert fh.read() == b"through the shared client"

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "another secret")
    other = S3BlobStore.from_url(f"s3://{s3_env.new_place()}/a")
    assert other.client is not first.client
    assert len(blobstore_s3._clients) == min(made + 1, blobstore_s3._MAX_CLIENTS)
    with pytest.raises(BlobStoreError):  # it signs with the other secret: refused
        put(other, b"x")
    # The cache is keyed by digests: no credential in its keys.
    assert not any(secret in key for key in blobstore_s3._clients
                   for secret in (s3_env.secret_key, "another secret", s3_env.access_key))
