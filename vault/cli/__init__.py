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
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import click

from vault import policy
from vault.blobstore import BlobStoreError
from vault.config import Settings, load_settings
from vault.errors import ConfigError, VaultError
from vault.policy import CopyKind, Level, marking

# Only what `vault --help` needs is imported here: SQLAlchemy, Flask, the services and
# the document libraries (pypdf, reportlab, Pillow) load inside the commands that use them
# (tests/unit/test_cli_startup.py checks it; benchmarks/bench_startup.py times it).
if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from vault.services.context import Infra

F = TypeVar("F", bound=Callable[..., Any])


class App:
    """What commands share: settings and, on first use, the database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None
        self._factory: sessionmaker[Session] | None = None
        self._infra: Infra | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from vault import db

            self._engine = db.make_engine(self.settings.database_url)
            if not db.is_initialised(self._engine):
                raise ConfigError(
                    "The database is not initialised. Run `vault init` first.",
                    code="db_missing",
                )
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        from vault import db

        if self._factory is None:
            self._factory = db.make_sessionmaker(self.engine)
        with db.transaction(self._factory) as session:
            yield session

    def now(self) -> datetime:
        return datetime.now(UTC)

    @property
    def infra(self) -> Infra:
        if self._infra is None:
            from vault import db
            from vault.services.context import Infra

            self.settings.check()
            engine = self.engine
            self._factory = self._factory or db.make_sessionmaker(engine)
            self._infra = Infra.build(self.settings, self._factory)
        return self._infra

    def work(self, actor: str | None, now: datetime | None = None) -> Any:
        """One unit of work for a use case (see vault.services.context)."""
        from vault.services.context import unit_of_work

        return unit_of_work(self.infra, actor, now or self.now(), source="cli")

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
        except BlobStoreError as exc:
            click.echo(f"vault: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


pass_app = click.make_pass_decorator(App)

#: Refusals are in English, like every other CLI message, unless ``--lang zh``.
LANG_OPTION = click.option("--lang", type=click.Choice(["zh", "en"]), default="en",
                           show_default=True, help="Language of refusals.")


@contextmanager
def _password_refusal(lang: str) -> Iterator[None]:
    """A refused password, explained in ``lang``."""
    from vault.errors import InvalidInput
    from vault.services import accounts

    try:
        yield
    except InvalidInput as exc:
        why = exc.params.get("why")
        if exc.code != "weak_password" or why not in accounts.PASSWORD_PROBLEMS:
            raise
        raise InvalidInput(accounts.password_message(why, lang), code=exc.code,
                           why=why) from None


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
    from vault import db
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring
    from vault.runtime import init_runtime

    for path in init_runtime(app.settings):
        click.echo(f"created {path}")
    if app.settings.storage_url:
        from vault.blobstore_s3 import S3BlobStore

        store = S3BlobStore.from_url(app.settings.storage_url)
        if store.ensure_bucket():
            click.echo(f"created bucket {store.location.bucket}")
    master = Keyring.create_first(app.settings)
    if master:
        click.echo(f"created master key {master}")
    for path in AuditLog.init_keys(app.settings):
        click.echo(f"created {path}")
    db.upgrade(app.settings.database_url)
    if master:
        from vault.actions import Action

        with app.work(None) as ctx:
            ctx.record(Action.KEY_GENERATE, object_type="master_key", object_id=master,
                       reason="vault_init")
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

    logins = demo_service.load(app.infra, app.now())
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
        forced = app.settings.second_factor_roles
        click.echo(f"Demo logins (kept in {path}, mode 0600):")
        click.echo(f"  {'user':<14} {'password':<18} {'2FA':<9} roles")
        for line in path.read_text(encoding="utf-8").splitlines():
            username, password, roles, company, name = line.split("\t")
            must = "required" if set(roles.split(",")) & forced else "-"
            click.echo(f"  {username:<14} {password:<18} {must:<9} {roles} ({company}, {name})")
        if forced:
            click.echo(
                f"2FA required ({', '.join(sorted(forced))}; VAULT_REQUIRE_2FA_ROLES): at the "
                "first sign-in these people scan a QR code with an authenticator app (TOTP) "
                "and type its code. Each code works once: signing in again within 30 s of "
                "setting it up needs the app's next code.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--dev", is_flag=True, help="Flask's own server, for a first look.")
@click.option("--workers", default=2, show_default=True, type=int,
              help="Worker processes (each runs Python threads for the requests).")
@click.option("--plain-http", "plain_http", is_flag=True, envvar="VAULT_PLAIN_HTTP",
              help="People reach this server over plain HTTP (no TLS in front): the session "
                   "cookie is not marked Secure and no HSTS is sent. Also VAULT_PLAIN_HTTP=1.")
@pass_app
@handle_errors
def serve(app: App, host: str, port: int, dev: bool, workers: int, plain_http: bool) -> None:
    """Serve the web application (granian; --dev for Flask's server).

    granian (a Rust HTTP server) keeps connections in its own event loop, so
    clients that send a request body slowly do not hold the server: measured
    with benchmarks/bench_http.py against gunicorn (README, Performance).

    Expects HTTPS in front (a TLS-terminating proxy): the session cookie is Secure and
    HSTS is sent, unless --plain-http (or --dev, for a first look on this machine).
    """
    import os

    from vault import create_app

    # The workers build their app from the environment: tell them, as this one.
    os.environ["VAULT_HTTPS"] = "0" if dev or plain_http else "1"

    web = create_app()  # refuses to start, saying what to run, before any worker starts
    if dev:
        web.run(host=host, port=port, debug=False, use_reloader=False)
        return
    from granian import Granian
    from granian.constants import Interfaces

    # Workers build their own app from the same VAULT_* environment.
    Granian(
        "vault:create_app", factory=True, interface=Interfaces.WSGI, address=host, port=port,
        workers=workers, websockets=False,
    ).serve()


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

    with app.work(None) as ctx:
        accounts.create_company(ctx, code, name, hq=hq)
    click.echo(f"company {code} added{' (HQ)' if hq else ''}")


@org.command("add-department")
@click.argument("company")
@click.argument("dept")
@click.argument("name")
@pass_app
@handle_errors
def add_department(app: App, company: str, dept: str, name: str) -> None:
    """Add a department to COMPANY."""
    from vault.services import accounts

    with app.work(None) as ctx:
        accounts.create_department(ctx, company, dept, name)
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
@LANG_OPTION
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
    lang: str,
) -> None:
    """Add a user; without --password-stdin a password is generated and printed once."""
    from vault.services import accounts

    role_set = accounts.parse_roles(roles)
    password = _read_password(password_stdin)
    with _password_refusal(lang), app.work(None) as ctx:
        _, generated = accounts.create_user(
            ctx, username, name, company, department, role_set, password, email
        )
    click.echo(f"user {username} added")
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
    with app.work(None) as ctx:
        user = accounts.change_roles(ctx, username, role_set)
        roles_now = ",".join(sorted(user.roles))
    click.echo(f"{username}: {roles_now}")


@users.command("deactivate")
@click.argument("username")
@pass_app
@handle_errors
def users_deactivate(app: App, username: str) -> None:
    """Deactivate USERNAME at once (sessions and tokens end)."""
    from vault.services import accounts

    with app.work(None) as ctx:
        accounts.deactivate_user(ctx, username)
    click.echo(f"{username} deactivated")


@users.command("reset-2fa")
@click.argument("username")
@pass_app
@handle_errors
def users_reset_2fa(app: App, username: str) -> None:
    """Remove USERNAME's second factor and recovery codes (a lost phone, a locked-out
    sole administrator); they enrol again at their next sign-in where required."""
    from vault.services import totp

    with app.work(None) as ctx:
        totp.reset(ctx, username)
    click.echo(f"second factor of {username} removed")


@users.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True)
@LANG_OPTION
@pass_app
@handle_errors
def users_passwd(app: App, username: str, password_stdin: bool, lang: str) -> None:
    """Set USERNAME's password (generated and printed once without --password-stdin)."""
    from vault.services import accounts

    password = _read_password(password_stdin)
    with _password_refusal(lang), app.work(None) as ctx:
        _, generated = accounts.change_password(ctx, username, password)
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


