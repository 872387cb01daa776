"""Named snapshots: what a test module's tests only read, built once per session (per
xdist worker and database kind) and copied per test (tests/conftest.py, `Templates`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Snapshot:
    """A named seed: ``base``'s database (and its home folder of keys, storage and audit
    mirror, if it has one: "init", "demo") after ``build(home, url)``. A test module
    declares it as ``SNAPSHOT``; its fixtures ask for it with the `snapshot` fixture,
    listed before `database_url`. Each test still gets its own copy to write to."""

    name: str
    build: Callable[[Path, str], None]
    base: str = "empty"
