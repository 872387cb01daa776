"""Who must sign in with a second factor: a table over every role, with the default
set of required roles, a custom set and none."""

from __future__ import annotations

import pytest

from vault.policy import Role, Subject, second_factor_required

DEFAULT = frozenset({Role.HQ_EXECUTIVE, Role.COMPANY_GM, Role.COMPLIANCE, Role.ADMIN})


def _subject(*roles: Role, active: bool = True) -> Subject:
    return Subject(user_id=1, company_id=1, department_id=1, roles=frozenset(roles),
                   active=active, at_hq=True)


@pytest.mark.parametrize(
    ("roles", "required", "expected"),
    [
        *[pytest.param({role}, DEFAULT, role in DEFAULT, id=f"default-{role.value}")
          for role in Role],
        pytest.param({Role.STAFF, Role.SUPERVISOR}, DEFAULT, False, id="default-staff+supervisor"),
        pytest.param({Role.STAFF, Role.COMPANY_GM}, DEFAULT, True, id="default-staff+gm"),
        pytest.param(set(), DEFAULT, False, id="default-no-roles"),
        pytest.param({Role.STAFF}, {Role.STAFF}, True, id="custom-staff"),
        pytest.param({Role.ADMIN}, {Role.STAFF}, False, id="custom-admin-not-listed"),
        pytest.param({Role.ADMIN}, set(), False, id="none-required"),
        pytest.param({Role.ADMIN}, {"admin"}, True, id="role-ids-as-text"),
    ],
)
def test_second_factor_required(roles: set[Role], required: set[Role], expected: bool) -> None:
    assert second_factor_required(_subject(*roles), required) is expected


def test_does_not_depend_on_being_active() -> None:
    # A deactivated person cannot sign in at all; the rule itself is about roles.
    assert second_factor_required(_subject(Role.ADMIN, active=False), DEFAULT) is True
