"""Who may review the audit trail: a table over every role, active and not."""

from __future__ import annotations

import pytest

from vault.policy import Reason, Role, Subject, can_administer, can_review_audit


@pytest.mark.parametrize(
    ("roles", "active", "allowed", "reason"),
    [
        pytest.param({Role.COMPLIANCE}, True, True, Reason.COMPLIANCE, id="compliance-allow"),
        pytest.param({Role.COMPLIANCE, Role.STAFF}, True, True, Reason.COMPLIANCE,
                     id="compliance+staff-allow"),
        pytest.param({Role.COMPLIANCE}, False, False, Reason.INACTIVE_USER,
                     id="deactivated-compliance-deny"),
        *[pytest.param({role}, True, False, Reason.NOT_COMPLIANCE, id=f"{role.value}-deny")
          for role in Role if role is not Role.COMPLIANCE],
    ],
)
def test_can_review_audit(roles: set[Role], active: bool, allowed: bool, reason: Reason) -> None:
    subject = Subject(user_id=1, company_id=1, department_id=1, roles=frozenset(roles),
                      active=active, at_hq=True)
    decision = can_review_audit(subject)
    assert (decision.allowed, decision.reason) == (allowed, reason)


@pytest.mark.parametrize(
    ("roles", "active", "allowed", "reason"),
    [
        pytest.param({Role.ADMIN}, True, True, Reason.ADMIN, id="admin-allow"),
        pytest.param({Role.ADMIN}, False, False, Reason.INACTIVE_USER, id="deactivated-admin-deny"),
        *[pytest.param({role}, True, False, Reason.NOT_ADMIN, id=f"{role.value}-deny")
          for role in Role if role is not Role.ADMIN],
    ],
)
def test_can_administer(roles: set[Role], active: bool, allowed: bool, reason: Reason) -> None:
    subject = Subject(user_id=1, company_id=1, department_id=1, roles=frozenset(roles),
                      active=active, at_hq=True)
    decision = can_administer(subject)
    assert (decision.allowed, decision.reason) == (allowed, reason)
