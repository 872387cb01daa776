"""can_grant: who may grant (秘密) or designate (机密, 绝密) others (SPEC.md §2).

Confidential: the responsible supervisor or the owning department's manager (and HQ
executives). Secret: the responsible supervisor (and HQ executives). Top secret: HQ
executives only. Internal files need no grant.
"""

# The decision table is aligned in columns for reading; its rows are long on purpose.
# ruff: noqa: E501

from __future__ import annotations

import pytest
from policy_world import (
    HQ_EXEC,
    NOW,
    OTHER_COMPANY,
    OWNING_DEPT,
    OWNING_DEPT_MANAGER,
    SUPERVISOR,
    allow,
    covers_every_relation,
    deny,
    document,
    level_table,
    person,
    scene,
)

from vault.policy import Level, Period, Reason, Role, Subject, can_grant

A, D, R = allow, deny, Reason

# relation                     internal                        confidential                   secret                         top_secret
GRANT_TABLE = [
    ("same_dept-staff",          D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("other_dept-staff",         D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("other_company-staff",      D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("responsible-supervisor",   D(R.INTERNAL_NEEDS_NO_GRANT), A(R.RESPONSIBLE_SUPERVISOR),   A(R.RESPONSIBLE_SUPERVISOR),   D(R.NOT_AUTHORISED_TO_GRANT)),
    ("designee-active",          D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("designee-expired",         D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("designee-revoked",         D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("designee-lower_level",     D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("registrant",               D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("registrant-removed",       D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("hq-executive",             D(R.INTERNAL_NEEDS_NO_GRANT), A(R.HQ_EXECUTIVE),             A(R.HQ_EXECUTIVE),             A(R.HQ_EXECUTIVE)),
    ("non_hq-hq_executive_role", D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("owning_company-gm",        D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("other_company-gm",         D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("owning_dept-manager",      D(R.INTERNAL_NEEDS_NO_GRANT), A(R.OWNING_DEPT_MANAGER),      D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("other_dept-manager",       D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("custodian",                D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("compliance",               D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("admin",                    D(R.INTERNAL_NEEDS_NO_GRANT), D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT),  D(R.NOT_AUTHORISED_TO_GRANT)),
    ("deactivated-staff",        D(R.INACTIVE_USER),           D(R.INACTIVE_USER),            D(R.INACTIVE_USER),            D(R.INACTIVE_USER)),
    ("deactivated-hq_executive", D(R.INACTIVE_USER),           D(R.INACTIVE_USER),            D(R.INACTIVE_USER),            D(R.INACTIVE_USER)),
    ("deactivated-supervisor",   D(R.INACTIVE_USER),           D(R.INACTIVE_USER),            D(R.INACTIVE_USER),            D(R.INACTIVE_USER)),
]  # fmt: skip


def test_grant_table_covers_every_relation() -> None:
    assert covers_every_relation(GRANT_TABLE)


@pytest.mark.parametrize(("relation", "level", "expected"), level_table(GRANT_TABLE))
def test_can_grant(relation: str, level: Level, expected) -> None:
    subject, doc = scene(relation, level)
    assert can_grant(subject, doc, NOW) == expected


# --- edges the table does not show ---------------------------------------------------------


@pytest.mark.parametrize(
    ("manager", "expected"),
    [
        pytest.param(person(400, OTHER_COMPANY, OWNING_DEPT, Role.DEPT_MANAGER),
                     deny(Reason.NOT_AUTHORISED_TO_GRANT),
                     id="same_dept_number-other_company-manager-deny"),
        pytest.param(Subject(OWNING_DEPT_MANAGER.user_id, OWNING_DEPT_MANAGER.company_id,
                             OWNING_DEPT, frozenset({Role.STAFF})),
                     deny(Reason.NOT_AUTHORISED_TO_GRANT),
                     id="owning_dept-former_manager-deny"),
    ],
)  # fmt: skip
def test_owning_department_manager_means_role_and_department_and_company(manager, expected) -> None:
    assert can_grant(manager, document(Level.CONFIDENTIAL), NOW) == expected


def test_department_manager_of_company_level_document_cannot_grant() -> None:
    manager = person(400, OWNING_DEPT_MANAGER.company_id, None, Role.DEPT_MANAGER)
    doc = document(Level.CONFIDENTIAL, department_id=None)
    assert can_grant(manager, doc, NOW) == deny(Reason.NOT_AUTHORISED_TO_GRANT)


def test_no_grant_once_the_period_has_ended() -> None:
    doc = document(Level.SECRET, period=Period(months=6))
    # Issued 2024-01-15: secret until 2024-07-15 00:00 group time; NOW is 2025-03-01.
    assert can_grant(SUPERVISOR, doc, NOW) == deny(Reason.INTERNAL_NEEDS_NO_GRANT)
    assert can_grant(HQ_EXEC, doc, NOW) == deny(Reason.INTERNAL_NEEDS_NO_GRANT)
