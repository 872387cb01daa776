"""can_review: who reviews a classified file once a year (年度审核, SPEC.md §1) and so
finds it in their review queue.

Top secret: HQ executives only. Secret and confidential: the responsible supervisor,
the registrant, the owning company's GM (HQ-owned: HQ executives), and for
confidential also the owning department's manager. Internal files are never reviewed.
"""

# The decision table is aligned in columns for reading; its rows are long on purpose.
# ruff: noqa: E501

from __future__ import annotations

from datetime import date

import pytest
from policy_world import (
    HQ_DEPT_MANAGER,
    HQ_EXEC,
    NOW,
    OWNING_GM,
    RELATIONS,
    SUPERVISOR,
    allow,
    covers_every_relation,
    deny,
    document,
    level_table,
    scene,
)

from vault.policy import (
    Level,
    Period,
    Reason,
    can_review,
    can_see_metadata,
)

A, D, R = allow, deny, Reason

# The standard document is owned by a subsidiary (company 2, department 20).
# relation                     internal               confidential                 secret                       top_secret
REVIEW_TABLE = [
    ("same_dept-staff",          D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("other_dept-staff",         D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("other_company-staff",      D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("responsible-supervisor",   D(R.NOT_CLASSIFIED),   A(R.RESPONSIBLE_SUPERVISOR), A(R.RESPONSIBLE_SUPERVISOR), D(R.NOT_RESPONSIBLE)),
    ("designee-active",          D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("designee-expired",         D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("designee-revoked",         D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("designee-lower_level",     D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("registrant",               D(R.NOT_CLASSIFIED),   A(R.REGISTRANT),             A(R.REGISTRANT),             D(R.NOT_RESPONSIBLE)),
    ("registrant-removed",       D(R.NOT_CLASSIFIED),   A(R.REGISTRANT),             A(R.REGISTRANT),             D(R.NOT_RESPONSIBLE)),
    ("hq-executive",             D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        A(R.HQ_EXECUTIVE)),
    ("non_hq-hq_executive_role", D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("owning_company-gm",        D(R.NOT_CLASSIFIED),   A(R.OWNING_COMPANY_GM),      A(R.OWNING_COMPANY_GM),      D(R.NOT_RESPONSIBLE)),
    ("other_company-gm",         D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("owning_dept-manager",      D(R.NOT_CLASSIFIED),   A(R.OWNING_DEPT_MANAGER),    D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("other_dept-manager",       D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("custodian",                D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("compliance",               D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("admin",                    D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("deactivated-staff",        D(R.INACTIVE_USER),    D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
    ("deactivated-hq_executive", D(R.INACTIVE_USER),    D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
    ("deactivated-supervisor",   D(R.INACTIVE_USER),    D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
]  # fmt: skip

# The same people facing an HQ-owned file (company 1, department 10): HQ executives
# stand for the owning company's GM at every level; the subsidiary's GM does not.
# relation                     internal               confidential                 secret                       top_secret
HQ_OWNED_TABLE = [
    ("responsible-supervisor",   D(R.NOT_CLASSIFIED),   A(R.RESPONSIBLE_SUPERVISOR), A(R.RESPONSIBLE_SUPERVISOR), D(R.NOT_RESPONSIBLE)),
    ("registrant",               D(R.NOT_CLASSIFIED),   A(R.REGISTRANT),             A(R.REGISTRANT),             D(R.NOT_RESPONSIBLE)),
    ("hq-executive",             D(R.NOT_CLASSIFIED),   A(R.HQ_EXECUTIVE),           A(R.HQ_EXECUTIVE),           A(R.HQ_EXECUTIVE)),
    ("non_hq-hq_executive_role", D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("owning_company-gm",        D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("owning_dept-manager",      D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("compliance",               D(R.NOT_CLASSIFIED),   D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("deactivated-hq_executive", D(R.INACTIVE_USER),    D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
]  # fmt: skip


def test_review_table_covers_every_relation() -> None:
    assert covers_every_relation(REVIEW_TABLE)


@pytest.mark.parametrize(("relation", "level", "expected"), level_table(REVIEW_TABLE))
def test_can_review(relation: str, level: Level, expected) -> None:
    subject, doc = scene(relation, level)
    assert can_review(subject, doc, NOW) == expected


@pytest.mark.parametrize(("relation", "level", "expected"), level_table(HQ_OWNED_TABLE))
def test_can_review_hq_owned(relation: str, level: Level, expected) -> None:
    subject, doc = scene(relation, level, company_is_hq=True)
    assert can_review(subject, doc, NOW) == expected


def test_hq_department_manager_reviews_hq_owned_confidential_only() -> None:
    for level, expected in [(Level.CONFIDENTIAL, A(R.OWNING_DEPT_MANAGER)),
                            (Level.SECRET, D(R.NOT_RESPONSIBLE))]:
        doc = document(level, company_is_hq=True)
        assert can_review(HQ_DEPT_MANAGER, doc, NOW) == expected


@pytest.mark.parametrize("company_is_hq", [False, True], ids=["subsidiary", "hq"])
@pytest.mark.parametrize("level", list(Level), ids=lambda lv: lv.value)
@pytest.mark.parametrize("relation", sorted(RELATIONS))
def test_a_reviewer_may_know_of_the_file(relation: str, level: Level,
                                         company_is_hq: bool) -> None:
    """Nobody finds a file in their queue that they may not know exists (SPEC.md §2)."""
    subject, doc = scene(relation, level, company_is_hq=company_is_hq)
    if can_review(subject, doc, NOW).allowed:
        assert can_see_metadata(subject, doc, NOW).allowed


def test_a_file_whose_period_ended_is_not_reviewed() -> None:
    """The level that counts is the effective one: an ended period is internal already."""
    ended = document(Level.SECRET, period=Period(until=date(2025, 2, 28)))
    assert can_review(SUPERVISOR, ended, NOW) == D(R.NOT_CLASSIFIED)
    assert can_review(OWNING_GM, ended, NOW) == D(R.NOT_CLASSIFIED)
    running = document(Level.SECRET, period=Period(until=date(2025, 3, 1)))
    assert can_review(SUPERVISOR, running, NOW) == A(R.RESPONSIBLE_SUPERVISOR)
    assert can_review(HQ_EXEC, document(Level.TOP_SECRET, period=Period(condition="上市")),
                      NOW) == A(R.HQ_EXECUTIVE)
