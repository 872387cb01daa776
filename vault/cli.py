"""`vault …` commands. Each parses its input, calls a service and prints the result.

Errors from services become one line on stderr and an exit status: 2 for bad
input or an unknown object, 1 for a denial, 3 for integrity or audit failures.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from vault import db
from vault.config import Settings, load_settings
from vault.errors import ConfigError, VaultError
from vault.policy import marking

F = TypeVar("F", bound=Callable[..., Any])


class App:
    """What commands share: settings and, on first use, the database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None
        self._factory: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = db.make_engine(self.settings.database_url)
            if not db.is_initialised(self._engine):
                raise ConfigError(
                    "The database is not initialised. Run `vault init` first.",
                    code="db_missing",
                )
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        if self._factory is None:
            self._factory = db.make_sessionmaker(self.engine)
        with db.transaction(self._factory) as session:
            yield session

    def now(self) -> datetime:
        return datetime.now(UTC)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def handle_errors(fn: F) -> F:
    """Turn service errors into a clear message and exit status; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except VaultError as exc:
            click.echo(f"vault: {exc.message}", err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


pass_app = click.make_pass_decorator(App)


def parse_when(text: str | None, settings: Settings) -> datetime | None:
    """ISO date or date-time; without an offset it is read in the group time zone."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a date or time; use e.g. 2027-06-30 or 2027-06-30T09:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=settings.tz)
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Vault: the group's confidentiality vault."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        click.echo(f"vault: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    ctx.obj = App(settings)
    ctx.call_on_close(ctx.obj.close)


# ---------------------------------------------------------------------------
# init, demo, serve


