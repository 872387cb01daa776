"""Encrypted blob files (vault/blobstore.py): atomic writes, aborts, ids, orphans."""

from __future__ import annotations

import io
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from vault import blobstore
from vault.blobstore import BlobMissing, BlobStore, LocalBlobStore, check_blob_id
from vault.config import load_settings
from vault.crypto.envelope import decrypt_stream, encrypt_stream, new_data_key
from vault.errors import IntegrityFailure, InvalidInput


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "storage")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def put(store: BlobStore, data: bytes) -> str:
    with store.new_writer() as w:
        w.write(data)
        return w.commit()


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_layout_and_modes(tmp_path: Path, open_umask: None) -> None:
    store = LocalBlobStore(tmp_path / "storage")
    assert mode(store.blobs_dir) == 0o700
    assert mode(store.tmp_dir) == 0o700
    blob_id = put(store, b"ciphertext")
    path = store.blobs_dir / blob_id[:2] / blob_id[2:4] / blob_id
    assert path.is_file()
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700 and mode(path.parent.parent) == 0o700
    assert os.listdir(store.tmp_dir) == []


def test_existing_open_folders_are_tightened(tmp_path: Path, open_umask: None) -> None:
    for name in ("blobs", "tmp"):
        (tmp_path / "storage" / name).mkdir(parents=True, mode=0o755)
    store = LocalBlobStore(tmp_path / "storage")
    assert mode(store.blobs_dir) == 0o700
    assert mode(store.tmp_dir) == 0o700


def test_from_settings_uses_storage_dir(tmp_path: Path) -> None:
    s = load_settings(environ={}, home=tmp_path)
    store = LocalBlobStore.from_settings(s)
    assert store.blobs_dir == s.storage_dir / "blobs"
    assert store.tmp_dir.is_dir()


def test_commit_returns_a_random_id_and_the_bytes_read_back(store: LocalBlobStore) -> None:
    ids = {put(store, b"same bytes") for _ in range(5)}
    assert len(ids) == 5
    for blob_id in ids:
        assert check_blob_id(blob_id) == blob_id
        assert store.exists(blob_id)
        with store.open(blob_id) as fh:
            assert fh.read() == b"same bytes"
        info = store.info(blob_id)
        assert info.blob_id == blob_id and info.size == 10
        assert abs(info.mtime - time.time()) < 60
    assert set(store.iter_ids()) == ids


def test_open_is_seekable(store: LocalBlobStore) -> None:
    blob_id = put(store, bytes(range(100)))
    with store.open(blob_id) as fh:
        fh.seek(90)
        assert fh.read() == bytes(range(90, 100))
        assert fh.seek(0, os.SEEK_END) == 100


def test_nothing_is_visible_before_commit(store: LocalBlobStore) -> None:
    with store.new_writer() as w:
        w.write(b"half")
        w.flush()
        assert list(store.iter_ids()) == []
        (tmp,) = store.list_tmp()
        assert tmp.name.endswith(".part") and tmp.size == 4
        assert tmp.age_seconds < 60
        blob_id = w.commit()
    assert store.list_tmp() == []
    assert list(store.iter_ids()) == [blob_id]


def test_exception_inside_the_block_leaves_nothing(store: LocalBlobStore) -> None:
    with pytest.raises(RuntimeError), store.new_writer() as w:
        w.write(b"x" * 100_000)
        raise RuntimeError("upload interrupted")
    assert os.listdir(store.tmp_dir) == []
    assert list(store.iter_ids()) == []
    assert all_files(store.root) == []


def test_leaving_without_commit_discards(store: LocalBlobStore) -> None:
    with store.new_writer() as w:
        w.write(b"never committed")
    assert all_files(store.root) == []


def test_explicit_abort_is_idempotent(store: LocalBlobStore) -> None:
    with store.new_writer() as w:
        w.write(b"abc")
        w.abort()
        w.abort()
        with pytest.raises(ValueError):
            w.write(b"more")
        with pytest.raises(ValueError):
            w.commit()
    assert all_files(store.root) == []


def test_write_after_commit_is_refused(store: LocalBlobStore) -> None:
    with store.new_writer() as w:
        w.write(b"abc")
        blob_id = w.commit()
        with pytest.raises(ValueError):
            w.write(b"more")
        w.abort()  # a no-op once committed
    assert store.exists(blob_id)


