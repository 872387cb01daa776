"""The CLI's list and show commands render read models: no ORM row reaches vault/cli.

Every function of every service module is wrapped for the test; a call made from a
module of `vault.cli` whose answer holds an ORM instance (a row of `vault.models`,
however deep in tuples, lists, dicts or dataclasses) is recorded, and the commands
below must record none. The guard is checked first on a wrong implementation (a
CLI-named caller of `copies.mine`, which answers rows), so a broken guard fails too.
(Mutations may hand the row a service answers straight to a read-model builder, as
the API does; they are not listed here.)
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import Result
from test_cli import SECRET_MINUTES, Vault, doc_id, ok  # noqa: I001 - sibling test module

import vault.services
from vault.models import Base

Found = list[tuple[str, str]]  # (calling CLI module, service function)


def _orm_inside(value: Any, depth: int = 0) -> bool:
    if isinstance(value, Base):
        return True
    if depth > 6 or isinstance(value, str | bytes | int | float | bool | type(None)):
        return False
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(_orm_inside(getattr(value, f.name), depth + 1)
                   for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return any(_orm_inside(v, depth + 1) for v in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_orm_inside(v, depth + 1) for v in value)
    return False


def _service_modules() -> Iterator[ModuleType]:
    yield vault.services
    for info in pkgutil.walk_packages(vault.services.__path__, "vault.services."):
        yield importlib.import_module(info.name)


def _guard(monkeypatch: pytest.MonkeyPatch, found: Found) -> int:
    """Wrap every service function; returns how many were wrapped."""
    wrapped = 0
    for module in _service_modules():
        for name, value in list(vars(module).items()):
            if (not callable(value) or isinstance(value, type) or name.startswith("__")
                    or not getattr(value, "__module__", "").startswith("vault.services")):
                continue

            def watch(*args: Any, _fn: Callable[..., Any] = value, **kwargs: Any) -> Any:
                result = _fn(*args, **kwargs)
                caller = sys._getframe(1).f_globals.get("__name__", "")  # noqa: SLF001
                if caller.startswith("vault.cli") and _orm_inside(result):
                    found.append((caller, f"{_fn.__module__}.{_fn.__name__}"))
                return result

            monkeypatch.setattr(module, name, watch)
            wrapped += 1
    return wrapped


@pytest.fixture
def demo(demo_home: Path, database_url: str) -> Vault:
    return Vault(demo_home, database_url)


def listed(res: Result) -> Any:
    ok(res)
    data = json.loads(res.stdout)
    assert data, "a command that lists nothing checks nothing"
    return data


def test_the_guard_catches_rows_handed_to_the_cli(demo: Vault,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ok(demo("copies", "request", doc_id(demo, SECRET_MINUTES), "--kind", "copy",
            "--purpose", "律师核对", "--as", "zhou.zhuguan"))
    found: Found = []
    assert _guard(monkeypatch, found) > 100
    from vault.cli.app import App
    from vault.config import load_settings

    monkeypatch.setenv("VAULT_HOME", demo.env["VAULT_HOME"])
    monkeypatch.setenv("VAULT_DATABASE_URL", demo.env["VAULT_DATABASE_URL"])
    app = App(load_settings())
    wrong = "from vault.services import copies\nwith app.work('zhou.zhuguan') as ctx:\n" \
            "    rows = [r.id for r in copies.mine(ctx)]\n"
    try:
        exec(wrong, {"__name__": "vault.cli.wrong", "app": app})  # noqa: S102
    finally:
        app.close()
    assert found == [("vault.cli.wrong", "vault.services.copies.requests.mine")]


def test_list_and_show_commands_get_read_models(demo: Vault, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    doc = doc_id(demo, SECRET_MINUTES)
    out = ok(demo("copies", "request", doc, "--kind", "copy", "--purpose", "律师核对",
                  "--as", "zhou.zhuguan"))
    req = re.match(r"request (\d+): ", out).group(1)  # type: ignore[union-attr]
    ok(demo("copies", "approve", req, "--as", "chen.gm"))
    ok(demo("copies", "download", req, "-o", str(tmp_path / "copy.pdf"), "--as",
            "zhou.zhuguan"))
    ok(demo("leaks", "report", "--document", doc, "--description", "楼道里捡到",
            "--as", "zhou.zhuguan"))
    ok(demo("tokens", "create", "zhou.zhuguan"))

    found: Found = []
    _guard(monkeypatch, found)
    listed(demo("copies", "list", "--as", "zhou.zhuguan", "--json"))
    ok(demo("copies", "list", "--to-decide", "--as", "chen.gm", "--json"))
    listed(demo("copies", "show", req, "--as", "zhou.zhuguan", "--json"))
    label = listed(demo("copies", "register", "--as", "sun.baoguan", "--json"))[0]["label"]
    listed(demo("copies", "lookup", label, "--as", "zhao.hegui", "--json"))
    listed(demo("loans", "list", "--as", "sun.baoguan", "--json"))
    listed(demo("tokens", "list", "--json"))
    tenant = listed(demo("tenants", "list", "--as", "sun.baoguan", "--json"))[0]["code"]
    listed(demo("tenants", "show", tenant, "--as", "sun.baoguan", "--json"))
    listed(demo("certificates", "list", "--as", "sun.baoguan", "--json"))
    report = listed(demo("leaks", "list", "--as", "wang.zong", "--json"))[0]["id"]
    listed(demo("leaks", "show", str(report), "--as", "wang.zong", "--json"))
    listed(demo("inbox", "--as", "zhou.zhuguan", "--json"))
    listed(demo("ls", "--as", "wang.zong", "--json"))
    listed(demo("show", doc, "--as", "wang.zong", "--json"))
    listed(demo("review", "queue", "--as", "sun.baoguan", "--json"))
    listed(demo("users", "list", "--json"))
    for group in ("requests", "visits", "deposits", "letters"):
        listed(demo(group, "ls", "--as", "zhou.zhuguan", "--json"))
    listed(demo("recordings", "list", "--as", "wang.zong", "--json"))
    listed(demo("jobs", "status", "--json"))
    # The tables read the same read models.
    for args in (("copies", "list", "--as", "zhou.zhuguan"),
                 ("copies", "register", "--as", "sun.baoguan"),
                 ("loans", "list", "--as", "sun.baoguan"), ("tokens", "list"),
                 ("certificates", "list", "--as", "sun.baoguan"),
                 ("inbox", "--as", "zhou.zhuguan"), ("ls", "--as", "wang.zong"),
                 ("review", "queue", "--as", "sun.baoguan")):
        assert ok(demo(*args)).strip(), args
    assert found == []
