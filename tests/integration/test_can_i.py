"""`vault can-i` answers through sqlite3 on SQLite (no SQLAlchemy at start-up) and
through the ORM elsewhere: both loaders must give the policy the same facts, hence the
same answers, for every person and document of the demo group."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from vault import db
from vault.errors import InvalidInput, NotFound
from vault.models import Document, Grant, User
from vault.services import accounts, can_i, documents

NOW = datetime(2027, 3, 15, 9, 30, tzinfo=UTC)
LATER = datetime(2061, 1, 1, tzinfo=UTC)  # most periods have ended by then


@pytest.fixture
def demo_db(demo_home: Path, database_url: str) -> Iterator[Session]:
    """A session on the demo group, with grants of every shape added (an end date,
    revoked, HQ-confirmed) so that each column the loaders read is exercised."""
    engine = db.make_engine(database_url)
    factory = db.make_sessionmaker(engine)
    with db.transaction(factory) as session:
        users = list(session.scalars(select(User).order_by(User.id)))
        docs = list(session.scalars(select(Document).order_by(Document.id)))
        for i, doc in enumerate(docs[:6]):
            session.add(Grant(
                document_id=doc.id, grantee_id=users[i % len(users)].id,
                grantor_id=users[0].id, level=doc.level,
                until=NOW + timedelta(days=i - 3, microseconds=123456) if i % 2 else None,
                revoked_at=NOW - timedelta(hours=1) if i % 3 == 0 else None,
                hq_confirmed_by_id=users[0].id if i % 4 == 1 else None,
            ))
    with db.transaction(factory) as session:
        yield session
    engine.dispose()


def _connect(url: str) -> sqlite3.Connection:
    path = can_i.sqlite_path(url)
    assert path is not None
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    return conn


def _grants_sorted(facts: object) -> object:
    from dataclasses import replace

    return replace(facts, grants=tuple(sorted(facts.grants, key=repr)))  # type: ignore[type-var]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_both_loaders_build_the_same_facts(demo_db: Session, database_url: str) -> None:
    conn = _connect(database_url)
    try:
        users = list(demo_db.scalars(select(User).order_by(User.id)))
        docs = list(demo_db.scalars(select(Document).order_by(Document.id)))
        assert len(users) > 10 and len(docs) > 10
        assert any(g.until for d in docs for g in d.grants)
        for user in users:
            subject, person = can_i.subject_sqlite(conn, user.username)
            assert subject == accounts.subject_of(user)
            assert person == can_i.Person(user.username, user.name)
        for doc in docs:
            facts, title = can_i.facts_sqlite(conn, doc.id)
            assert _grants_sorted(facts) == _grants_sorted(documents.facts(doc))
            assert title == doc.title
    finally:
        conn.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_both_paths_give_the_same_answers(demo_db: Session, database_url: str) -> None:
    users = list(demo_db.scalars(select(User.username).order_by(User.username)))
    docs = list(demo_db.scalars(select(Document.id).order_by(Document.id)))
    seen = set()
    for i, username in enumerate(users):
        for j, doc_id in enumerate(docs):
            action = can_i.CAN_I_ACTIONS[(i + j) % len(can_i.CAN_I_ACTIONS)]
            for now in (NOW, LATER):
                fast = can_i.answer_sqlite(database_url, username, doc_id, action, now)
                assert fast == can_i.answer_in(demo_db, username, doc_id, action, now)
                assert fast is not None
                seen.add((fast.verdict.allowed, fast.verdict.approval_required,
                          bool(fast.verdict.approvers)))
    # Allowed and denied, with and without approval, with approvers: all were compared.
    assert {(True, False, False), (False, False, False), (True, True, True)} <= seen


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_unknown_people_documents_and_actions_are_refused_alike(
        demo_db: Session, database_url: str) -> None:
    cases = [("nobody", 1, "view"), ("wang.zong", 99999, "view"),
             ("wang.zong", 1, "destroy"), ("nobody", 99999, "destroy")]
    for username, doc_id, action in cases:
        with pytest.raises((NotFound, InvalidInput)) as fast:
            can_i.answer_sqlite(database_url, username, doc_id, action, NOW)
        with pytest.raises((NotFound, InvalidInput)) as orm:
            can_i.answer_in(demo_db, username, doc_id, action, NOW)
        assert (type(fast.value), fast.value.message, fast.value.code) == (
            type(orm.value), orm.value.message, orm.value.code)


def test_the_orm_answers_where_sqlite3_cannot(tmp_path: Path, database_url: str) -> None:
    """Not SQLite, no file, not initialised, not a database, an unknown schema: None,
    and the command takes the ORM path (which says what to run)."""
    if not database_url.startswith("sqlite"):
        assert can_i.answer_sqlite(database_url, "wang.zong", 1, "view", NOW) is None
        return
    missing = tmp_path / "missing.db"
    assert can_i.answer_sqlite(f"sqlite:///{missing}", "wang.zong", 1, "view", NOW) is None
    assert not missing.exists()  # nothing was created
    bare = tmp_path / "bare.db"
    sqlite3.connect(bare).close()
    assert can_i.answer_sqlite(f"sqlite:///{bare}", "wang.zong", 1, "view", NOW) is None
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert can_i.answer_sqlite(f"sqlite:///{junk}", "wang.zong", 1, "view", NOW) is None
    odd = tmp_path / "odd.db"
    with sqlite3.connect(odd) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num TEXT)")
        conn.execute("CREATE TABLE users (id INTEGER, username TEXT)")
        conn.execute("INSERT INTO users VALUES (1, 'wang.zong')")
    conn.close()
    assert can_i.answer_sqlite(f"sqlite:///{odd}", "wang.zong", 1, "view", NOW) is None
    assert can_i.answer_sqlite("sqlite://", "wang.zong", 1, "view", NOW) is None
    assert can_i.answer_sqlite(f"sqlite:///{bare}?mode=ro", "wang.zong", 1, "view", NOW) is None


HEAVY = ("sqlalchemy", "flask", "werkzeug", "alembic", "pypdf", "pypdfium2", "reportlab",
         "PIL", "argon2", "cryptography", "magic", "rich")

PROBE = """
import json, sys
from vault.cli import main
try:
    main(sys.argv[1:], prog_name="vault")
except SystemExit as exc:
    print("exit", exc.code)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_the_command_starts_without_sqlalchemy_on_sqlite(demo_home: Path,
                                                         database_url: str) -> None:
    """On SQLite `vault can-i` imports no SQLAlchemy (nor anything heavy); elsewhere
    it takes the ORM path and says the same."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "VAULT_HOME": str(demo_home), "VAULT_DATABASE_URL": database_url}
    out = subprocess.run([sys.executable, "-c", PROBE, "can-i", "copy", "1", "--as",
                          "wang.zong", "--lang", "en"], capture_output=True, text=True,
                         env=env, check=True, timeout=120).stdout.splitlines()
    assert out[0].startswith("allowed: copy document 1 《") and out[1] == "reason: hq_executive"
    assert out[-2] == "exit 0"
    loaded = set(json.loads(out[-1]))
    if database_url.startswith("sqlite"):
        assert sorted(loaded.intersection(HEAVY)) == []
    else:
        assert "sqlalchemy" in loaded  # the ORM path answered
