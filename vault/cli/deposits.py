"""`vault deposits …`: the temporary deposit register (租户临时物品寄存记录表)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

import click

from vault.cli.app import App, pass_app
from vault.cli.output import echo_json, table


def _stamp(app: App, value: datetime | None) -> str:
    return value.astimezone(app.settings.tz).strftime("%Y-%m-%d %H:%M") if value else "-"


@click.group()
def deposits() -> None:
    """The temporary deposit register (租户临时物品寄存记录表)."""


@deposits.command("add")
@click.option("--as", "as_user", required=True)
@click.option("--tenant", required=True)
@click.option("--item", required=True)
@click.option("--note", default=None)
@pass_app
def deposits_add(app: App, as_user: str, tenant: str, item: str, note: str | None) -> None:
    """Receive an item a tenant leaves at the front desk."""
    from vault.services import deposits as service

    with app.work(as_user) as ctx:
        row = service.receive(ctx, tenant, item, note)
        rid = row.id
    click.echo(f"deposit {rid} received")


@deposits.command("collect")
@click.argument("deposit", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--by", "by", required=True, help="Who collected it.")
@pass_app
def deposits_collect(app: App, deposit: int, as_user: str, by: str) -> None:
    """Hand an item back."""
    from vault.services import deposits as service

    with app.work(as_user) as ctx:
        service.collect(ctx, deposit, by)
    click.echo(f"deposit {deposit} collected by {by}")


@deposits.command("ls")
@click.option("--as", "as_user", required=True)
@click.option("--open", "open_only", is_flag=True, help="Only items not yet collected.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def deposits_ls(app: App, as_user: str, open_only: bool, as_json: bool) -> None:
    """The register, newest first."""
    from vault.services import deposits as service

    with app.work(as_user) as ctx:
        rows = service.register(ctx, open_only=open_only)
    if as_json:
        echo_json([asdict(r) for r in rows])
        return
    table(["id", "tenant", "item", "in", "by", "out", "collected by"],
          [(r.id, r.tenant_code, r.item, _stamp(app, r.received_at), r.received_by,
            _stamp(app, r.collected_at), r.collected_by or "") for r in rows], right=[0])
    click.echo(f"{len(rows)} item(s)")
