"""`vault requests …`: the request register (诉求记录) and complaints (投诉)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import click

from vault.cli.app import (
    App,
    parse_when,
    pass_app,
)
from vault.cli.output import echo_json, table


def _stamp(app: App, value: datetime | None) -> str:
    return value.astimezone(app.settings.tz).strftime("%Y-%m-%d %H:%M") if value else "-"


@click.group()
def requests() -> None:
    """The request register (诉求记录) and complaints (投诉): content is sealed, every
    read and change audited."""


@requests.command("add")
@click.option("--as", "as_user", required=True, help="Who records it.")
@click.option("--kind", required=True,
              type=click.Choice(["repair", "complaint", "enquiry", "emergency", "suggestion"]))
@click.option("--channel", required=True,
              type=click.Choice(["hotline", "visit", "meeting", "web", "letter"]))
@click.option("--content", required=True, help="What the customer asked or reported.")
@click.option("--tenant", default=None, help="Tenant code (none: an anonymous caller).")
@click.option("--caller", default=None, help="The caller's name or number, if given.")
@click.option("--grade", default=None, type=click.Choice(["normal", "important", "major"]),
              help="A complaint's grade (一般/重要/重大).")
@click.option("--reply-only", is_flag=True, help="A higher office asks only for a reply letter.")
@click.option("--handler", default=None, help="Username of the colleague handling it.")
@click.option("--received", default=None, help="When received (default: now).")
@click.option("--due", default=None, help="Due by (default: 3 days, an emergency 24 hours).")
@click.option("--department", default=None, help="Department code (default: yours).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def requests_add(app: App, as_user: str, kind: str, channel: str, content: str,
                 tenant: str | None, caller: str | None, grade: str | None, reply_only: bool,
                 handler: str | None, received: str | None, due: str | None,
                 department: str | None, as_json: bool) -> None:
    """Record a request; prints its number (e.g. SZ-2026-0042)."""
    from vault.services import requests as service

    with app.work(as_user) as ctx:
        req = service.create(
            ctx, kind=kind, channel=channel, content=content, tenant_code=tenant, caller=caller,
            grade=grade, reply_only=reply_only, handler=handler,
            received_at=parse_when(received, app.settings), due_at=parse_when(due, app.settings),
            department_code=department)
        info = service.describe(ctx, req)
    if as_json:
        echo_json(asdict(info))
    else:
        click.echo(f"{info.summary.number} (id {info.summary.id}) recorded; due "
                   f"{_stamp(app, info.summary.due_at)}")


@requests.command("ls")
@click.option("--as", "as_user", required=True)
@click.option("--status", default=None, type=click.Choice(["open", "in_progress", "closed"]))
@click.option("--kind", default=None)
@click.option("--tenant", default=None)
@click.option("--overdue", is_flag=True, help="Only those open past their due time.")
@click.option("--limit", type=click.IntRange(1, 1000), default=200, show_default=True)
@click.option("--offset", type=click.IntRange(0, 10_000_000), default=0,
              help="Skip this many lines (the next page: offset + limit).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def requests_ls(app: App, as_user: str, status: str | None, kind: str | None,
                tenant: str | None, overdue: bool, limit: int, offset: int,
                as_json: bool) -> None:
    """The register lines you may read, newest first."""
    from vault.services import requests as service

    with app.work(as_user) as ctx:
        rows = service.search(ctx, status=status, kind=kind, tenant_code=tenant, overdue=overdue,
                              limit=limit, offset=offset)
    if as_json:
        echo_json([asdict(r) for r in rows])
        return
    table(["number", "kind", "grade", "status", "tenant", "received", "due", "handler", ""],
          [(r.number, r.kind, r.grade or "-", r.status, r.tenant_code or "(anonymous)",
            _stamp(app, r.received_at), _stamp(app, r.due_at), r.handler or "-",
            "OVERDUE" if r.overdue else "") for r in rows])
    click.echo(f"{len(rows)} request(s)")


@requests.command("show")
@click.argument("ref")
@click.option("--as", "as_user", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def requests_show(app: App, ref: str, as_user: str, as_json: bool) -> None:
    """One record (id or number) with its content, receipts and recordings."""
    from vault.services import requests as service

    with app.work(as_user) as ctx:
        info = service.show(ctx, ref)
    if as_json:
        echo_json(asdict(info))
        return
    s = info.summary
    click.echo(f"{s.number}  {s.kind} {s.grade or ''}  {s.status}"
               f"{'  OVERDUE' if s.overdue else ''}")
    click.echo(f"tenant: {s.tenant_code or '(anonymous)'} {s.tenant_name or ''}  caller: "
               f"{info.caller or '-'}  channel: {s.channel}")
    click.echo(f"received {_stamp(app, s.received_at)}  due {_stamp(app, s.due_at)}  "
               f"handler {s.handler or '-'}")
    click.echo(f"content: {info.content or '(not recorded in Vault)'}")
    if info.reply:
        click.echo(f"reply: {info.reply}")
    if info.reply_letter_id:
        click.echo(f"reply letter: document {info.reply_letter_id}")
    for r in info.receipts:
        click.echo(f"  receipt {r.id}: {_stamp(app, r.received_at)} {r.channel} {r.via or ''} "
                   f"{r.note or ''}")
    for rec in info.recordings:
        click.echo(f"  recording {rec.document_id}: {_stamp(app, rec.called_at)}"
                   f"{' archived' if rec.archived else ''}{' purged' if rec.purged else ''}")
    for fid in info.follow_up_ids:
        click.echo(f"  follow-up visit {fid}")


@requests.command("start")
@click.argument("ref")
@click.option("--as", "as_user", required=True)
@click.option("--handler", default=None)
@pass_app
def requests_start(app: App, ref: str, as_user: str, handler: str | None) -> None:
    """Take a request in hand (open → in progress)."""
    from vault.services import requests as service

    with app.work(as_user) as ctx:
        req = service.start(ctx, ref, handler)
        number, who = req.number, req.handler.username if req.handler else "-"
    click.echo(f"{number} in progress, handled by {who}")


@requests.command("receipt")
@click.argument("ref")
@click.option("--as", "as_user", required=True)
@click.option("--channel", required=True,
              type=click.Choice(["hotline", "visit", "meeting", "web", "letter"]))
@click.option("--via", default=None, help="The department the complaint was made to.")
@click.option("--note", default=None)
@click.option("--received", default=None)
@pass_app
def requests_receipt(app: App, ref: str, as_user: str, channel: str, via: str | None,
                     note: str | None, received: str | None) -> None:
    """The same complaint made again (to another department): one more receipt."""
    from vault.services import requests as service

    with app.work(as_user) as ctx:
        row = service.add_receipt(ctx, ref, channel=channel, via=via, note=note,
                                  received_at=parse_when(received, app.settings))
        rid = row.id
    click.echo(f"receipt {rid} added to {ref}")


@requests.command("reply-letter")
@click.argument("ref")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "as_user", required=True)
@pass_app
def requests_reply_letter(app: App, ref: str, file: Path, as_user: str) -> None:
    """Attach the reply letter (复函) as an encrypted document."""
    from vault.services import requests as service

    with app.work(as_user) as ctx, file.open("rb") as fh:
        doc_id = service.attach_reply_letter(ctx, ref, fh, file.name)
    click.echo(f"reply letter filed as document {doc_id}")


@requests.command("close")
@click.argument("ref")
@click.option("--as", "as_user", required=True)
@click.option("--reply", required=True, help="The answer given to the customer.")
@pass_app
def requests_close(app: App, ref: str, as_user: str, reply: str) -> None:
    """Close with the reply; schedules the follow-up the rule asks for."""
    from vault.services import requests as service

    with app.work(as_user) as ctx:
        req = service.close(ctx, ref, reply)
        info = service.describe(ctx, req)
    due = f"; follow-up visit {info.follow_up_ids[0]} scheduled" if info.follow_up_ids else ""
    click.echo(f"{info.summary.number} closed{due}")
