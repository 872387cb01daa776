"""`vault audit verify|public-key|export|knowers`, end to end."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from test_cli import Vault, doc_id  # noqa: I001 - sibling test module


@pytest.fixture
def vault(tmp_path: Path, database_url: str) -> Vault:
    home = tmp_path / "home"
    home.mkdir()
    v = Vault(home, database_url)
    assert v("init").exit_code == 0
    assert v("demo").exit_code == 0
    return v


def test_verify_clean_then_tampered(vault: Vault) -> None:
    res = vault("audit", "verify")
    assert res.exit_code == 0, res.output
    assert "OK" in res.output
    eng = create_engine(vault.env["VAULT_DATABASE_URL"])
    with eng.begin() as conn:
        conn.execute(text("update audit_events set actor = 'someone.else' where seq = 5"))
    eng.dispose()
    res = vault("audit", "verify")
    assert res.exit_code == 1
    assert "BROKEN at event 5" in res.output


def test_offline_verify_with_public_key(vault: Vault, tmp_path: Path) -> None:
    pem = vault("audit", "public-key").output
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    key = tmp_path / "audit.pub"
    key.write_text(pem)
    res = vault("audit", "checkpoint")
    assert res.exit_code == 0 and "checkpoint signed at event" in res.output, res.output
    copy = tmp_path / "copied-audit"
    shutil.copytree(Path(vault.env["VAULT_HOME"]) / "audit", copy)
    res = vault("audit", "verify", "--offline", str(copy), "--public-key", str(key))
    assert res.exit_code == 0, res.output
    day = sorted(copy.glob("*.jsonl"))[0]
    lines = day.read_text(encoding="utf-8").splitlines()
    victim = json.loads(lines[2])
    victim["event"]["outcome"] = "denied"
    lines[2] = json.dumps(victim, ensure_ascii=False, separators=(",", ":"))
    day.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = vault("audit", "verify", "--offline", str(copy), "--public-key", str(key))
    assert res.exit_code == 1, res.output
    assert f"event {victim['event']['seq']}" in res.output
    res = vault("audit", "verify", "--offline", str(copy))
    assert res.exit_code == 2 and "--public-key" in res.output


def test_export_by_compliance_only_and_audited(vault: Vault, tmp_path: Path) -> None:
    out = tmp_path / "trail.csv"
    res = vault("audit", "export", "--as", "zhao.hegui", "--out", str(out), "--action",
                "document:register")
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 24 and {r["action"] for r in rows} == {"document:register"}
    res = vault("audit", "export", "--as", "wu.yuangong", "--format", "jsonl")
    assert res.exit_code == 1 and "compliance" in res.output
    res = vault("audit", "export", "--as", "zhao.hegui", "--format", "jsonl",
                "--action", "audit:export")
    events = [json.loads(line) for line in res.output.splitlines() if line.startswith("{")]
    # The running export's own event commits with it, after the export was read.
    assert [(e["actor"], e["outcome"]) for e in events] == [
        ("zhao.hegui", "allowed"), ("wu.yuangong", "denied")]
    res = vault("audit", "export", "--as", "zhao.hegui", "--action", "nonsense")
    assert res.exit_code == 2 and "Unknown action" in res.output


def test_knowers(vault: Vault, tmp_path: Path) -> None:
    notice = doc_id(vault, "关于12月3日停水的通知")
    for who in ("lin.kefu", "wu.yuangong"):
        res = vault("export", notice, "--as", who, "--out", str(tmp_path / f"{who}.txt"))
        assert res.exit_code == 0, res.output
    res = vault("audit", "knowers", notice, "--as", "zhao.hegui")
    assert res.exit_code == 0, res.output
    people = [line.split()[1] for line in res.output.splitlines() if "document:export" in line]
    assert people == ["lin.kefu", "wu.yuangong"]
    assert vault("audit", "knowers", notice, "--as", "lin.kefu").exit_code == 1
