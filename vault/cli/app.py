"""What every `vault` command shares: the settings and database (`App`), the one error
handler (`VaultGroup`), the --lang option and the parsing of dates.

Errors from services become one line on stderr and an exit status: 2 for bad input or
an unknown object, 1 for a denial, 3 for integrity or audit failures.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, overload

import click

from vault.config import Settings
from vault.errors import BlobStoreError, ConfigError, VaultError

# Only what `vault --help` needs is imported here: SQLAlchemy, Flask, the services and
# the document libraries (pypdf, reportlab, Pillow) load inside the commands that use them
# (tests/unit/test_cli_startup.py checks it; benchmarks/bench_startup.py times it).
if TYPE_CHECKING:
    from vault.db import Engine, Session, sessionmaker
    from vault.services.context import Infra


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

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Sessions on the database without loading the keys (for reads of metadata
        that need no unit of work: `vault can-i`, `vault users list`)."""
        from vault import db

        if self._factory is None:
            self._factory = db.make_sessionmaker(self.engine)
        return self._factory

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


class VaultGroup(click.Group):
    """The root group: runs the command and turns a service's refusal or error into a
    clear message and exit status, never a traceback. Sub-groups and commands run
    inside its ``invoke``, so this is the one place errors are translated."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VaultError as exc:
            click.echo(f"vault: {exc.message}", err=True)
            sys.exit(exc.exit_code)
        except BlobStoreError as exc:
            click.echo(f"vault: {exc}", err=True)
            sys.exit(1)


pass_app = click.make_pass_decorator(App)

#: The help of --as: commands run on the server, by an operator who speaks for the person.
AS_OPERATOR = "The person acting (the operator speaks for them; no sign-in here)."

#: Refusals are in English, like every other CLI message, unless ``--lang zh``.
LANG_OPTION = click.option("--lang", type=click.Choice(["zh", "en"]), default="en",
                           show_default=True, help="Language of refusals.")


@contextmanager
def password_refusal(lang: str) -> Iterator[None]:
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


@overload
def parse_date(text: str, what: str) -> date: ...
@overload
def parse_date(text: None, what: str) -> None: ...
@overload
def parse_date(text: str | None, what: str) -> date | None: ...
def parse_date(text: str | None, what: str) -> date | None:
    """A day given as YYYY-MM-DD for option ``what``; None when not given."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{what} {text!r} is not a date; use YYYY-MM-DD") from None


def stamp(app: App, value: datetime | None) -> str | None:
    """A moment as people read it, in the group time zone."""
    return value.astimezone(app.settings.tz).strftime("%Y-%m-%d %H:%M") if value else None
