"""`vault tenants …`: tenants and their archives (租户档案).

Like every --as command, these run on the server, by an operator who speaks for
the person named. Exit statuses as elsewhere: 0 done, 1 refused, 2 bad input or an
unknown object (a tenant or notice out of the person's scope is unknown).
"""

from __future__ import annotations

from typing import Any

import click

from vault.cli.app import (
    AS_OPERATOR,
    App,
    pass_app,
)
from vault.cli.output import echo_json, table


@click.group()
def tenants() -> None:
    """Tenants and their archives (租户档案).

    A company's employees know of its tenants (HQ executives, compliance and
    administrators: all); its custodians and the administrators add and update
    them. A tenant's archive lists only the documents the person may know of."""


def _tenant_row(t: Any) -> dict[str, Any]:
    """A tenant (tenant_pages.TenantRow) as printed."""
    return {"code": t.code, "name": t.name, "unit": t.unit, "contact": t.contact,
            "status": t.status}


@tenants.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--unit", help="The unit rented, e.g. A座1201.")
@click.option("--contact", help="Contact person and telephone.")
@click.option("--company", help="Company code (default: the person's own).")
@click.option("--as", "as_user", required=True, help="A custodian of the company, or an "
                                                     "administrator.")
@pass_app
def tenants_add(app: App, code: str, name: str, unit: str | None, contact: str | None,
                company: str | None, as_user: str) -> None:
    """Add tenant CODE named NAME."""
    from vault.services import tenant_pages
    from vault.services import tenants as tenant_service

    with app.work(as_user) as ctx:
        t = tenant_pages.tenant_row(
            ctx, tenant_service.create_tenant(ctx, code, name, unit, contact, company))
    click.echo(f"added tenant {t.code}")


@tenants.command("update")
@click.argument("code")
@click.option("--name", help="A new name.")
@click.option("--unit", help="A new unit ('' clears it).")
@click.option("--contact", help="A new contact ('' clears it).")
@click.option("--status", type=click.Choice(["active", "moved_out"]))
@click.option("--as", "as_user", required=True, help="A custodian of the tenant's company, "
                                                     "or an administrator.")
@pass_app
def tenants_update(app: App, code: str, name: str | None, unit: str | None,
                   contact: str | None, status: str | None, as_user: str) -> None:
    """Change tenant CODE's name, unit, contact or status."""
    from vault.services import tenant_pages
    from vault.services import tenants as tenant_service

    with app.work(as_user) as ctx:
        row = _tenant_row(tenant_pages.tenant_row(ctx, tenant_service.update_tenant(
            ctx, code, name=name, unit=unit, contact=contact, status=status)))
    click.echo(f"updated tenant {row['code']}: {row['name']} {row['unit'] or ''} "
               f"[{row['status']}]")


@tenants.command("list")
@click.option("--search", "text", help="Words in the code, name or unit.")
@click.option("--status", type=click.Choice(["active", "moved_out"]))
@click.option("--company", help="Company code.")
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def tenants_list(app: App, text: str | None, status: str | None, company: str | None,
                 as_user: str, as_json: bool) -> None:
    """The tenants the person may know of, by code."""
    from vault.services import tenant_pages

    with app.work(as_user) as ctx:
        found = tenant_pages.tenant_rows(ctx, text, status, company)
    rows = [_tenant_row(t) for t in found]
    if as_json:
        echo_json(rows)
        return
    table(["code", "name", "unit", "contact", ""],
          [(r["code"], r["name"], r["unit"], r["contact"],
            "" if r["status"] == "active" else "[moved out]") for r in rows])
    click.echo(f"{len(rows)} tenant(s)", err=True)


@tenants.command("show")
@click.argument("code")
@click.option("--search", "text", help="Words in the titles.")
@click.option("--as", "as_user", required=True, help=AS_OPERATOR)
@click.option("--json", "as_json", is_flag=True)
@pass_app
def tenants_show(app: App, code: str, text: str | None, as_user: str, as_json: bool) -> None:
    """Tenant CODE's archive by category, with counts (audited)."""
    from vault.services import tenant_pages

    with app.work(as_user) as ctx:
        arch = tenant_pages.tenant_archive(ctx, code, text, None, "zh")
    info: dict[str, Any] = {
        "tenant": _tenant_row(arch.tenant),
        "catalogue": [{"category": c, "count": n} for c, n in arch.catalogue],
        "total": arch.total, "matches": arch.matches,
        "documents": [{"id": d.id, "title": d.title, "category": d.category,
                       "level": d.level, "marking": d.marking,
                       "issued_on": d.issued_on.isoformat()}
                      for _category, docs in arch.groups for d in docs],
    }
    if as_json:
        echo_json(info)
        return
    t = info["tenant"]
    click.echo(f"{t['code']}  {t['name']}  {t['unit'] or '—'}  [{t['status']}]")
    for entry in info["catalogue"]:
        click.echo(f"  {entry['category']:<22} {entry['count']:>4}")
    click.echo(f"  {'total':<22} {info['total']:>4}")
    table(["id", "category", "marking", "title"],
          [(d["id"], d["category"], d["marking"], d["title"]) for d in info["documents"]],
          right=[0])
