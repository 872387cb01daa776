from __future__ import annotations

from pathlib import Path

import pytest

from vault.config import load_settings
from vault.errors import ConfigError
from vault.runtime import init_runtime


def test_defaults_live_under_home(tmp_path: Path) -> None:
    s = load_settings(environ={}, home=tmp_path)
    assert s.keys_dir == tmp_path / "keys"
    assert s.storage_dir == tmp_path / "storage"
    assert s.audit_dir == tmp_path / "audit"
    assert s.database_url == f"sqlite:///{tmp_path / 'storage' / 'vault.db'}"
    assert s.secret_key is None


def test_environment_then_overrides(tmp_path: Path) -> None:
    env = {"VAULT_HOME": str(tmp_path), "VAULT_COPY_WINDOW_HOURS": "6",
           "VAULT_DATABASE_URL": "sqlite:///x.db", "VAULT_KEYS_DIR": str(tmp_path / "k")}
    s = load_settings(environ=env)
    assert (s.copy_window_hours, s.database_url) == (6, "sqlite:///x.db")
    assert s.keys_dir == tmp_path / "k"
    s2 = load_settings(environ=env, copy_window_hours=2)
    assert s2.copy_window_hours == 2


def test_bad_number_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="VAULT_COPY_WINDOW_HOURS must be a whole number"):
        load_settings(environ={"VAULT_COPY_WINDOW_HOURS": "soon"}, home=tmp_path)


def test_refuses_without_keys_folder(tmp_path: Path) -> None:
    s = load_settings(environ={}, home=tmp_path)
    with pytest.raises(ConfigError, match="vault init"):
        s.check()


def test_refuses_without_secret_key(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    s = load_settings(environ={}, home=tmp_path)
    with pytest.raises(ConfigError) as info:
        s.check()
    assert info.value.code == "secret_key_missing"
    assert "VAULT_SECRET_KEY" in info.value.message


def test_secret_from_environment_is_enough(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    s = load_settings(environ={"VAULT_SECRET_KEY": "x" * 40}, home=tmp_path)
    s.check()
    assert s.effective_secret_key() == "x" * 40


def test_init_creates_keys_once_with_tight_modes(tmp_path: Path) -> None:
    s = load_settings(environ={}, home=tmp_path)
    created = init_runtime(s)
    key = s.keys_dir / "secret.key"
    assert str(key) in created
    assert s.keys_dir.stat().st_mode & 0o777 == 0o700
    assert key.stat().st_mode & 0o777 == 0o600
    first = key.read_bytes()
    assert len(first) >= 48
    assert init_runtime(s) == []
    assert key.read_bytes() == first
    s.check()


def test_retention_below_30_days_refused(tmp_path: Path) -> None:
    init_runtime(load_settings(environ={}, home=tmp_path))
    s = load_settings(environ={"VAULT_RECORDING_RETENTION_DAYS": "29"}, home=tmp_path)
    with pytest.raises(ConfigError, match="at least 30"):
        s.check()


def test_checkpoint_cadence_and_witnesses(tmp_path: Path) -> None:
    env = {"VAULT_CHECKPOINT_SECONDS": "30", "VAULT_AUDIT_WITNESS_FILE": str(tmp_path / "w"),
           "VAULT_AUDIT_WITNESS_SYSLOG": "/dev/log"}
    s = load_settings(environ=env, home=tmp_path / "home")
    assert (s.checkpoint_seconds, s.audit_witness_file, s.audit_witness_syslog) == (
        30, tmp_path / "w", "/dev/log")
    assert load_settings(environ={}, home=tmp_path).checkpoint_seconds == 60
    init_runtime(s)
    s.check()


@pytest.mark.parametrize("inside", ["audit", "keys", "storage"])
def test_witness_inside_the_server_folders_refused(tmp_path: Path, inside: str) -> None:
    env = {"VAULT_AUDIT_WITNESS_FILE": str(tmp_path / inside / "witness.jsonl")}
    s = load_settings(environ=env, home=tmp_path)
    init_runtime(s)
    with pytest.raises(ConfigError, match="another mount"):
        s.check()


def test_checkpoint_interval_must_be_positive(tmp_path: Path) -> None:
    s = load_settings(environ={"VAULT_CHECKPOINT_SECONDS": "0"}, home=tmp_path)
    init_runtime(s)
    with pytest.raises(ConfigError, match="VAULT_CHECKPOINT_SECONDS"):
        s.check()
