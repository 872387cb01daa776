"""Tenants (租户): the owners of tenant archives."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vault.errors import Conflict
from vault.models import Tenant
from vault.services.accounts import check_code, check_name


def add_tenant(
    session: Session,
    code: str,
    name: str,
    unit: str | None = None,
    contact: str | None = None,
    company_id: int | None = None,
) -> Tenant:
    check_code(code, "Tenant")
    name = check_name(name, "Tenant")
    if session.scalar(select(Tenant).where(Tenant.code == code)) is not None:
        raise Conflict(f"A tenant with code {code!r} already exists.", code="tenant_exists")
    tenant = Tenant(code=code, name=name, unit=unit, contact=contact, company_id=company_id)
    session.add(tenant)
    session.flush()
    return tenant
