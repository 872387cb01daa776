"""`vault loans …`: the lending register of paper originals and certificates."""

from __future__ import annotations

import click

from vault.cli.app import App, pass_app
from vault.cli.copies import company_id, loan_row
from vault.cli.output import echo_json, table


@click.group()
def loans() -> None:
    """The lending register (借出) of paper originals and certificates.

    A loan opens when its request is approved (`vault copies request --kind lend`).
    Every command acts as --as USER; the CLI runs on the server, by an operator who
    speaks for that person, without sign-in or re-authentication."""


@loans.command("list")
@click.option("--overdue", is_flag=True, help="Only originals kept past their due date.")
@click.option("--open", "open_only", is_flag=True, help="Only loans not yet returned.")
@click.option("--company", help="Company code (default: your own; HQ executives and "
                                "compliance: every company).")
@click.option("--as", "as_user", required=True, help="A custodian, GM, HQ executive or "
                                                     "compliance officer.")
@click.option("--json", "as_json", is_flag=True)
@pass_app
def loans_list(app: App, overdue: bool, open_only: bool, company: str | None, as_user: str,
               as_json: bool) -> None:
    """Loans by due date: approved (not handed over yet), lent, overdue, returned."""
    from vault.services import copy_pages

    with app.work(as_user) as ctx:
        found = copy_pages.loan_rows(ctx, "zh", company_id=company_id(ctx, company),
                                     overdue=overdue, open_only=open_only)
    rows = [loan_row(app, x) for x in found]
    if as_json:
        echo_json(rows)
        return
    table(["id", "state", "due", "borrower", "approved by", "title"],
          [(r["id"], r["state"], r["due_on"], r["borrower"], r["approved_by"],
            f"《{r['title']}》") for r in rows], right=[0])
    click.echo(f"{len(rows)} loan(s)", err=True)


@loans.command("hand-over")
@click.argument("loan_id", metavar="LOAN", type=int)
@click.option("--note", help="Kept in the register.")
@click.option("--as", "as_user", required=True, help="The owning company's custodian.")
@pass_app
def loans_hand_over(app: App, loan_id: int, note: str | None, as_user: str) -> None:
    """Record that the original of approved LOAN was handed to the borrower."""
    from vault.services import copies as copy_service
    from vault.services import copy_pages

    with app.work(as_user) as ctx:
        loan = copy_pages.loan_row(ctx, copy_service.hand_over(ctx, loan_id, note), "zh")
    click.echo(f"loan {loan_id}: handed over to {loan.borrower.username}, "
               f"due back {loan.due_on}")


@loans.command("return")
@click.argument("loan_id", metavar="LOAN", type=int)
@click.option("--note", help="Kept in the register.")
@click.option("--as", "as_user", required=True, help="The owning company's custodian.")
@pass_app
def loans_return(app: App, loan_id: int, note: str | None, as_user: str) -> None:
    """Record that the original of LOAN came back."""
    from vault.services import copies as copy_service

    with app.work(as_user) as ctx:
        copy_service.return_loan(ctx, loan_id, note)
    click.echo(f"loan {loan_id}: returned")
