"""`vault --help` loads only the command line itself: the web stack, the database
layer and the document libraries are imported by the commands that use them (their
start-up time is measured by benchmarks/bench_startup.py, not here)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("flask", "werkzeug", "jinja2", "sqlalchemy", "alembic", "pypdf", "pypdfium2",
         "reportlab", "PIL", "argon2", "cryptography", "magic", "gunicorn", "segno")

PROBE = """
import json, sys
from vault.cli import main
try:
    main(sys.argv[1:], prog_name="vault")
except SystemExit:
    pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def imported_by(*args: str) -> set[str]:
    """Top-level packages imported by a fresh interpreter running `vault ARGS`."""
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    return set(json.loads(out.splitlines()[-1]))


@pytest.mark.parametrize("args", [["--help"], ["can-i", "--help"], ["copies", "--help"],
                                  ["serve", "--help"], ["audit", "verify", "--help"]])
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    loaded = imported_by(*args)
    assert "click" in loaded and "vault" in loaded  # the probe did run the command line
    assert sorted(loaded.intersection(HEAVY)) == []


def test_importing_the_package_does_not_import_flask() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import sys, vault; print('flask' in sys.modules)"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    assert out.strip() == "False"
