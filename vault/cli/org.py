"""`vault org …`: companies and departments."""

from __future__ import annotations

import click

from vault.cli.app import App, pass_app


@click.group()
def org() -> None:
    """Companies and departments."""


@org.command("add-company")
@click.argument("code")
@click.argument("name")
@click.option("--hq", is_flag=True, help="This is the head office (总公司).")
@pass_app
def add_company(app: App, code: str, name: str, hq: bool) -> None:
    """Add a company."""
    from vault.services import accounts

    with app.work(None) as ctx:
        accounts.create_company(ctx, code, name, hq=hq)
    click.echo(f"company {code} added{' (HQ)' if hq else ''}")


@org.command("add-department")
@click.argument("company")
@click.argument("dept")
@click.argument("name")
@pass_app
def add_department(app: App, company: str, dept: str, name: str) -> None:
    """Add a department to COMPANY."""
    from vault.services import accounts

    with app.work(None) as ctx:
        accounts.create_department(ctx, company, dept, name)
    click.echo(f"department {company}/{dept} added")