@main.command()
@pass_app
@handle_errors
def init(app: App) -> None:
    """Create keys, folders and the database; idempotent, never overwrites a key."""
    from vault.runtime import init_runtime

    for path in init_runtime(app.settings):
        click.echo(f"created {path}")
    db.upgrade(app.settings.database_url)
    click.echo(f"database ready: {_safe_url(app.settings.database_url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.command()
@pass_app
@handle_errors
def demo(app: App) -> None:
    """Load the demo group (HQ, two subsidiaries, people, tenants, documents) if absent."""
    from vault.services import demo as demo_service

    with app.session() as session:
        logins = demo_service.load(session, app.now())
    path = app.settings.keys_dir / "demo-logins.txt"
    if logins is None:
        click.echo("The demo group is already loaded.")
    else:
        from vault.runtime import write_new_secret

        lines = [f"{x.username}\t{x.password}\t{x.roles}\t{x.company}\t{x.name}" for x in logins]
        path.unlink(missing_ok=True)
        write_new_secret(path, ("\n".join(lines) + "\n").encode("utf-8"))
        click.echo(f"Demo group loaded: {len(logins)} people.")
    if path.is_file():
        click.echo(f"Demo logins (kept in {path}, mode 0600):")
        click.echo(f"  {'user':<14} {'password':<18} roles")
        for line in path.read_text(encoding="utf-8").splitlines():
            username, password, roles, company, name = line.split("\t")
            click.echo(f"  {username:<14} {password:<18} {roles} ({company}, {name})")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--dev", is_flag=True, help="Flask's own server, for a first look.")
@click.option("--workers", default=2, show_default=True, type=int)
@pass_app
@handle_errors
def serve(app: App, host: str, port: int, dev: bool, workers: int) -> None:
    """Serve the web application (gunicorn; --dev for Flask's server)."""
    from vault import create_app

    web = create_app()
    if dev:
        web.run(host=host, port=port, debug=False, use_reloader=False)
        return
    from gunicorn.app.base import BaseApplication

    class _Gunicorn(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)

        def load(self) -> Any:
            return web

    _Gunicorn().run()


# ---------------------------------------------------------------------------
# Organisation and people


@main.group()
def org() -> None:
    """Companies and departments."""


@org.command("add-company")
@click.argument("code")
@click.argument("name")
@click.option("--hq", is_flag=True, help="This is the head office (总公司).")
@pass_app
@handle_errors
def add_company(app: App, code: str, name: str, hq: bool) -> None:
    """Add a company."""
    from vault.services import accounts

    with app.session() as session:
        company = accounts.add_company(session, code, name, hq=hq)
        click.echo(f"company {company.code} added{' (HQ)' if hq else ''}")


@org.command("add-department")
@click.argument("company")
@click.argument("dept")
@click.argument("name")
@pass_app
@handle_errors
def add_department(app: App, company: str, dept: str, name: str) -> None:
    """Add a department to COMPANY."""
    from vault.services import accounts

    with app.session() as session:
        accounts.add_department(session, company, dept, name)
        click.echo(f"department {company}/{dept} added")


@main.group()
def users() -> None:
    """People and their roles."""


def _read_password(password_stdin: bool) -> str | None:
    if not password_stdin:
        return None
    data = sys.stdin.readline().rstrip("\r\n")
    return data


@users.command("add")
@click.argument("username")
@click.option("--name", required=True, help="Full name shown in the UI and on copies.")
@click.option("--company", required=True, help="Company code.")
@click.option("--department", help="Department code within the company.")
@click.option("--roles", required=True, help="Comma-separated role ids.")
@click.option("--email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_app
@handle_errors
def users_add(
    app: App,
    username: str,
    name: str,
    company: str,
    department: str | None,
    roles: str,
    email: str | None,
    password_stdin: bool,
) -> None:
    """Add a user; without --password-stdin a password is generated and printed once."""
    from vault.services import accounts

    role_set = accounts.parse_roles(roles)
    password = _read_password(password_stdin)
    with app.session() as session:
        user, generated = accounts.add_user(
            session, username, name, company, department, role_set, password, email
        )
        click.echo(f"user {user.username} added")
    if generated:
        click.echo(f"password (shown once): {generated}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def users_list(app: App, as_json: bool) -> None:
    """List users."""
    from vault.services import accounts

    with app.session() as session:
        rows = [accounts.describe(u) for u in accounts.list_users(session)]
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2))
        return
    for r in rows:
        state = "" if r.active else "  [deactivated]"
        dept = f"/{r.department}" if r.department else ""
        roles = ",".join(r.roles)
        click.echo(f"{r.username:<16} {r.company}{dept:<10} {roles:<28} {r.name}{state}")


@users.command("roles")
@click.argument("username")
@click.argument("roles")
@pass_app
@handle_errors
def users_roles(app: App, username: str, roles: str) -> None:
    """Replace USERNAME's roles with ROLES (comma-separated)."""
    from vault.services import accounts

    role_set = accounts.parse_roles(roles)
    with app.session() as session:
        user = accounts.set_roles(session, username, role_set)
        click.echo(f"{user.username}: {','.join(sorted(user.roles))}")


@users.command("deactivate")
@click.argument("username")
@pass_app
@handle_errors
def users_deactivate(app: App, username: str) -> None:
    """Deactivate USERNAME at once (sessions and tokens end)."""
    from vault.services import accounts

    with app.session() as session:
        accounts.deactivate(session, username)
    click.echo(f"{username} deactivated")


@users.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True)
@pass_app
@handle_errors
def users_passwd(app: App, username: str, password_stdin: bool) -> None:
    """Set USERNAME's password (generated and printed once without --password-stdin)."""
    from vault.services import accounts

    password = _read_password(password_stdin)
    with app.session() as session:
        _, generated = accounts.set_password(session, username, password)
    click.echo(f"password of {username} changed")
    if generated:
        click.echo(f"password (shown once): {generated}")


# ---------------------------------------------------------------------------
# Explain access


@main.command("can-i")
@click.argument("action")
@click.argument("document", type=int)
@click.option("--as", "as_user", required=True, help="The person asking.")
@click.option("--at", "at", help="Date-time to evaluate at (default: now).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@pass_app
@handle_errors
def can_i(app: App, action: str, document: int, as_user: str, at: str | None, lang: str) -> None:
    """May a person do ACTION (view, copy, excerpt, lend, grant, extend) to DOCUMENT?

    Exit 0 when allowed, 1 when denied."""
    from vault.services import accounts, documents

    now = parse_when(at, app.settings) or app.now()
    with app.session() as session:
        user = accounts.get_user(session, as_user)
        doc = documents.get(session, document)
        result = documents.explain(session, user, doc, action, now)
        mark = marking(result.effective_level, documents.period_of(doc), lang)
        verdict = "allowed" if result.allowed else "denied"
        click.echo(
            f"{verdict}: {action} document {doc.id} 《{doc.title}》 [{mark}] as {user.username}"
        )
        click.echo(f"reason: {result.reason}")
        if result.allowed and result.approval_required:
            click.echo("approval required from:")
            for person in result.approvers:
                click.echo(f"  {person.username} ({person.name})")
            if not result.approvers:
                click.echo("  (nobody holds the approving office now)")
            if result.default_no:
                click.echo("note: the default answer for 绝密 copies is no (原则上不允许)")
    sys.exit(0 if result.allowed else 1)


if __name__ == "__main__":  # pragma: no cover
    main()
