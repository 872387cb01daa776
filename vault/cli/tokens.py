"""`vault tokens …`: personal API tokens."""

from __future__ import annotations

from datetime import datetime

import click

from vault.cli.app import App, pass_app
from vault.cli.output import echo_json, table


@click.group()
def tokens() -> None:
    """Personal API tokens: create (shown once), list, revoke."""


@tokens.command("create")
@click.argument("user")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@click.option("--expires", help="Last valid day YYYY-MM-DD (or an ISO date-time).")
@pass_app
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
def tokens_list(app: App, user: str | None, as_json: bool) -> None:
    """List tokens (of USER, or everyone's): id, user, name, prefix, dates, status."""
    from vault.services import tokens as token_service

    def when(value: datetime | None) -> str | None:
        return value.astimezone(app.settings.tz).isoformat() if value else None

    with app.work(None) as ctx:
        found = token_service.list_tokens(ctx, user)
    rows = [{"id": t.id, "user": t.user, "name": t.name, "prefix": t.prefix,
             "created_at": when(t.created_at), "expires_at": when(t.expires_at),
             "last_used_at": when(t.last_used_at), "status": t.status} for t in found]
    if as_json:
        echo_json(rows)
        return
    table(["id", "user", "prefix", "status", "expires", "last used", "name"],
          [(r["id"], r["user"], r["prefix"], r["status"], r["expires_at"] or "never",
            r["last_used_at"] or "never", r["name"]) for r in rows], right=[0])
    click.echo(f"{len(rows)} token(s)", err=True)


@tokens.command("revoke")
@click.argument("token_id", metavar="ID", type=click.IntRange(min=1))
@pass_app
def tokens_revoke(app: App, token_id: int) -> None:
    """Revoke token ID at once."""
    from vault.services import tokens as token_service

    with app.work(None) as ctx:
        row = token_service.revoke(ctx, token_id)
    click.echo(f"revoked token {token_id} ({row.prefix}) of {row.user}")
