"""`vault notices …`: notices and letters with their sign-offs (签收记录).

Like every --as command, these run on the server, by an operator who speaks for
the person named. Exit statuses as elsewhere: 0 done, 1 refused, 2 bad input or an
unknown object (a tenant or notice out of the person's scope is unknown).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, BinaryIO

import click

from vault.cli.app import (
    AS_OPERATOR,
    App,
    parse_when,
    pass_app,
)
from vault.cli.files import atomic_file
from vault.cli.output import echo_json
from vault.errors import InvalidInput

METHODS = ["on_site", "scanned", "electronic"]


def _when(app: App, value: Any) -> str:
    return value.astimezone(app.settings.tz).strftime("%Y-%m-%d %H:%M") if value else "—"


@click.group()
def notices() -> None:
    """Notices and letters with their sign-offs (签收记录).

    Recipients are chosen by the notice's registrant, responsible supervisor, the
    owning department's manager or an HQ executive; sign-offs are recorded by them
    and the owning department's staff. One sign-off per recipient."""


@notices.command("recipients")
@click.argument("document", type=int)
@click.option("--tenant", "tenant_codes", multiple=True,
              help="A recipient's tenant code (repeat); the new full list.")
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@pass_app
def notices_recipients(app: App, document: int, tenant_codes: tuple[str, ...],
                       as_user: str) -> None:
    """Make the given tenants DOCUMENT's recipients (none: remove all who have not
    signed)."""
    from vault.services import notices as notice_service

    with app.work(as_user) as ctx:
        change = notice_service.set_recipients(ctx, document, list(tenant_codes))
    click.echo(f"notice {document}: {change.total} recipient(s); added "
               f"{', '.join(change.added) or '—'}; removed {', '.join(change.removed) or '—'}")


@notices.command("sign-off")
@click.argument("document", type=int)
@click.option("--tenant", required=True, help="The recipient's tenant code.")
@click.option("--signer", required=True, help="Who signed.")
@click.option("--method", required=True, type=click.Choice(METHODS))
@click.option("--at", "at", help="When (2026-11-27T10:30, group time; default now).")
@click.option("--sheet", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The scanned sign-off sheet (required for --method scanned).")
@click.option("--note", help="A note kept with the sign-off.")
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@pass_app
def notices_sign_off(app: App, document: int, tenant: str, signer: str, method: str,
                     at: str | None, sheet: Path | None, note: str | None,
                     as_user: str) -> None:
    """Record that TENANT signed DOCUMENT off."""
    from vault.services import notices as notice_service

    signed_at = parse_when(at, app.settings) or app.now()
    stream: BinaryIO | None = None
    try:
        if sheet is not None:
            try:
                stream = sheet.open("rb")
            except OSError as exc:
                raise InvalidInput(f"Cannot read {sheet}: {exc.strerror or exc}.",
                                   code="cannot_read") from None
        with app.work(as_user) as ctx:
            row = notice_service.record_sign_off(
                ctx, document, tenant, signer, signed_at, method,
                sheet=(stream, sheet.name) if stream is not None and sheet else None,
                note=note)
            sheet_id = row.sheet_document_id
    finally:
        if stream is not None:
            stream.close()
    extra = f"; sheet stored as document {sheet_id}" if sheet_id else ""
    click.echo(f"notice {document}: {tenant} signed off ({method}){extra}")


@notices.command("progress")
@click.argument("document", type=int)
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def notices_progress(app: App, document: int, as_user: str, as_json: bool) -> None:
    """Who has signed DOCUMENT off and who has not."""
    from vault.services import notices as notice_service

    with app.work(as_user) as ctx:
        p = notice_service.progress(ctx, document)
        info: dict[str, Any] = {
            "document": p.document_id, "title": p.title, "total": p.total,
            "signed": p.signed_count, "unsigned": p.unsigned_count, "percent": p.percent,
            "recipients": [
                {"tenant": r.code, "name": r.name, "unit": r.unit, "signed": r.signed,
                 "signer": r.signer, "signed_at": _when(app, r.signed_at) if r.signed else None,
                 "method": r.method, "sheet_document": r.sheet_document_id}
                for r in p.recipients],
        }
    if as_json:
        echo_json(info)
        return
    click.echo(f"《{info['title']}》 {info['signed']}/{info['total']} signed ({info['percent']}%)")
    for r in info["recipients"]:
        if r["signed"]:
            sheet = f"  sheet {r['sheet_document']}" if r["sheet_document"] else ""
            click.echo(f"  signed    {r['tenant']:<10} {r['name']}  {r['signer']}  "
                       f"{r['signed_at']}  {r['method']}{sheet}")
        else:
            click.echo(f"  UNSIGNED  {r['tenant']:<10} {r['name']}  {r['unit'] or ''}")


@notices.command("export")
@click.argument("document", type=int)
@click.option("-o", "--out", "out", required=True, type=click.Path(path_type=Path),
              help="The CSV file to write.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@pass_app
def notices_export(app: App, document: int, out: Path, force: bool, as_user: str) -> None:
    """Write DOCUMENT's sign-off list to OUT as CSV (UTF-8 with BOM for Excel; audited)."""
    from vault.services import notices as notice_service

    with atomic_file(out, replace=force) as fh:
        with app.work(as_user) as ctx:
            text = notice_service.export_csv(ctx, document)
        fh.write(text.encode("utf-8"))
    rows = len(list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))) - 1
    click.echo(f"wrote {out} ({rows} recipient(s))")