# ---------------------------------------------------------------------------
# Documents


def _parse_date(text: str | None, what: str) -> Any:
    from datetime import date

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{what} {text!r} is not a date; use YYYY-MM-DD") from None


@main.command("import")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--as", "as_user", required=True, help="The registrant.")
@click.option("--title", help="Title (default: the file name).")
@click.option("--category", required=True, help="Category id, e.g. contract, tenant_archive.")
@click.option("--level", help="top_secret, secret, confidential or internal (default: category's).")
@click.option("--period", help="10y, 6m, 90d, 2030-06-30 or condition:TEXT (default: by level).")
@click.option("--issued", help="Issue date YYYY-MM-DD (default: today).")
@click.option("--supervisor", help="Responsible supervisor (default: the registrant).")
@click.option("--department", help="Owning department code (default: the registrant's).")
@click.option("--tenant", help="Tenant code.")
@click.option("--no-content", is_flag=True, help="Register a paper original without a file.")
@pass_app
@handle_errors
def import_(
    app: App, path: Path | None, as_user: str, title: str | None, category: str,
    level: str | None, period: str | None, issued: str | None, supervisor: str | None,
    department: str | None, tenant: str | None, no_content: bool,
) -> None:
    """Register a document (PATH: a file, or a folder to import every file in it)."""
    from vault.errors import InvalidInput
    from vault.services import accounts, documents

    fields: dict[str, Any] = {
        "category": documents.parse_category(category),
        "level": documents.parse_level(level) if level else None,
        "period": documents.parse_period(period) if period else None,
        "issued_on": _parse_date(issued, "--issued"),
        "department_code": department,
        "tenant_code": tenant,
    }

    def one(file: Path | None, doc_title: str) -> int:
        with app.work(as_user) as ctx:
            sup = accounts.get_user(ctx.session, supervisor) if supervisor else None
            if file is None:
                doc = documents.register(ctx, title=doc_title, supervisor=sup,
                                         paper_original=True, **fields)
            else:
                with open(file, "rb") as fh:
                    doc = documents.register(ctx, title=doc_title, supervisor=sup,
                                             content=fh, filename=file.name, **fields)
            return doc.id

    if no_content:
        if not title:
            raise InvalidInput("A paper original needs --title.", code="no_title")
        click.echo(one(None, title))
        return
    if path is None:
        raise InvalidInput("Give a file or folder to import, or --no-content.", code="no_path")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
        if not files:
            raise InvalidInput(f"{path} holds no files.", code="empty_folder")
        failures = 0
        with click.progressbar(files, label="importing", file=sys.stderr) as bar:
            for file in bar:
                try:
                    new_id = one(file, f"{title}（{file.name}）" if title else file.stem)
                    click.echo(f"{new_id}\t{file.name}")
                except VaultError as exc:
                    failures += 1
                    click.echo(f"vault: {file.name}: {exc.message}", err=True)
        if failures:
            sys.exit(2)
        return
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file or folder.", code="no_such_file")
    click.echo(one(path, title or path.stem))


def _doc_row(doc: Any, level: Any) -> dict[str, Any]:
    return {"id": doc.id, "title": doc.title, "category": doc.category, "level": level.value,
            "issued_on": doc.issued_on.isoformat(),
            "company": doc.company.code,
            "department": doc.department.code if doc.department else None}


def document_query(text: str | None, category: str | None, level: str | None,
                   tenant: str | None, company: str | None, department: str | None,
                   issued_from: str | None, issued_to: str | None, page: int,
                   per_page: int) -> Any:
    """The documents query of `vault ls` and `vault search` from their shared options."""
    from vault.services import documents

    return documents.Query(
        text=text,
        category=documents.parse_category(category) if category else None,
        level=documents.parse_level(level) if level else None,
        tenant=tenant, company=company, department=department,
        issued_from=_parse_date(issued_from, "--from"),
        issued_to=_parse_date(issued_to, "--to"),
        page=page, per_page=per_page,
    )


