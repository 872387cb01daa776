"""`vault letters …`: outgoing letters with seal approval (对外发文与用章申请) and open
letters (公开信) — templates (administrators), drafting, the seal request and its
decisions, sending to tenants.

Attached to the `vault` group in vault/cli/__init__.py.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TextIO

import click

from vault.cli.app import App, parse_date, pass_app
from vault.cli.output import echo_json
from vault.policy import Level


def _stamp(app: App, value: datetime | None) -> str:
    return value.astimezone(app.settings.tz).strftime("%Y-%m-%d %H:%M") if value else "-"


@click.group()
def letters() -> None:
    """Outgoing letters (对外发文): drawn from a template as an encrypted PDF, sealed
    after the department's manager and the general manager approve (用章申请), then
    sent to tenants and signed off as notices are."""


@letters.command("templates")
@click.option("--as", "as_user", required=True)
@click.option("--all", "include_inactive", is_flag=True, help="Inactive ones too (admins).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def letters_templates(app: App, as_user: str, include_inactive: bool, as_json: bool) -> None:
    """The letter templates you may draft with."""
    from vault.services import letters as service

    with app.work(as_user) as ctx:
        rows = service.templates(ctx, include_inactive=include_inactive)
    if as_json:
        echo_json([asdict(r) for r in rows])
        return
    for t in rows:
        head = t.letterhead.splitlines()[0] if t.letterhead else ""
        click.echo(f"{t.id:>4}  {t.name:<20} {t.company or '(group)':<8} "
                   f"{'active' if t.active else 'inactive':<9} {head}")


@letters.command("template")
@click.option("--as", "as_user", required=True, help="An administrator.")
@click.option("--id", "template_id", type=int, default=None, help="Change this template.")
@click.option("--name", required=True)
@click.option("--letterhead", required=True, help="Lines at the head (\\n between lines).")
@click.option("--closing", required=True, help="The sender's block above the date.")
@click.option("--company", default=None, help="Company code (none: the whole group).")
@click.option("--inactive", is_flag=True, help="Withdraw it from drafting.")
@pass_app
def letters_template(app: App, as_user: str, template_id: int | None, name: str,
                     letterhead: str, closing: str, company: str | None,
                     inactive: bool) -> None:
    """Add a letter template, or change one (--id)."""
    from vault.services import letters as service

    with app.work(as_user) as ctx:
        row = service.save_template(
            ctx, name=name, letterhead=letterhead.replace("\\n", "\n"),
            closing=closing.replace("\\n", "\n"), company_code=company,
            template_id=template_id, active=not inactive)
    click.echo(f"template {row.id} saved")


@letters.command("draft")
@click.option("--as", "as_user", required=True)
@click.option("--template", "template_id", type=int, required=True)
@click.option("--title", required=True, help="The letter's subject.")
@click.option("--to", "addressee", required=True, help="The addressee (致).")
@click.option("--body", default=None, help="The text (or --body-file).")
@click.option("--body-file", type=click.File("r", encoding="utf-8"), default=None)
@click.option("--date", "letter_on", default=None, help="The letter's date (default: today).")
@click.option("--open-letter", is_flag=True, help="An open letter (公开信).")
@click.option("--request", "request_refs", multiple=True,
              help="A request an open letter answers (repeat).")
@click.option("--level", default=None,
              type=click.Choice([lv.value for lv in Level]), help="Default: internal.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def letters_draft(app: App, as_user: str, template_id: int, title: str, addressee: str,
                  body: str | None, body_file: TextIO | None,
                  letter_on: str | None, open_letter: bool, request_refs: tuple[str, ...],
                  level: str | None, as_json: bool) -> None:
    """Draft a letter: its PDF is stored encrypted; prints its number and id."""
    from vault.services import letters as service

    if (body is None) == (body_file is None):
        raise click.UsageError("Give the text with --body or --body-file.")
    text = body if body is not None else body_file.read(service.MAX_BODY + 1) if body_file else ""
    with app.work(as_user) as ctx:
        view = service.draft(
            ctx, template_id=template_id, title=title, addressee=addressee, body=text,
            letter_on=parse_date(letter_on, "--date"),
            kind="open" if open_letter else "letter", level=Level(level) if level else None,
            request_refs=list(request_refs))
    if as_json:
        echo_json(asdict(view))
    else:
        click.echo(f"{view.letter.number} (letter {view.letter.id}, document "
                   f"{view.letter.document_id}) drafted")


@letters.command("ls")
@click.option("--as", "as_user", required=True)
@click.option("--status", default=None, type=click.Choice(["draft", "pending", "sealed"]))
@click.option("--open-letters", is_flag=True, help="Only open letters (回访档案).")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def letters_ls(app: App, as_user: str, status: str | None, open_letters: bool,
               as_json: bool) -> None:
    """Letters you may know of, newest first."""
    from vault.services import letters as service

    with app.work(as_user) as ctx:
        rows = service.search(ctx, status=status, kind="open" if open_letters else None)
    if as_json:
        echo_json([asdict(r) for r in rows])
        return
    for r in rows:
        sealed = f"sealed by {r.sealed_by} {_stamp(app, r.sealed_at)}" if r.sealed_by else ""
        click.echo(f"{r.id:>5} {r.number:<18} {r.kind:<6} {r.status:<8} {r.title}  {sealed}")
    click.echo(f"{len(rows)} letter(s)")


@letters.command("show")
@click.argument("letter", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def letters_show(app: App, letter: int, as_user: str, as_json: bool) -> None:
    """A letter with its seal requests and decisions."""
    from vault.services import letters as service

    with app.work(as_user) as ctx:
        view = service.show(ctx, letter)
    if as_json:
        echo_json(asdict(view))
        return
    r = view.letter
    click.echo(f"{r.number}  {r.title}  [{r.status}]  document {r.document_id}")
    click.echo(f"drafted by {r.drafter} {_stamp(app, r.created_at)}; template {view.template}")
    if r.sealed_by:
        click.echo(f"已用印 sealed by {r.sealed_by} {_stamp(app, r.sealed_at)}")
    for s in view.seals:
        click.echo(f"seal request {s.id}: {s.status}, route {' → '.join(s.route)}"
                   + (f", awaiting {s.awaiting}" if s.awaiting else ""))
        for d in s.decisions:
            click.echo(f"  step {d.step + 1} {d.scope}: {'approved' if d.approved else 'refused'}"
                       f" by {d.decided_by} {_stamp(app, d.decided_at)}"
                       + (f" — {d.note}" if d.note else ""))
    for _, number in view.requests:
        click.echo(f"answers {number}")


@letters.command("request-seal")
@click.argument("letter", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--purpose", required=True, help="What the letter is for.")
@pass_app
def letters_request_seal(app: App, letter: int, as_user: str, purpose: str) -> None:
    """Ask for the company seal (用章申请)."""
    from vault.services import letters as service

    with app.work(as_user) as ctx:
        seal = service.request_seal(ctx, letter, purpose)
    click.echo(f"seal request {seal.id}: route {' → '.join(seal.route)}")


@letters.command("to-decide")
@click.option("--as", "as_user", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def letters_to_decide(app: App, as_user: str, as_json: bool) -> None:
    """Seal requests awaiting your decision."""
    from vault.services import letters as service

    with app.work(as_user) as ctx:
        rows = service.to_decide(ctx)
    if as_json:
        echo_json([asdict(r) for r in rows])
        return
    for s in rows:
        click.echo(f"{s.id:>5} {s.letter_number:<18} {s.requester:<10} {s.purpose}")
    click.echo(f"{len(rows)} to decide")


@letters.command("approve")
@click.argument("seal_request", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--note", default=None)
@pass_app
def letters_approve(app: App, seal_request: int, as_user: str, note: str | None) -> None:
    """Approve the step of a seal request awaiting you."""
    from vault.services import letters as service

    with app.work(as_user) as ctx:
        seal = service.approve_seal(ctx, seal_request, note)
    click.echo(f"seal request {seal.id}: " + (f"awaiting {seal.awaiting}" if seal.awaiting
                                               else "approved — the letter is sealed (已用印)"))


@letters.command("reject")
@click.argument("seal_request", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--reason", required=True)
@pass_app
def letters_reject(app: App, seal_request: int, as_user: str, reason: str) -> None:
    """Refuse a seal request, with the reason; the letter returns to draft."""
    from vault.services import letters as service

    with app.work(as_user) as ctx:
        seal = service.reject_seal(ctx, seal_request, reason)
    click.echo(f"seal request {seal.id}: refused")


@letters.command("send")
@click.argument("letter", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--tenant", "tenant_codes", multiple=True, required=True,
              help="A tenant to send it to (repeat); the list replaces the recipients.")
@pass_app
def letters_send(app: App, letter: int, as_user: str, tenant_codes: tuple[str, ...]) -> None:
    """Send a sealed letter to tenants (their sign-offs: `vault notices …`)."""
    from vault.services import letters as service

    with app.work(as_user) as ctx:
        change = service.send(ctx, letter, list(tenant_codes))
    click.echo(f"{change.total} recipient(s); added {', '.join(change.added) or '-'}")
