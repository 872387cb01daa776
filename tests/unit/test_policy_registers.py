"""Who may read and keep the copy and lending registers: every role × own company,
other company and HQ, active and not. Expected results are written out."""

from __future__ import annotations

import pytest

from vault.policy import (
    Reason,
    Role,
    Subject,
    can_keep_register,
    can_read_register,
    reads_every_company,
)

OWN, OTHER, HQ = 2, 3, 1

# (role, where the person works, at_hq) -> (read allowed, read reason, keep allowed, keep reason)
TABLE = [
    (Role.CUSTODIAN, OWN, False, True, Reason.CUSTODIAN, True, Reason.CUSTODIAN),
    (Role.CUSTODIAN, OTHER, False, False, Reason.NOT_REGISTER_READER, False, Reason.NOT_CUSTODIAN),
    (Role.CUSTODIAN, HQ, True, False, Reason.NOT_REGISTER_READER, False, Reason.NOT_CUSTODIAN),
    (Role.COMPANY_GM, OWN, False, True, Reason.OWNING_COMPANY_GM, False, Reason.NOT_CUSTODIAN),
    (Role.COMPANY_GM, OTHER, False, False, Reason.NOT_REGISTER_READER, False,
     Reason.NOT_CUSTODIAN),
    (Role.HQ_EXECUTIVE, HQ, True, True, Reason.HQ_EXECUTIVE, False, Reason.NOT_CUSTODIAN),
    # The hq_executive role counts only at the HQ company.
    (Role.HQ_EXECUTIVE, OTHER, False, False, Reason.NOT_REGISTER_READER, False,
     Reason.NOT_CUSTODIAN),
    (Role.COMPLIANCE, HQ, True, True, Reason.COMPLIANCE, False, Reason.NOT_CUSTODIAN),
    (Role.COMPLIANCE, OTHER, False, True, Reason.COMPLIANCE, False, Reason.NOT_CUSTODIAN),
    (Role.DEPT_MANAGER, OWN, False, False, Reason.NOT_REGISTER_READER, False,
     Reason.NOT_CUSTODIAN),
    (Role.SUPERVISOR, OWN, False, False, Reason.NOT_REGISTER_READER, False,
     Reason.NOT_CUSTODIAN),
    (Role.ADMIN, OWN, False, False, Reason.NOT_REGISTER_READER, False, Reason.NOT_CUSTODIAN),
    (Role.STAFF, OWN, False, False, Reason.NOT_REGISTER_READER, False, Reason.NOT_CUSTODIAN),
]


@pytest.mark.parametrize(
    ("role", "company", "at_hq", "read", "read_reason", "keep", "keep_reason"),
    [pytest.param(*row, id=f"{row[0].value}-{row[1]}") for row in TABLE],
)
@pytest.mark.parametrize("active", [True, False], ids=["active", "deactivated"])
def test_registers(role: Role, company: int, at_hq: bool, read: bool, read_reason: Reason,
                   keep: bool, keep_reason: Reason, active: bool) -> None:
    subject = Subject(user_id=7, company_id=company, department_id=None,
                      roles=frozenset({role}), active=active, at_hq=at_hq)
    r = can_read_register(subject, OWN)
    k = can_keep_register(subject, OWN)
    if not active:
        assert (r.allowed, r.reason) == (False, Reason.INACTIVE_USER)
        assert (k.allowed, k.reason) == (False, Reason.INACTIVE_USER)
        return
    assert (r.allowed, r.reason) == (read, read_reason)
    assert (k.allowed, k.reason) == (keep, keep_reason)


def test_every_role_has_a_row() -> None:
    assert {row[0] for row in TABLE} == set(Role)


# (role, at_hq) -> reads every company; written out. Deactivated people read nothing.
GROUP_WIDE = [
    (role, at_hq, (role is Role.HQ_EXECUTIVE and at_hq) or role is Role.COMPLIANCE)
    for role in Role for at_hq in (True, False)
]


@pytest.mark.parametrize(("role", "at_hq", "expected"), GROUP_WIDE)
@pytest.mark.parametrize("active", [True, False], ids=["active", "deactivated"])
def test_reads_every_company(role: Role, at_hq: bool, expected: bool, active: bool) -> None:
    subject = Subject(user_id=7, company_id=HQ if at_hq else OTHER, department_id=None,
                      roles=frozenset({role}), active=active, at_hq=at_hq)
    assert reads_every_company(subject) is (expected and active)
    # Group-wide readers are exactly those who read another company's register.
    assert reads_every_company(subject) is can_read_register(subject, OWN).allowed \
        or role in (Role.CUSTODIAN, Role.COMPANY_GM)
