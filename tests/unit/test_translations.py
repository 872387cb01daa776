"""Every catalogue is complete and its compiled .mo matches the .po."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2] / "vault" / "translations"
CATALOGUES = sorted(ROOT.glob("*/zh/LC_MESSAGES/messages.po"))


def test_there_are_catalogues() -> None:
    assert CATALOGUES, "no zh_CN catalogues found"


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parts[-4])
def test_complete_and_compiled(po: Path) -> None:
    with po.open("rb") as fh:
        catalog = read_po(fh)
    missing = [m.id for m in catalog if m.id and not m.string]
    assert missing == []
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    assert po.with_suffix(".mo").read_bytes() == compiled.getvalue(), (
        "stale .mo: run scripts/i18n.py"
    )


def test_every_area_is_loaded() -> None:
    from vault import TRANSLATION_AREAS

    assert sorted(TRANSLATION_AREAS) == sorted(p.parts[-4] for p in CATALOGUES)


def test_areas_agree_on_shared_strings() -> None:
    """Flask-Babel merges the areas' catalogues, so a string translated one way in
    one area and another way elsewhere would change the other area's pages."""
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for po in CATALOGUES:
        with po.open("rb") as fh:
            catalog = read_po(fh)
        area = po.parts[-4]
        for m in catalog:
            if not m.id:
                continue
            key = m.id if isinstance(m.id, str) else m.id[0]
            text = m.string if isinstance(m.string, str) else m.string[0]
            if key in seen and seen[key][1] != text:
                clashes.append((key, seen[key], (area, text)))
            seen.setdefault(key, (area, text))
    assert clashes == []
