"""`vault inbox`, `vault mail …`: notifications and their mail."""

from __future__ import annotations

from typing import Any

import click

from vault.cli.app import (
    App,
    pass_app,
    stamp,
)
from vault.cli.output import echo_json
from vault.errors import ConfigError


@click.command()
@click.option("--as", "as_user", required=True, help="Whose inbox.")
@click.option("--unread", is_flag=True, help="Only unread notifications.")
@click.option("--mark-read", is_flag=True, help="Mark the listed notifications read.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def inbox(app: App, as_user: str, unread: bool, mark_read: bool, lang: str,
          as_json: bool) -> None:
    """A person's notifications, newest first: decisions waiting, outcomes, expiries.
    Each links to a page in Vault (sign-in needed there); none carries content."""
    from vault.services import copy_pages
    from vault.services import notifications as notification_service

    base = app.settings.base_url.rstrip("/")
    with app.work(as_user) as ctx:
        found = copy_pages.inbox(ctx, lang, unread_only=unread, limit=100)
        if mark_read and found:
            notification_service.mark_read(ctx, [m.id for m in found])
        left = notification_service.unread_count(ctx)
    rows: list[dict[str, Any]] = [
        {"id": m.id, "kind": m.kind, "created_at": stamp(app, m.created_at),
         "read": not m.unread, "subject": m.subject,
         "link": f"{base}{m.link}" if m.link else None}
        for m in found
    ]
    if as_json:
        echo_json(rows)
    else:
        for r in rows:
            flag = " " if r["read"] else "*"
            click.echo(f"{flag} {r['id']:>5}  {r['created_at']}  {r['subject']}"
                       f"{'  ' + r['link'] if r['link'] else ''}")
    click.echo(f"{len(rows)} notification(s), {left} unread", err=True)


@click.group()
def mail() -> None:
    """Mail of notifications (when VAULT_SMTP_HOST is set)."""


@mail.command("send-pending")
@pass_app
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
