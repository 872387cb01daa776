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
    subprocess.run([BIN / "vault", "init"], env=env, check=True, capture_output=True)
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
                time.sleep(0.1)
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


def test_healthz_answers_with_20_slow_clients_trickling_a_body(served: int) -> None:
    socks = []
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(1):
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
        time.sleep(2)  # every slow request has reached the server and is being read
        for _ in range(3):
            # Generous: a busy test machine answers in milliseconds; a frozen server never.
            assert b'"ok"' in _healthz(served, timeout=15)
            time.sleep(1)
    finally:
        stop.set()
        for s in socks:
            s.close()
