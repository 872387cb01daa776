"""`vault serve` for real, on loopback: slow clients trickling a request body must
not take the server away from everyone else (issue 12)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
SLOW_CLIENTS = 20
TRICKLE_SECONDS = 0.2  # one byte per slow client this often


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthz(port: int, timeout: float) -> bytes:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as resp:  # noqa: S310
        return bytes(resp.read())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "VAULT_HOME": str(home)}
    # `vault init` in-process (the boundary under test is the server's, not the command's).
    from click.testing import CliRunner

    from vault.cli import main

    res = CliRunner().invoke(main, ["init"], env={"VAULT_HOME": str(home)})
    assert res.exit_code == 0, res.output
    port = _free_port()
    server = subprocess.Popen(
        [BIN / "vault", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--plain-http"],  # loopback without TLS
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            try:
                _healthz(port, 1)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                time.sleep(0.05)
        else:
            pytest.fail("vault serve did not answer /healthz within 30 s")
        yield port
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        if server.stderr:
            server.stderr.close()


def _accepted(port: int) -> int:
    """How many connections to ``port`` on loopback the server has accepted: in
    /proc/net/tcp a connection still in the listen backlog has no socket inode yet."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == "01" and fields[9] != "0":  # ESTABLISHED
            count += 1
    return count


def test_healthz_answers_with_20_slow_clients_trickling_a_body(served: int) -> None:
    socks = []
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(TRICKLE_SECONDS):
            for s in socks:
                try:
                    s.send(b"a")
                except OSError:
                    pass

    try:
        for _ in range(SLOW_CLIENTS):
            s = socket.create_connection(("127.0.0.1", served), timeout=5)
            s.sendall(b"POST /login HTTP/1.1\r\nHost: vault\r\nContent-Type: "
                      b"application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
                      b"username=")
            socks.append(s)
        threading.Thread(target=trickle, daemon=True).start()
        # Every slow request has reached the server (accepted, its body being read).
        deadline = time.monotonic() + 30
        while _accepted(served) < SLOW_CLIENTS:
            assert time.monotonic() < deadline, f"{_accepted(served)} of {SLOW_CLIENTS} accepted"
            time.sleep(0.02)
        for _ in range(3):
            # Generous: a busy test machine answers in milliseconds; a frozen server never.
            assert b'"ok"' in _healthz(served, timeout=15)
            time.sleep(TRICKLE_SECONDS * 2)  # the slow clients send more meanwhile
    finally:
        stop.set()
        for s in socks:
            s.close()
