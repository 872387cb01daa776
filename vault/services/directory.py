"""What the administration pages read: the organisation and its people, with each
person's roles, state and second factor. Administrators only
(`policy.can_administer`); a refusal is an audit event (``org:view``). The changes
themselves are the audited use cases of `vault.services.accounts` and
`vault.services.totp`. Nothing here touches documents: administrators manage
people, not content."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from vault import policy
from vault.actions import Action
from vault.errors import Forbidden
from vault.models import Company, Department, User
from vault.services import accounts, totp
from vault.services.context import Ctx

ROLES: tuple[str, ...] = tuple(r.value for r in policy.Role)


def require_admin(ctx: Ctx, action: Action = Action.ORG_VIEW, **kwargs: object) -> None:
    """Refuse (audited as ``action``) anyone but an administrator. For acts whose use
    case lets people act on themselves (`accounts.change_password`), so that the
    administration pages stay administrators' alone."""
    decision = policy.can_administer(ctx.subject)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("Only administrators manage people and the organisation.",
                                   code=decision.reason.value),
                         action, **kwargs)


def _require(ctx: Ctx, **kwargs: object) -> None:
    require_admin(ctx, Action.ORG_VIEW, **kwargs)


@dataclass(frozen=True)
class DepartmentRow:
    code: str
    name: str


@dataclass(frozen=True)
class CompanyRow:
    code: str
    name: str
    is_hq: bool
    departments: list[DepartmentRow]


@dataclass(frozen=True)
class PersonRow:
    username: str
    name: str
    email: str | None
    company: str
    department: str | None
    roles: list[str]
    active: bool
    second_factor: str  # "on", "pending" (enrolment not confirmed) or "off"
    second_factor_required: bool
    locked: bool


@dataclass(frozen=True)
class Directory:
    companies: list[CompanyRow]
    people: list[PersonRow]
    # Codes of companies with no active custodian (各公司指派专人保管): to be fixed.
    without_custodian: list[str] = field(default_factory=list)


def _person(ctx: Ctx, user: User, factors: dict[int, str]) -> PersonRow:
    return PersonRow(
        username=user.username,
        name=user.name,
        email=user.email,
        company=user.company.code,
        department=user.department.code if user.department else None,
        roles=sorted(user.roles),
        active=user.active,
        second_factor=factors.get(user.id, "off"),
        second_factor_required=totp.is_required(ctx, user),
        locked=user.locked_until is not None and user.locked_until > ctx.now,
    )


def companies(ctx: Ctx) -> list[CompanyRow]:
    """Every company (HQ first) with its departments."""
    _require(ctx, object_type="company")
    rows = ctx.session.scalars(
        select(Company).options(selectinload(Company.departments))
        .order_by(Company.is_hq.desc(), Company.code)
    )
    return [
        CompanyRow(c.code, c.name, c.is_hq,
                   [DepartmentRow(d.code, d.name) for d in sorted(c.departments,
                                                                  key=lambda d: d.code)])
        for c in rows
    ]


def overview(ctx: Ctx) -> Directory:
    """The organisation and everyone in it."""
    orgs = companies(ctx)
    factors = totp.states(ctx)
    users = ctx.session.scalars(
        select(User).options(selectinload(User.company), selectinload(User.department))
        .order_by(User.username)
    )
    return Directory(orgs, [_person(ctx, u, factors) for u in users],
                     [c.code for c in accounts.companies_without_custodian(ctx.session)])


def person(ctx: Ctx, username: str) -> PersonRow:
    """One person (`NotFound` when there is none)."""
    _require(ctx, object_type="user", object_id=username[:64])
    user = accounts.get_user(ctx.session, username)
    return _person(ctx, user, totp.states(ctx))


def department_choices(ctx: Ctx) -> list[tuple[str, str, str]]:
    """``(company code, department code, label)`` for the new-person form."""
    _require(ctx, object_type="department")
    rows = ctx.session.execute(
        select(Company.code, Company.name, Department.code, Department.name)
        .join(Department, Department.company_id == Company.id)
        .order_by(Company.is_hq.desc(), Company.code, Department.code)
    ).all()
    return [(c, d, f"{cn} / {dn}") for c, cn, d, dn in rows]
