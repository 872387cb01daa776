"""`vault leaks …`: leak reports (泄密报告).

Like every --as command, these run on the server, by an operator who speaks for
the person named. Exit statuses as elsewhere: 0 done, 1 refused, 2 bad input or
an unknown object (a report that is not yours to read is unknown). There is no
command that deletes a leak report: incidents stay on record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from vault.cli.app import (
    AS_OPERATOR,
    App,
    pass_app,
)
from vault.cli.output import echo_json, table

STATE_TEXT = {
    "open": "open",
    "overdue": "OVERDUE (past the 24-hour deadline)",
    "handled": "handled",
    "handled_late": "handled after the deadline",
}


def _when(app: App, iso: str | datetime | None) -> str:
    """A moment in the group time zone, as people read it."""
    if iso is None:
        return "—"
    value = datetime.fromisoformat(iso) if isinstance(iso, str) else iso
    return value.astimezone(app.settings.tz).strftime("%Y-%m-%d %H:%M")


def _person(who: dict[str, str] | None) -> str:
    return f"{who['name']} ({who['username']})" if who else "—"


def _left(app: App, deadline_iso: str) -> str:
    left = datetime.fromisoformat(deadline_iso) - app.now()
    minutes = int(abs(left.total_seconds()) // 60)
    text = f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{text} left" if left.total_seconds() > 0 else f"overdue by {text}"


@click.group()
def leaks() -> None:
    """Leak reports (泄密报告): report a suspected leak, read and handle incidents.

    Anyone may report; every HQ executive is notified at once (inbox, and mail when
    SMTP is configured). HQ executives and compliance read every report with its
    trace; a reporter reads the status of their own. Reports are never deleted."""


@leaks.command("report")
@click.option("--document", "document", type=click.IntRange(1, 2**31 - 1),
              help="The id of the document that leaked.")
@click.option("--copy-number", help="The copy number read off a page found outside, "
                                    "e.g. '机密-2026-0042 副本 3'.")
@click.option("--description", required=True, help="What was found, where and when.")
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@pass_app
def leaks_report(app: App, document: int | None, copy_number: str | None, description: str,
                 as_user: str) -> None:
    """Report a suspected leak: of a document (by its id, whether or not you may know
    of it), of a copy number found outside, or by the description alone.

    The answer is the same whatever the id or copy number leads to."""
    from vault.services import leaks as leak_service

    with app.work(as_user) as ctx:
        leak = leak_service.report(ctx, document_id=document, copy_number=copy_number,
                                   description=description)
        seen = leak_service.receipt(leak, ctx.now)
    what = {"document": f"document {seen['document']}",
            "copy_number": f"copy number {seen['copy_number']}"}.get(seen["by"], "description")
    click.echo(f"leak report {seen['id']} received ({what}); "
               "the HQ executives have been notified.")
    click.echo(f"They act before {_when(app, seen['deadline_at'])} (24 hours).")


@leaks.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only reports not yet handled.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@pass_app
def leaks_list(app: App, open_only: bool, as_json: bool, as_user: str) -> None:
    """Every leak report (HQ executives, compliance); your own reports otherwise."""
    from vault.services import leak_pages

    with app.work(as_user) as ctx:
        found = leak_pages.listing(ctx, open_only)
    full, rows = found.full, list(found.rows)
    if as_json:
        echo_json(rows)
        return
    table(["id", "reported at", "state", "about"] + (["reporter"] if full else []),
          [(r["id"], _when(app, r["reported_at"]), STATE_TEXT.get(r["state"], r["state"]),
            f"《{r['title']}》" if r.get("title") else
            f"document {r['document']}" if r["document"] else
            f"copy {r['copy_number']}" if r["copy_number"] else "(description only)",
            *([r["reporter"]["username"]] if full else [])) for r in rows], right=[0])
    click.echo(f"{len(rows)} report(s)", err=True)


def _echo_trace(app: App, title: str, trace: dict[str, Any]) -> None:
    click.echo(f"{title} (as of {_when(app, trace['computed_at'])}):")
    click.echo("  who knew the file (viewed, downloaded, exported, copied):")
    for k in trace["knowers"]:
        click.echo(f"    {k['name']} ({k['username']})  {', '.join(k['actions'])}  "
                   f"first {_when(app, k['first_at'])}, last {_when(app, k['last_at'])}, "
                   f"{k['count']} time(s)")
    if not trace["knowers"]:
        click.echo("    nobody")
    click.echo("  registered copies and their holders:")
    for c in trace["copies"]:
        click.echo(f"    {c['label']}  held by {_person(c['recipient'])}  approved by "
                   f"{_person(c['approved_by'])}  issued {_when(app, c['issued_at'])}  "
                   f"{c['status']}")
    if not trace["copies"]:
        click.echo("    none")
    click.echo("  loans:")
    for x in trace["loans"]:
        click.echo(f"    {_person(x['borrower'])}  {x['state']}  approved "
                   f"{_when(app, x['approved_at'])}  lent {_when(app, x['lent_at'])}  "
                   f"due {x['due_on']}  returned {_when(app, x['returned_at'])}")
    if not trace["loans"]:
        click.echo("    none")


@leaks.command("show")
@click.argument("report", type=click.IntRange(1, 2**31 - 1))
@click.option("--json", "as_json", is_flag=True)
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@pass_app
def leaks_show(app: App, report: int, as_json: bool, as_user: str) -> None:
    """One leak report: the deadline, and for HQ executives and compliance the trace
    as it stood when reported and as it stands now."""
    from vault.services import leak_pages

    with app.work(as_user) as ctx:
        info = leak_pages.report_page(ctx, report).info
    if as_json:
        echo_json(info)
        return
    click.echo(f"Leak report {info['id']}: {STATE_TEXT.get(info['state'], info['state'])}")
    click.echo(f"  reported   {_when(app, info['reported_at'])}"
               + (f" by {_person(info['reporter'])}" if "reporter" in info else ""))
    deadline = f"  deadline   {_when(app, info['deadline_at'])}"
    if info["status"] == "open":
        deadline += f" ({_left(app, info['deadline_at'])})"
    click.echo(deadline)
    if info["copy_number"]:
        click.echo(f"  copy number found  {info['copy_number']}"
                   + (f" → {info['copy']}" if info.get("copy") else ""))
    if info["document"]:
        title = f" 《{info['title']}》" if info.get("title") else ""
        click.echo(f"  document   {info['document']}{title}")
    click.echo(f"  description  {info['description']}")
    if info.get("handled_at"):
        click.echo(f"  handled    {_when(app, info['handled_at'])} by "
                   f"{_person(info['handled_by'])}: {info['handling_note']}")
    if info.get("trace"):
        _echo_trace(app, "Trace when reported", info["trace"])
    if info.get("live_trace"):
        _echo_trace(app, "Trace now", info["live_trace"])


@leaks.command("handle")
@click.argument("report", type=click.IntRange(1, 2**31 - 1))
@click.option("--note", required=True, help="The remedial action taken, reported onward.")
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@pass_app
def leaks_handle(app: App, report: int, note: str, as_user: str) -> None:
    """Mark a leak report handled (HQ executives). The report stays on record."""
    from vault.services import leaks as leak_service

    with app.work(as_user) as ctx:
        leak = leak_service.handle(ctx, report, note)
        state = leak_service.state(leak, ctx.now)
    click.echo(f"leak report {report} {STATE_TEXT[state]}")
