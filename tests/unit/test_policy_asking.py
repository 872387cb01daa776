"""can_ask: what a person may send a request for (the request form, the document page's
offers and the service agree through it); can_add_version: who stores a new version;
may_approve_some: the approver prefilter (nobody outside it approves anything).
"""

# The decision tables are aligned in columns for reading; their rows are long on purpose.
# ruff: noqa: E501

from __future__ import annotations

import pytest
from policy_world import (
    HQ_EXEC,
    LEVELS,
    NOW,
    POOL,
    RELATIONS,
    allow,
    covers_every_relation,
    deny,
    document,
    level_table,
    request,
    scene,
)

from vault.policy import (
    APPROVING_ROLES,
    Category,
    CopyKind,
    Level,
    Period,
    Reason,
    Role,
    can_add_version,
    can_approve,
    can_ask,
    may_approve_some,
)

A, D, R = allow, deny, Reason

# A copy of the standard (subsidiary-owned, stored) contract: who may view asks, except
# for an internal file, which is downloaded directly.
# relation                     internal                 confidential                 secret                       top_secret
ASK_COPY_TABLE = [
    ("same_dept-staff",          D(R.NO_APPROVAL_NEEDED), A(R.OWNING_DEPARTMENT),      D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("other_dept-staff",         D(R.NO_APPROVAL_NEEDED), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("other_company-staff",      D(R.NO_APPROVAL_NEEDED), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("responsible-supervisor",   D(R.NO_APPROVAL_NEEDED), A(R.RESPONSIBLE_SUPERVISOR), A(R.RESPONSIBLE_SUPERVISOR), D(R.CANNOT_VIEW)),
    ("designee-active",          D(R.NO_APPROVAL_NEEDED), A(R.DESIGNEE),               A(R.DESIGNEE),               A(R.DESIGNEE)),
    ("designee-expired",         D(R.NO_APPROVAL_NEEDED), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("designee-revoked",         D(R.NO_APPROVAL_NEEDED), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("designee-lower_level",     D(R.NO_APPROVAL_NEEDED), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("registrant",               D(R.NO_APPROVAL_NEEDED), A(R.REGISTRANT),             A(R.REGISTRANT),             A(R.REGISTRANT)),
    ("registrant-removed",       D(R.NO_APPROVAL_NEEDED), A(R.REGISTRANT),             A(R.REGISTRANT),             D(R.CANNOT_VIEW)),
    ("hq-executive",             D(R.NO_APPROVAL_NEEDED), A(R.HQ_EXECUTIVE),           A(R.HQ_EXECUTIVE),           A(R.HQ_EXECUTIVE)),
    ("non_hq-hq_executive_role", D(R.NO_APPROVAL_NEEDED), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("owning_company-gm",        D(R.NO_APPROVAL_NEEDED), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("other_company-gm",         D(R.NO_APPROVAL_NEEDED), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("owning_dept-manager",      D(R.NO_APPROVAL_NEEDED), A(R.OWNING_DEPARTMENT),      D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("other_dept-manager",       D(R.NO_APPROVAL_NEEDED), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("custodian",                D(R.NO_APPROVAL_NEEDED), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("compliance",               D(R.NO_APPROVAL_NEEDED), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("admin",                    D(R.NO_APPROVAL_NEEDED), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW)),
    ("deactivated-staff",        D(R.INACTIVE_USER),      D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
    ("deactivated-hq_executive", D(R.INACTIVE_USER),      D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
    ("deactivated-supervisor",   D(R.INACTIVE_USER),      D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
]  # fmt: skip


def test_ask_copy_table_covers_every_relation() -> None:
    assert covers_every_relation(ASK_COPY_TABLE)


@pytest.mark.parametrize(("relation", "level", "expected"), level_table(ASK_COPY_TABLE))
def test_can_ask_for_a_copy(relation: str, level: Level, expected) -> None:
    subject, doc = scene(relation, level)
    assert can_ask(subject, doc, CopyKind.COPY, True, NOW) == expected


# What the file holds decides what may be asked of it (an HQ executive asking, who may
# view everything): (shape, category, paper original, stored version).
SHAPES = {
    "stored-contract": (Category.CONTRACT, False, True),
    "paper_only-contract": (Category.CONTRACT, True, False),
    "stored_and_paper-contract": (Category.CONTRACT, True, True),
    "nothing-contract": (Category.CONTRACT, False, False),
    "paper_only-licence": (Category.BUSINESS_LICENCE, True, False),
    "stored-licence": (Category.BUSINESS_LICENCE, False, True),
}
KINDS = (CopyKind.COPY, CopyKind.EXCERPT, CopyKind.PRINT, CopyKind.LEND,
         CopyKind.EXTEND, CopyKind.DOWNGRADE, CopyKind.DECLASSIFY)

# shape                        copy                     excerpt                  print                    lend                     extend               downgrade            declassify
SECRET_SHAPES_TABLE = [
    ("stored-contract",           A(R.HQ_EXECUTIVE),       A(R.HQ_EXECUTIVE),       A(R.HQ_EXECUTIVE),       D(R.NOTHING_TO_LEND),    A(R.HQ_EXECUTIVE),   A(R.HQ_EXECUTIVE),   A(R.HQ_EXECUTIVE)),
    ("paper_only-contract",       D(R.NO_CONTENT),         D(R.NO_CONTENT),         D(R.NO_CONTENT),         A(R.HQ_EXECUTIVE),       A(R.HQ_EXECUTIVE),   A(R.HQ_EXECUTIVE),   A(R.HQ_EXECUTIVE)),
    ("stored_and_paper-contract", A(R.HQ_EXECUTIVE),       A(R.HQ_EXECUTIVE),       A(R.HQ_EXECUTIVE),       A(R.HQ_EXECUTIVE),       A(R.HQ_EXECUTIVE),   A(R.HQ_EXECUTIVE),   A(R.HQ_EXECUTIVE)),
    ("nothing-contract",          D(R.NO_CONTENT),         D(R.NO_CONTENT),         D(R.NO_CONTENT),         D(R.NOTHING_TO_LEND),    A(R.HQ_EXECUTIVE),   A(R.HQ_EXECUTIVE),   A(R.HQ_EXECUTIVE)),
    ("paper_only-licence",        A(R.HQ_EXECUTIVE),       D(R.NO_CONTENT),         D(R.NO_CONTENT),         A(R.HQ_EXECUTIVE),       A(R.HQ_EXECUTIVE),   A(R.HQ_EXECUTIVE),   A(R.HQ_EXECUTIVE)),
    ("stored-licence",            A(R.HQ_EXECUTIVE),       A(R.HQ_EXECUTIVE),       A(R.HQ_EXECUTIVE),       A(R.HQ_EXECUTIVE),       A(R.HQ_EXECUTIVE),   A(R.HQ_EXECUTIVE),   A(R.HQ_EXECUTIVE)),
]  # fmt: skip

# The same shapes internal: copies of contracts need no approval; certificates keep
# theirs; no classification change is asked of an internal file.
INTERNAL_SHAPES_TABLE = [
    ("stored-contract",           D(R.NO_APPROVAL_NEEDED), D(R.NO_APPROVAL_NEEDED), D(R.NO_APPROVAL_NEEDED), D(R.NOTHING_TO_LEND),    D(R.NOT_CLASSIFIED), D(R.NOT_CLASSIFIED), D(R.NOT_CLASSIFIED)),
    ("paper_only-contract",       D(R.NO_APPROVAL_NEEDED), D(R.NO_APPROVAL_NEEDED), D(R.NO_APPROVAL_NEEDED), A(R.INTERNAL_EMPLOYEE),  D(R.NOT_CLASSIFIED), D(R.NOT_CLASSIFIED), D(R.NOT_CLASSIFIED)),
    ("stored_and_paper-contract", D(R.NO_APPROVAL_NEEDED), D(R.NO_APPROVAL_NEEDED), D(R.NO_APPROVAL_NEEDED), A(R.INTERNAL_EMPLOYEE),  D(R.NOT_CLASSIFIED), D(R.NOT_CLASSIFIED), D(R.NOT_CLASSIFIED)),
    ("nothing-contract",          D(R.NO_APPROVAL_NEEDED), D(R.NO_APPROVAL_NEEDED), D(R.NO_APPROVAL_NEEDED), D(R.NOTHING_TO_LEND),    D(R.NOT_CLASSIFIED), D(R.NOT_CLASSIFIED), D(R.NOT_CLASSIFIED)),
    ("paper_only-licence",        A(R.INTERNAL_EMPLOYEE),  D(R.NO_CONTENT),         D(R.NO_CONTENT),         A(R.INTERNAL_EMPLOYEE),  D(R.NOT_CLASSIFIED), D(R.NOT_CLASSIFIED), D(R.NOT_CLASSIFIED)),
    ("stored-licence",            A(R.INTERNAL_EMPLOYEE),  A(R.INTERNAL_EMPLOYEE),  A(R.INTERNAL_EMPLOYEE),  A(R.INTERNAL_EMPLOYEE),  D(R.NOT_CLASSIFIED), D(R.NOT_CLASSIFIED), D(R.NOT_CLASSIFIED)),
]  # fmt: skip


def _shape_params() -> list[object]:
    params = []
    for level, table in ((Level.SECRET, SECRET_SHAPES_TABLE),
                         (Level.INTERNAL, INTERNAL_SHAPES_TABLE)):
        assert [row[0] for row in table] == list(SHAPES)
        for shape, *expected in table:
            for kind, decision in zip(KINDS, expected, strict=True):
                params.append(pytest.param(level, shape, kind, decision,
                                           id=f"{level}-{shape}-{kind}"))
    return params


@pytest.mark.parametrize(("level", "shape", "kind", "expected"), _shape_params())
def test_can_ask_by_what_the_file_holds(level: Level, shape: str, kind: CopyKind,
                                        expected) -> None:
    category, paper, stored = SHAPES[shape]
    doc = document(level, category=category, paper_original=paper)
    assert can_ask(HQ_EXEC, doc, kind, stored, NOW) == expected


def test_a_change_nobody_may_route_is_refused_with_the_routes_reason() -> None:
    """An extension of a file whose period ends on a condition has no route."""
    doc = document(Level.SECRET, period=Period(condition="项目结束"))
    assert can_ask(HQ_EXEC, doc, CopyKind.EXTEND, True, NOW) == D(R.NO_FIXED_END)


# Who stores a new version: whoever may read the file and is its registrant or
# responsible supervisor, and HQ executives. The reason of a refusal to read is kept.
# relation                     internal                     confidential                 secret                       top_secret
ADD_VERSION_TABLE = [
    ("same_dept-staff",          D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_dept-staff",         D(R.NOT_RESPONSIBLE),        D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_company-staff",      D(R.NOT_RESPONSIBLE),        D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("responsible-supervisor",   A(R.RESPONSIBLE_SUPERVISOR), A(R.RESPONSIBLE_SUPERVISOR), A(R.RESPONSIBLE_SUPERVISOR), D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("designee-active",          D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE)),
    ("designee-expired",         D(R.NOT_RESPONSIBLE),        D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("designee-revoked",         D(R.NOT_RESPONSIBLE),        D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("designee-lower_level",     D(R.NOT_RESPONSIBLE),        D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("registrant",               A(R.REGISTRANT),             A(R.REGISTRANT),             A(R.REGISTRANT),             A(R.REGISTRANT)),
    ("registrant-removed",       A(R.REGISTRANT),             A(R.REGISTRANT),             A(R.REGISTRANT),             D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("hq-executive",             A(R.HQ_EXECUTIVE),           A(R.HQ_EXECUTIVE),           A(R.HQ_EXECUTIVE),           A(R.HQ_EXECUTIVE)),
    ("non_hq-hq_executive_role", D(R.NOT_RESPONSIBLE),        D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("owning_company-gm",        D(R.NOT_RESPONSIBLE),        D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_company-gm",         D(R.NOT_RESPONSIBLE),        D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("owning_dept-manager",      D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),        D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("other_dept-manager",       D(R.NOT_RESPONSIBLE),        D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("custodian",                D(R.NOT_RESPONSIBLE),        D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("compliance",               D(R.NOT_RESPONSIBLE),        D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("admin",                    D(R.NOT_RESPONSIBLE),        D(R.NOT_IN_SCOPE),           D(R.SECRET_NOT_DESIGNATED),  D(R.TOP_SECRET_NOT_DESIGNATED)),
    ("deactivated-staff",        D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
    ("deactivated-hq_executive", D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
    ("deactivated-supervisor",   D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER),          D(R.INACTIVE_USER)),
]  # fmt: skip


def test_add_version_table_covers_every_relation() -> None:
    assert covers_every_relation(ADD_VERSION_TABLE)


@pytest.mark.parametrize(("relation", "level", "expected"), level_table(ADD_VERSION_TABLE))
def test_can_add_version(relation: str, level: Level, expected) -> None:
    subject, doc = scene(relation, level)
    assert can_add_version(subject, doc, NOW) == expected


# The approver prefilter, per relation (the same person whatever the file).
MAY_APPROVE_SOME = {
    "same_dept-staff": False, "other_dept-staff": False, "other_company-staff": False,
    "responsible-supervisor": False, "designee-active": False, "designee-expired": False,
    "designee-revoked": False, "designee-lower_level": False, "registrant": False,
    "registrant-removed": False, "hq-executive": True, "non_hq-hq_executive_role": False,
    "owning_company-gm": True, "other_company-gm": True, "owning_dept-manager": True,
    "other_dept-manager": True, "custodian": False, "compliance": False, "admin": False,
    "deactivated-staff": False, "deactivated-hq_executive": False,
    "deactivated-supervisor": False,
}


@pytest.mark.parametrize("relation", sorted(RELATIONS))
def test_may_approve_some(relation: str) -> None:
    assert may_approve_some(RELATIONS[relation]) is MAY_APPROVE_SOME[relation]


def test_approving_roles() -> None:
    assert APPROVING_ROLES == {Role.HQ_EXECUTIVE, Role.COMPANY_GM, Role.DEPT_MANAGER}


@pytest.mark.parametrize("company_is_hq", [False, True], ids=["subsidiary", "hq"])
@pytest.mark.parametrize("category", [Category.CONTRACT, Category.BUSINESS_LICENCE],
                         ids=lambda c: c.value)
def test_nobody_outside_the_prefilter_approves(company_is_hq: bool, category: Category) -> None:
    """The prefilter is derived from can_approve: every approval of every kind at every
    level comes from someone it selects, holding one of APPROVING_ROLES."""
    approving = set()
    for level in LEVELS:
        doc = document(level, category=category, company_is_hq=company_is_hq)
        for kind in CopyKind:
            for subject in POOL:
                if can_approve(subject, request(doc, kind), NOW).allowed:
                    assert may_approve_some(subject), (subject, level, kind)
                    assert subject.roles & APPROVING_ROLES
                    approving.add(subject.user_id)
    assert approving  # the world has approvers
