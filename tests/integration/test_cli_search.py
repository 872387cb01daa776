"""`vault search`, `vault index …` and `vault watch`, end to end on the demo group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli import Vault  # noqa: I001 - sibling test module (no packages in tests/)


@pytest.fixture
def vault(tmp_path: Path, database_url: str) -> Vault:
    home = tmp_path / "home"
    home.mkdir()
    v = Vault(home, database_url)
    assert v("init").exit_code == 0
    assert v("demo").exit_code == 0
    return v


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
