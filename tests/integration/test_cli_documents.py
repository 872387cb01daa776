"""`vault import|ls|show|export|grant|revoke|declassify|keys|doctor`, end to end."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from test_cli import Vault, doc_id  # noqa: I001 - sibling test module (no packages in tests/)

from vault.services import samples


@pytest.fixture
def vault(demo_home: Path, database_url: str) -> Vault:
    """After `vault init` and `vault demo` (copied from the session's template)."""
    return Vault(demo_home, database_url)


def home(v: Vault) -> Path:
    return Path(v.env["VAULT_HOME"])


def blobs(v: Vault) -> list[Path]:
    return sorted(p for p in (home(v) / "storage" / "blobs").rglob("*") if p.is_file())


def test_import_file_then_ls_show_export(vault: Vault, tmp_path: Path) -> None:
    src = tmp_path / "停车通知.txt"
    src.write_text("停车场将于周末维修。\n", encoding="utf-8")
    res = vault("import", str(src), "--as", "zhou.zhuguan", "--category", "notice")
    assert res.exit_code == 0, res.output
    new_id = res.output.strip()
    listing = json.loads(vault("ls", "--as", "lin.kefu", "--json").output)
    assert {"id": int(new_id), "title": "停车通知", "category": "notice",
            "level": "internal"}.items() <= next(
        r for r in listing if r["id"] == int(new_id)).items()
    info = json.loads(vault("show", new_id, "--as", "lin.kefu", "--json").output)
    assert info["marking"] == "内部" and info["may_view"] == "all active employees"
    assert info["versions"][0]["name"] == "停车通知.txt"
    out = tmp_path / "out.txt"
    res = vault("export", new_id, "--as", "lin.kefu", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert out.read_bytes() == src.read_bytes()
    res = vault("export", new_id, "--as", "lin.kefu", "--out", str(out))
    assert res.exit_code == 2 and "exists already" in res.output


def test_import_with_every_option(vault: Vault, tmp_path: Path) -> None:
    src = tmp_path / "contract.pdf"
    src.write_bytes(samples.pdf_pages("合同"))
    res = vault("import", str(src), "--as", "zhou.zhuguan", "--title", "B座合同",
                "--category", "contract", "--level", "secret", "--period", "5y",
                "--issued", "2024-02-29", "--supervisor", "liu.jingli", "--department", "CS",
                "--tenant", "T002")
    assert res.exit_code == 0, res.output
    info = json.loads(vault("show", res.output.strip(), "--as", "liu.jingli", "--json").output)
    assert (info["title"], info["level"], info["marking"], info["supervisor"], info["tenant"]) == (
        "B座合同", "secret", "机密★5年", "liu.jingli", "T002")
    assert info["declassify_at"] == "2029-03-01T00:00:00+08:00"


def test_import_folder_with_progress(vault: Vault, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("一", encoding="utf-8")
    (folder / "b.txt").write_text("二", encoding="utf-8")
    (folder / "empty.txt").write_bytes(b"")
    before = len(blobs(vault))
    res = vault("import", str(folder), "--as", "wu.yuangong", "--category", "notice")
    assert res.exit_code == 2  # one file refused, the others stored
    assert "empty.txt" in res.output and "empty" in res.output.lower()
    lines = [ln for ln in res.output.splitlines() if "\t" in ln]
    assert [ln.split("\t")[1] for ln in lines] == ["a.txt", "b.txt"]
    assert len(blobs(vault)) == before + 2


def test_import_paper_original_and_bad_input(vault: Vault, tmp_path: Path) -> None:
    res = vault("import", "--no-content", "--as", "sun.baoguan", "--title", "房产证原件",
                "--category", "other_certificate")
    assert res.exit_code == 0, res.output
    info = json.loads(vault("show", res.output.strip(), "--as", "sun.baoguan", "--json").output)
    assert info["paper_original"] is True and info["versions"] == []
    bad = tmp_path / "x.pdf"
    bad.write_bytes(samples.png_card("x"))
    for args, message in [
        ([str(bad), "--category", "contract"], "the content is image/png"),
        ([str(bad), "--category", "memo"], "Unknown category"),
        ([str(bad), "--category", "contract", "--level", "high"], "Unknown level"),
        ([str(bad), "--category", "contract", "--period", "forever"], "not a period"),
        ([str(bad), "--category", "contract", "--issued", "soon"], "not a date"),
        ([str(tmp_path / "missing.pdf"), "--category", "contract"], "not a file"),
    ]:
        before = len(blobs(vault))
        res = vault("import", *args, "--as", "zhou.zhuguan")
        assert res.exit_code == 2, (args, res.output)
        assert message in res.output, (message, res.output)
        assert "Traceback" not in res.output
        assert len(blobs(vault)) == before


def test_export_refusals_and_integrity(vault: Vault, tmp_path: Path) -> None:
    secret = doc_id(vault, "客服部工作会议纪要（2026年11月）")
    out = tmp_path / "x.pdf"
    res = vault("export", secret, "--as", "zhou.zhuguan", "--out", str(out))
    assert res.exit_code == 1 and "approved, registered copy" in res.output
    res = vault("export", secret, "--as", "lin.kefu", "--out", str(out))
    assert res.exit_code == 2 and f"No document {secret}" in res.output
    assert not out.exists()
    notice = doc_id(vault, "关于12月3日停水的通知")
    for blob in blobs(vault):  # corrupt every blob's last byte
        data = bytearray(blob.read_bytes())
        data[-1] ^= 0xFF
        blob.write_bytes(bytes(data))
    res = vault("export", notice, "--as", "lin.kefu", "--out", str(out))
    assert res.exit_code == 3 and "failed authentication" in res.output
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".x.pdf")] == []


def test_grant_revoke_cli(vault: Vault) -> None:
    secret = doc_id(vault, "客服部工作会议纪要（2026年11月）")
    assert vault("can-i", "view", secret, "--as", "wu.yuangong").exit_code == 1
    res = vault("grant", secret, "wu.yuangong", "--as", "zhou.zhuguan", "--until", "2030-01-01")
    assert res.exit_code == 0, res.output
    assert vault("can-i", "view", secret, "--as", "wu.yuangong").exit_code == 0
    res = vault("grant", secret, "zheng.caiwu", "--as", "wu.yuangong")
    assert res.exit_code == 1 and "not_authorised_to_grant" in res.output
    assert vault("revoke", secret, "wu.yuangong", "--as", "zhou.zhuguan").exit_code == 0
    assert vault("can-i", "view", secret, "--as", "wu.yuangong").exit_code == 1


def test_declassify_cli(vault: Vault) -> None:
    res = vault("declassify", "--as-of", "2027-07-01", "--dry-run")
    assert res.exit_code == 0
    assert "would declassify" in res.output and "停车场管理协议" in res.output
    res = vault("declassify", "--as-of", "2027-07-01")
    assert res.exit_code == 2 and "future" in res.output
    res = vault("declassify")
    assert res.exit_code == 0 and "0 document(s) declassified" in res.output


def test_keys_rotate_and_retire(vault: Vault, tmp_path: Path) -> None:
    first = vault("keys", "list").output.split()[0]
    res = vault("keys", "rotate")
    assert res.exit_code == 0, res.output
    # The demo's 26 files (a scanned sign-off sheet among them), a reply letter, 4 visit
    # signatures and 3 outgoing letters; the sealed rows of 17 request records and of 7
    # recorded follow-up visits (vault/services/demo.py).
    assert "re-wrapped 58 data key(s)" in res.output
    res = vault("keys", "retire", first)
    assert res.exit_code == 0, res.output
    assert (home(vault) / "keys" / "retired" / f"master-{first}.key").exists()
    notice = doc_id(vault, "关于12月3日停水的通知")
    out = tmp_path / "n.txt"
    assert vault("export", notice, "--as", "lin.kefu", "--out", str(out)).exit_code == 0
    assert "停水" in out.read_text(encoding="utf-8")
    second = [ln.split()[0] for ln in vault("keys", "list").output.splitlines()]
    assert first not in second
    res = vault("keys", "retire", second[0])
    assert res.exit_code == 2 and "active key" in res.output


def test_doctor_finds_and_repairs(vault: Vault) -> None:
    res = vault("doctor")
    assert res.exit_code == 0 and "healthy" in res.output
    files = blobs(vault)
    files[0].unlink()  # missing
    data = bytearray(files[1].read_bytes())
    data[20] ^= 1
    files[1].write_bytes(bytes(data))  # corrupt
    orphan_dir = home(vault) / "storage" / "blobs" / "ab" / "cd"
    orphan_dir.mkdir(parents=True, exist_ok=True)
    orphan = orphan_dir / ("ab" + "cd" + "0" * 28)
    orphan.write_bytes(b"VLTB leftover")
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    res = vault("doctor")
    assert res.exit_code == 1
    assert "MISSING" in res.output and "CORRUPT" in res.output and "ORPHAN" in res.output
    res = vault("doctor", "--repair")
    assert "removed orphan blob" in res.output
    assert not orphan.exists()
    assert res.exit_code == 1  # missing and corrupt blobs cannot be repaired


def test_reclassify_cli(vault: Vault) -> None:
    contract = doc_id(vault, "A座物业服务合同")
    res = vault("reclassify", contract, "--as", "zhou.zhuguan", "--level", "secret")
    assert res.exit_code == 1 and "not_reclassifier" in res.output
    res = vault("reclassify", contract, "--as", "chen.gm", "--level", "secret", "--period", "5y",
                "--note", "重要合同")
    assert res.exit_code == 0, res.output
    assert "机密★5年" in res.output
    res = vault("reclassify", contract, "--as", "chen.gm", "--period", "99999999y")
    assert res.exit_code == 2 and "100 years" in res.output
    res = vault("reclassify", contract, "--as", "chen.gm")
    assert res.exit_code == 2 and "--level" in res.output


def test_init_audits_the_key_generation(vault: Vault) -> None:
    res = vault("audit", "export", "--as", "zhao.hegui", "--format", "jsonl",
                "--action", "key:generate")
    events = [json.loads(line) for line in res.output.splitlines() if line.startswith("{")]
    assert [(e["actor"], e["object_type"]) for e in events] == [("system", "master_key")]