def test_failed_rename_leaves_nothing(
    store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_rename(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(blobstore.os, "rename", broken_rename)
    with pytest.raises(OSError), store.new_writer() as w:
        w.write(b"data")
        try:
            w.commit()
        finally:
            assert os.listdir(store.tmp_dir) == []  # the writer cleans up, not only the block
    monkeypatch.undo()
    assert os.listdir(store.tmp_dir) == []
    assert list(store.iter_ids()) == []


def test_failed_fsync_leaves_nothing(
    store: LocalBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(blobstore.os, "fsync", broken_fsync)
    with pytest.raises(OSError), store.new_writer() as w:
        w.write(b"data")
        w.commit()
    monkeypatch.undo()
    assert all_files(store.root) == []


def test_delete(store: LocalBlobStore) -> None:
    blob_id = put(store, b"to shred")
    assert store.delete(blob_id) is True
    assert not store.exists(blob_id)
    assert store.delete(blob_id) is False
    with pytest.raises(BlobMissing) as info:
        store.open(blob_id)
    assert isinstance(info.value, IntegrityFailure)
    assert info.value.code == "blob_missing"
    with pytest.raises(BlobMissing):
        store.info(blob_id)


@pytest.mark.parametrize(
    "bad",
    [
        "../../../../etc/passwd",
        "/etc/passwd",
        "0" * 31,
        "0" * 33,
        "A" * 32,
        "0" * 30 + "/x",
        "0" * 31 + "\x00",
        "..",
        "",
        "g" * 32,
    ],
)
def test_ids_are_validated(store: LocalBlobStore, bad: str) -> None:
    for call in (store.open, store.delete, store.exists, store.info, store.path_of):
        with pytest.raises(InvalidInput) as info:
            call(bad)
        assert info.value.code == "bad_blob_id"


def test_iter_ids_ignores_strangers(store: LocalBlobStore) -> None:
    blob_id = put(store, b"x")
    (store.blobs_dir / "README").write_text("hi")
    (store.blobs_dir / "zz").mkdir()
    (store.blobs_dir / "zz" / "zz").mkdir()
    (store.blobs_dir / "zz" / "zz" / ("z" * 32)).write_text("x")
    wrong_place = store.blobs_dir / blob_id[:2] / blob_id[2:4] / ("f" * 32)
    wrong_place.write_text("misfiled")
    assert list(store.iter_ids()) == [blob_id]


def test_tmp_orphans_with_age_and_removal(store: LocalBlobStore) -> None:
    # A crash mid-write leaves a .part file behind; `vault doctor` sees its age.
    orphan = store.tmp_dir / ("a" * 32 + ".part")
    orphan.write_bytes(b"partial")
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    (store.tmp_dir / "unrelated.txt").write_text("not ours")
    (tmp,) = store.list_tmp()
    assert tmp.name == orphan.name and tmp.size == 7
    assert 7100 < tmp.age_seconds < 7300
    assert store.remove_tmp(tmp.name) is True
    assert store.remove_tmp(tmp.name) is False
    assert not orphan.exists()
    for bad in ("../blobs", "unrelated.txt", "/etc/passwd", "a" * 32):
        with pytest.raises(InvalidInput):
            store.remove_tmp(bad)
    assert (store.tmp_dir / "unrelated.txt").exists()


def test_encrypted_round_trip_leaves_no_plaintext(store: LocalBlobStore) -> None:
    marker = b"UNIQUE-MARKER-7f3a9c-\xe6\x9c\xba\xe5\xaf\x86"
    plaintext = (b"lorem ipsum " * 5000) + marker + b"tail" * 1000
    key = new_data_key()
    with store.new_writer() as w:
        result = encrypt_stream(key, io.BytesIO(plaintext), w, document_id=9, version=1)  # type: ignore[arg-type]
        blob_id = w.commit()
    assert store.info(blob_id).size == result.ciphertext_size
    for path in all_files(store.root):
        data = path.read_bytes()
        assert marker not in data and b"lorem ipsum" not in data
    with store.open(blob_id) as fh:
        assert b"".join(decrypt_stream(key, fh, document_id=9, version=1)) == plaintext
