"""`vault doctor`: storage, keys and custodians checked (and repaired)."""

from __future__ import annotations

import sys

import click

from vault.cli.app import App, pass_app
from vault.errors import ConfigError


@click.command()
@click.option("--repair", is_flag=True, help="Remove orphans and temporary files older than 1 h.")
@pass_app
def doctor(app: App, repair: bool) -> None:
    """Check storage: orphan blobs, missing blobs, blobs failing authentication.

    Exit 0 when healthy (or repaired), 1 when a problem remains."""
    from vault.services import accounts
    from vault.services import doctor as doctor_service
    from vault.services import keys as keys_service

    counts = keys_service.wrapped_counts_if_any(app.settings.database_url)
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
    lacking = accounts.codes_without_custodian(app.infra.sessions)
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
