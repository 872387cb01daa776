"""`vault search`, `vault index …` and `vault watch`, end to end on the demo group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from snapshots import Snapshot  # noqa: I001 - tests/snapshots.py
from test_cli import Vault  # noqa: I001 - sibling test module (no packages in tests/)


def _index_the_demo(home: Path, url: str) -> None:
    """`vault index work` over the demo's files (their OCR included: about 5 s)."""
    vault = Vault(home, url)
    res = vault("index", "work")
    assert res.exit_code == 0 and "failed" not in res.output, res.output
    assert vault("index", "status").output.startswith("queued: 0"), res.output


# After `vault init`, `vault demo` and `vault index work`, built once per session
# (tests/conftest.py) instead of for every test: each test's `index work` (or `watch`)
# then indexes only the files the test adds, as it would on a running vault.
SNAPSHOT = Snapshot("demo-indexed", _index_the_demo, base="demo")


@pytest.fixture
def vault(snapshot_url: str, tmp_path: Path) -> Vault:
    """This test's copy of SNAPSHOT: its database and home folder."""
    return Vault(tmp_path / "home", snapshot_url)


def test_search_after_indexing(vault: Vault, tmp_path: Path) -> None:
    src = tmp_path / "通知.txt"
    src.write_text("本周六上午停水检修二号泵房，请住户提前储水。\n", encoding="utf-8")
    doc = vault("import", str(src), "--as", "zhou.zhuguan", "--category", "notice")
    assert doc.exit_code == 0, doc.output
    doc_id = int(doc.output.strip())
    status = vault("index", "status", "--document", str(doc_id))
    assert "pending" in status.output
    res = vault("index", "work")
    assert res.exit_code == 0, res.output
    res = vault("search", "泵房检修", "--as", "lin.kefu", "--json")
    assert res.exit_code == 0, res.output
    found = json.loads(res.output)
    assert found["total"] == 0  # 泵房检修 is not a phrase of it: 房检 is missing
    found = json.loads(vault("search", "二号泵房", "--as", "lin.kefu", "--json").output)
    assert [r["id"] for r in found["results"]] == [doc_id]
    assert found["total_is_lower_bound"] is False
    hit = found["results"][0]
    assert hit["may_view"] and any(p["hit"] and p["text"] == "二号泵房" for p in hit["snippet"])
    assert found["facets"]["level"] == [{"value": "internal", "label": "内部", "count": 1}]
    plain = vault("search", "停水", "--as", "lin.kefu")
    assert plain.exit_code == 0 and f"{doc_id:>6}" in plain.output
    assert vault("search", "，", "--as", "lin.kefu").exit_code == 2
    assert vault("search", "停水", "--as", "nobody").exit_code == 2
    res = vault("index", "rebuild", "--document", str(doc_id))
    assert res.exit_code == 0 and "indexed 1, failed 0" in res.output, res.output
    assert vault("index", "rebuild", "--document", "99999").exit_code == 2


def test_search_says_more_than_past_the_bound(vault: Vault, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Past `search.CAP` matches the newest CAP are ranked and counted: the JSON says
    the total is a lower bound, the plain output "N+" (as `vault ls`)."""
    from vault.services import search as search_service

    for i in range(2):
        src = tmp_path / f"n{i}.txt"
        src.write_text(f"第{i}次二号泵房检修通知", encoding="utf-8")
        res = vault("import", str(src), "--as", "zhou.zhuguan", "--category", "notice")
        assert res.exit_code == 0, res.output
    assert vault("index", "work").exit_code == 0
    monkeypatch.setattr(search_service, "CAP", 1)
    res = vault("search", "二号泵房", "--as", "lin.kefu", "--json")
    assert res.exit_code == 0, res.output
    found = json.loads(res.output)
    assert (found["total"], found["total_is_lower_bound"], len(found["results"])) == (1, True, 1)
    plain = vault("search", "二号泵房", "--as", "lin.kefu")
    assert plain.exit_code == 0 and "1+ document(s)" in plain.output, plain.output


def _png(text: str) -> bytes:
    import io

    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 48)
    img = Image.new("L", (1400, 200), 255)
    ImageDraw.Draw(img).text((40, 60), text, font=font, fill=0)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_watch_imports_ocrs_and_removes(vault: Vault, tmp_path: Path) -> None:
    inbox = tmp_path / "scanner"
    inbox.mkdir()
    (inbox / "租户档案.png").write_bytes(_png("租户承诺按时缴纳管理费"))
    (inbox / "bad.exe").write_bytes(b"MZ\x90\x00" + b"\x00" * 200)
    (inbox / ".partial").write_bytes(b"still writing")
    res = vault("watch", str(inbox), "--as", "zhou.zhuguan", "--category", "tenant_archive",
                "--once", "--settle", "0")
    assert res.exit_code == 2, res.output  # one file refused
    imported = [line.split("\t") for line in res.output.splitlines() if "\t" in line]
    assert [name for _id, name in imported] == ["租户档案.png"]
    assert sorted(p.name for p in inbox.iterdir()) == [".partial", "refused"]
    assert [p.name for p in (inbox / "refused").iterdir()] == ["bad.exe"]
    found = json.loads(vault("search", "按时缴纳管理费", "--as", "zhou.zhuguan",
                             "--json").output)
    assert [r["id"] for r in found["results"]] == [int(imported[0][0])]
    # --keep leaves the original and imports it only once.
    (inbox / "kept.txt").write_text("保留原件的通知", encoding="utf-8")
    for _ in range(2):
        res = vault("watch", str(inbox), "--as", "zhou.zhuguan", "--category", "notice",
                    "--once", "--settle", "0", "--keep")
        assert res.exit_code == 0, res.output
    assert (inbox / "kept.txt").exists()
    found = json.loads(vault("search", "保留原件", "--as", "lin.kefu", "--json").output)
    assert found["total"] == 1
    assert vault("watch", str(inbox), "--as", "nobody", "--category", "notice",
                 "--once").exit_code == 2
