"""Tenants and notices: who may know a company's tenants, who keeps them, who chooses
a notice's recipients and who records a sign-off (签收). Every role × own company,
other company and HQ for the tenant rules; every relation × level for the notice
rules. Expected results are written out literally."""

# The decision tables are aligned in columns for reading; their rows are long on purpose.
# ruff: noqa: E501

from __future__ import annotations

import pytest
from policy_world import (
    NOW,
    OTHER_COMPANY,
    OWNING_COMPANY,
    OWNING_DEPT,
    SAME_DEPT_STAFF,
    allow,
    covers_every_relation,
    deny,
    document,
    level_table,
    person,
    scene,
)

from vault.policy import (
    Decision,
    Level,
    Period,
    Reason,
    Role,
    Subject,
    can_address_notice,
    can_keep_tenants,
    can_read_tenants,
    can_record_sign_off,
)

A, D, R = allow, deny, Reason

# --- tenants ------------------------------------------------------------------------------

OWN, OTHER, HQ = 2, 3, 1

# (role, where the person works, at_hq) -> (read, keep) for a tenant of company OWN
TENANT_TABLE = [
    (Role.STAFF,        OWN,   False, A(R.INTERNAL_EMPLOYEE), D(R.NOT_TENANT_KEEPER)),
    (Role.STAFF,        OTHER, False, D(R.NOT_IN_SCOPE),      D(R.NOT_TENANT_KEEPER)),
    (Role.SUPERVISOR,   OWN,   False, A(R.INTERNAL_EMPLOYEE), D(R.NOT_TENANT_KEEPER)),
    (Role.DEPT_MANAGER, OWN,   False, A(R.INTERNAL_EMPLOYEE), D(R.NOT_TENANT_KEEPER)),
    (Role.COMPANY_GM,   OWN,   False, A(R.INTERNAL_EMPLOYEE), D(R.NOT_TENANT_KEEPER)),
    (Role.COMPANY_GM,   OTHER, False, D(R.NOT_IN_SCOPE),      D(R.NOT_TENANT_KEEPER)),
    (Role.CUSTODIAN,    OWN,   False, A(R.INTERNAL_EMPLOYEE), A(R.CUSTODIAN)),
    (Role.CUSTODIAN,    OTHER, False, D(R.NOT_IN_SCOPE),      D(R.NOT_TENANT_KEEPER)),
    (Role.CUSTODIAN,    HQ,    True,  D(R.NOT_IN_SCOPE),      D(R.NOT_TENANT_KEEPER)),
    (Role.HQ_EXECUTIVE, HQ,    True,  A(R.HQ_EXECUTIVE),      D(R.NOT_TENANT_KEEPER)),
    # The hq_executive role counts only at the HQ company.
    (Role.HQ_EXECUTIVE, OTHER, False, D(R.NOT_IN_SCOPE),      D(R.NOT_TENANT_KEEPER)),
    (Role.COMPLIANCE,   HQ,    True,  A(R.COMPLIANCE),        D(R.NOT_TENANT_KEEPER)),
    (Role.ADMIN,        HQ,    True,  A(R.ADMIN),             A(R.ADMIN)),
    (Role.ADMIN,        OWN,   False, A(R.INTERNAL_EMPLOYEE), A(R.ADMIN)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("role", "company", "at_hq", "read", "keep"),
    [pytest.param(*row, id=f"{row[0].value}-{row[1]}") for row in TENANT_TABLE],
)
@pytest.mark.parametrize("active", [True, False], ids=["active", "deactivated"])
def test_tenants(role: Role, company: int, at_hq: bool, read: Decision, keep: Decision,
                 active: bool) -> None:
    subject = Subject(user_id=7, company_id=company, department_id=None,
                      roles=frozenset({role}), active=active, at_hq=at_hq)
    if not active:
        read = keep = D(R.INACTIVE_USER)
    assert can_read_tenants(subject, OWN) == read
    assert can_keep_tenants(subject, OWN) == keep


def test_every_role_has_a_tenant_row() -> None:
    assert {row[0] for row in TENANT_TABLE} == set(Role)


# A tenant of no company belongs to the group: everyone knows of it, administrators keep it.
@pytest.mark.parametrize(
    ("role", "company", "at_hq", "read", "keep"),
    [
        pytest.param(Role.STAFF, OTHER, False, A(R.INTERNAL_EMPLOYEE), D(R.NOT_TENANT_KEEPER), id="staff"),
        pytest.param(Role.CUSTODIAN, OWN, False, A(R.INTERNAL_EMPLOYEE), D(R.NOT_TENANT_KEEPER), id="custodian"),
        pytest.param(Role.ADMIN, HQ, True, A(R.INTERNAL_EMPLOYEE), A(R.ADMIN), id="admin"),
    ],
)  # fmt: skip
def test_tenants_of_no_company(role: Role, company: int, at_hq: bool, read: Decision,
                               keep: Decision) -> None:
    subject = Subject(user_id=7, company_id=company, department_id=None,
                      roles=frozenset({role}), at_hq=at_hq)
    assert can_read_tenants(subject, None) == read
    assert can_keep_tenants(subject, None) == keep


# --- notices ------------------------------------------------------------------------------

# relation                     internal                     confidential                 secret                       top_secret
ADDRESS_TABLE = [
    ("same_dept-staff",          D(R.NOT_RESPONSIBLE),       D(R.NOT_RESPONSIBLE),        D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("other_dept-staff",         D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("other_company-staff",      D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("responsible-supervisor",   A(R.RESPONSIBLE_SUPERVISOR), A(R.RESPONSIBLE_SUPERVISOR), A(R.RESPONSIBLE_SUPERVISOR), D(R.CANNOT_VIEW)),
    ("designee-active",          D(R.NOT_RESPONSIBLE),       D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("designee-expired",         D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("designee-revoked",         D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("designee-lower_level",     D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("registrant",               A(R.REGISTRANT),            A(R.REGISTRANT),             A(R.REGISTRANT),             A(R.REGISTRANT)),
    ("registrant-removed",       A(R.REGISTRANT),            A(R.REGISTRANT),             A(R.REGISTRANT),             D(R.CANNOT_VIEW)),
    ("hq-executive",             A(R.HQ_EXECUTIVE),          A(R.HQ_EXECUTIVE),           A(R.HQ_EXECUTIVE),           A(R.HQ_EXECUTIVE)),
    ("non_hq-hq_executive_role", D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("owning_company-gm",        D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("other_company-gm",         D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("owning_dept-manager",      A(R.OWNING_DEPT_MANAGER),   A(R.OWNING_DEPT_MANAGER),    D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("other_dept-manager",       D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("custodian",                D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("compliance",               D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("admin",                    D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("deactivated-staff",        D(R.INACTIVE_USER),         D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
    ("deactivated-hq_executive", D(R.INACTIVE_USER),         D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
    ("deactivated-supervisor",   D(R.INACTIVE_USER),         D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
]  # fmt: skip

# The same, plus the owning department's members who may read the notice.
SIGN_OFF_TABLE = [
    ("same_dept-staff",          A(R.OWNING_DEPARTMENT),     A(R.OWNING_DEPARTMENT),      D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("other_dept-staff",         D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("other_company-staff",      D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("responsible-supervisor",   A(R.RESPONSIBLE_SUPERVISOR), A(R.RESPONSIBLE_SUPERVISOR), A(R.RESPONSIBLE_SUPERVISOR), D(R.CANNOT_VIEW)),
    ("designee-active",          D(R.NOT_RESPONSIBLE),       D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("designee-expired",         D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("designee-revoked",         D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("designee-lower_level",     D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("registrant",               A(R.REGISTRANT),            A(R.REGISTRANT),             A(R.REGISTRANT),             A(R.REGISTRANT)),
    ("registrant-removed",       A(R.REGISTRANT),            A(R.REGISTRANT),             A(R.REGISTRANT),             D(R.CANNOT_VIEW)),
    ("hq-executive",             A(R.HQ_EXECUTIVE),          A(R.HQ_EXECUTIVE),           A(R.HQ_EXECUTIVE),           A(R.HQ_EXECUTIVE)),
    ("non_hq-hq_executive_role", D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("owning_company-gm",        D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("other_company-gm",         D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("owning_dept-manager",      A(R.OWNING_DEPT_MANAGER),   A(R.OWNING_DEPT_MANAGER),    D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("other_dept-manager",       D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("custodian",                D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("compliance",               D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("admin",                    D(R.NOT_RESPONSIBLE),       D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("deactivated-staff",        D(R.INACTIVE_USER),         D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
    ("deactivated-hq_executive", D(R.INACTIVE_USER),         D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
    ("deactivated-supervisor",   D(R.INACTIVE_USER),         D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
]  # fmt: skip


def test_notice_tables_cover_every_relation() -> None:
    assert covers_every_relation(ADDRESS_TABLE)
    assert covers_every_relation(SIGN_OFF_TABLE)


@pytest.mark.parametrize(("relation", "level", "expected"), level_table(ADDRESS_TABLE))
def test_can_address_notice(relation: str, level: Level, expected: Decision) -> None:
    subject, doc = scene(relation, level)
    assert can_address_notice(subject, doc, NOW) == expected


@pytest.mark.parametrize(("relation", "level", "expected"), level_table(SIGN_OFF_TABLE))
def test_can_record_sign_off(relation: str, level: Level, expected: Decision) -> None:
    subject, doc = scene(relation, level)
    assert can_record_sign_off(subject, doc, NOW) == expected


# --- edges the tables do not show -------------------------------------------------------------


def test_owning_department_means_department_and_company() -> None:
    same_number_elsewhere = person(400, OTHER_COMPANY, OWNING_DEPT, Role.STAFF)
    doc = document(Level.INTERNAL)
    assert can_record_sign_off(same_number_elsewhere, doc, NOW) == D(R.NOT_RESPONSIBLE)


def test_a_company_level_notice_has_no_owning_department() -> None:
    doc = document(Level.INTERNAL, department_id=None)
    no_department = person(401, OWNING_COMPANY, None, Role.STAFF)
    assert can_record_sign_off(no_department, doc, NOW) == D(R.NOT_RESPONSIBLE)
    assert can_record_sign_off(SAME_DEPT_STAFF, doc, NOW) == D(R.NOT_RESPONSIBLE)


def test_a_declassified_notice_is_open_to_its_department() -> None:
    # Secret for six months from 2024-01-15: internal by NOW (2025-03-01).
    doc = document(Level.SECRET, period=Period(months=6))
    assert can_record_sign_off(SAME_DEPT_STAFF, doc, NOW) == A(R.OWNING_DEPARTMENT)
    assert can_address_notice(SAME_DEPT_STAFF, doc, NOW) == D(R.NOT_RESPONSIBLE)
