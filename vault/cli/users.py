"""`vault users …`: people, their roles, passwords and second factor."""

from __future__ import annotations

import sys

import click

from vault.cli.app import (
    LANG_OPTION,
    App,
    pass_app,
    password_refusal,
)
from vault.cli.output import echo_json, table


@click.group()
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
    with password_refusal(lang), app.work(None) as ctx:
        _, generated = accounts.create_user(
            ctx, username, name, company, department, role_set, password, email
        )
    click.echo(f"user {username} added")
    if generated:
        click.echo(f"password (shown once): {generated}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def users_list(app: App, as_json: bool) -> None:
    """List users."""
    from vault.services import accounts

    rows = accounts.user_views(app.sessions)
    if as_json:
        echo_json(rows)
        return
    table(["user", "company", "roles", "name", ""],
          [(r.username, f"{r.company}/{r.department}" if r.department else r.company,
            ",".join(r.roles), r.name, "" if r.active else "[deactivated]") for r in rows])


@users.command("roles")
@click.argument("username")
@click.argument("roles")
@pass_app
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
def users_deactivate(app: App, username: str) -> None:
    """Deactivate USERNAME at once (sessions and tokens end)."""
    from vault.services import accounts

    with app.work(None) as ctx:
        accounts.deactivate_user(ctx, username)
    click.echo(f"{username} deactivated")


@users.command("reset-2fa")
@click.argument("username")
@pass_app
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
def users_passwd(app: App, username: str, password_stdin: bool, lang: str) -> None:
    """Set USERNAME's password (generated and printed once without --password-stdin)."""
    from vault.services import accounts

    password = _read_password(password_stdin)
    with password_refusal(lang), app.work(None) as ctx:
        _, generated = accounts.change_password(ctx, username, password)
    click.echo(f"password of {username} changed")
    if generated:
        click.echo(f"password (shown once): {generated}")
