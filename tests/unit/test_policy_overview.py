"""Who may read the executives' overview and the compliance dashboard (issue 16):
every role × where the person works, active and not. Expected results are written out."""

from __future__ import annotations

import pytest

from vault.policy import Reason, Role, Subject, can_read_overview, can_review_audit

HQ, OWN = 1, 2

# (role, company, at_hq) -> (overview allowed, reason), (dashboard allowed, reason)
TABLE = [
    (Role.HQ_EXECUTIVE, HQ, True, (True, Reason.HQ_EXECUTIVE), (False, Reason.NOT_COMPLIANCE)),
    # The hq_executive role counts only at the HQ company.
    (Role.HQ_EXECUTIVE, OWN, False,
     (False, Reason.NOT_HQ_EXECUTIVE), (False, Reason.NOT_COMPLIANCE)),
    (Role.COMPLIANCE, HQ, True, (False, Reason.NOT_HQ_EXECUTIVE), (True, Reason.COMPLIANCE)),
    (Role.COMPANY_GM, OWN, False,
     (False, Reason.NOT_HQ_EXECUTIVE), (False, Reason.NOT_COMPLIANCE)),
    (Role.DEPT_MANAGER, OWN, False,
     (False, Reason.NOT_HQ_EXECUTIVE), (False, Reason.NOT_COMPLIANCE)),
    (Role.SUPERVISOR, OWN, False,
     (False, Reason.NOT_HQ_EXECUTIVE), (False, Reason.NOT_COMPLIANCE)),
    (Role.CUSTODIAN, OWN, False,
     (False, Reason.NOT_HQ_EXECUTIVE), (False, Reason.NOT_COMPLIANCE)),
    (Role.ADMIN, HQ, True, (False, Reason.NOT_HQ_EXECUTIVE), (False, Reason.NOT_COMPLIANCE)),
    (Role.STAFF, OWN, False, (False, Reason.NOT_HQ_EXECUTIVE), (False, Reason.NOT_COMPLIANCE)),
]


@pytest.mark.parametrize(("role", "company", "at_hq", "overview", "dashboard"),
                         [pytest.param(*row, id=f"{row[0].value}-{row[1]}") for row in TABLE])
@pytest.mark.parametrize("active", [True, False], ids=["active", "deactivated"])
def test_overview_and_dashboard(role: Role, company: int, at_hq: bool,
                                overview: tuple[bool, Reason], dashboard: tuple[bool, Reason],
                                active: bool) -> None:
    subject = Subject(user_id=7, company_id=company, department_id=None,
                      roles=frozenset({role}), active=active, at_hq=at_hq)
    got = [can_read_overview(subject), can_review_audit(subject)]
    if not active:
        assert [(d.allowed, d.reason) for d in got] == [(False, Reason.INACTIVE_USER)] * 2
        return
    assert [(d.allowed, d.reason) for d in got] == [overview, dashboard]


def test_every_role_has_a_row() -> None:
    assert {row[0] for row in TABLE} == set(Role)
