"""`vault watch`: import every file dropped into a scanner's folder."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from vault.cli.app import App, pass_app


@click.command("watch")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option("--as", "as_user", required=True, help="Who registers the files.")
@click.option("--category", required=True, help="Category id, e.g. tenant_archive, contract.")
@click.option("--level", help="Level (default: the category's).")
@click.option("--tenant", help="Tenant code.")
@click.option("--department", help="Owning department code (default: the person's).")
@click.option("--keep", is_flag=True, help="Keep the originals (each is imported once).")
@click.option("--once", is_flag=True, help="Import what is there now, then stop.")
@click.option("--interval", default=5.0, show_default=True, type=float,
              help="Seconds between scans.")
@click.option("--settle", default=2.0, show_default=True, type=float,
              help="A file is taken once unchanged for this many seconds.")
@click.option("--no-ocr", is_flag=True, help="Do not index here (leave it to `vault index work`).")
@pass_app
def watch(app: App, folder: Path, as_user: str, category: str, level: str | None,
          tenant: str | None, department: str | None, keep: bool, once: bool,
          interval: float, settle: float, no_ocr: bool) -> None:
    """Import every file dropped into FOLDER (a scanner's target) as USER, extract and
    index its text (OCR included), and remove the original once stored."""
    from vault.services import documents, search_index
    from vault.services import watch as watch_service

    infra = app.infra
    options = watch_service.Options(
        category=documents.parse_category(category),
        level=documents.parse_level(level) if level else None,
        tenant_code=tenant, department_code=department, keep=keep, settle=max(0.0, settle),
    )
    watch_service.check_actor(infra, as_user)
    refused = 0
    while True:
        for item in watch_service.scan(infra, folder, as_user, options):
            if item.outcome == "imported":
                click.echo(f"{item.document_id}\t{item.filename}")
            else:
                refused += 1
                click.echo(f"vault: {item.filename}: refused ({item.error}), moved to "
                           f"{watch_service.REFUSED_DIR}/", err=True)
        if not no_ocr:
            search_index.work(infra, max_seconds=None if once else interval * 10)
        if once:
            sys.exit(2 if refused else 0)
        time.sleep(max(0.5, interval))
