"""`vault meetings …`: tenant meetings (租户大会) and who attended."""

from __future__ import annotations

import click

from vault.cli.app import App, pass_app


@click.group()
def meetings() -> None:
    """Tenant meetings (租户大会): the tenants present at a meeting whose minutes are a
    document of category tenant_meeting_minutes (register it with `vault import`)."""


@meetings.command("attendees")
@click.argument("document", type=int)
@click.option("--as", "as_user", required=True)
@click.option("--tenant", "tenant_codes", multiple=True, help="A tenant present (repeat).")
@pass_app
def meetings_attendees(app: App, document: int, as_user: str,
                       tenant_codes: tuple[str, ...]) -> None:
    """Record the tenants present (replaces the list); without --tenant, show it."""
    from vault.services import meetings as service

    with app.work(as_user) as ctx:
        meeting = (service.set_attendees(ctx, document, list(tenant_codes)) if tenant_codes
                   else service.show(ctx, document))
    click.echo(f"{meeting.title} ({meeting.meeting_on}): "
               + (", ".join(f"{code} {name}" for code, name in meeting.attendees) or "-"))
