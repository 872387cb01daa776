"""Named snapshots: what a test module's tests only read, built once per session (per
xdist worker and database kind) and copied per test (tests/conftest.py, `Templates`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Snapshot:
    """A named seed: ``base``'s database (and its home folder of keys, storage and audit
    mirror, if it has one: "init", "demo") after ``build(home, url)``. A test module
    declares it as ``SNAPSHOT``; its fixtures ask for it with the `snapshot` fixture,
    listed before `database_url`. Each test still gets its own copy to write to."""

    name: str
    build: Callable[[Path, str], None]
    base: str = "empty"


def in_one_transaction(add: Callable[[Session], None]) -> Callable[[Path, str], None]:
    """A snapshot's ``build`` from a function that adds rows in one session (committed)."""

    def build(home: Path, url: str) -> None:
        from vault import db

        engine = db.make_engine(url)
        try:
            with db.transaction(db.make_sessionmaker(engine)) as session:
                add(session)
        finally:
            engine.dispose()

    return build
