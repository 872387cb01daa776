"""`vault audit …`: the audit trail."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vault.cli.app import (
    App,
    parse_when,
    pass_app,
)
from vault.cli.output import echo_json
from vault.errors import InvalidInput


@click.group()
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
def audit_verify(app: App, offline: Path | None, public_key: Path | None,
                 witness_file: Path | None, as_user: str | None) -> None:
    """Verify the chain, the mirror and every checkpoint; exit 1 naming the first bad event."""
    from vault.services import audit_trail

    if offline is not None:
        if public_key is None:
            raise InvalidInput("--offline needs --public-key FILE.", code="no_public_key")
        report = audit_trail.verify_offline(offline, public_key, witness_file)
    else:
        with app.work(as_user) as ctx:
            report = audit_trail.verify(ctx, witness_file)
    click.echo(report.summary())
    if offline is not None and report.uncovered:
        click.echo(f"{report.uncovered} event(s) after the last checkpoint: continuity only")
    sys.exit(0 if report.ok else 1)


@audit.command("checkpoint")
@pass_app
def audit_checkpoint(app: App) -> None:
    """Sign a checkpoint now (before copying audit/ to an outside auditor)."""
    from vault.services import audit_trail

    with app.work(None) as ctx:
        seq = audit_trail.checkpoint(ctx)
    click.echo(f"checkpoint signed at event {seq}" if seq else "no new events since the last "
               "checkpoint")


@audit.command("public-key")
@pass_app
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
def audit_export(app: App, as_user: str, fmt: str, out: Path | None, since: str | None,
                 until: str | None, actor: str | None, document: int | None,
                 action: str | None, outcome: str | None) -> None:
    """Export the trail as CSV (Excel-friendly UTF-8) or JSON lines; the export is audited."""
    import io

    from vault.services import audit_trail

    if out is not None and out.exists():
        raise InvalidInput(f"{out} exists already; choose another path.", code="out_exists")
    buffer = io.StringIO()
    with click.progressbar(length=1, label="exporting", file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.pos = done
            bar.render_progress()

        with app.work(as_user) as ctx:
            count = audit_trail.export(
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
@click.option("--json", "as_json", is_flag=True)
@pass_app
def audit_knowers(app: App, document: int, as_user: str, as_json: bool) -> None:
    """Everyone who has known DOCUMENT (知悉记录): viewed, downloaded, exported, copied."""
    from vault.services import audit_trail

    with app.work(as_user) as ctx:
        rows = audit_trail.knowers(ctx, document)
    if as_json:
        echo_json(rows)
    else:
        for k in rows:
            click.echo(f"{k.ts.astimezone(app.settings.tz).isoformat()}  {k.actor:<16} "
                       f"{k.action}")
    click.echo(f"{len(rows)} record(s)", err=True)
