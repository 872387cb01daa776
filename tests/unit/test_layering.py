"""The layers of DESIGN.md, checked by walking the imports of every module."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "vault"
STDLIB = set(sys.stdlib_module_names)


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def modules(pattern: str) -> list[Path]:
    return sorted(ROOT.glob(pattern))


def test_policy_imports_only_the_standard_library() -> None:
    found = imports_of(ROOT / "policy.py")
    outside = {n for n in found if n.split(".")[0] not in STDLIB and n != "__future__"}
    assert outside == set(), f"policy.py must stay pure, but imports {sorted(outside)}"


@pytest.mark.parametrize("path", modules("services/**/*.py"),
                         ids=lambda p: str(p.relative_to(ROOT / "services")))
def test_services_do_not_import_flask_or_views(path: Path) -> None:
    found = imports_of(path)
    bad = {n for n in found if n.split(".")[0] in {"flask", "flask_login", "flask_wtf", "click"}
           or n.startswith(("vault.web", "vault.cli"))}
    assert bad == set(), f"{path.name} imports {sorted(bad)}"


#: The CLI translates (parse, call a service, render its read model): it opens no ORM,
#: no cipher and no blob store itself. Enums and errors come from vault.policy,
#: vault.actions and vault.errors.
CLI_FORBIDDEN = ("vault.models", "sqlalchemy", "vault.crypto", "vault.blobstore", "vault.web",
                 "flask", "werkzeug")


@pytest.mark.parametrize("path", modules("cli/*.py"), ids=lambda p: p.name)
def test_the_cli_only_translates(path: Path) -> None:
    found = imports_of(path)
    bad = {n for n in found if n.startswith(CLI_FORBIDDEN)}
    assert bad == set(), f"cli/{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", modules("cli/*.py"), ids=lambda p: p.name)
def test_the_cli_opens_no_session(path: Path) -> None:
    """Commands call services, which open their units of work (`app.work`) or their own
    sessions (given `app.sessions`, the factory): no `.session` in the CLI, no calls of
    a session factory."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = sorted(
        node.lineno for node in ast.walk(tree)
        if (isinstance(node, ast.Attribute) and node.attr == "session")
        or (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "sessions")
    )
    assert found == [], f"cli/{path.name} opens sessions at lines {found}"


def test_the_cli_is_a_package_of_command_groups() -> None:
    """Every module of vault/cli/ is found by the walk (no vault/cli_*.py left over)."""
    assert len(modules("cli/*.py")) > 20 and modules("cli_*.py") == []


LOWER = ["policy.py", "errors.py", "config.py", "models.py", "db.py", "blobstore*.py",
         "filetype.py", "actions.py", "crypto/*.py", "audit/*.py", "imaging.py"]


@pytest.mark.parametrize(
    "path", [p for pat in LOWER for p in modules(pat)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_lower_layers_do_not_import_higher_ones(path: Path) -> None:
    found = imports_of(path)
    bad = {n for n in found if n.startswith(("vault.services", "vault.web", "vault.cli"))
           or n.split(".")[0] in {"flask", "click"}}
    assert bad == set(), f"{path.relative_to(ROOT)} imports {sorted(bad)}"


#: What the web layer may not touch: it translates requests into service calls and
#: read models into responses. Enums (vault.policy, vault.actions) and errors
#: (vault.errors) are allowed.
WEB_FORBIDDEN = ("vault.models", "vault.crypto", "vault.blobstore", "vault.db", "sqlalchemy")
#: The one exception: the form parser's spool (vault/crypto/spool.py), which encrypts
#: an upload under a key held only in memory as the request body arrives — before any
#: service sees it. It holds no stored content and no key of the key ring.
WEB_ALLOWED = frozenset({"vault.crypto.spool", "vault.crypto.spool.SpooledEncryptedFile"})


def names_of(path: Path) -> set[str]:
    """Every module an import names, ``from vault import models`` as vault.models."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = imports_of(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def forbidden_in_web(names: set[str]) -> set[str]:
    return {n for n in names if n not in WEB_ALLOWED
            and any(n == f or n.startswith(f + ".") for f in WEB_FORBIDDEN)}


@pytest.mark.parametrize("path", modules("web/*.py"), ids=lambda p: p.name)
def test_web_views_only_translate(path: Path) -> None:
    bad = forbidden_in_web(names_of(path))
    assert bad == set(), (f"web/{path.name} imports {sorted(bad)}: add a service function "
                          "returning a read model (frozen dataclasses) instead")


def test_the_web_rule_sees_every_form(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from vault import models\nfrom sqlalchemy import select\n"
                   "import vault.crypto.envelope\n"
                   "def f():\n    from vault.blobstore import BlobStore\n", encoding="utf-8")
    assert forbidden_in_web(names_of(bad)) == {
        "vault.models", "sqlalchemy", "sqlalchemy.select", "vault.crypto.envelope",
        "vault.blobstore", "vault.blobstore.BlobStore"}
    fine = tmp_path / "fine.py"
    fine.write_text("from vault.policy import Level\nfrom vault.errors import NotFound\n"
                    "from vault.services import copy_pages\nimport vault.modelsx\n"
                    "from vault.crypto.spool import SpooledEncryptedFile\n",
                    encoding="utf-8")
    assert forbidden_in_web(names_of(fine)) == set()


def test_the_walk_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from flask import Flask\nimport vault.web.home\n", encoding="utf-8")
    assert imports_of(bad) == {"flask", "vault.web.home"}
