"""Witness records: the file witness appends fsync'd JSON lines; the syslog witness
sends the same record over UDP (a real socket on loopback); both read back."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from vault.audit import witness

CP = {"seq": 12, "prev_seq": 5, "mac": "ab" * 32, "time": "2026-12-07T01:00:00.000000Z",
      "key_id": "k" * 16, "sig": "cd" * 64, "leaves": "ef" * 16 * 7}


def test_file_witness_appends_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "share" / "vault.witness"
    w = witness.FileWitness(path)
    with pytest.raises(FileNotFoundError):  # the mount is missing: an error, never created
        w.send([witness.record_of(CP)])
    path.parent.mkdir()
    w.send([witness.record_of(CP)])
    w.send([witness.record_of({**CP, "seq": 20, "prev_seq": 12})])
    assert "leaves" not in path.read_text()
    got = witness.read_records(path)
    assert [(r.seq, r.mac, r.sig, r.where) for r in got] == [
        (12, CP["mac"], CP["sig"], "vault.witness:1"),
        (20, CP["mac"], CP["sig"], "vault.witness:2"),
    ]
    assert w.last_seq() == 20


def test_damaged_witness_record_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "w"
    path.write_text('{"witness":"vault-audit-checkpoint","seq":"twelve"}\n')
    with pytest.raises(ValueError, match="w:1"):
        witness.read_records(path)


def test_syslog_witness_sends_a_readable_record(tmp_path: Path) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(10)
    try:
        w = witness.SyslogWitness(f"127.0.0.1:{server.getsockname()[1]}")
        assert witness.send_all([w], [witness.record_of(CP)])
        data, _ = server.recvfrom(65536)
    finally:
        server.close()
    assert data.startswith(b"<84>")  # authpriv.warning
    saved = tmp_path / "syslog"
    saved.write_bytes(b"Dec  7 01:00:00 host " + data[4:] + b"\n")
    (rec,) = witness.read_records(saved)
    assert (rec.seq, rec.mac) == (12, CP["mac"])
