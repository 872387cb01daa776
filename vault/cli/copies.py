"""`vault copies …`: requests for copies, excerpts, prints, loans and classification
changes (SPEC.md §3), and the copy register.

Like every --as command, these run on the server, by an operator who speaks for the
person named: there is no sign-in and no re-authentication here (the web asks for a
fresh sign-in before a decision)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from vault.cli.app import (
    AS_OPERATOR,
    App,
    parse_date,
    pass_app,
    stamp,
)
from vault.cli.files import atomic_file
from vault.cli.output import echo_json, table
from vault.errors import InvalidInput
from vault.policy import CopyKind

_KINDS = [k.value for k in CopyKind]
_COPY_STATUSES = ["issued", "returned", "destroyed"]


def _username(who: Any) -> str | None:
    return who.username if who is not None else None


def _request_row(app: App, r: Any) -> dict[str, Any]:
    """A request (copy_pages.RequestRow) as `copies list|show --json` print it."""
    return {
        "id": r.id, "state": r.state, "kind": r.kind, "document": r.document.id,
        "title": r.document.title, "level": r.level_at_request,
        "requester": r.requester.username, "purpose": r.purpose,
        "pages": r.pages, "approved_pages": r.approved_pages,
        "due_on": r.due_on.isoformat() if r.due_on else None,
        "new_level": r.new_level, "new_period": r.new_period,
        "default_no": r.default_no, "created_at": stamp(app, r.created_at),
        "decided_by": _username(r.decided_by), "decided_at": stamp(app, r.decided_at),
        "decision_note": r.decision_note, "window_until": stamp(app, r.window_until),
    }


def _copy_row(app: App, c: Any) -> dict[str, Any]:
    """A registered copy (copy_pages.CopyRow, with its document) as printed."""
    return {
        "id": c.id, "label": c.label, "status": c.status,
        "document": c.document_id, "title": c.document.title, "kind": c.kind,
        "version": c.version, "pages": c.pages, "request": c.request_id,
        "recipient": c.recipient.username, "recipient_name": c.recipient.name,
        "approved_by": _username(c.approved_by),
        "approved_by_name": c.approved_by.name if c.approved_by else None,
        "issued_at": stamp(app, c.issued_at), "level_at_issue": c.level_at_issue,
        "period_at_issue": c.period_at_issue, "level_now": c.level_now,
        "stamped": c.stamped, "sha256": c.sha256, "size": c.size,
        "closed_at": stamp(app, c.closed_at), "closed_by": _username(c.closed_by),
        "closed_note": c.closed_note,
    }


def loan_row(app: App, x: Any) -> dict[str, Any]:
    """A loan (copy_pages.LoanRow) as `loans list --json` prints it."""
    return {
        "id": x.id, "state": x.state, "document": x.document.id,
        "title": x.document.title, "request": x.request_id,
        "borrower": x.borrower.username, "approved_by": _username(x.approved_by),
        "approved_at": stamp(app, x.approved_at), "due_on": x.due_on.isoformat(),
        "lent_at": stamp(app, x.lent_at), "lent_by": _username(x.lent_by),
        "returned_at": stamp(app, x.returned_at),
        "returned_by": _username(x.returned_by), "note": x.note,
    }


def company_id(ctx: Any, code: str | None) -> int | None:
    from vault.services import accounts

    return accounts.company_id(ctx, code)


@click.group()
def copies() -> None:
    """Requests for copies, excerpts, prints, loans and classification changes; the
    copy register.

    Every command acts as --as USER. The CLI runs on the server, by an operator who
    speaks for that person: it neither signs in nor re-authenticates (the web asks
    for a fresh sign-in before a decision). Exit 2 for bad input or an unknown
    request, 1 for a refusal."""


@copies.command("request")
@click.argument("document", type=int)
@click.option("--kind", required=True, type=click.Choice(_KINDS),
              help="copy, excerpt (pages), print, lend (certificates and paper originals), "
                   "extend (the period), downgrade, declassify (early).")
@click.option("--purpose", required=True, help="Why it is needed (the approver reads it).")
@click.option("--pages", help="Excerpt: the pages, e.g. 1-3,5.")
@click.option("--due", help="Loan: the return date YYYY-MM-DD.")
@click.option("--level", help="Downgrade: the new, lower level.")
@click.option("--period", help="Extension: the new period, e.g. 15y or 2040-12-31.")
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@pass_app
def copies_request(app: App, document: int, kind: str, purpose: str, pages: str | None,
                   due: str | None, level: str | None, period: str | None,
                   as_user: str) -> None:
    """Ask for a copy (or excerpt, print, loan, classification change) of DOCUMENT.

    Prints the request id and who may decide it."""
    from vault.services import copies as copy_service
    from vault.services import copy_pages, documents

    due_on = parse_date(due, "--due")
    new_level = documents.parse_level(level) if level else None
    new_period = documents.parse_period(period) if period else None
    with app.work(as_user) as ctx:
        done = copy_pages.asked(ctx, copy_service.request(
            ctx, document, copy_service.parse_kind(kind), purpose, pages=pages,
            new_level=new_level, new_period=new_period, due_on=due_on), "zh")
    req = done.request
    click.echo(f"request {req.id}: {kind} of document {document} 《{req.document.title}》 "
               f"[{req.document.marking}], pending")
    click.echo(f"route: {', '.join(done.route)}")
    click.echo("approval from:")
    for who in done.approvers:
        click.echo(f"  {who.username} ({who.name})")
    if not done.approvers:
        click.echo("  (nobody holds the approving office now)")
    if req.default_no:
        click.echo("note: the default answer for 绝密 copies is no (原则上不允许); "
                   "the approver must be persuaded by the purpose")


@copies.command("list")
@click.option("--to-decide", is_flag=True,
              help="Pending requests you may decide now (default: your own requests).")
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def copies_list(app: App, to_decide: bool, as_user: str, as_json: bool) -> None:
    """Your requests, newest first; with --to-decide, the ones waiting for you."""
    from vault.services import copy_pages

    with app.work(as_user) as ctx:
        found = copy_pages.to_decide(ctx, "zh") if to_decide else copy_pages.mine(ctx, "zh")
    rows = [_request_row(app, r) for r in found]
    if as_json:
        echo_json(rows)
        return
    table(["id", "state", "kind", "document", "requester", "asked at", "title", ""],
          [(r["id"], r["state"], r["kind"], r["document"], r["requester"], r["created_at"],
            f"《{r['title']}》",
            "[default no]" if r["default_no"] and r["state"] == "pending" else "")
           for r in rows], right=[0, 3])
    click.echo(f"{len(rows)} request(s)", err=True)


@copies.command("show")
@click.argument("request_id", metavar="REQUEST", type=int)
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def copies_show(app: App, request_id: int, as_user: str, as_json: bool) -> None:
    """A request's metadata, route, decision and the requester's recent copies (never
    the file's content)."""
    from vault.services import copy_pages

    with app.work(as_user) as ctx:
        view = copy_pages.request_page(ctx, request_id, "zh")
    info = _request_row(app, view.req)
    info.update({
        "may_decide": view.may_decide, "decide_reason": view.decide_reason,
        "may_download": view.may_download,
        "approvers": [u.username for u in view.approvers],
        "copy": view.registered.label if view.registered else None,
        "loan": view.loan.id if view.loan else None,
        "requester_history": [
            {"label": c.label, "issued_at": stamp(app, c.issued_at), "status": c.status}
            for c in view.history
        ],
    })
    if as_json:
        echo_json(info)
        return
    click.echo(f"request {info['id']}: {info['kind']} of document {info['document']} "
               f"《{info['title']}》 ({info['level']})")
    for key in ("state", "requester", "purpose", "pages", "approved_pages", "due_on",
                "new_level", "new_period", "created_at", "decided_by", "decided_at",
                "decision_note", "window_until", "copy", "loan"):
        if info[key] is not None:
            click.echo(f"  {key:<16} {info[key]}")
    if info["default_no"]:
        click.echo("  note             the default answer for 绝密 copies is no (原则上不允许)")
    if info["state"] == "pending":
        click.echo(f"  approvers        {', '.join(info['approvers']) or '(nobody now)'}")
        click.echo(f"  you may decide   {'yes' if info['may_decide'] else 'no'} "
                   f"({info['decide_reason']})")
    if info["may_download"]:
        click.echo(f"  download         once, before {info['window_until']}: "
                   f"vault copies download {info['id']} --as {info['requester']} -o FILE")
    history = info["requester_history"]
    click.echo(f"  requester's recent copies: {len(history) or 'none'}")
    for item in history:
        click.echo(f"    {item['issued_at']}  {item['label']}  {item['status']}")


@copies.command("approve")
@click.argument("request_id", metavar="REQUEST", type=int)
@click.option("--window-hours", type=int,
              help="A shorter download window in hours (default: VAULT_COPY_WINDOW_HOURS).")
@click.option("--pages", help="Excerpt: approve fewer pages than asked, e.g. 1-2.")
@click.option("--note", help="A note kept with the decision.")
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@pass_app
def copies_approve(app: App, request_id: int, window_hours: int | None, pages: str | None,
                   note: str | None, as_user: str) -> None:
    """Approve REQUEST (never your own; only while you hold the approving office).

    No re-authentication here: the operator on the server answers for it."""
    from vault.services import copies as copy_service
    from vault.services import copy_pages

    with app.work(as_user) as ctx:
        req = copy_pages.request_row(ctx, copy_service.approve(
            ctx, request_id, window_hours=window_hours, pages=pages, note=note), "zh")
    kind = CopyKind(req.kind)
    click.echo(f"request {request_id} approved")
    if kind in copy_service.DELIVERING:
        click.echo(f"{req.requester.username} may download it once, before "
                   f"{stamp(app, req.window_until)}")
    elif kind is CopyKind.LEND:
        click.echo(f"loan opened: the custodian hands the original to "
                   f"{req.requester.username}, due back {req.due_on}")
    else:
        click.echo(f"document {req.document.id} is now [{req.document.marking}]")


@copies.command("reject")
@click.argument("request_id", metavar="REQUEST", type=int)
@click.option("--reason", required=True, help="Why (the requester reads it).")
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@pass_app
def copies_reject(app: App, request_id: int, reason: str, as_user: str) -> None:
    """Reject REQUEST with a reason.

    No re-authentication here: the operator on the server answers for it."""
    from vault.services import copies as copy_service

    with app.work(as_user) as ctx:
        copy_service.reject(ctx, request_id, reason)
    click.echo(f"request {request_id} rejected")


@copies.command("cancel")
@click.argument("request_id", metavar="REQUEST", type=int)
@click.option("--as", "as_user", required=True, help="The requester.")
@pass_app
def copies_cancel(app: App, request_id: int, as_user: str) -> None:
    """Withdraw your own pending REQUEST."""
    from vault.services import copies as copy_service

    with app.work(as_user) as ctx:
        copy_service.cancel(ctx, request_id)
    click.echo(f"request {request_id} cancelled")


@copies.command("issue")
@click.argument("request_id", metavar="REQUEST", type=int)
@click.option("--note", help="Kept in the audit trail.")
@click.option("--as", "as_user", required=True, help="The owning company's custodian.")
@pass_app
def copies_issue(app: App, request_id: int, note: str | None, as_user: str) -> None:
    """Issue the approved photocopy of a paper-only certificate (REQUEST): the copy
    register gets its row; write the copy number printed here on the paper copy."""
    from vault.services import copies as copy_service
    from vault.services import copy_pages

    with app.work(as_user) as ctx:
        copy = copy_pages.copy_row(ctx, copy_service.issue_photocopy(ctx, request_id, note),
                                   "zh", with_document=False)
    click.echo(f"issued {copy.label} to {copy.recipient.username}; write this copy number on the "
               "photocopy (复印件视同原件)")


@copies.command("download")
@click.argument("request_id", metavar="REQUEST", type=int)
@click.option("-o", "--out", "out", required=True, type=click.Path(path_type=Path),
              help="The file to write.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@click.option("--as", "as_user", required=True, help="The requester.")
@pass_app
def copies_download(app: App, request_id: int, out: Path, force: bool, as_user: str) -> None:
    """Write the approved copy of REQUEST to OUT: numbered, stamped on every page and
    registered. An approval gives one download, within its window."""
    from vault.services import copies as copy_service

    delivered: str | None = None
    try:
        # The file is opened before the approval is spent: an unwritable OUT costs nothing.
        with atomic_file(out, replace=force) as fh:
            with app.work(as_user) as ctx:
                delivery = copy_service.download(ctx, request_id)
                delivered, stamped = delivery.copy.label, delivery.copy.stamped
            with click.progressbar(length=max(delivery.size, 1), label="writing",
                                   file=sys.stderr) as bar:
                for chunk in delivery.chunks:
                    fh.write(chunk)
                    bar.update(len(chunk))
    except InvalidInput as exc:
        if delivered is not None and exc.code == "cannot_write":
            raise InvalidInput(f"{exc.message} Copy {delivered} is registered to {as_user} but "
                               "was not written; tell the custodian.", code=exc.code) from None
        raise
    how = "stamped" if stamped else "not stampable: delivered as stored, fingerprint registered"
    click.echo(f"wrote {out} ({delivery.size} bytes): copy {delivered} ({how})")


@copies.command("register")
@click.option("--status", type=click.Choice(_COPY_STATUSES))
@click.option("--document", "document_id", type=int, help="Only copies of this document.")
@click.option("--company", help="Company code (default: your own; HQ executives and "
                                "compliance: every company).")
@click.option("--as", "as_user", required=True, help="A custodian, GM, HQ executive or "
                                                     "compliance officer.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def copies_register(app: App, status: str | None, document_id: int | None, company: str | None,
                    as_user: str, as_json: bool) -> None:
    """The copy register (复印件视同原件): every copy that left Vault, newest first."""
    from vault.services import copy_pages

    with app.work(as_user) as ctx:
        found = copy_pages.copy_rows(ctx, "zh", company_id=company_id(ctx, company),
                                     status=status, document_id=document_id)
    rows = [_copy_row(app, c) for c in found]
    if as_json:
        echo_json(rows)
        return
    table(["id", "copy", "status", "recipient", "approved by", "issued at", "title"],
          [(r["id"], r["label"], r["status"], r["recipient"], r["approved_by"], r["issued_at"],
            f"《{r['title']}》") for r in rows], right=[0])
    click.echo(f"{len(rows)} copy(ies)", err=True)


@copies.command("lookup")
@click.argument("number")
@click.option("--as", "as_user", required=True, help="A register reader, or the recipient.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def copies_lookup(app: App, number: str, as_user: str, as_json: bool) -> None:
    """Who received copy NUMBER (as printed on it, e.g. "机密-2026-0042 副本 3"), who
    approved it, and when."""
    from vault.services import copy_pages

    with app.work(as_user) as ctx:
        found = copy_pages.lookup(ctx, number, "zh")
    info = _copy_row(app, found.copy)
    if as_json:
        echo_json(info)
        return
    click.echo(f"{info['label']}  《{info['title']}》 (document {info['document']})")
    click.echo(f"  recipient        {info['recipient']} ({info['recipient_name']})")
    approver = (f"{info['approved_by']} ({info['approved_by_name']})" if info["approved_by"]
                else "—")
    click.echo(f"  approved by      {approver}")
    for key in ("issued_at", "kind", "version", "pages", "level_at_issue", "period_at_issue",
                "level_now", "stamped", "sha256", "status", "closed_at", "closed_by",
                "closed_note"):
        if info[key] is not None:
            click.echo(f"  {key:<16} {info[key]}")


def _close_copy(app: App, copy_id: int, status: str, note: str | None, as_user: str) -> None:
    from vault.services import copies as copy_service
    from vault.services import copy_pages

    with app.work(as_user) as ctx:
        copy = copy_pages.copy_row(ctx, copy_service.close_copy(ctx, copy_id, status, note),
                                   "zh", with_document=False)
    click.echo(f"copy {copy_id} ({copy.label}) recorded as {status}")


@copies.command("return")
@click.argument("copy_id", metavar="COPY", type=int)
@click.option("--note", help="Kept in the register.")
@click.option("--as", "as_user", required=True, help="The owning company's custodian.")
@pass_app
def copies_return(app: App, copy_id: int, note: str | None, as_user: str) -> None:
    """Record that registered copy COPY (its id in the register) came back."""
    _close_copy(app, copy_id, "returned", note, as_user)


@copies.command("destroy")
@click.argument("copy_id", metavar="COPY", type=int)
@click.option("--note", help="Kept in the register (e.g. how it was destroyed).")
@click.option("--as", "as_user", required=True, help="The owning company's custodian.")
@pass_app
def copies_destroy(app: App, copy_id: int, note: str | None, as_user: str) -> None:
    """Record that registered copy COPY (its id in the register) was destroyed."""
    _close_copy(app, copy_id, "destroyed", note, as_user)
