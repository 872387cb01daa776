"""Keep an area's zh_CN catalogue in step with its sources.

    .venv/bin/python scripts/i18n.py AREA FILE... [--zh FILE.json]

Extracts the English source strings from FILE... (Python and Jinja templates),
merges them into vault/translations/AREA/zh/LC_MESSAGES/messages.po (keeping
existing translations, adding those from --zh, a JSON object {english: chinese}),
compiles the .mo and lists what is still untranslated (exit 1 if anything is).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None}


def extract(files: list[Path]) -> list[tuple[str, str]]:
    found = []
    for f in files:
        method = "jinja2.ext:babel_extract" if f.suffix == ".html" else "python"
        options = {"extensions": "jinja2.ext.i18n"} if f.suffix == ".html" else {}
        for lineno, msg, _comments, _ctx in extract_from_file(
            method, str(f), keywords=KEYWORDS, options=options
        ):
            text = msg[0] if isinstance(msg, tuple) else msg
            if text:
                found.append((text, f"{f.relative_to(ROOT)}:{lineno}"))
    return found


def main(argv: list[str]) -> int:
    zh: dict[str, str] = {}
    if "--zh" in argv:
        i = argv.index("--zh")
        zh = json.loads(Path(argv[i + 1]).read_text(encoding="utf-8"))
        argv = argv[:i] + argv[i + 2 :]
    area, files = argv[0], [Path(a).resolve() for a in argv[1:]]
    po_path = ROOT / "vault" / "translations" / area / "zh" / "LC_MESSAGES" / "messages.po"
    old: dict[str, str] = {}
    if po_path.exists():
        with po_path.open("rb") as fh:
            old = {str(m.id): str(m.string) for m in read_po(fh) if m.id and m.string}
    catalog = Catalog(locale="zh_CN", project="vault", charset="utf-8")
    for text, where in extract(files):
        existing = catalog.get(text)
        if existing is not None:
            existing.locations.append((where.split(":")[0], int(where.split(":")[1])))
            continue
        catalog.add(text, zh.get(text) or old.get(text, ""),
                    locations=[(where.split(":")[0], int(where.split(":")[1]))])
    po_path.parent.mkdir(parents=True, exist_ok=True)
    with po_path.open("wb") as fh:
        write_po(fh, catalog, width=100, omit_header=False, sort_output=True)
    with po_path.with_suffix(".mo").open("wb") as fh:
        write_mo(fh, catalog)
    missing = [m.id for m in catalog if m.id and not m.string]
    for m in missing:
        print(f"untranslated: {m!r}")
    print(f"{po_path.relative_to(ROOT)}: {len(catalog) - 1} strings, {len(missing)} untranslated")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
