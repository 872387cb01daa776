"""`vault keys …`: master keys."""

from __future__ import annotations

import sys

import click

from vault.cli.app import App, pass_app
from vault.cli.output import echo_json


@click.group()
def keys() -> None:
    """Master keys: list, rotate, retire."""


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def keys_list(app: App, as_json: bool) -> None:
    """Master keys and how many data keys each wraps."""
    from vault.services import keys as key_service

    found = key_service.list_keys(app.infra)
    if as_json:
        echo_json(found)
        return
    for info in found:
        flag = "active" if info.active else ""
        click.echo(f"{info.key_id:<28} {flag:<7} {info.data_keys} data key(s)")


@keys.command("rotate")
@pass_app
def keys_rotate(app: App) -> None:
    """New active master key; re-wrap every data key (resumes an interrupted run)."""
    from vault.services import keys as key_service

    total = key_service.stale_count(app.infra)
    with click.progressbar(length=max(total, 1), label="re-wrapping", file=sys.stderr) as bar:
        last = [0]

        def progress(done: int, total_now: int) -> None:
            if bar.length != max(total_now, 1):
                bar.length = max(total_now, 1)
            bar.update(done - last[0])
            last[0] = done

        result = key_service.rotate(app.infra, progress=progress)
    if result.new_key:
        click.echo(f"new active master key {result.new_key}")
    else:
        click.echo("resumed an interrupted rotation")
    click.echo(f"re-wrapped {result.rewrapped} data key(s)")


@keys.command("retire")
@click.argument("key_id")
@pass_app
def keys_retire(app: App, key_id: str) -> None:
    """Retire KEY_ID once no data key uses it."""
    from vault.services import keys as key_service

    path = key_service.retire(app.infra, key_id)
    click.echo(f"retired {key_id} (moved to {path})")
