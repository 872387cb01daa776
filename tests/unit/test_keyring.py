"""Master keys (vault/crypto/keyring.py): files and modes, wrap/unwrap, rotation, retiring."""

from __future__ import annotations

import base64
import io
import os
import re
import stat
from pathlib import Path

import pytest

from vault.config import Settings, load_settings
from vault.crypto import keyring
from vault.crypto.envelope import decrypt_stream, encrypt_stream, new_data_key
from vault.crypto.keyring import ENV_KEY_ID, Keyring, KeyUnwrapError
from vault.errors import ConfigError, Conflict, IntegrityFailure

ID_RE = re.compile(r"mk-\d{14}-[0-9a-f]{4}")


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    return load_settings(environ={}, home=tmp_path, **overrides)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = make_settings(tmp_path)
    assert Keyring.create_first(s) is not None
    return s


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def key_files(keys_dir: Path) -> list[Path]:
    return sorted(keys_dir.glob("master-*.key"))


# --- creating and loading ------------------------------------------------------------


def test_create_first_makes_a_private_key_and_activates_it(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    key_id = Keyring.create_first(s)
    assert key_id is not None and ID_RE.fullmatch(key_id)
    assert mode(s.keys_dir) == 0o700
    (path,) = key_files(s.keys_dir)
    assert path.name == f"master-{key_id}.key"
    assert mode(path) == 0o600
    assert len(base64.b64decode(path.read_bytes().strip(), validate=True)) == 32
    assert (s.keys_dir / "master-active").read_text().strip() == key_id
    assert mode(s.keys_dir / "master-active") == 0o600
    assert Keyring.load(s).active_id == key_id


def test_create_first_never_overwrites(settings: Settings) -> None:
    before = {p.name: p.read_bytes() for p in settings.keys_dir.iterdir()}
    assert Keyring.create_first(settings) is None
    assert {p.name: p.read_bytes() for p in settings.keys_dir.iterdir()} == before


def test_create_first_adopts_a_key_left_without_active_file(settings: Settings) -> None:
    (path,) = key_files(settings.keys_dir)
    (settings.keys_dir / "master-active").unlink()  # crash between the two writes
    key_id = Keyring.create_first(settings)
    assert key_id is not None and path.name == f"master-{key_id}.key"
    assert key_files(settings.keys_dir) == [path]


def test_create_first_refuses_an_open_folder(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    s.keys_dir.mkdir(mode=0o755)
    os.chmod(s.keys_dir, 0o755)  # noqa: S103 - deliberately too open
    with pytest.raises(ConfigError) as info:
        Keyring.create_first(s)
    assert f"chmod 700 {s.keys_dir}" in info.value.message
    assert key_files(s.keys_dir) == []


def test_wrap_unwrap_round_trip(settings: Settings) -> None:
    ring = Keyring.load(settings)
    data_key = new_data_key()
    key_id, wrapped = ring.wrap(data_key)
    assert key_id == ring.active_id
    assert len(wrapped) == 40  # RFC 3394: key + 8 bytes
    assert data_key not in wrapped
    assert ring.unwrap(key_id, wrapped) == data_key
    assert Keyring.load(settings).unwrap(key_id, wrapped) == data_key  # survives a restart
    with pytest.raises(ValueError):
        ring.wrap(b"short")


@pytest.mark.parametrize("file_mode", [0o644, 0o640, 0o604, 0o660, 0o606])
def test_open_key_file_is_refused(settings: Settings, file_mode: int) -> None:
    (path,) = key_files(settings.keys_dir)
    os.chmod(path, file_mode)
    with pytest.raises(ConfigError) as info:
        Keyring.load(settings)
    assert f"chmod 600 {path}" in info.value.message
    assert info.value.code == "key_permissions"


def test_stricter_modes_are_accepted(settings: Settings) -> None:
    # Stricter than 0600 is fine: the check is about group and others.
    (path,) = key_files(settings.keys_dir)
    os.chmod(path, 0o400)
    Keyring.load(settings)


@pytest.mark.parametrize("dir_mode", [0o755, 0o750, 0o711, 0o777])
def test_open_keys_folder_is_refused(settings: Settings, dir_mode: int) -> None:
    os.chmod(settings.keys_dir, dir_mode)
    try:
        with pytest.raises(ConfigError) as info:
            Keyring.load(settings)
        assert f"chmod 700 {settings.keys_dir}" in info.value.message
    finally:
        os.chmod(settings.keys_dir, 0o700)


def test_open_active_file_is_refused(settings: Settings) -> None:
    os.chmod(settings.keys_dir / "master-active", 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        Keyring.load(settings)


def test_symlinked_key_is_refused(settings: Settings, tmp_path: Path) -> None:
    (path,) = key_files(settings.keys_dir)
    elsewhere = tmp_path / "elsewhere.key"
    elsewhere.write_bytes(path.read_bytes())
    os.chmod(elsewhere, 0o600)
    path.unlink()
    path.symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="link"):
        Keyring.load(settings)


@pytest.mark.parametrize("content", [b"", b"not base64!!", base64.b64encode(b"x" * 16)])
def test_malformed_key_file_is_refused(settings: Settings, content: bytes) -> None:
    (path,) = key_files(settings.keys_dir)
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        Keyring.load(settings)


def test_missing_keys_say_what_to_run(tmp_path: Path) -> None:
    s = make_settings(tmp_path)
    with pytest.raises(ConfigError, match="vault init"):
        Keyring.load(s)
    s.keys_dir.mkdir(mode=0o700)
    with pytest.raises(ConfigError, match="vault init"):
        Keyring.load(s)


def test_active_file_naming_a_missing_key(settings: Settings) -> None:
    (settings.keys_dir / "master-active").write_text("mk-20000101000000-abcd\n")
    with pytest.raises(ConfigError, match="mk-20000101000000-abcd"):
        Keyring.load(settings)


# --- unwrapping failures -------------------------------------------------------------


def test_unknown_master_key_id_is_named(settings: Settings) -> None:
    ring = Keyring.load(settings)
    _, wrapped = ring.wrap(new_data_key())
    with pytest.raises(IntegrityFailure) as info:
        ring.unwrap("mk-19990101000000-0000", wrapped)
    assert info.value.code == "master_key_missing"
    assert "mk-19990101000000-0000" in info.value.message


@pytest.mark.parametrize("damage", ["flip", "short", "empty", "long"])
def test_damaged_wrapped_key_fails_cleanly(settings: Settings, damage: str) -> None:
    ring = Keyring.load(settings)
    key_id, wrapped = ring.wrap(new_data_key())
    bad = {
        "flip": bytes([wrapped[0] ^ 1]) + wrapped[1:],
        "short": wrapped[:7],
        "empty": b"",
        "long": wrapped + b"\x00" * 8,
    }[damage]
    with pytest.raises(KeyUnwrapError) as info:
        ring.unwrap(key_id, bad)
    assert isinstance(info.value, IntegrityFailure)
    assert info.value.code == "key_unwrap_failed"
    assert key_id in info.value.message


def test_key_from_another_installation_fails(settings: Settings, tmp_path: Path) -> None:
    other = make_settings(tmp_path / "other")
    (tmp_path / "other").mkdir()
    Keyring.create_first(other)
    ring = Keyring.load(settings)
    key_id, wrapped = Keyring.load(other).wrap(new_data_key())
    with pytest.raises(IntegrityFailure):
        ring.unwrap(key_id, wrapped)


# --- the environment key -------------------------------------------------------------


def test_environment_key(tmp_path: Path) -> None:
    raw = os.urandom(32)
    s = make_settings(tmp_path, master_key=base64.b64encode(raw).decode())
    ring = Keyring.load(s)  # no keys folder needed
    assert ring.active_id == ENV_KEY_ID and ring.from_environment
    data_key = new_data_key()
    key_id, wrapped = ring.wrap(data_key)
    assert key_id == "env"
    assert Keyring.load(s).unwrap("env", wrapped) == data_key
    with pytest.raises(ConfigError, match="VAULT_MASTER_KEY"):
        ring.rotate()
    with pytest.raises(ConfigError, match="VAULT_MASTER_KEY"):
        ring.retire("env", lambda _: 0)
    assert Keyring.create_first(s) is None
    assert not s.keys_dir.exists()


@pytest.mark.parametrize("value", ["", "!!!!", base64.b64encode(b"k" * 31).decode()])
def test_bad_environment_key_is_refused(tmp_path: Path, value: str) -> None:
    s = make_settings(tmp_path, master_key=value or "=")
    with pytest.raises(ConfigError, match="VAULT_MASTER_KEY"):
        Keyring.load(s)


def test_environment_key_can_still_read_file_key_rows(settings: Settings) -> None:
    data_key = new_data_key()
    old_id, wrapped = Keyring.load(settings).wrap(data_key)
    env = Settings(**{**settings.__dict__, "master_key": base64.b64encode(os.urandom(32)).decode()})
    ring = Keyring.load(env)
    assert ring.active_id == "env"
    assert ring.unwrap(old_id, wrapped) == data_key
    new_id, new_wrapped = ring.rewrap(old_id, wrapped)
    assert new_id == "env" and ring.unwrap("env", new_wrapped) == data_key


# --- rotation ------------------------------------------------------------------------


def test_rotation_round_trip_with_a_stored_file(settings: Settings) -> None:
    ring = Keyring.load(settings)
    first = ring.active_id
    data_key = new_data_key()
    key_id, wrapped = ring.wrap(data_key)
    blob = io.BytesIO()
    encrypt_stream(data_key, io.BytesIO(b"contract text" * 100), blob, document_id=3, version=1)

    second = ring.rotate()
    assert second != first and ID_RE.fullmatch(second)
    assert ring.active_id == second
    assert mode(settings.keys_dir / f"master-{second}.key") == 0o600
    assert (settings.keys_dir / "master-active").read_text().strip() == second
    assert Keyring.load(settings).active_id == second

    assert ring.unwrap(key_id, wrapped) == data_key  # old rows still read
    new_id, new_wrapped = ring.rewrap(key_id, wrapped)
    assert new_id == second and new_wrapped != wrapped
    assert ring.rewrap(new_id, new_wrapped) == (new_id, new_wrapped)  # idempotent
    restarted = Keyring.load(settings)
    plain = b"".join(
        decrypt_stream(
            restarted.unwrap(new_id, new_wrapped), io.BytesIO(blob.getvalue()),
            document_id=3, version=1,
        )
    )
    assert plain == b"contract text" * 100
    assert ring.wrap(new_data_key())[0] == second
    assert set(ring.ids) == {first, second}


def test_rewrap_under_the_active_key_does_no_crypto(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ring = Keyring.load(settings)
    ring.rotate()
    key_id, wrapped = ring.wrap(new_data_key())
    calls: list[str] = []
    monkeypatch.setattr(keyring, "aes_key_unwrap", lambda *a: calls.append("unwrap"))
    monkeypatch.setattr(keyring, "aes_key_wrap", lambda *a: calls.append("wrap"))
    assert ring.rewrap(key_id, wrapped) == (key_id, wrapped)
    assert calls == []  # a re-run after a crash skips rows already done, cheaply


def test_rewrap_of_damaged_row_fails_and_changes_nothing(settings: Settings) -> None:
    ring = Keyring.load(settings)
    key_id, wrapped = ring.wrap(new_data_key())
    ring.rotate()
    with pytest.raises(KeyUnwrapError):
        ring.rewrap(key_id, wrapped[:-1] + bytes([wrapped[-1] ^ 1]))


def test_rotation_by_another_process_is_followed(settings: Settings) -> None:
    web = Keyring.load(settings)  # a long-running server
    cli = Keyring.load(settings)  # `vault keys rotate`
    data_key = new_data_key()
    old_id, wrapped = web.wrap(data_key)
    new_id = cli.rotate()
    moved_id, moved = cli.rewrap(old_id, wrapped)
    assert web.unwrap(moved_id, moved) == data_key  # loads the key it had not seen
    assert web.wrap(new_data_key())[0] == new_id  # and wraps new rows with it
    assert web.active_id == new_id


# --- retiring ------------------------------------------------------------------------


def test_retire_refused_while_in_use_then_moves_the_key(settings: Settings) -> None:
    ring = Keyring.load(settings)
    old = ring.active_id
    data_key = new_data_key()
    _, wrapped = ring.wrap(data_key)
    asked: list[str] = []

    def in_use(key_id: str) -> int:
        asked.append(key_id)
        return 2

    with pytest.raises(Conflict) as info:
        ring.retire(old, in_use)
    assert info.value.code == "key_active"  # the active key: rotate first
    assert asked == []

    ring.rotate()
    with pytest.raises(Conflict) as info:
        ring.retire(old, in_use)
    assert info.value.code == "key_in_use"
    assert "2 data key" in info.value.message
    assert asked == [old]
    assert ring.unwrap(old, wrapped) == data_key
    assert (settings.keys_dir / f"master-{old}.key").exists()

    target = ring.retire(old, lambda _: 0)
    assert target == settings.keys_dir / "retired" / f"master-{old}.key"
    assert target.exists() and mode(target) == 0o600
    assert mode(target.parent) == 0o700
    assert not (settings.keys_dir / f"master-{old}.key").exists()
    assert old not in ring.ids
    restarted = Keyring.load(settings)
    assert old not in restarted.ids
    with pytest.raises(IntegrityFailure) as missing:
        restarted.unwrap(old, wrapped)
    assert missing.value.code == "master_key_missing"


def test_retire_unknown_key(settings: Settings) -> None:
    ring = Keyring.load(settings)
    ring.rotate()
    for bad in ("mk-20000101000000-abcd", "../secret", "env"):
        with pytest.raises(Conflict):
            ring.retire(bad, lambda _: 0)


def test_retire_follows_rotation_elsewhere(settings: Settings) -> None:
    stale = Keyring.load(settings)
    fresh = Keyring.load(settings)
    old = stale.active_id
    new = fresh.rotate()
    fresh.retire(old, lambda _: 0)
    with pytest.raises(Conflict) as info:
        stale.retire(new, lambda _: 0)  # stale believes `old` is active
    assert info.value.code == "key_active"
