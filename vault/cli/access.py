"""`vault can-i`, `vault grant`, `vault revoke`: who may do what to a document."""

from __future__ import annotations

import sys

import click

from vault.cli.app import (
    App,
    parse_when,
    pass_app,
)
from vault.policy import marking


@click.command("can-i")
@click.argument("action")
@click.argument("document", type=int)
@click.option("--as", "as_user", required=True, help="The person asking.")
@click.option("--at", "at", help="Date-time to evaluate at (default: now).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@pass_app
def can_i(app: App, action: str, document: int, as_user: str, at: str | None, lang: str) -> None:
    """May a person do ACTION (view, copy, excerpt, lend, grant, extend) to DOCUMENT?

    Exit 0 when allowed, 1 when denied."""
    from vault.services import can_i as service  # light: no SQLAlchemy on SQLite

    now = parse_when(at, app.settings) or app.now()
    found = service.answer_sqlite(app.settings.database_url, as_user, document, action, now)
    if found is None:
        found = service.answer(app.sessions, as_user, document, action, now)
    result = found.verdict
    mark = marking(result.effective_level, found.period, lang)
    verdict = "allowed" if result.allowed else "denied"
    click.echo(f"{verdict}: {action} document {found.document_id} 《{found.title}》 [{mark}] "
               f"as {found.username}")
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


@click.command("grant")
@click.argument("document", type=int)
@click.argument("user")
@click.option("--as", "as_user", required=True)
@click.option("--until", help="End of the grant (date or date-time).")
@pass_app
def grant_cmd(app: App, document: int, user: str, as_user: str, until: str | None) -> None:
    """Grant USER access to DOCUMENT (designate, for 机密 and 绝密)."""
    from vault.services import grants

    when = parse_when(until, app.settings)
    with app.work(as_user) as ctx:
        grants.grant(ctx, document, user, when)
    click.echo(f"granted {user} on document {document}")


@click.command("revoke")
@click.argument("document", type=int)
@click.argument("user")
@click.option("--as", "as_user", required=True)
@pass_app
def revoke_cmd(app: App, document: int, user: str, as_user: str) -> None:
    """Revoke USER's grants on DOCUMENT at once."""
    from vault.services import grants

    with app.work(as_user) as ctx:
        n = grants.revoke(ctx, document, user)
    click.echo(f"revoked {n} grant(s) of {user} on document {document}")
