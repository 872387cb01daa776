"""`vault recordings …`: the retention purge, the archive (提取录音另行保存), the
recordings of a request record and the archive register (录音存档记录表).

Attached to the `vault` group by the import at the end of vault/cli.py.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from vault.cli.app import App, pass_app
from vault.cli.output import echo_json, table

#: Recordings purged per transaction: each batch commits (and deletes its blobs) alone.
PURGE_BATCH = 50


def _stamp(app: App, value: Any) -> str | None:
    return value.astimezone(app.settings.tz).strftime("%Y-%m-%d %H:%M") if value else None


def _row(app: App, info: Any) -> dict[str, Any]:
    archive = info.archive
    return {
        "id": info.document_id, "title": info.title, "level": info.level,
        "request_ref": info.request_ref, "called_at": _stamp(app, info.called_at),
        "caller_number": info.caller_number, "agent": info.agent, "source": info.source,
        "size": info.size, "purged_at": _stamp(app, info.purged_at),
        "purge_after": _stamp(app, info.purge_after),
        "archived": _archive_row(app, archive) if archive else None,
    }


def _archive_row(app: App, entry: Any) -> dict[str, Any]:
    return {
        "document": entry.document_id, "title": entry.title, "request_ref": entry.request_ref,
        "called_at": _stamp(app, entry.called_at), "archived_by": entry.archived_by,
        "archived_by_name": entry.archived_by_name,
        "archived_at": _stamp(app, entry.archived_at), "event": entry.event,
        "reason": entry.reason,
    }


@click.group()
def recordings() -> None:
    """Call recordings (录音): retention purge, archive, lists.

    Recordings are kept VAULT_RECORDING_RETENTION_DAYS days (at least 30) after the
    call, then destroyed by `vault recordings purge` (or `vault jobs run`) unless
    archived for a special event."""


@recordings.command("purge")
@click.option("--dry-run", is_flag=True, help="List what would be destroyed; change nothing.")
@pass_app
def recordings_purge(app: App, dry_run: bool) -> None:
    """Destroy recordings older than the retention period and not archived: each data
    key and blob goes, the metadata and the audit trail stay. Idempotent."""
    from vault.services import recordings as service

    with app.work(None) as ctx:
        due = service.purge(ctx, dry_run=True)
        days = service.retention_days(ctx)
    done = due
    if not dry_run and due:
        done = []
        show_bar = len(due) > PURGE_BATCH
        with click.progressbar(length=len(due), label="purging", file=sys.stderr,
                               hidden=not show_bar) as bar:
            while True:
                with app.work(None) as ctx:
                    batch = service.purge(ctx, limit=PURGE_BATCH)
                done.extend(batch)
                bar.update(len(batch))
                if len(batch) < PURGE_BATCH:
                    break
    verb = "would destroy" if dry_run else "destroyed"
    if done:
        click.echo(f"{'id':>6}  {'called at':<16}  {'request record':<24}  {'size':>10}  title")
    for item in done:
        click.echo(f"{item.document_id:>6}  {_stamp(app, item.called_at):<16}  "
                   f"{item.request_ref:<24}  {item.size:>10}  {item.title}")
    click.echo(f"{len(done)} recording(s) {verb} (retention {days} days)")


@recordings.command("archive")
@click.argument("document", type=int)
@click.option("--reason", required=True, help="Why the recording must be kept.")
@click.option("--event", required=True, help="The special event it belongs to.")
@click.option("--as", "as_user", required=True,
              help="The person archiving (someone who may listen to the recording).")
@pass_app
def recordings_archive(app: App, document: int, reason: str, event: str,
                       as_user: str) -> None:
    """Keep recording DOCUMENT for a special event (提取录音另行保存): it is entered in
    the archive register and never purged."""
    from vault.services import recordings as service

    with app.work(as_user) as ctx:
        row = service.archive(ctx, document, reason, event)
        entry = _archive_row(app, service.entry_of(ctx, row))
    click.echo(f"recording {document} archived by {entry['archived_by']} at "
               f"{entry['archived_at']}: {entry['event']}")


@recordings.command("list")
@click.option("--request-ref", help="Only the recordings of this request record (诉求记录).")
@click.option("--as", "as_user", required=True, help="Whose view (scope as on the pages).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def recordings_list(app: App, request_ref: str | None, as_user: str, as_json: bool) -> None:
    """Recordings you may know of, newest call first (by call time within a request
    record)."""
    from vault.services import recordings as service

    with app.work(as_user) as ctx:
        if request_ref is not None:
            found = service.for_request(ctx, request_ref)
        else:
            found = service.search(ctx, limit=service.MAX_SEARCH)
        rows = [_row(app, i) for i in found]
    if as_json:
        echo_json(rows)
        return
    table(["id", "called at", "request record", "caller", "agent", "state", "title"],
          [(r["id"], r["called_at"], r["request_ref"], r["caller_number"], r["agent"],
            "destroyed " + str(r["purged_at"]) if r["purged_at"]
            else "archived" if r["archived"] else f"kept until {r['purge_after']}",
            f"《{r['title']}》") for r in rows], right=[0])
    click.echo(f"{len(rows)} recording(s)", err=True)


@recordings.command("archive-register")
@click.option("--as", "as_user", required=True, help="Whose view (scope as on the pages).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def recordings_archive_register(app: App, as_user: str, as_json: bool) -> None:
    """The recording archive register (录音存档记录表): who archived what, when, why."""
    from vault.services import recordings as service

    with app.work(as_user) as ctx:
        rows = [_archive_row(app, e) for e in service.archive_register(ctx)]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['archived_at']}  {r['archived_by']:<16} {r['document']:>6}  "
                   f"{r['request_ref']:<24} {r['event']}  — {r['reason']}")
    click.echo(f"{len(rows)} archived recording(s)", err=True)
