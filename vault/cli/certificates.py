"""`vault certificates …`: certificates (证照): number, custodian, where the
paper original is kept, validity.
"""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

import click

from vault.cli.app import (
    AS_OPERATOR,
    App,
    pass_app,
)
from vault.cli.output import echo_json, table
from vault.errors import InvalidInput


@click.group()
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
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@pass_app
def certificates_list(app: App, company: str | None, as_json: bool, as_user: str) -> None:
    """The certificate register of your company (custodians, the GM, HQ executives,
    compliance)."""
    from vault.services import accounts, certificate_pages

    with app.work(as_user) as ctx:
        found = certificate_pages.rows(ctx, accounts.company_id(ctx, company), "zh")
    rows: list[dict[str, Any]] = [{
        "id": c.id, "title": c.title, "kind": c.kind, "company": c.company,
        "level": c.level, "marking": c.marking, "number": c.number,
        "custodian": c.custodian_username or None, "original_location": c.location,
        "valid_until": c.valid_until.isoformat() if c.valid_until else None,
        "validity": c.validity,
        "open_loans": [{"id": x.id, "borrower": x.borrower_person.username,
                        "due_on": x.due_on.isoformat(),
                        "lent_at": x.lent_at.isoformat() if x.lent_at else None}
                       for x in c.loans],
    } for c in found]
    if as_json:
        echo_json(rows)
        return
    table(["id", "company", "kind", "title", "marking", "number", "custodian", "kept at",
           "valid until", "lent"],
          [(r["id"], r["company"], r["kind"], r["title"], f"[{r['marking']}]", r["number"],
            r["custodian"], r["original_location"],
            (r["valid_until"] or "—") + (f" ({r['validity']})"
                                         if r["validity"] in ("expired", "expiring") else ""),
            ", ".join(f"{x['borrower']} until {x['due_on']}" for x in r["open_loans"]))
           for r in rows], right=[0])
    click.echo(f"{len(rows)} certificate(s)", err=True)


@certificates.command("set")
@click.argument("document", type=click.IntRange(1, 2**31 - 1))
@click.option("--number", help="The certificate's number ('' clears it).")
@click.option("--custodian", help="User name of the person holding the original.")
@click.option("--location", help="Where the paper original is kept.")
@click.option("--valid-until", help="Last day of validity, YYYY-MM-DD ('' clears it).")
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@pass_app
def certificates_set(app: App, document: int, number: str | None, custodian: str | None,
                     location: str | None, valid_until: str | None, as_user: str) -> None:
    """Record a certificate's details (the owning company's custodian or GM). Only the
    options given change."""
    from vault.services import certificate_pages
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
        cert_service.set_details(ctx, document, **changes)
        cert = certificate_pages.one(ctx, document, "zh")
    click.echo(f"certificate {document}: no. {cert.number or '—'}, custodian "
               f"{cert.custodian_username or '—'}, original at {cert.location or '—'}, "
               f"valid until {cert.valid_until.isoformat() if cert.valid_until else '—'}")
