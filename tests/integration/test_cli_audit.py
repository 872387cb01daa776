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
def vault(demo_home: Path, database_url: str) -> Vault:
    """After `vault init` and `vault demo` (copied from the session's template)."""
    return Vault(demo_home, database_url)


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
    # The fullest day (the demo's customer-service month spreads a few events over
    # earlier days).
    day = max(sorted(copy.glob("*.jsonl")), key=lambda p: len(p.read_text().splitlines()))
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
    # The demo's 26 files (a scanned sign-off sheet among them), a reply letter, 4 visit
    # signatures and 3 outgoing letters.
    assert len(rows) == 34 and {r["action"] for r in rows} == {"document:register"}
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


def _last_witnessed(path: Path) -> int:
    return json.loads(path.read_text().splitlines()[-1])["seq"]


def test_verify_with_witness_names_a_truncated_tail(demo_home: Path, database_url: str,
                                                   tmp_path: Path) -> None:
    home = demo_home  # after `vault init` and `vault demo` (the session's template)
    mount = tmp_path / "compliance-share"
    mount.mkdir()
    witness = mount / "vault.witness"
    v = Vault(home, database_url)
    v.env["VAULT_AUDIT_WITNESS_FILE"] = str(witness)  # from now on
    assert v("audit", "checkpoint").exit_code == 0
    kept = _last_witnessed(witness)
    notice = doc_id(v, "关于12月3日停水的通知")
    for who in ("lin.kefu", "wu.yuangong"):
        assert v("export", notice, "--as", who, "--out", str(tmp_path / who)).exit_code == 0
    res = v("audit", "checkpoint")
    assert res.exit_code == 0 and "checkpoint signed" in res.output, res.output
    witnessed = _last_witnessed(witness)
    assert witnessed > kept
    # Remove every event and checkpoint after `kept`; rewind the head, the mirror and
    # its state (write access to the database and audit/, not to the keys).
    audit_dir = home / "audit"
    eng = create_engine(database_url)
    with eng.begin() as conn:
        mac = conn.execute(text("select mac from audit_events where seq = :k"),
                           {"k": kept}).scalar_one()
        conn.execute(text("delete from audit_events where seq > :k"), {"k": kept})
        conn.execute(text("delete from audit_checkpoints where seq > :k"), {"k": kept})
        conn.execute(text("update audit_head set seq = :k, mac = :m, checkpoint_seq = :k"),
                     {"k": kept, "m": mac})
    eng.dispose()
    for path in audit_dir.glob("*.jsonl"):
        lines = path.read_text(encoding="utf-8").splitlines()
        keep = [ln for ln in lines
                if (json.loads(ln).get("event") or json.loads(ln))["seq"] <= kept]
        path.write_text("".join(ln + "\n" for ln in keep), encoding="utf-8")
    state = json.loads((audit_dir / "mirror.state").read_text())
    state.update(seq=kept, checkpoint=kept)
    (audit_dir / "mirror.state").write_text(json.dumps(state))

    res = v("audit", "verify")
    assert res.exit_code == 0, res.output  # consistent with itself: the gap of issue 12
    res = v("audit", "verify", "--witness", str(witness))
    assert res.exit_code == 1, res.output
    assert f"the witness saw checkpoint {witnessed} (a trail of {witnessed} events" in res.output
    key = tmp_path / "audit.pub"
    key.write_text(v("audit", "public-key").output)
    res = v("audit", "verify", "--offline", str(audit_dir), "--public-key", str(key),
            "--witness", str(witness))
    assert res.exit_code == 1 and f"checkpoint {witnessed}" in res.output, res.output
    res = v("audit", "verify", "--witness", str(tmp_path / "nowhere"))
    assert res.exit_code == 2 and "does not exist" in res.output


def test_verify_names_a_forged_row_beyond_the_head(vault: Vault) -> None:
    """One row forged at head+1 is named (exit 1), not a crash on the verify event's
    own insert (exit 3, IntegrityError)."""
    eng = create_engine(vault.env["VAULT_DATABASE_URL"])
    with eng.begin() as conn:
        head = conn.execute(text("select seq from audit_head")).scalar_one()
        conn.execute(text(
            "insert into audit_events (seq, ts, actor, actor_roles, action, outcome, mac) select "
            ":s, ts, 'mallory', actor_roles, action, outcome, :m from audit_events "
            "where seq = :h"),
            {"s": head + 1, "m": "ab" * 32, "h": head})
    eng.dispose()
    res = vault("audit", "verify")
    assert res.exit_code == 1, res.output
    assert f"BROKEN at event {head + 1}" in res.output
    assert "forged" in res.output
    assert "IntegrityError" not in res.output
    # Any other action stays refused (fail closed), with a message that says why.
    res = vault("org", "add-company", "X1", "Another")
    assert res.exit_code == 3
    assert "vault audit verify" in res.output and "IntegrityError" not in res.output
