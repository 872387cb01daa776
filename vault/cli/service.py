"""`vault requests …` (诉求记录、投诉), `vault visits …` (回访、客户回访记录) and
`vault deposits …` (租户临时物品寄存记录表).

Attached to the `vault` group by the import at the end of vault/cli.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from vault.cli import App, _parse_date, handle_errors, main, parse_when, pass_app


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _stamp(app: App, value: datetime | None) -> str:
    return value.astimezone(app.settings.tz).strftime("%Y-%m-%d %H:%M") if value else "-"


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(_plain(data), ensure_ascii=False, indent=2))


# ---------------------------------------------------------------------------
# vault requests


@main.group()
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
@handle_errors
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
        _echo_json(asdict(info))
    else:
        click.echo(f"{info.summary.number} (id {info.summary.id}) recorded; due "
                   f"{_stamp(app, info.summary.due_at)}")


@requests.command("ls")
@click.option("--as", "as_user", required=True)
@click.option("--status", default=None, type=click.Choice(["open", "in_progress", "closed"]))
@click.option("--kind", default=None)
@click.option("--tenant", default=None)
@click.option("--overdue", is_flag=True, help="Only those open past their due time.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def requests_ls(app: App, as_user: str, status: str | None, kind: str | None,
                tenant: str | None, overdue: bool, as_json: bool) -> None:
    """The register lines you may read, newest first."""
    from vault.services import requests as service

    with app.work(as_user) as ctx:
        rows = service.search(ctx, status=status, kind=kind, tenant_code=tenant, overdue=overdue)
    if as_json:
        _echo_json([asdict(r) for r in rows])
        return
    for r in rows:
        flag = " OVERDUE" if r.overdue else ""
        click.echo(f"{r.number:<16} {r.kind:<10} {r.grade or '-':<9} {r.status:<11} "
                   f"{r.tenant_code or '(anonymous)':<10} {_stamp(app, r.received_at)}  "
                   f"due {_stamp(app, r.due_at)}  {r.handler or '-'}{flag}")
    click.echo(f"{len(rows)} request(s)")


@requests.command("show")
@click.argument("ref")
@click.option("--as", "as_user", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def requests_show(app: App, ref: str, as_user: str, as_json: bool) -> None:
    """One record (id or number) with its content, receipts and recordings."""
    from vault.services import requests as service

    with app.work(as_user) as ctx:
        info = service.show(ctx, ref)
    if as_json:
        _echo_json(asdict(info))
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
@handle_errors
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
@handle_errors
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
@handle_errors
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
@handle_errors
def requests_close(app: App, ref: str, as_user: str, reply: str) -> None:
    """Close with the reply; schedules the follow-up the rule asks for."""
    from vault.services import requests as service

    with app.work(as_user) as ctx:
        req = service.close(ctx, ref, reply)
        info = service.describe(ctx, req)
    due = f"; follow-up visit {info.follow_up_ids[0]} scheduled" if info.follow_up_ids else ""
    click.echo(f"{info.summary.number} closed{due}")


# ---------------------------------------------------------------------------
# vault visits


@main.group()
def visits() -> None:
    """Follow-up visits (回访) and the monthly 客户回访记录."""


def _visit_line(app: App, v: Any) -> str:
    label = v.request_number or v.subject or "-"
    return (f"{v.id:>5}  {v.kind:<10} {label:<16} #{v.sequence} {v.status:<5} due {v.due_on}"
            f"{' OVERDUE' if v.overdue else ''}  owner {v.owner_role}"
            f"{'  ' + (v.method or '') + ' ' + str(v.visited_on) if v.visited_on else ''}"
            f"{'  reviewed by ' + v.reviewed_by if v.reviewed_by else ''}")


@visits.command("ls")
@click.option("--as", "as_user", required=True)
@click.option("--status", default=None, type=click.Choice(["due", "done", "unreviewed"]))
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def visits_ls(app: App, as_user: str, status: str | None, as_json: bool) -> None:
    """Visits you may read, by due date."""
    from vault.services import followups

    with app.work(as_user) as ctx:
        rows = followups.search(ctx, status=status)
    if as_json:
        _echo_json([asdict(r) for r in rows])
        return
    for v in rows:
        click.echo(_visit_line(app, v))
    click.echo(f"{len(rows)} visit(s)")


@visits.command("show")
@click.argument("visit", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
@handle_errors
def visits_show(app: App, visit: int, as_user: str, as_json: bool) -> None:
    """One visit with its notes and the review."""
    from vault.services import followups

    with app.work(as_user) as ctx:
        v = followups.show(ctx, visit)
    if as_json:
        _echo_json(asdict(v))
        return
    click.echo(_visit_line(app, v))
    if v.notes:
        click.echo(f"notes: {v.notes}  resolved: {'yes' if v.resolved else 'no'}")
    if v.signature_document_id:
        click.echo(f"signature: document {v.signature_document_id}")
    if v.opinion:
        click.echo(f"opinion ({v.reviewed_by}): {v.opinion}")


@visits.command("schedule")
@click.option("--as", "as_user", required=True)
@click.option("--kind", required=True, type=click.Choice(["event", "move_in", "emergency",
                                                          "repair", "complaint"]))
@click.option("--on", "on", required=True, help="The day of the event / move-in (YYYY-MM-DD).")
@click.option("--subject", required=True, help="What it was (e.g. the event's name).")
@click.option("--tenant", default=None)
@pass_app
@handle_errors
def visits_schedule(app: App, as_user: str, kind: str, on: str, subject: str,
                    tenant: str | None) -> None:
    """Schedule a follow-up after a community event or a move-in."""
    from vault.services import followups

    with app.work(as_user) as ctx:
        fu = followups.schedule(ctx, kind=kind, trigger_on=_parse_date(on, "--on"),
                                subject=subject, tenant_code=tenant)
        fid, due = fu.id, fu.due_on
    click.echo(f"follow-up visit {fid} due by {due}")


@visits.command("record")
@click.argument("visit", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--method", required=True, type=click.Choice(["on_site", "telephone"]))
@click.option("--on", "on", default=None, help="Visit day (default: today).")
@click.option("--notes", required=True)
@click.option("--resolved/--unresolved", default=True)
@click.option("--next", "next_on", default=None, help="Unresolved: the next visit's day.")
@click.option("--signature", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="On site: the signed sheet (scan) or signature image.")
@pass_app
@handle_errors
def visits_record(app: App, visit: int, as_user: str, method: str, on: str | None, notes: str,
                  resolved: bool, next_on: str | None, signature: Path | None) -> None:
    """Record a visit (on site with the customer's signature, or by telephone)."""
    from vault.services import followups

    day = _parse_date(on, "--on") if on else app.now().astimezone(app.settings.tz).date()
    sig = signature.read_bytes() if signature else None
    with app.work(as_user) as ctx:
        fu = followups.record_visit(
            ctx, visit, method=method, visited_on=day, notes=notes, resolved=resolved,
            signature=sig, signature_filename=signature.name if signature else "signature.png",
            next_visit_on=_parse_date(next_on, "--next") if next_on else None)
        sig_id = fu.signature_document_id
    click.echo(f"visit {visit} recorded" + (f"; signature document {sig_id}" if sig_id else ""))


@visits.command("review")
@click.argument("visit", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--opinion", required=True)
@pass_app
@handle_errors
def visits_review(app: App, visit: int, as_user: str, opinion: str) -> None:
    """The supervisor's review and opinion of a recorded visit."""
    from vault.services import followups

    with app.work(as_user) as ctx:
        followups.review(ctx, visit, opinion)
    click.echo(f"visit {visit} reviewed")


@visits.command("report")
@click.option("--as", "as_user", required=True)
@click.option("--company", required=True)
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--format", "fmt", default="text",
              type=click.Choice(["text", "csv", "json", "pdf"]))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file (needed for pdf); refuses to overwrite.")
@click.option("--send", is_flag=True, help="Also put it in the leadership's inbox.")
@pass_app
@handle_errors
def visits_report(app: App, as_user: str, company: str, month: str, fmt: str,
                  out: Path | None, send: bool) -> None:
    """The monthly 客户回访记录: visits due and made per type, rates against targets."""
    from vault.services import followups

    with app.work(as_user) as ctx:
        if send:
            rep, sent = followups.send_report(ctx, company, month)
        else:
            rep, sent = followups.report(ctx, company, month), 0
    if fmt == "pdf" or out is not None:
        from vault.services import service_pdf

        if out is None:
            raise click.UsageError("--format pdf needs --out FILE.")
        data = (service_pdf.report_pdf(rep, app.settings.font_file) if fmt == "pdf"
                else (rep.csv() if fmt == "csv" else json.dumps(
                    _plain(asdict(rep)), ensure_ascii=False, indent=2)).encode("utf-8"))
        try:
            with out.open("xb") as fh:
                fh.write(data)
        except FileExistsError:
            raise click.UsageError(f"{out} exists; choose another file.") from None
        click.echo(f"{out} written ({len(data)} bytes)")
    elif fmt == "csv":
        click.echo(rep.csv(), nl=False)
    elif fmt == "json":
        _echo_json(asdict(rep))
    else:
        click.echo(f"客户回访记录 {rep.company} {rep.month}")
        for ln in rep.lines:
            rate = "-" if ln.rate is None else f"{ln.rate:.1f}%"
            target = "-" if ln.target is None else f"{ln.target}%"
            met = "" if ln.met is None else ("  met" if ln.met else "  BELOW TARGET")
            click.echo(f"  {ln.kind:<10} done {ln.done:>3} / due {ln.due:>3}  rate {rate:>6}  "
                       f"target {target:>4}{met}")
    if send:
        click.echo(f"sent to {sent} inbox(es)", err=True)


# ---------------------------------------------------------------------------
# vault deposits


@main.group()
def deposits() -> None:
    """The temporary deposit register (租户临时物品寄存记录表)."""


@deposits.command("add")
@click.option("--as", "as_user", required=True)
@click.option("--tenant", required=True)
@click.option("--item", required=True)
@click.option("--note", default=None)
@pass_app
@handle_errors
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
@handle_errors
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
@handle_errors
def deposits_ls(app: App, as_user: str, open_only: bool, as_json: bool) -> None:
    """The register, newest first."""
    from vault.services import deposits as service

    with app.work(as_user) as ctx:
        rows = service.register(ctx, open_only=open_only)
    if as_json:
        _echo_json([asdict(r) for r in rows])
        return
    for r in rows:
        click.echo(f"{r.id:>5}  {r.tenant_code:<8} {r.item:<24} in {_stamp(app, r.received_at)} "
                   f"({r.received_by})  out {_stamp(app, r.collected_at)} {r.collected_by or ''}")
    click.echo(f"{len(rows)} item(s)")


# ---------------------------------------------------------------------------
# vault meetings


@main.group()
def meetings() -> None:
    """Tenant meetings (租户大会): the tenants present at a meeting whose minutes are a
    document of category tenant_meeting_minutes (register it with `vault import`)."""


@meetings.command("attendees")
@click.argument("document", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--tenant", "tenant_codes", multiple=True, help="A tenant present (repeat).")
@pass_app
@handle_errors
def meetings_attendees(app: App, document: int, as_user: str,
                       tenant_codes: tuple[str, ...]) -> None:
    """Record the tenants present (replaces the list); without --tenant, show it."""
    from vault.services import meetings as service

    with app.work(as_user) as ctx:
        meeting = (service.set_attendees(ctx, document, list(tenant_codes)) if tenant_codes
                   else service.show(ctx, document))
    click.echo(f"{meeting.title} ({meeting.meeting_on}): "
               + (", ".join(f"{code} {name}" for code, name in meeting.attendees) or "-"))