@main.command("ls")
@click.option("--as", "as_user", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--search", "text", help="Words in the title.")
@click.option("--category")
@click.option("--level")
@click.option("--tenant")
@click.option("--company")
@click.option("--department")
@click.option("--from", "issued_from", help="Issued on or after YYYY-MM-DD.")
@click.option("--to", "issued_to", help="Issued on or before YYYY-MM-DD.")
@click.option("--page", default=1, show_default=True, type=int)
@click.option("--per-page", default=100, show_default=True, type=int)
@pass_app
@handle_errors
def ls(app: App, as_user: str, as_json: bool, text: str | None, category: str | None,
       level: str | None, tenant: str | None, company: str | None, department: str | None,
       issued_from: str | None, issued_to: str | None, page: int, per_page: int) -> None:
    """List the documents USER may know of."""
    from vault.services import documents

    query = document_query(text, category, level, tenant, company, department,
                           issued_from, issued_to, page, per_page)
    with app.work(as_user) as ctx:
        result = documents.search(ctx, query)
        rows = [_doc_row(d, result.levels[d.id]) for d in result.items]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']:>6}  {r['level']:<13} {r['category']:<20} {r['title']}")
    click.echo(f"{result.total} document(s)", err=True)


@main.command("show")
@click.argument("document", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@pass_app
@handle_errors
def show(app: App, document: int, as_user: str, as_json: bool, lang: str) -> None:
    """Metadata of DOCUMENT: marking, effective level, declassification, who may view."""
    from vault.services import documents

    with app.work(as_user) as ctx:
        info = documents.show(ctx, document, lang)
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    click.echo(f"[{info['marking']}]  {info['title']}")
    for key in ("id", "category", "level", "effective_level", "period", "issued_on",
                "declassify_at", "company", "department", "supervisor", "registrant", "tenant"):
        click.echo(f"  {key:<16} {info[key] if info[key] is not None else '—'}")
    for v in info["versions"]:
        click.echo(f"  version {v['number']}: {v['name']} ({v['media_type']}, {v['size']} bytes)")
    may = info["may_view"]
    if isinstance(may, str):
        click.echo(f"  may view: {may}")
    else:
        click.echo("  may view: " + ", ".join(f"{m['user']} ({m['reason']})" for m in may))
    for g in info["grants"]:
        if g["revoked"]:
            continue
        tags = [t for t, on in (("by registration", g["basis"] == "registration"),
                                (f"HQ: {g['hq_confirmed_by']}", g["hq_confirmed_by"]))
                if on]
        extra = f" [{', '.join(tags)}]" if tags else ""
        click.echo(f"  designation: {g['grantee']} by {g['grantor']} at {g['level']}{extra}")


@main.command("export")
@click.argument("document", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path))
@click.option("--version", "version", type=int)
@pass_app
@handle_errors
def export(app: App, document: int, as_user: str, out: Path, version: int | None) -> None:
    """Write DOCUMENT's content to OUT (internal files; classified ones need an approved copy)."""
    from vault.actions import Action
    from vault.errors import InvalidInput
    from vault.services import documents

    if out.exists():
        raise InvalidInput(f"{out} exists already; choose another path.", code="out_exists")
    with app.work(as_user) as ctx:
        content = documents.open_content(ctx, document, version, Action.DOCUMENT_EXPORT)
    with _atomic_file(out) as fh:
        for chunk in content.chunks:
            fh.write(chunk)
    click.echo(f"wrote {out} ({content.version.size} bytes)")


class _NewFile:
    """What `_atomic_file` hands to its block: ``write`` only; a failing write (a full
    disk) becomes a clear message."""

    def __init__(self, fh: BinaryIO, out: Path) -> None:
        self._fh, self._out = fh, out

    def write(self, data: bytes) -> None:
        try:
            self._fh.write(data)
        except OSError as exc:
            raise _cannot_write(self._out, exc) from None


def _cannot_write(out: Path, exc: OSError) -> VaultError:
    from vault.errors import InvalidInput

    return InvalidInput(f"Cannot write {out}: {exc.strerror or exc}.", code="cannot_write")


@contextmanager
def _atomic_file(out: Path, *, replace: bool = False) -> Iterator[_NewFile]:
    """OUT written whole or not at all: the block writes a hidden temporary file in
    the same folder (mode 0600), renamed to OUT when the block ends; on any error the
    temporary file is removed and OUT is left as it was. An existing OUT is refused
    unless ``replace``. Open it before releasing anything: an unwritable OUT then
    costs nothing."""
    import os

    from vault.errors import InvalidInput

    if out.is_dir():
        raise InvalidInput(f"{out} is a folder; give a file name.", code="out_is_folder")
    if out.exists() and not replace:
        raise InvalidInput(f"{out} exists already; choose another path.", code="out_exists")
    partial = out.with_name(f".{out.name}.part")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise _cannot_write(out, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            yield _NewFile(fh, out)
            try:
                fh.flush()
                os.fsync(fh.fileno())
            except OSError as exc:
                raise _cannot_write(out, exc) from None
        if not replace and out.exists():
            raise InvalidInput(f"{out} exists already; choose another path.",
                               code="out_exists")
        try:
            os.rename(partial, out)
        except OSError as exc:
            raise _cannot_write(out, exc) from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


@main.command("grant")
@click.argument("document", type=int)
@click.argument("user")
@click.option("--as", "as_user", required=True)
@click.option("--until", help="End of the grant (date or date-time).")
@pass_app
@handle_errors
def grant_cmd(app: App, document: int, user: str, as_user: str, until: str | None) -> None:
    """Grant USER access to DOCUMENT (designate, for 机密 and 绝密)."""
    from vault.services import grants

    when = parse_when(until, app.settings)
    with app.work(as_user) as ctx:
        grants.grant(ctx, document, user, when)
    click.echo(f"granted {user} on document {document}")


@main.command("revoke")
@click.argument("document", type=int)
@click.argument("user")
@click.option("--as", "as_user", required=True)
@pass_app
@handle_errors
def revoke_cmd(app: App, document: int, user: str, as_user: str) -> None:
    """Revoke USER's grants on DOCUMENT at once."""
    from vault.services import grants

    with app.work(as_user) as ctx:
        n = grants.revoke(ctx, document, user)
    click.echo(f"revoked {n} grant(s) of {user} on document {document}")


@main.command("reclassify")
@click.argument("document", type=int)
@click.option("--as", "as_user", required=True, help="Who decides (the approving office).")
@click.option("--level", help="New level.")
@click.option("--period", help="New period: 10y, 6m, 90d, 2030-06-30 or condition:TEXT.")
@click.option("--note", help="Why (kept in the classification history).")
@pass_app
@handle_errors
def reclassify(app: App, document: int, as_user: str, level: str | None, period: str | None,
               note: str | None) -> None:
    """Change DOCUMENT's level and/or period directly (recorded in its history)."""
    from vault.errors import InvalidInput
    from vault.services import documents

    if level is None and period is None:
        raise InvalidInput("Give --level, --period or both.", code="no_change")
    new_level = documents.parse_level(level) if level else None
    new_period = documents.parse_period(period) if period else None
    with app.work(as_user) as ctx:
        doc = documents.change_classification(ctx, document, level=new_level,
                                              period=new_period, note=note)
        mark = marking(documents.effective_level(ctx, doc), documents.period_of(doc))
    click.echo(f"document {document} is now [{mark}]")


@main.command("declassify")
@click.option("--as-of", "as_of", help="Date-time to declassify as of (default: now).")
@click.option("--dry-run", is_flag=True, help="List what would change; change nothing.")
@pass_app
@handle_errors
def declassify_cmd(app: App, as_of: str | None, dry_run: bool) -> None:
    """Materialise every secrecy period that has ended (自行解密); idempotent."""
    from vault.services import declassify

    when = parse_when(as_of, app.settings) or app.now()
    with app.work(None) as ctx:
        changed = declassify.run(ctx, when, dry_run=dry_run)
    verb = "would declassify" if dry_run else "declassified"
    for item in changed:
        click.echo(f"{verb} {item.document_id} 《{item.title}》 {item.old_level} "
                   f"(period {item.period} ended {item.ended_at.astimezone(app.settings.tz)})")
    click.echo(f"{len(changed)} document(s) {verb}")


@main.group()
def keys() -> None:
    """Master keys: list, rotate, retire."""


@keys.command("list")
@pass_app
@handle_errors
def keys_list(app: App) -> None:
    """Master keys and how many data keys each wraps."""
    from vault.services import keys as key_service

    for info in key_service.list_keys(app.infra):
        flag = "active" if info.active else ""
        click.echo(f"{info.key_id:<28} {flag:<7} {info.data_keys} data key(s)")


@keys.command("rotate")
@pass_app
@handle_errors
def keys_rotate(app: App) -> None:
    """New active master key; re-wrap every data key (resumes an interrupted run)."""
    from vault.services import keys as key_service

    total = key_service.stale_count(app.infra)
    with click.progressbar(length=max(total, 1), label="re-wrapping", file=sys.stderr) as bar:
        last = [0]

        def progress(done: int, total_now: int) -> None:
            if bar.length != max(total_now, 1):
                bar.length = max(total_now, 1)
            bar.update(done - last[0])
            last[0] = done

        result = key_service.rotate(app.infra, progress=progress)
    if result.new_key:
        click.echo(f"new active master key {result.new_key}")
    else:
        click.echo("resumed an interrupted rotation")
    click.echo(f"re-wrapped {result.rewrapped} data key(s)")


@keys.command("retire")
@click.argument("key_id")
@pass_app
@handle_errors
def keys_retire(app: App, key_id: str) -> None:
    """Retire KEY_ID once no data key uses it."""
    from vault.services import keys as key_service

    path = key_service.retire(app.infra, key_id)
    click.echo(f"retired {key_id} (moved to {path})")


@main.command()
@click.option("--repair", is_flag=True, help="Remove orphans and temporary files older than 1 h.")
@pass_app
@handle_errors
def doctor(app: App, repair: bool) -> None:
    """Check storage: orphan blobs, missing blobs, blobs failing authentication.

    Exit 0 when healthy (or repaired), 1 when a problem remains."""
    from sqlalchemy.exc import SQLAlchemyError

    from vault.services import accounts
    from vault.services import doctor as doctor_service
    from vault.services import keys as keys_service

    try:
        with app.session() as session:
            counts: dict[str, int] | None = keys_service.wrapped_counts(session)
    except (VaultError, SQLAlchemyError):
        counts = None  # no database yet: the keys are still checked
    key_problems = doctor_service.check_keys(app.settings, counts)
    for k in key_problems:
        click.echo(f"KEY      {k.path}: {k.what}\n         recovery: {k.recovery}")
    try:
        app.infra  # noqa: B018 - loads the keys; a broken key stops here, named above
    except ConfigError as exc:
        click.echo(f"storage not checked: {exc.message}")
        click.echo("problems found")
        sys.exit(1)

    with click.progressbar(length=1, label="checking", file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(1)

        report = doctor_service.check(app.infra, progress)
    click.echo(f"checked {report.checked} stored version(s)")
    for p in report.missing:
        click.echo(f"MISSING  document {p.document_id} v{p.version}: blob {p.blob_id} is gone")
    for p in report.corrupt:
        click.echo(f"CORRUPT  document {p.document_id} v{p.version}: blob {p.blob_id} fails "
                   f"authentication ({p.what})")
    for blob_id, age in report.orphans:
        click.echo(f"ORPHAN   blob {blob_id} (no row; {age / 60:.0f} min old)")
    for name, age in report.tmp:
        click.echo(f"TMP      {name} ({age / 60:.0f} min old)")
    with app.infra.sessions() as session:
        lacking = [c.code for c in accounts.companies_without_custodian(session)]
    for code in lacking:
        click.echo(f"NO CUSTODIAN  company {code} has no active custodian: give someone the "
                   f"role (vault users roles USER staff,custodian); meanwhile its general "
                   f"manager hands over and takes back loans")
    remaining = not report.healthy or bool(key_problems) or bool(lacking)
    if repair:
        removed = doctor_service.repair(app.infra, report)
        for item in removed:
            click.echo(f"removed {item}")
        remaining = bool(report.missing or report.corrupt or key_problems or lacking
                         or len(removed) < len(report.orphans) + len(report.tmp))
    click.echo("problems found" if remaining else "healthy")
    sys.exit(1 if remaining else 0)


@main.group()
def audit() -> None:
    """The audit trail: verify, export, public key, a file's history and knowers."""


@audit.command("verify")
@click.option("--offline", "offline", type=click.Path(path_type=Path),
              help="Check a copied audit folder without the database or the HMAC key.")
@click.option("--public-key", "public_key", type=click.Path(path_type=Path),
              help="The public key file (with --offline).")
@click.option("--witness", "witness_file", type=click.Path(path_type=Path),
              help="A witness file (VAULT_AUDIT_WITNESS_FILE, or saved syslog lines): the "
                   "trail must reach every checkpoint it holds.")
@click.option("--as", "as_user", help="Who runs the check (default: system).")
@pass_app
@handle_errors
def audit_verify(app: App, offline: Path | None, public_key: Path | None,
                 witness_file: Path | None, as_user: str | None) -> None:
    """Verify the chain, the mirror and every checkpoint; exit 1 naming the first bad event."""
    from vault.errors import InvalidInput
    from vault.services import audit_review

    if offline is not None:
        if public_key is None:
            raise InvalidInput("--offline needs --public-key FILE.", code="no_public_key")
        report = audit_review.verify_offline(offline, public_key, witness_file)
    else:
        with app.work(as_user) as ctx:
            report = audit_review.verify(ctx, witness_file)
    click.echo(report.summary())
    if offline is not None and report.uncovered:
        click.echo(f"{report.uncovered} event(s) after the last checkpoint: continuity only")
    sys.exit(0 if report.ok else 1)


@audit.command("checkpoint")
@pass_app
@handle_errors
def audit_checkpoint(app: App) -> None:
    """Sign a checkpoint now (before copying audit/ to an outside auditor)."""
    with app.work(None) as ctx:
        cp = ctx.infra.audit.maybe_checkpoint(ctx.session, ctx.now, force=True)
        seq = cp.seq if cp is not None else None
    click.echo(f"checkpoint signed at event {seq}" if seq else "no new events since the last "
               "checkpoint")


@audit.command("public-key")
@pass_app
@handle_errors
def audit_public_key(app: App) -> None:
    """Print the public half of the checkpoint signing key (PEM)."""
    from vault.audit.log import AuditLog

    click.echo(AuditLog(app.settings).public_key_pem().rstrip("\n"))


@audit.command("export")
@click.option("--as", "as_user", required=True, help="A compliance officer.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv",
              show_default=True)
@click.option("--out", "out", type=click.Path(path_type=Path), help="File (default: stdout).")
@click.option("--since", help="From this date-time on.")
@click.option("--until", help="Up to this date-time.")
@click.option("--actor", help="Only this person's events.")
@click.option("--document", type=int, help="Only events about this document.")
@click.option("--action", help="Only this action, e.g. document:view.")
@click.option("--outcome", type=click.Choice(["allowed", "denied", "failed"]))
@pass_app
@handle_errors
def audit_export(app: App, as_user: str, fmt: str, out: Path | None, since: str | None,
                 until: str | None, actor: str | None, document: int | None,
                 action: str | None, outcome: str | None) -> None:
    """Export the trail as CSV (Excel-friendly UTF-8) or JSON lines; the export is audited."""
    import io

    from vault.errors import InvalidInput
    from vault.services import audit_review

    if out is not None and out.exists():
        raise InvalidInput(f"{out} exists already; choose another path.", code="out_exists")
    buffer = io.StringIO()
    with click.progressbar(length=1, label="exporting", file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.pos = done
            bar.render_progress()

        with app.work(as_user) as ctx:
            count = audit_review.export(
                ctx, fmt, buffer, progress=progress,
                since=parse_when(since, app.settings), until=parse_when(until, app.settings),
                actor=actor, document=document, action=action, outcome=outcome,
            )
    text = buffer.getvalue()
    if out is None:
        click.echo(text, nl=False)
    else:
        # utf-8-sig: spreadsheet programs read the Chinese correctly.
        out.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="")
    click.echo(f"{count} event(s) exported", err=True)


@audit.command("knowers")
@click.argument("document", type=int)
@click.option("--as", "as_user", required=True, help="A compliance officer.")
@pass_app
@handle_errors
def audit_knowers(app: App, document: int, as_user: str) -> None:
    """Everyone who has known DOCUMENT (知悉记录): viewed, downloaded, exported, copied."""
    from vault.services import audit_review

    with app.work(as_user) as ctx:
        rows = audit_review.knowers(ctx, document)
        lines = [f"{k.ts.astimezone(app.settings.tz).isoformat()}  {k.actor:<16} {k.action}"
                 for k in rows]
    for line in lines:
        click.echo(line)
    click.echo(f"{len(lines)} record(s)", err=True)


# ---------------------------------------------------------------------------
# Personal API tokens


@main.group()
def tokens() -> None:
    """Personal API tokens: create (shown once), list, revoke."""


@tokens.command("create")
@click.argument("user")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@click.option("--expires", help="Last valid day YYYY-MM-DD (or an ISO date-time).")
@pass_app
@handle_errors
def tokens_create(app: App, user: str, name: str, expires: str | None) -> None:
    """Create a token for USER and print it once (it is stored only hashed)."""
    from vault.services import tokens as token_service

    with app.work(None) as ctx:
        expires_at = token_service.parse_expiry(expires, app.settings.tz)
        row, token = token_service.create(ctx, name, expires_at, user=user)
        token_id, prefix = row.id, row.prefix
    click.echo(token)
    until = expires_at.astimezone(app.settings.tz).isoformat() if expires_at else "never"
    click.echo(f"token {token_id} ({prefix}) for {user}, expires {until}; "
               "copy it now: it cannot be shown again", err=True)


@tokens.command("list")
@click.argument("user", required=False)
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def tokens_list(app: App, user: str | None, as_json: bool) -> None:
    """List tokens (of USER, or everyone's): id, user, name, prefix, dates, status."""
    from vault.services import tokens as token_service

    def when(value: datetime | None) -> str | None:
        return value.astimezone(app.settings.tz).isoformat() if value else None

    with app.work(None) as ctx:
        rows = [
            {"id": t.id, "user": t.user.username, "name": t.name, "prefix": t.prefix,
             "created_at": when(t.created_at), "expires_at": when(t.expires_at),
             "last_used_at": when(t.last_used_at), "status": token_service.status(t, ctx.now)}
            for t in token_service.list_tokens(ctx, user)
        ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']:>5}  {r['user']:<16} {r['prefix']}  {r['status']:<8} "
                   f"expires {r['expires_at'] or 'never':<25} "
                   f"last used {r['last_used_at'] or 'never':<25} {r['name']}")
    click.echo(f"{len(rows)} token(s)", err=True)


@tokens.command("revoke")
@click.argument("token_id", metavar="ID", type=click.IntRange(min=1))
@pass_app
@handle_errors
def tokens_revoke(app: App, token_id: int) -> None:
    """Revoke token ID at once."""
    from vault.services import tokens as token_service

    with app.work(None) as ctx:
        row = token_service.revoke(ctx, token_id)
        owner, prefix = row.user.username, row.prefix
    click.echo(f"revoked token {token_id} ({prefix}) of {owner}")


# ---------------------------------------------------------------------------
# Copies, loans and the inbox (SPEC.md §3)
#
# Like every --as command, these run on the server, by an operator who speaks for
# the person named: there is no sign-in and no re-authentication here (the web asks
# for a fresh sign-in before a decision).

_AS_OPERATOR = "The person acting (the operator speaks for them; no sign-in here)."
_KINDS = [k.value for k in CopyKind]
_COPY_STATUSES = ["issued", "returned", "destroyed"]


def _stamp(app: App, value: datetime | None) -> str | None:
    """A moment as people read it, in the group time zone."""
    return value.astimezone(app.settings.tz).strftime("%Y-%m-%d %H:%M") if value else None


def _person(user: Any) -> str | None:
    return user.username if user is not None else None


def _request_row(app: App, req: Any, state: str) -> dict[str, Any]:
    return {
        "id": req.id, "state": state, "kind": req.kind, "document": req.document_id,
        "title": req.document.title, "level": req.level_at_request,
        "requester": req.requester.username, "purpose": req.purpose,
        "pages": req.pages, "approved_pages": req.approved_pages,
        "due_on": req.due_on.isoformat() if req.due_on else None,
        "new_level": req.new_level, "new_period": req.new_period,
        "default_no": req.default_no, "created_at": _stamp(app, req.created_at),
        "decided_by": _person(req.decided_by), "decided_at": _stamp(app, req.decided_at),
        "decision_note": req.decision_note, "window_until": _stamp(app, req.window_until),
    }


def _copy_row(app: App, copy: Any, level_now: str) -> dict[str, Any]:
    return {
        "id": copy.id, "label": copy.label, "status": copy.status,
        "document": copy.document_id, "title": copy.document.title, "kind": copy.kind,
        "version": copy.version_number, "pages": copy.pages, "request": copy.request_id,
        "recipient": copy.recipient.username, "recipient_name": copy.recipient.name,
        "approved_by": _person(copy.approved_by),
        "approved_by_name": copy.approved_by.name if copy.approved_by else None,
        "issued_at": _stamp(app, copy.issued_at), "level_at_issue": copy.level_at_issue,
        "period_at_issue": copy.period_at_issue, "level_now": level_now,
        "stamped": copy.stamped, "sha256": copy.sha256, "size": copy.size,
        "closed_at": _stamp(app, copy.closed_at), "closed_by": _person(copy.closed_by),
        "closed_note": copy.closed_note,
    }


def _loan_row(app: App, loan: Any, state: str) -> dict[str, Any]:
    return {
        "id": loan.id, "state": state, "document": loan.document_id,
        "title": loan.document.title, "request": loan.request_id,
        "borrower": loan.borrower.username, "approved_by": _person(loan.approved_by),
        "approved_at": _stamp(app, loan.approved_at), "due_on": loan.due_on.isoformat(),
        "lent_at": _stamp(app, loan.lent_at), "lent_by": _person(loan.lent_by),
        "returned_at": _stamp(app, loan.returned_at),
        "returned_by": _person(loan.returned_by), "note": loan.note,
    }


def _company_id(ctx: Any, code: str | None) -> int | None:
    from vault.services import accounts

    return accounts.get_company(ctx.session, code).id if code else None


@main.group()
def copies() -> None:
    """Requests for copies, excerpts, prints, loans and classification changes; the
    copy register.

    Every command acts as --as USER. The CLI runs on the server, by an operator who
    speaks for that person: it neither signs in nor re-authenticates (the web asks
    for a fresh sign-in before a decision). Exit 2 for bad input or an unknown
    request, 1 for a refusal."""


@copies.command("request")
@click.argument("document", type=int)
@click.option("--kind", required=True, type=click.Choice(_KINDS),
              help="copy, excerpt (pages), print, lend (certificates and paper originals), "
                   "extend (the period), downgrade, declassify (early).")
@click.option("--purpose", required=True, help="Why it is needed (the approver reads it).")
@click.option("--pages", help="Excerpt: the pages, e.g. 1-3,5.")
@click.option("--due", help="Loan: the return date YYYY-MM-DD.")
@click.option("--level", help="Downgrade: the new, lower level.")
@click.option("--period", help="Extension: the new period, e.g. 15y or 2040-12-31.")
@click.option("--as", "as_user", required=True, help=_AS_OPERATOR)
@pass_app
@handle_errors
def copies_request(app: App, document: int, kind: str, purpose: str, pages: str | None,
                   due: str | None, level: str | None, period: str | None,
                   as_user: str) -> None:
    """Ask for a copy (or excerpt, print, loan, classification change) of DOCUMENT.

    Prints the request id and who may decide it."""
    from vault.services import copies as copy_service
    from vault.services import documents

    due_on = _parse_date(due, "--due")
    new_level = documents.parse_level(level) if level else None
    new_period = documents.parse_period(period) if period else None
    with app.work(as_user) as ctx:
        req = copy_service.request(ctx, document, copy_service.parse_kind(kind), purpose,
                                   pages=pages, new_level=new_level, new_period=new_period,
                                   due_on=due_on)
        facts = copy_service.copy_facts(ctx, req)
        route = [s.value for s in policy.copy_route(facts.document, facts.kind,
                                                    ctx.now, facts.requester).approvers]
        approvers = [(u.username, u.name) for u in copy_service.approvers_for(ctx, req)]
        mark = marking(Level(req.level_at_request), documents.period_of(req.document))
        req_id, title, default_no = req.id, req.document.title, req.default_no
    click.echo(f"request {req_id}: {kind} of document {document} 《{title}》 [{mark}], pending")
    click.echo(f"route: {', '.join(route)}")
    click.echo("approval from:")
    for username, name in approvers:
        click.echo(f"  {username} ({name})")
    if not approvers:
        click.echo("  (nobody holds the approving office now)")
    if default_no:
        click.echo("note: the default answer for 绝密 copies is no (原则上不允许); "
                   "the approver must be persuaded by the purpose")


@copies.command("list")
@click.option("--to-decide", is_flag=True,
              help="Pending requests you may decide now (default: your own requests).")
@click.option("--as", "as_user", required=True, help=_AS_OPERATOR)
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def copies_list(app: App, to_decide: bool, as_user: str, as_json: bool) -> None:
    """Your requests, newest first; with --to-decide, the ones waiting for you."""
    from vault.services import copies as copy_service

    with app.work(as_user) as ctx:
        found = copy_service.to_decide(ctx) if to_decide else copy_service.mine(ctx)
        rows = [_request_row(app, r, copy_service.state(r, ctx.now)) for r in found]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        flag = "  [default no]" if r["default_no"] and r["state"] == "pending" else ""
        click.echo(f"{r['id']:>5}  {r['state']:<9} {r['kind']:<10} {r['document']:>5} "
                   f"{r['requester']:<16} {r['created_at']}  《{r['title']}》{flag}")
    click.echo(f"{len(rows)} request(s)", err=True)


@copies.command("show")
@click.argument("request_id", metavar="REQUEST", type=int)
@click.option("--as", "as_user", required=True, help=_AS_OPERATOR)
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def copies_show(app: App, request_id: int, as_user: str, as_json: bool) -> None:
    """A request's metadata, route, decision and the requester's recent copies (never
    the file's content)."""
    from vault.services import copies as copy_service

    with app.work(as_user) as ctx:
        view = copy_service.show(ctx, request_id)
        info = _request_row(app, view.request, view.state)
        info.update({
            "may_decide": view.may_decide, "decide_reason": view.decide_reason,
            "may_download": view.may_download,
            "approvers": [u.username for u in view.approvers],
            "copy": view.copy.label if view.copy else None,
            "loan": view.loan.id if view.loan else None,
            "requester_history": [
                {"label": c.label, "issued_at": _stamp(app, c.issued_at), "status": c.status}
                for c in view.history
            ],
        })
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    click.echo(f"request {info['id']}: {info['kind']} of document {info['document']} "
               f"《{info['title']}》 ({info['level']})")
    for key in ("state", "requester", "purpose", "pages", "approved_pages", "due_on",
                "new_level", "new_period", "created_at", "decided_by", "decided_at",
                "decision_note", "window_until", "copy", "loan"):
        if info[key] is not None:
            click.echo(f"  {key:<16} {info[key]}")
    if info["default_no"]:
        click.echo("  note             the default answer for 绝密 copies is no (原则上不允许)")
    if info["state"] == "pending":
        click.echo(f"  approvers        {', '.join(info['approvers']) or '(nobody now)'}")
        click.echo(f"  you may decide   {'yes' if info['may_decide'] else 'no'} "
                   f"({info['decide_reason']})")
    if info["may_download"]:
        click.echo(f"  download         once, before {info['window_until']}: "
                   f"vault copies download {info['id']} --as {info['requester']} -o FILE")
    history = info["requester_history"]
    click.echo(f"  requester's recent copies: {len(history) or 'none'}")
    for item in history:
        click.echo(f"    {item['issued_at']}  {item['label']}  {item['status']}")


@copies.command("approve")
@click.argument("request_id", metavar="REQUEST", type=int)
@click.option("--window-hours", type=int,
              help="A shorter download window in hours (default: VAULT_COPY_WINDOW_HOURS).")
@click.option("--pages", help="Excerpt: approve fewer pages than asked, e.g. 1-2.")
@click.option("--note", help="A note kept with the decision.")
@click.option("--as", "as_user", required=True, help=_AS_OPERATOR)
@pass_app
@handle_errors
def copies_approve(app: App, request_id: int, window_hours: int | None, pages: str | None,
                   note: str | None, as_user: str) -> None:
    """Approve REQUEST (never your own; only while you hold the approving office).

    No re-authentication here: the operator on the server answers for it."""
    from vault.services import copies as copy_service
    from vault.services import documents

    with app.work(as_user) as ctx:
        req = copy_service.approve(ctx, request_id, window_hours=window_hours, pages=pages,
                                   note=note)
        kind = CopyKind(req.kind)
        requester, until = req.requester.username, _stamp(app, req.window_until)
        doc = req.document
        mark = marking(documents.effective_level(ctx, doc), documents.period_of(doc))
        due_on = req.due_on
    click.echo(f"request {request_id} approved")
    if kind in copy_service.DELIVERING:
        click.echo(f"{requester} may download it once, before {until}")
    elif kind is CopyKind.LEND:
        click.echo(f"loan opened: the custodian hands the original to {requester}, "
                   f"due back {due_on}")
    else:
        click.echo(f"document {doc.id} is now [{mark}]")


@copies.command("reject")
@click.argument("request_id", metavar="REQUEST", type=int)
@click.option("--reason", required=True, help="Why (the requester reads it).")
@click.option("--as", "as_user", required=True, help=_AS_OPERATOR)
@pass_app
@handle_errors
def copies_reject(app: App, request_id: int, reason: str, as_user: str) -> None:
    """Reject REQUEST with a reason.

    No re-authentication here: the operator on the server answers for it."""
    from vault.services import copies as copy_service

    with app.work(as_user) as ctx:
        copy_service.reject(ctx, request_id, reason)
    click.echo(f"request {request_id} rejected")


@copies.command("cancel")
@click.argument("request_id", metavar="REQUEST", type=int)
@click.option("--as", "as_user", required=True, help="The requester.")
@pass_app
@handle_errors
def copies_cancel(app: App, request_id: int, as_user: str) -> None:
    """Withdraw your own pending REQUEST."""
    from vault.services import copies as copy_service

    with app.work(as_user) as ctx:
        copy_service.cancel(ctx, request_id)
    click.echo(f"request {request_id} cancelled")


@copies.command("issue")
@click.argument("request_id", metavar="REQUEST", type=int)
@click.option("--note", help="Kept in the audit trail.")
@click.option("--as", "as_user", required=True, help="The owning company's custodian.")
@pass_app
@handle_errors
def copies_issue(app: App, request_id: int, note: str | None, as_user: str) -> None:
    """Issue the approved photocopy of a paper-only certificate (REQUEST): the copy
    register gets its row; write the copy number printed here on the paper copy."""
    from vault.services import copies as copy_service

    with app.work(as_user) as ctx:
        copy = copy_service.issue_photocopy(ctx, request_id, note)
        copy_label, recipient = copy.label, copy.recipient.username
    click.echo(f"issued {copy_label} to {recipient}; write this copy number on the "
               "photocopy (复印件视同原件)")


@copies.command("download")
@click.argument("request_id", metavar="REQUEST", type=int)
@click.option("-o", "--out", "out", required=True, type=click.Path(path_type=Path),
              help="The file to write.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@click.option("--as", "as_user", required=True, help="The requester.")
@pass_app
@handle_errors
def copies_download(app: App, request_id: int, out: Path, force: bool, as_user: str) -> None:
    """Write the approved copy of REQUEST to OUT: numbered, stamped on every page and
    registered. An approval gives one download, within its window."""
    from vault.errors import InvalidInput
    from vault.services import copies as copy_service

    delivered: str | None = None
    try:
        # The file is opened before the approval is spent: an unwritable OUT costs nothing.
        with _atomic_file(out, replace=force) as fh:
            with app.work(as_user) as ctx:
                delivery = copy_service.download(ctx, request_id)
                delivered, stamped = delivery.copy.label, delivery.copy.stamped
            with click.progressbar(length=max(delivery.size, 1), label="writing",
                                   file=sys.stderr) as bar:
                for chunk in delivery.chunks:
                    fh.write(chunk)
                    bar.update(len(chunk))
    except InvalidInput as exc:
        if delivered is not None and exc.code == "cannot_write":
            raise InvalidInput(f"{exc.message} Copy {delivered} is registered to {as_user} but "
                               "was not written; tell the custodian.", code=exc.code) from None
        raise
    how = "stamped" if stamped else "not stampable: delivered as stored, fingerprint registered"
    click.echo(f"wrote {out} ({delivery.size} bytes): copy {delivered} ({how})")


@copies.command("register")
@click.option("--status", type=click.Choice(_COPY_STATUSES))
@click.option("--document", "document_id", type=int, help="Only copies of this document.")
@click.option("--company", help="Company code (default: your own; HQ executives and "
                                "compliance: every company).")
@click.option("--as", "as_user", required=True, help="A custodian, GM, HQ executive or "
                                                     "compliance officer.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def copies_register(app: App, status: str | None, document_id: int | None, company: str | None,
                    as_user: str, as_json: bool) -> None:
    """The copy register (复印件视同原件): every copy that left Vault, newest first."""
    from vault.services import copies as copy_service

    with app.work(as_user) as ctx:
        found = copy_service.copy_register(ctx, company_id=_company_id(ctx, company),
                                           status=status, document_id=document_id)
        rows = [_copy_row(app, c, copy_service.copy_level(ctx, c).value) for c in found]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']:>5}  {r['label']:<24} {r['status']:<9} {r['recipient']:<16} "
                   f"approved by {r['approved_by'] or '—':<16} {r['issued_at']}  "
                   f"《{r['title']}》")
    click.echo(f"{len(rows)} copy(ies)", err=True)


@copies.command("lookup")
@click.argument("number")
@click.option("--as", "as_user", required=True, help="A register reader, or the recipient.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def copies_lookup(app: App, number: str, as_user: str, as_json: bool) -> None:
    """Who received copy NUMBER (as printed on it, e.g. "机密-2026-0042 副本 3"), who
    approved it, and when."""
    from vault.services import copies as copy_service

    with app.work(as_user) as ctx:
        copy = copy_service.lookup(ctx, number)
        info = _copy_row(app, copy, copy_service.copy_level(ctx, copy).value)
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    click.echo(f"{info['label']}  《{info['title']}》 (document {info['document']})")
    click.echo(f"  recipient        {info['recipient']} ({info['recipient_name']})")
    approver = (f"{info['approved_by']} ({info['approved_by_name']})" if info["approved_by"]
                else "—")
    click.echo(f"  approved by      {approver}")
    for key in ("issued_at", "kind", "version", "pages", "level_at_issue", "period_at_issue",
                "level_now", "stamped", "sha256", "status", "closed_at", "closed_by",
                "closed_note"):
        if info[key] is not None:
            click.echo(f"  {key:<16} {info[key]}")


def _close_copy(app: App, copy_id: int, status: str, note: str | None, as_user: str) -> None:
    from vault.services import copies as copy_service

    with app.work(as_user) as ctx:
        copy = copy_service.close_copy(ctx, copy_id, status, note)
        copy_label = copy.label
    click.echo(f"copy {copy_id} ({copy_label}) recorded as {status}")


@copies.command("return")
@click.argument("copy_id", metavar="COPY", type=int)
@click.option("--note", help="Kept in the register.")
@click.option("--as", "as_user", required=True, help="The owning company's custodian.")
@pass_app
@handle_errors
def copies_return(app: App, copy_id: int, note: str | None, as_user: str) -> None:
    """Record that registered copy COPY (its id in the register) came back."""
    _close_copy(app, copy_id, "returned", note, as_user)


@copies.command("destroy")
@click.argument("copy_id", metavar="COPY", type=int)
@click.option("--note", help="Kept in the register (e.g. how it was destroyed).")
@click.option("--as", "as_user", required=True, help="The owning company's custodian.")
@pass_app
@handle_errors
def copies_destroy(app: App, copy_id: int, note: str | None, as_user: str) -> None:
    """Record that registered copy COPY (its id in the register) was destroyed."""
    _close_copy(app, copy_id, "destroyed", note, as_user)


@main.group()
def loans() -> None:
    """The lending register (借出) of paper originals and certificates.

    A loan opens when its request is approved (`vault copies request --kind lend`).
    Every command acts as --as USER; the CLI runs on the server, by an operator who
    speaks for that person, without sign-in or re-authentication."""


@loans.command("list")
@click.option("--overdue", is_flag=True, help="Only originals kept past their due date.")
@click.option("--open", "open_only", is_flag=True, help="Only loans not yet returned.")
@click.option("--company", help="Company code (default: your own; HQ executives and "
                                "compliance: every company).")
@click.option("--as", "as_user", required=True, help="A custodian, GM, HQ executive or "
                                                     "compliance officer.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def loans_list(app: App, overdue: bool, open_only: bool, company: str | None, as_user: str,
               as_json: bool) -> None:
    """Loans by due date: approved (not handed over yet), lent, overdue, returned."""
    from vault.services import copies as copy_service

    with app.work(as_user) as ctx:
        today = ctx.now.astimezone(app.settings.tz).date()
        found = copy_service.loans(ctx, company_id=_company_id(ctx, company),
                                   overdue=overdue, open_only=open_only)
        rows = [_loan_row(app, x, copy_service.loan_state(x, today)) for x in found]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r['id']:>5}  {r['state']:<9} due {r['due_on']}  {r['borrower']:<16} "
                   f"approved by {r['approved_by'] or '—':<16} 《{r['title']}》")
    click.echo(f"{len(rows)} loan(s)", err=True)


@loans.command("hand-over")
@click.argument("loan_id", metavar="LOAN", type=int)
@click.option("--note", help="Kept in the register.")
@click.option("--as", "as_user", required=True, help="The owning company's custodian.")
@pass_app
@handle_errors
def loans_hand_over(app: App, loan_id: int, note: str | None, as_user: str) -> None:
    """Record that the original of approved LOAN was handed to the borrower."""
    from vault.services import copies as copy_service

    with app.work(as_user) as ctx:
        loan = copy_service.hand_over(ctx, loan_id, note)
        borrower, due_on = loan.borrower.username, loan.due_on
    click.echo(f"loan {loan_id}: handed over to {borrower}, due back {due_on}")


@loans.command("return")
@click.argument("loan_id", metavar="LOAN", type=int)
@click.option("--note", help="Kept in the register.")
@click.option("--as", "as_user", required=True, help="The owning company's custodian.")
@pass_app
@handle_errors
def loans_return(app: App, loan_id: int, note: str | None, as_user: str) -> None:
    """Record that the original of LOAN came back."""
    from vault.services import copies as copy_service

    with app.work(as_user) as ctx:
        copy_service.return_loan(ctx, loan_id, note)
    click.echo(f"loan {loan_id}: returned")


@main.command()
@click.option("--as", "as_user", required=True, help="Whose inbox.")
@click.option("--unread", is_flag=True, help="Only unread notifications.")
@click.option("--mark-read", is_flag=True, help="Mark the listed notifications read.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def inbox(app: App, as_user: str, unread: bool, mark_read: bool, lang: str,
          as_json: bool) -> None:
    """A person's notifications, newest first: decisions waiting, outcomes, expiries.
    Each links to a page in Vault (sign-in needed there); none carries content."""
    from vault.services import notifications as notification_service

    with app.work(as_user) as ctx:
        found = notification_service.inbox(ctx, unread_only=unread)
        base = app.settings.base_url.rstrip("/")
        rows: list[dict[str, Any]] = [
            {"id": n.id, "kind": n.kind, "created_at": _stamp(app, n.created_at),
             "read": n.read_at is not None,
             "subject": n.subject_en if lang == "en" else n.subject_zh,
             "link": f"{base}{n.link}" if n.link else None}
            for n in found
        ]
        if mark_read and rows:
            notification_service.mark_read(ctx, [r["id"] for r in rows])
        left = notification_service.unread_count(ctx)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        for r in rows:
            flag = " " if r["read"] else "*"
            click.echo(f"{flag} {r['id']:>5}  {r['created_at']}  {r['subject']}"
                       f"{'  ' + r['link'] if r['link'] else ''}")
    click.echo(f"{len(rows)} notification(s), {left} unread", err=True)


@main.group()
def mail() -> None:
    """Mail of notifications (when VAULT_SMTP_HOST is set)."""


@mail.command("send-pending")
@pass_app
@handle_errors
def mail_send_pending(app: App) -> None:
    """Send the mail of notifications whose mail has not gone out yet (the SMTP server
    was down); mail that failed for more than 3 days is given up (the inbox keeps it)."""
    from vault import mail as mailer
    from vault.services import notifications as notification_service

    if not mailer.enabled(app.settings):
        raise ConfigError("SMTP is not configured: set VAULT_SMTP_HOST (and VAULT_SMTP_PORT).",
                          code="smtp_not_configured")
    sent = notification_service.deliver(app.infra, now=app.now())
    click.echo(f"{sent} mail(s) sent")



import vault.cli_jobs  # noqa: E402, F401 - `vault jobs`, `vault review`
import vault.cli_leaks  # noqa: E402, F401 - `vault leaks …`, `vault certificates …`
import vault.cli_recordings  # noqa: E402, F401 - `vault recordings …`
import vault.cli_search  # noqa: E402, F401 - `vault search`, `vault index …`, `vault watch`
import vault.cli_service  # noqa: E402, F401 - `vault requests …`, `visits …`, `deposits …`
import vault.cli_tenants  # noqa: E402, F401 - `vault tenants …`, `vault notices …`

if __name__ == "__main__":  # pragma: no cover
    main()
