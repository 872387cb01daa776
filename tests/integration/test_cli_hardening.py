"""Issue 12 hardening at the shell: the database file's mode, key files written
atomically and named by `vault doctor`."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from test_cli import Vault  # noqa: I001 - sibling test module


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_sqlite_database_is_created_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    umask = os.umask(0o022)  # the usual umask, under which SQLite alone makes it 0644
    try:
        v = Vault(home, f"sqlite:///{home / 'vault.db'}")
        res = v("init")
        assert res.exit_code == 0, res.output
        assert v("org", "add-company", "HQ", "总部", "--hq").exit_code == 0
    finally:
        os.umask(umask)
    assert _mode(home / "vault.db") == 0o600
    for extra in ("vault.db-wal", "vault.db-shm"):
        if (home / extra).exists():
            assert _mode(home / extra) & 0o077 == 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _login_page_headers(home: Path, *flags: str) -> dict[str, str]:
    """Start `vault serve` with ``flags`` on a free loopback port, GET /login, stop it."""
    import subprocess
    import sys
    import time
    import urllib.request

    port = _free_port()
    env = {**os.environ, "VAULT_HOME": str(home),
           "VAULT_DATABASE_URL": f"sqlite:///{home / 'vault.db'}"}
    env.pop("VAULT_PLAIN_HTTP", None)
    vault = Path(sys.executable).with_name("vault")
    proc = subprocess.Popen([str(vault), "serve", "--port", str(port), "--workers", "1", *flags],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):  # the server starts within a few seconds; give up after 30
            if proc.poll() is not None:
                raise AssertionError(f"vault serve {flags} exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                    return {k.lower(): v for k, v in r.headers.items()}
            except OSError:
                time.sleep(0.1)
        raise AssertionError("vault serve did not answer")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_marks_the_session_cookie_secure_and_sends_hsts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    v = Vault(home, f"sqlite:///{home / 'vault.db'}")
    assert v("init").exit_code == 0
    behind_tls = _login_page_headers(home)
    assert "vault_session=" in behind_tls["set-cookie"]
    assert "; secure" in behind_tls["set-cookie"].lower()
    assert behind_tls["strict-transport-security"].startswith("max-age=")
    for flags in (("--plain-http",), ("--dev",)):
        plain = _login_page_headers(home, *flags)
        assert "vault_session=" in plain["set-cookie"]
        assert "secure" not in plain["set-cookie"].lower(), flags
        assert "strict-transport-security" not in plain, flags


def _initialised(tmp_path: Path) -> tuple[Vault, Path]:
    home = tmp_path / "home"
    home.mkdir()
    v = Vault(home, f"sqlite:///{home / 'vault.db'}")
    assert v("init").exit_code == 0
    return v, home


def test_doctor_names_a_broken_master_key_and_the_recovery(tmp_path: Path) -> None:
    v, home = _initialised(tmp_path)
    assert v("doctor").exit_code == 0
    (key,) = (home / "keys").glob("master-mk-*.key")
    key.write_bytes(b"")  # what a crash in the middle of writing it used to leave
    res = v("org", "add-company", "HQ", "总部", "--hq")
    assert res.exit_code != 0 and "vault doctor" in res.output
    res = v("doctor")
    assert res.exit_code == 1
    assert f"KEY      {key}: empty, partial or not a base64 32-byte key" in res.output
    assert "recovery: restore it from your key backup" in res.output
    assert "no data key wrapped by" in res.output  # nothing depends on it yet
    for name, content in (("audit-hmac.key", b"short"), ("master-active", b"")):
        (home / "keys" / name).write_bytes(content)
    res = v("doctor")
    assert f"KEY      {home / 'keys' / 'audit-hmac.key'}: 5 bytes instead of 32" in res.output
    assert f"KEY      {home / 'keys' / 'master-active'}: empty or not a key id" in res.output


CRASH_WHILE_WRITING_A_MASTER_KEY = """
import os, sys
real = os.fdopen

class Half:
    def __init__(self, fh): self.fh = fh
    def __enter__(self): return self
    def __exit__(self, *exc): return False
    def write(self, data):
        self.fh.write(bytes(data)[: len(data) // 2]); self.fh.flush(); os._exit(9)
    def __getattr__(self, name): return getattr(self.fh, name)

def fdopen(fd, *args, **kwargs):
    fh = real(fd, *args, **kwargs)
    return Half(fh) if "master-mk-" in os.readlink(f"/proc/self/fd/{fd}") else fh

os.fdopen = fdopen
from vault.cli import main
main(["init"])
"""


def test_a_crash_while_writing_a_key_leaves_no_partial_key(tmp_path: Path) -> None:
    import subprocess
    import sys

    from vault.config import load_settings
    from vault.crypto.keyring import Keyring

    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "VAULT_HOME": str(home),
           "VAULT_DATABASE_URL": f"sqlite:///{home / 'vault.db'}"}
    crashed = subprocess.run([sys.executable, "-c", CRASH_WHILE_WRITING_A_MASTER_KEY],
                             env=env, capture_output=True, timeout=120)
    assert crashed.returncode == 9
    assert list((home / "keys").glob("master-*.key")) == []  # no half key under its name
    v = Vault(home, env["VAULT_DATABASE_URL"])
    res = v("init")
    assert res.exit_code == 0, res.output
    Keyring.load(load_settings(env))  # every key file there is whole
    res = v("doctor")
    assert "a temporary file left by an interrupted write" in res.output


def test_cli_refuses_a_guessable_password_saying_why(tmp_path: Path) -> None:
    v, _home = _initialised(tmp_path)
    assert v("org", "add-company", "HQ", "总公司", "--hq").exit_code == 0
    res = v("users", "add", "li", "--name", "李四", "--company", "HQ", "--roles", "staff",
            "--password-stdin", input="password12\n")
    assert res.exit_code == 2 and "too easy to guess" in res.output
    res = v("users", "add", "li", "--name", "李四", "--company", "HQ", "--roles", "staff",
            "--password-stdin", "--lang", "zh", input="li12345678\n")
    assert res.exit_code == 2 and "密码不能是用户名" in res.output
    res = v("users", "add", "li", "--name", "李四", "--company", "HQ", "--roles", "staff",
            "--password-stdin", input="violet kettle under moonlight\n")
    assert res.exit_code == 0, res.output
    res = v("users", "passwd", "li", "--password-stdin", "--lang", "zh",
            input="violet kettle under moonlight\n")
    assert res.exit_code == 2 and "新密码不能与当前密码相同" in res.output
