"""Engine, sessions and migrations. The caller owns the transaction."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


def _create_private(url: str) -> None:
    """Create a SQLite database file 0600 before SQLite would create it 0644 (the umask's
    choice); its -wal and -shm files take the database file's mode."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists() or not path.parent.is_dir():
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    except FileExistsError:
        pass


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine; SQLite gets WAL, foreign keys and a busy timeout on every connection,
    and a new database file is private to its owner (0600); PostgreSQL no JIT."""
    if url.startswith("sqlite"):
        _create_private(url)
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's BEGIN below start transactions, not the driver.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # BEGIN IMMEDIATE: take the writer lock up front so concurrent writers
            # queue instead of failing with "database is locked" on upgrade.
            # Long read-only work (verify, export) asks for readonly and takes none.
            readonly = conn.get_execution_options().get("vault_readonly", False)
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    # No JIT compilation: a page's queries run in milliseconds, and PostgreSQL's cost
    # estimates for the scope's OR of ways crossed jit_above_cost, compiling for
    # 0.1–0.6 s per query (EXPLAIN ANALYZE at a million files, bench_scale.py).
    kwargs.setdefault("connect_args", {"options": "-c jit=off"})
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: Engine, readonly: bool = False) -> sessionmaker[Session]:
    """Sessions on ``engine``; ``readonly`` ones never take SQLite's writer lock."""
    bind = engine.execution_options(vault_readonly=True) if readonly else engine
    return sessionmaker(bind, expire_on_commit=False)


def one_statement(session: Session) -> Session:
    """``session`` (read-only, fresh) will send a single statement: on PostgreSQL it runs
    in autocommit, without the BEGIN and ROLLBACK round trips around it (one statement
    reads one snapshot either way). SQLite's BEGIN and ROLLBACK stay: they are calls in
    this process, and its driver must keep the transaction handling set up above."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return session


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Run the Alembic migrations up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def safe_url(url: str) -> str:
    """``url`` as it may be shown: the password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def is_initialised(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")
