"""`vault leaks …` (泄密报告) and `vault certificates …` (证照), attached to `main`.

Like every --as command, these run on the server, by an operator who speaks for
the person named. Exit statuses as elsewhere: 0 done, 1 refused, 2 bad input or
an unknown object (a report that is not yours to read is unknown). There is no
command that deletes a leak report: incidents stay on record.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from typing import Any

import click

from vault.cli import App, handle_errors, main, pass_app
from vault.errors import InvalidInput

_AS = "The person acting (the operator speaks for them; no sign-in here)."

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


# ---------------------------------------------------------------------------
# vault leaks


@main.group()
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
@click.option("--as", "as_user", required=True, help=_AS)
@pass_app
@handle_errors
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
@click.option("--as", "as_user", required=True, help=_AS)
@pass_app
@handle_errors
def leaks_list(app: App, open_only: bool, as_json: bool, as_user: str) -> None:
    """Every leak report (HQ executives, compliance); your own reports otherwise."""
    from vault import policy
    from vault.services import leaks as leak_service

    with app.work(as_user) as ctx:
        full = policy.can_investigate_leaks(ctx.subject).allowed
        rows = [leak_service.summary(x, ctx.now, full)
                for x in leak_service.list_reports(ctx, open_only=open_only)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        what = (f"《{r['title']}》" if r.get("title") else
                f"document {r['document']}" if r["document"] else
                f"copy {r['copy_number']}" if r["copy_number"] else "(description only)")
        who = f"  by {r['reporter']['username']}" if full else ""
        click.echo(f"{r['id']:>5}  {_when(app, r['reported_at'])}  "
                   f"{STATE_TEXT.get(r['state'], r['state'])}  {what}{who}")
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
@click.option("--as", "as_user", required=True, help=_AS)
@pass_app
@handle_errors
def leaks_show(app: App, report: int, as_json: bool, as_user: str) -> None:
    """One leak report: the deadline, and for HQ executives and compliance the trace
    as it stood when reported and as it stands now."""
    from vault.services import leaks as leak_service

    with app.work(as_user) as ctx:
        info = leak_service.show(ctx, report).describe(ctx.now)
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
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
@click.option("--as", "as_user", required=True, help=_AS)
@pass_app
@handle_errors
def leaks_handle(app: App, report: int, note: str, as_user: str) -> None:
    """Mark a leak report handled (HQ executives). The report stays on record."""
    from vault.services import leaks as leak_service

    with app.work(as_user) as ctx:
        leak = leak_service.handle(ctx, report, note)
        state = leak_service.state(leak, ctx.now)
    click.echo(f"leak report {report} {STATE_TEXT[state]}")


# ---------------------------------------------------------------------------
# vault certificates


@main.group()
def certificates() -> None:
    """Certificates (证照): number, custodian, where the paper original is, validity.

    Copies and loans of a certificate are asked for with `vault copies request`
    (kinds copy and lend) and follow the copy-approval rules."""


def _date(text: str | None, option: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{option}: not a date {text!r}; write YYYY-MM-DD.",
                           code="bad_valid_until") from None


@certificates.command("list")
@click.option("--company", help="Company code (HQ executives and compliance: any).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--as", "as_user", required=True, help=_AS)
@pass_app
@handle_errors
def certificates_list(app: App, company: str | None, as_json: bool, as_user: str) -> None:
    """The certificate register of your company (custodians, the GM, HQ executives,
    compliance)."""
    from vault.services import accounts
    from vault.services import certificates as cert_service

    with app.work(as_user) as ctx:
        company_id = accounts.get_company(ctx.session, company).id if company else None
        rows: list[dict[str, Any]] = []
        for found in cert_service.list_certificates(ctx, company_id):
            cert = found.certificate
            rows.append({
                "id": found.document.id, "title": found.document.title,
                "kind": found.document.category, "company": found.document.company.code,
                "level": found.level.value, "marking": found.marking,
                "number": cert.number if cert else None,
                "custodian": cert.custodian.username if cert and cert.custodian else None,
                "original_location": cert.original_location if cert else None,
                "valid_until": cert.valid_until.isoformat() if cert and cert.valid_until
                else None,
                "validity": found.validity,
                "open_loans": [{"id": x.id, "borrower": x.borrower.username,
                                "due_on": x.due_on.isoformat(),
                                "lent_at": x.lent_at.isoformat() if x.lent_at else None}
                               for x in found.open_loans],
            })
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        loans = ", ".join(f"{x['borrower']} until {x['due_on']}" for x in r["open_loans"])
        flag = f" ({r['validity']})" if r["validity"] in ("expired", "expiring") else ""
        click.echo(f"{r['id']:>5}  {r['company']:<4} {r['kind']:<22} {r['title']}  "
                   f"[{r['marking']}]  no. {r['number'] or '—'}  custodian "
                   f"{r['custodian'] or '—'}  at {r['original_location'] or '—'}  "
                   f"valid until {r['valid_until'] or '—'}"
                   f"{flag}"
                   f"{'  lent: ' + loans if loans else ''}")
    click.echo(f"{len(rows)} certificate(s)", err=True)


@certificates.command("set")
@click.argument("document", type=click.IntRange(1, 2**31 - 1))
@click.option("--number", help="The certificate's number ('' clears it).")
@click.option("--custodian", help="User name of the person holding the original.")
@click.option("--location", help="Where the paper original is kept.")
@click.option("--valid-until", help="Last day of validity, YYYY-MM-DD ('' clears it).")
@click.option("--as", "as_user", required=True, help=_AS)
@pass_app
@handle_errors
def certificates_set(app: App, document: int, number: str | None, custodian: str | None,
                     location: str | None, valid_until: str | None, as_user: str) -> None:
    """Record a certificate's details (the owning company's custodian or GM). Only the
    options given change."""
    from vault.services import certificates as cert_service

    changes: dict[str, Any] = {}
    if number is not None:
        changes["number"] = number
    if custodian is not None:
        changes["custodian_username"] = custodian
    if location is not None:
        changes["original_location"] = location
    if valid_until is not None:
        changes["valid_until"] = _date(valid_until, "--valid-until")
    if not changes:
        click.echo("vault: nothing to change: give --number, --custodian, --location or "
                   "--valid-until.", err=True)
        sys.exit(2)
    with app.work(as_user) as ctx:
        cert = cert_service.set_details(ctx, document, **changes)
        shown = (cert.number, cert.custodian.username if cert.custodian else None,
                 cert.original_location, cert.valid_until)
    click.echo(f"certificate {document}: no. {shown[0] or '—'}, custodian {shown[1] or '—'}, "
               f"original at {shown[2] or '—'}, valid until "
               f"{shown[3].isoformat() if shown[3] else '—'}")
