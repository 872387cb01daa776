"""`vault visits …`: follow-up visits (回访) and the monthly 客户回访记录."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from vault.cli.app import (
    App,
    parse_date,
    pass_app,
)
from vault.cli.output import echo_json, plain


@click.group()
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
def visits_ls(app: App, as_user: str, status: str | None, as_json: bool) -> None:
    """Visits you may read, by due date."""
    from vault.services import followups

    with app.work(as_user) as ctx:
        rows = followups.search(ctx, status=status)
    if as_json:
        echo_json([asdict(r) for r in rows])
        return
    for v in rows:
        click.echo(_visit_line(app, v))
    click.echo(f"{len(rows)} visit(s)")


@visits.command("show")
@click.argument("visit", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def visits_show(app: App, visit: int, as_user: str, as_json: bool) -> None:
    """One visit with its notes and the review."""
    from vault.services import followups

    with app.work(as_user) as ctx:
        v = followups.show(ctx, visit)
    if as_json:
        echo_json(asdict(v))
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
def visits_schedule(app: App, as_user: str, kind: str, on: str, subject: str,
                    tenant: str | None) -> None:
    """Schedule a follow-up after a community event or a move-in."""
    from vault.services import followups

    with app.work(as_user) as ctx:
        fu = followups.schedule(ctx, kind=kind, trigger_on=parse_date(on, "--on"),
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
def visits_record(app: App, visit: int, as_user: str, method: str, on: str | None, notes: str,
                  resolved: bool, next_on: str | None, signature: Path | None) -> None:
    """Record a visit (on site with the customer's signature, or by telephone)."""
    from vault.services import followups

    day = parse_date(on, "--on") if on else app.now().astimezone(app.settings.tz).date()
    sig = signature.read_bytes() if signature else None
    with app.work(as_user) as ctx:
        fu = followups.record_visit(
            ctx, visit, method=method, visited_on=day, notes=notes, resolved=resolved,
            signature=sig, signature_filename=signature.name if signature else "signature.png",
            next_visit_on=parse_date(next_on, "--next") if next_on else None)
        sig_id = fu.signature_document_id
    click.echo(f"visit {visit} recorded" + (f"; signature document {sig_id}" if sig_id else ""))


@visits.command("review")
@click.argument("visit", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--opinion", required=True)
@pass_app
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
                    plain(asdict(rep)), ensure_ascii=False, indent=2)).encode("utf-8"))
        try:
            with out.open("xb") as fh:
                fh.write(data)
        except FileExistsError:
            raise click.UsageError(f"{out} exists; choose another file.") from None
        click.echo(f"{out} written ({len(data)} bytes)")
    elif fmt == "csv":
        click.echo(rep.csv(), nl=False)
    elif fmt == "json":
        echo_json(asdict(rep))
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
