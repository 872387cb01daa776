"""Copies, excerpts, prints, loans and classification changes (SPEC.md §3, §1).

copy_route: who must approve, for every category group × kind × level × owner.
can_request: who may ask. can_approve / eligible_approvers: who may decide.
can_reclassify: who may change a level or period directly.
"""

# The decision tables are aligned in columns for reading; their rows are long on purpose.
# ruff: noqa: E501

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from policy_world import (
    HQ,
    HQ_DEPT,
    HQ_DEPT_MANAGER,
    HQ_EXEC,
    HQ_EXEC_2,
    NOW,
    OTHER_COMPANY,
    OTHER_DEPT,
    OWNING_COMPANY,
    OWNING_DEPT,
    OWNING_DEPT_MANAGER,
    OWNING_GM,
    POOL,
    RELATIONS,
    REQUESTER,
    allow,
    covers_every_relation,
    deny,
    document,
    level_table,
    outcome,
    person,
    request,
    scene,
)

from vault.policy import (
    GROUP_TZ,
    ApproverScope,
    Category,
    CopyKind,
    Level,
    Period,
    Reason,
    Role,
    Route,
    can_approve,
    can_reclassify,
    can_request,
    copy_route,
    eligible_approvers,
)

A, D, R, K, C = allow, deny, Reason, CopyKind, Category

# --- copy_route -----------------------------------------------------------------------------

NO_APPROVAL = Route(required=False, approvers=(), default_no=False, reason=R.NO_APPROVAL_NEEDED, refused=False)
GM = Route(required=True, approvers=(ApproverScope.OWNING_COMPANY_GM,), default_no=False, reason=R.APPROVAL_REQUIRED, refused=False)
DM_OR_GM = Route(required=True, approvers=(ApproverScope.OWNING_DEPT_MANAGER, ApproverScope.OWNING_COMPANY_GM), default_no=False, reason=R.APPROVAL_REQUIRED, refused=False)
HQ_DEFAULT_NO = Route(required=True, approvers=(ApproverScope.HQ_EXECUTIVES,), default_no=True, reason=R.APPROVAL_REQUIRED, refused=False)
REFUSED_NOT_CLASSIFIED = Route(required=False, approvers=(), default_no=False, reason=R.NOT_CLASSIFIED, refused=True)
REFUSED_NO_FIXED_END = Route(required=False, approvers=(), default_no=False, reason=R.NO_FIXED_END, refused=True)

GROUPS = {
    # 营业执照、组织机构代码证: the department manager may approve a copy.
    "dm_certificate": (C.BUSINESS_LICENCE, C.ORG_CODE_CERTIFICATE),
    # other certificates: the company GM.
    "gm_certificate": (C.TAX_REGISTRATION, C.OTHER_CERTIFICATE),
    # everything else, whatever its default level.
    "ordinary": (C.CONTRACT, C.STRATEGY, C.NOTICE),
}

# group             kind           internal                 confidential  secret     top_secret
ROUTE_TABLE = [
    ("dm_certificate", K.COPY,       DM_OR_GM,               DM_OR_GM,     DM_OR_GM,  HQ_DEFAULT_NO),
    ("dm_certificate", K.EXCERPT,    DM_OR_GM,               DM_OR_GM,     DM_OR_GM,  HQ_DEFAULT_NO),
    ("dm_certificate", K.PRINT,      DM_OR_GM,               DM_OR_GM,     DM_OR_GM,  HQ_DEFAULT_NO),
    ("dm_certificate", K.LEND,       GM,                     GM,           GM,        HQ_DEFAULT_NO),
    ("dm_certificate", K.EXTEND,     REFUSED_NOT_CLASSIFIED, GM,           GM,        HQ_DEFAULT_NO),
    ("dm_certificate", K.DOWNGRADE,  REFUSED_NOT_CLASSIFIED, GM,           GM,        HQ_DEFAULT_NO),
    ("dm_certificate", K.DECLASSIFY, REFUSED_NOT_CLASSIFIED, GM,           GM,        HQ_DEFAULT_NO),
    ("gm_certificate", K.COPY,       GM,                     GM,           GM,        HQ_DEFAULT_NO),
    ("gm_certificate", K.EXCERPT,    GM,                     GM,           GM,        HQ_DEFAULT_NO),
    ("gm_certificate", K.PRINT,      GM,                     GM,           GM,        HQ_DEFAULT_NO),
    ("gm_certificate", K.LEND,       GM,                     GM,           GM,        HQ_DEFAULT_NO),
    ("gm_certificate", K.EXTEND,     REFUSED_NOT_CLASSIFIED, GM,           GM,        HQ_DEFAULT_NO),
    ("gm_certificate", K.DOWNGRADE,  REFUSED_NOT_CLASSIFIED, GM,           GM,        HQ_DEFAULT_NO),
    ("gm_certificate", K.DECLASSIFY, REFUSED_NOT_CLASSIFIED, GM,           GM,        HQ_DEFAULT_NO),
    ("ordinary",       K.COPY,       NO_APPROVAL,            GM,           GM,        HQ_DEFAULT_NO),
    ("ordinary",       K.EXCERPT,    NO_APPROVAL,            GM,           GM,        HQ_DEFAULT_NO),
    ("ordinary",       K.PRINT,      NO_APPROVAL,            GM,           GM,        HQ_DEFAULT_NO),
    ("ordinary",       K.LEND,       GM,                     GM,           GM,        HQ_DEFAULT_NO),
    ("ordinary",       K.EXTEND,     REFUSED_NOT_CLASSIFIED, GM,           GM,        HQ_DEFAULT_NO),
    ("ordinary",       K.DOWNGRADE,  REFUSED_NOT_CLASSIFIED, GM,           GM,        HQ_DEFAULT_NO),
    ("ordinary",       K.DECLASSIFY, REFUSED_NOT_CLASSIFIED, GM,           GM,        HQ_DEFAULT_NO),
]  # fmt: skip

ROUTE_NAMES = {
    "no_approval": NO_APPROVAL,
    "gm": GM,
    "dept_manager_or_gm": DM_OR_GM,
    "hq_default_no": HQ_DEFAULT_NO,
    "refused": REFUSED_NOT_CLASSIFIED,
}


def _route_name(route: Route) -> str:
    return next(name for name, known in ROUTE_NAMES.items() if known == route)


def _route_params() -> list[object]:
    params = []
    for group, kind, *routes in ROUTE_TABLE:
        for level, expected in zip(
            (Level.INTERNAL, Level.CONFIDENTIAL, Level.SECRET, Level.TOP_SECRET), routes, strict=True
        ):
            for category in GROUPS[group]:
                for owner in ("hq", "subsidiary"):
                    name = f"{level}-{category}-{kind}-{owner}-{_route_name(expected)}"
                    params.append(pytest.param(category, kind, level, owner == "hq", expected, id=name))
    return params


def test_route_table_covers_every_group_and_kind() -> None:
    assert sorted((g, k) for g, k, *_ in ROUTE_TABLE) == sorted(
        (g, k) for g in GROUPS for k in CopyKind
    )
    assert set(GROUPS["dm_certificate"]) | set(GROUPS["gm_certificate"]) == {
        C.BUSINESS_LICENCE, C.ORG_CODE_CERTIFICATE, C.TAX_REGISTRATION, C.OTHER_CERTIFICATE
    }


@pytest.mark.parametrize(("category", "kind", "level", "hq_owned", "expected"), _route_params())
def test_copy_route(category: Category, kind: CopyKind, level: Level, hq_owned: bool, expected: Route) -> None:
    doc = document(level, category=category, company_is_hq=hq_owned)
    route = copy_route(doc, kind, NOW)
    assert (route.required, route.approvers, route.default_no, route.reason, route.refused) == (
        expected.required, expected.approvers, expected.default_no, expected.reason, expected.refused
    )
    assert route == expected


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        pytest.param(K.EXTEND, REFUSED_NO_FIXED_END, id="condition-extend-refused_no_fixed_end"),
        pytest.param(K.DOWNGRADE, GM, id="condition-downgrade-gm"),
        pytest.param(K.DECLASSIFY, GM, id="condition-declassify-gm"),
        pytest.param(K.COPY, GM, id="condition-copy-gm"),
    ],
)
def test_copy_route_condition_period(kind: CopyKind, expected: Route) -> None:
    doc = document(Level.SECRET, period=Period(condition="until the project is announced"))
    assert copy_route(doc, kind, NOW) == expected


def test_copy_route_extend_of_fixed_date_period_is_routed() -> None:
    doc = document(Level.TOP_SECRET, period=Period(until=date(2030, 6, 30)))
    assert copy_route(doc, K.EXTEND, NOW) == HQ_DEFAULT_NO


# --- can_request ------------------------------------------------------------------------------

REPRODUCTION_AND_LOAN = (K.COPY, K.EXCERPT, K.PRINT, K.LEND)
CLASSIFICATION_CHANGES = (K.EXTEND, K.DOWNGRADE, K.DECLASSIFY)

# Copies and loans: whoever may view, with the viewing reason.
# relation                     internal                 confidential                  secret                        top_secret
REQUEST_COPY_TABLE = [
    ("same_dept-staff",          A(R.INTERNAL_EMPLOYEE), A(R.OWNING_DEPARTMENT),      D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("other_dept-staff",         A(R.INTERNAL_EMPLOYEE), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("other_company-staff",      A(R.INTERNAL_EMPLOYEE), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("responsible-supervisor",   A(R.INTERNAL_EMPLOYEE), A(R.RESPONSIBLE_SUPERVISOR), A(R.RESPONSIBLE_SUPERVISOR),  D(R.CANNOT_VIEW)),
    ("designee-active",          A(R.INTERNAL_EMPLOYEE), A(R.DESIGNEE),               A(R.DESIGNEE),                A(R.DESIGNEE)),
    ("designee-expired",         A(R.INTERNAL_EMPLOYEE), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("designee-revoked",         A(R.INTERNAL_EMPLOYEE), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("designee-lower_level",     A(R.INTERNAL_EMPLOYEE), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("registrant",               A(R.INTERNAL_EMPLOYEE), A(R.REGISTRANT),             A(R.REGISTRANT),              A(R.REGISTRANT)),
    ("registrant-removed",       A(R.INTERNAL_EMPLOYEE), A(R.REGISTRANT),             A(R.REGISTRANT),              D(R.CANNOT_VIEW)),
    ("hq-executive",             A(R.INTERNAL_EMPLOYEE), A(R.HQ_EXECUTIVE),           A(R.HQ_EXECUTIVE),            A(R.HQ_EXECUTIVE)),
    ("non_hq-hq_executive_role", A(R.INTERNAL_EMPLOYEE), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("owning_company-gm",        A(R.INTERNAL_EMPLOYEE), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("other_company-gm",         A(R.INTERNAL_EMPLOYEE), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("owning_dept-manager",      A(R.INTERNAL_EMPLOYEE), A(R.OWNING_DEPARTMENT),      D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("other_dept-manager",       A(R.INTERNAL_EMPLOYEE), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("custodian",                A(R.INTERNAL_EMPLOYEE), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("compliance",               A(R.INTERNAL_EMPLOYEE), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("admin",                    A(R.INTERNAL_EMPLOYEE), D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("deactivated-staff",        D(R.INACTIVE_USER),     D(R.INACTIVE_USER),          D(R.INACTIVE_USER),           D(R.INACTIVE_USER)),
    ("deactivated-hq_executive", D(R.INACTIVE_USER),     D(R.INACTIVE_USER),          D(R.INACTIVE_USER),           D(R.INACTIVE_USER)),
    ("deactivated-supervisor",   D(R.INACTIVE_USER),     D(R.INACTIVE_USER),          D(R.INACTIVE_USER),           D(R.INACTIVE_USER)),
]  # fmt: skip

# Extension, downgrade, early declassification: the supervisor, the registrant or an HQ
# executive, and only someone who may view; an internal file has nothing to change.
# relation                     internal              confidential                  secret                        top_secret
REQUEST_CLASSIFICATION_TABLE = [
    ("same_dept-staff",          D(R.NOT_CLASSIFIED),  D(R.NOT_RESPONSIBLE),        D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("other_dept-staff",         D(R.NOT_CLASSIFIED),  D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("other_company-staff",      D(R.NOT_CLASSIFIED),  D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("responsible-supervisor",   D(R.NOT_CLASSIFIED),  A(R.RESPONSIBLE_SUPERVISOR), A(R.RESPONSIBLE_SUPERVISOR),  D(R.CANNOT_VIEW)),
    ("designee-active",          D(R.NOT_CLASSIFIED),  D(R.NOT_RESPONSIBLE),        D(R.NOT_RESPONSIBLE),         D(R.NOT_RESPONSIBLE)),
    ("designee-expired",         D(R.NOT_CLASSIFIED),  D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("designee-revoked",         D(R.NOT_CLASSIFIED),  D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("designee-lower_level",     D(R.NOT_CLASSIFIED),  D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("registrant",               D(R.NOT_CLASSIFIED),  A(R.REGISTRANT),             A(R.REGISTRANT),              A(R.REGISTRANT)),
    ("registrant-removed",       D(R.NOT_CLASSIFIED),  A(R.REGISTRANT),             A(R.REGISTRANT),              D(R.CANNOT_VIEW)),
    ("hq-executive",             D(R.NOT_CLASSIFIED),  A(R.HQ_EXECUTIVE),           A(R.HQ_EXECUTIVE),            A(R.HQ_EXECUTIVE)),
    ("non_hq-hq_executive_role", D(R.NOT_CLASSIFIED),  D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("owning_company-gm",        D(R.NOT_CLASSIFIED),  D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("other_company-gm",         D(R.NOT_CLASSIFIED),  D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("owning_dept-manager",      D(R.NOT_CLASSIFIED),  D(R.NOT_RESPONSIBLE),        D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("other_dept-manager",       D(R.NOT_CLASSIFIED),  D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("custodian",                D(R.NOT_CLASSIFIED),  D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("compliance",               D(R.NOT_CLASSIFIED),  D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("admin",                    D(R.NOT_CLASSIFIED),  D(R.CANNOT_VIEW),            D(R.CANNOT_VIEW),             D(R.CANNOT_VIEW)),
    ("deactivated-staff",        D(R.INACTIVE_USER),   D(R.INACTIVE_USER),          D(R.INACTIVE_USER),           D(R.INACTIVE_USER)),
    ("deactivated-hq_executive", D(R.INACTIVE_USER),   D(R.INACTIVE_USER),          D(R.INACTIVE_USER),           D(R.INACTIVE_USER)),
    ("deactivated-supervisor",   D(R.INACTIVE_USER),   D(R.INACTIVE_USER),          D(R.INACTIVE_USER),           D(R.INACTIVE_USER)),
]  # fmt: skip


def test_request_tables_cover_every_relation_and_kind() -> None:
    assert covers_every_relation(REQUEST_COPY_TABLE)
    assert covers_every_relation(REQUEST_CLASSIFICATION_TABLE)
    assert set(REPRODUCTION_AND_LOAN) | set(CLASSIFICATION_CHANGES) == set(CopyKind)


@pytest.mark.parametrize(
    ("relation", "level", "kind", "expected"), level_table(REQUEST_COPY_TABLE, REPRODUCTION_AND_LOAN)
)
def test_can_request_copy_or_loan(relation: str, level: Level, kind: CopyKind, expected) -> None:
    subject, doc = scene(relation, level)
    assert can_request(subject, doc, kind, NOW) == expected


@pytest.mark.parametrize(
    ("relation", "level", "kind", "expected"),
    level_table(REQUEST_CLASSIFICATION_TABLE, CLASSIFICATION_CHANGES),
)
def test_can_request_classification_change(relation: str, level: Level, kind: CopyKind, expected) -> None:
    subject, doc = scene(relation, level)
    assert can_request(subject, doc, kind, NOW) == expected


@pytest.mark.parametrize(
    ("relation", "kind", "expected"),
    [
        pytest.param("responsible-supervisor", K.EXTEND, D(R.NO_FIXED_END), id="condition-supervisor-extend-deny"),
        pytest.param("hq-executive", K.EXTEND, D(R.NO_FIXED_END), id="condition-hq_executive-extend-deny"),
        pytest.param("responsible-supervisor", K.DECLASSIFY, A(R.RESPONSIBLE_SUPERVISOR), id="condition-supervisor-declassify-allow"),
        pytest.param("registrant", K.DOWNGRADE, A(R.REGISTRANT), id="condition-registrant-downgrade-allow"),
    ],
)
def test_can_request_on_condition_period(relation: str, kind: CopyKind, expected) -> None:
    subject, doc = scene(relation, Level.SECRET, period=Period(condition="until the project is announced"))
    assert can_request(subject, doc, kind, NOW) == expected


# --- can_approve ------------------------------------------------------------------------------

# An ordinary subsidiary-owned file (a contract), a copy asked for by another member of the
# owning department.
# relation                     internal                  confidential              secret                    top_secret
APPROVE_CONTRACT_COPY_TABLE = [
    ("same_dept-staff",          D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("other_dept-staff",         D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("other_company-staff",      D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("responsible-supervisor",   D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("designee-active",          D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("designee-expired",         D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("designee-revoked",         D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("designee-lower_level",     D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("registrant",               D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("registrant-removed",       D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("hq-executive",             D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    A(R.HQ_EXECUTIVE)),
    ("non_hq-hq_executive_role", D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("owning_company-gm",        D(R.NO_APPROVAL_NEEDED), A(R.OWNING_COMPANY_GM),  A(R.OWNING_COMPANY_GM),  D(R.NOT_AN_APPROVER)),
    ("other_company-gm",         D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("owning_dept-manager",      D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("other_dept-manager",       D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("custodian",                D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("compliance",               D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("admin",                    D(R.NO_APPROVAL_NEEDED), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("deactivated-staff",        D(R.INACTIVE_USER),      D(R.INACTIVE_USER),      D(R.INACTIVE_USER),      D(R.INACTIVE_USER)),
    ("deactivated-hq_executive", D(R.INACTIVE_USER),      D(R.INACTIVE_USER),      D(R.INACTIVE_USER),      D(R.INACTIVE_USER)),
    ("deactivated-supervisor",   D(R.INACTIVE_USER),      D(R.INACTIVE_USER),      D(R.INACTIVE_USER),      D(R.INACTIVE_USER)),
]  # fmt: skip

# A subsidiary's business licence (营业执照), a copy: its department manager or its GM
# (top secret: HQ executives). Declassified certificates still need the approval.
# relation                     internal                  confidential              secret                    top_secret
APPROVE_LICENCE_COPY_TABLE = [
    ("same_dept-staff",          D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("other_dept-staff",         D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("other_company-staff",      D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("responsible-supervisor",   D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("designee-active",          D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("designee-expired",         D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("designee-revoked",         D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("designee-lower_level",     D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("registrant",               D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("registrant-removed",       D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("hq-executive",             D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    A(R.HQ_EXECUTIVE)),
    ("non_hq-hq_executive_role", D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("owning_company-gm",        A(R.OWNING_COMPANY_GM),  A(R.OWNING_COMPANY_GM),  A(R.OWNING_COMPANY_GM),  D(R.NOT_AN_APPROVER)),
    ("other_company-gm",         D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("owning_dept-manager",      A(R.OWNING_DEPT_MANAGER), A(R.OWNING_DEPT_MANAGER), A(R.OWNING_DEPT_MANAGER), D(R.NOT_AN_APPROVER)),
    ("other_dept-manager",       D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("custodian",                D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("compliance",               D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("admin",                    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("deactivated-staff",        D(R.INACTIVE_USER),      D(R.INACTIVE_USER),      D(R.INACTIVE_USER),      D(R.INACTIVE_USER)),
    ("deactivated-hq_executive", D(R.INACTIVE_USER),      D(R.INACTIVE_USER),      D(R.INACTIVE_USER),      D(R.INACTIVE_USER)),
    ("deactivated-supervisor",   D(R.INACTIVE_USER),      D(R.INACTIVE_USER),      D(R.INACTIVE_USER),      D(R.INACTIVE_USER)),
]  # fmt: skip


def test_approve_tables_cover_every_relation() -> None:
    assert covers_every_relation(APPROVE_CONTRACT_COPY_TABLE)
    assert covers_every_relation(APPROVE_LICENCE_COPY_TABLE)


@pytest.mark.parametrize(("relation", "level", "expected"), level_table(APPROVE_CONTRACT_COPY_TABLE))
def test_can_approve_contract_copy(relation: str, level: Level, expected) -> None:
    subject, doc = scene(relation, level)
    assert can_approve(subject, request(doc, K.COPY), NOW) == expected


@pytest.mark.parametrize(("relation", "level", "expected"), level_table(APPROVE_LICENCE_COPY_TABLE))
def test_can_approve_business_licence_copy(relation: str, level: Level, expected) -> None:
    subject, doc = scene(relation, level, category=C.BUSINESS_LICENCE)
    assert can_approve(subject, request(doc, K.COPY), NOW) == expected


# HQ-owned files: the "owning company GM" is an HQ executive; the department manager is
# the HQ department's manager. The subsidiary GM has no say.
# level          category              kind          hq-executive              non_hq-hq_executive_role  subsidiary-gm          hq-dept_manager
HQ_OWNED_APPROVE_TABLE = [
    (Level.INTERNAL,     C.CONTRACT,         K.COPY,       D(R.NO_APPROVAL_NEEDED), D(R.NO_APPROVAL_NEEDED), D(R.NO_APPROVAL_NEEDED), D(R.NO_APPROVAL_NEEDED)),
    (Level.INTERNAL,     C.CONTRACT,         K.LEND,       A(R.OWNING_COMPANY_GM),  D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    (Level.CONFIDENTIAL, C.CONTRACT,         K.COPY,       A(R.OWNING_COMPANY_GM),  D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    (Level.SECRET,       C.CONTRACT,         K.PRINT,      A(R.OWNING_COMPANY_GM),  D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    (Level.SECRET,       C.CONTRACT,         K.EXTEND,     A(R.OWNING_COMPANY_GM),  D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    (Level.TOP_SECRET,   C.STRATEGY,         K.EXCERPT,    A(R.HQ_EXECUTIVE),       D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    (Level.TOP_SECRET,   C.STRATEGY,         K.DOWNGRADE,  A(R.HQ_EXECUTIVE),       D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    (Level.INTERNAL,     C.BUSINESS_LICENCE, K.COPY,       A(R.OWNING_COMPANY_GM),  D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    A(R.OWNING_DEPT_MANAGER)),
    (Level.CONFIDENTIAL, C.BUSINESS_LICENCE, K.COPY,       A(R.OWNING_COMPANY_GM),  D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    A(R.OWNING_DEPT_MANAGER)),
    (Level.CONFIDENTIAL, C.BUSINESS_LICENCE, K.LEND,       A(R.OWNING_COMPANY_GM),  D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    (Level.CONFIDENTIAL, C.TAX_REGISTRATION, K.COPY,       A(R.OWNING_COMPANY_GM),  D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    (Level.INTERNAL,     C.CONTRACT,         K.DECLASSIFY, D(R.NOT_CLASSIFIED),     D(R.NOT_CLASSIFIED),     D(R.NOT_CLASSIFIED),     D(R.NOT_CLASSIFIED)),
]  # fmt: skip

HQ_OWNED_APPROVERS = {
    "hq-executive": HQ_EXEC,
    "non_hq-hq_executive_role": RELATIONS["non_hq-hq_executive_role"],
    "subsidiary-gm": OWNING_GM,
    "hq-dept_manager": HQ_DEPT_MANAGER,
}


def _hq_owned_params() -> list[object]:
    params = []
    for level, category, kind, *expected in HQ_OWNED_APPROVE_TABLE:
        for (who, subject), decision in zip(HQ_OWNED_APPROVERS.items(), expected, strict=True):
            name = f"hq_owned-{level}-{category}-{kind}-{who}-{outcome(decision)}"
            params.append(pytest.param(level, category, kind, subject, decision, id=name))
    return params


@pytest.mark.parametrize(("level", "category", "kind", "approver", "expected"), _hq_owned_params())
def test_can_approve_hq_owned(level, category, kind, approver, expected) -> None:
    doc = document(level, category=category, company_is_hq=True)
    assert can_approve(approver, request(doc, kind), NOW) == expected


@pytest.mark.parametrize(
    ("level", "category", "kind", "approver", "expected"),
    [
        pytest.param(Level.CONFIDENTIAL, C.BUSINESS_LICENCE, K.LEND, OWNING_DEPT_MANAGER, D(R.NOT_AN_APPROVER), id="licence-lend-dept_manager-deny"),
        pytest.param(Level.CONFIDENTIAL, C.BUSINESS_LICENCE, K.LEND, OWNING_GM, A(R.OWNING_COMPANY_GM), id="licence-lend-gm-allow"),
        pytest.param(Level.CONFIDENTIAL, C.ORG_CODE_CERTIFICATE, K.EXCERPT, OWNING_DEPT_MANAGER, A(R.OWNING_DEPT_MANAGER), id="org_code-excerpt-dept_manager-allow"),
        pytest.param(Level.CONFIDENTIAL, C.TAX_REGISTRATION, K.COPY, OWNING_DEPT_MANAGER, D(R.NOT_AN_APPROVER), id="tax_registration-copy-dept_manager-deny"),
        pytest.param(Level.CONFIDENTIAL, C.OTHER_CERTIFICATE, K.PRINT, OWNING_GM, A(R.OWNING_COMPANY_GM), id="other_certificate-print-gm-allow"),
        pytest.param(Level.CONFIDENTIAL, C.BUSINESS_LICENCE, K.EXTEND, OWNING_DEPT_MANAGER, D(R.NOT_AN_APPROVER), id="licence-extend-dept_manager-deny"),
        pytest.param(Level.SECRET, C.CONTRACT, K.EXTEND, OWNING_GM, A(R.OWNING_COMPANY_GM), id="secret-extend-gm-allow"),
        pytest.param(Level.SECRET, C.CONTRACT, K.DECLASSIFY, HQ_EXEC, D(R.NOT_AN_APPROVER), id="secret-declassify-hq_executive-deny"),
        pytest.param(Level.TOP_SECRET, C.STRATEGY, K.DOWNGRADE, HQ_EXEC, A(R.HQ_EXECUTIVE), id="top_secret-downgrade-hq_executive-allow"),
        pytest.param(Level.TOP_SECRET, C.STRATEGY, K.DOWNGRADE, OWNING_GM, D(R.NOT_AN_APPROVER), id="top_secret-downgrade-gm-deny"),
        pytest.param(Level.INTERNAL, C.CONTRACT, K.LEND, OWNING_GM, A(R.OWNING_COMPANY_GM), id="internal-lend-gm-allow"),
        pytest.param(Level.INTERNAL, C.CONTRACT, K.DECLASSIFY, OWNING_GM, D(R.NOT_CLASSIFIED), id="internal-declassify-gm-refused"),
    ],
)
def test_can_approve_kinds_and_certificates(level, category, kind, approver, expected) -> None:
    doc = document(level, category=category)
    assert can_approve(approver, request(doc, kind), NOW) == expected


def test_can_approve_extension_of_condition_period_is_refused() -> None:
    doc = document(Level.SECRET, period=Period(condition="until the project is announced"))
    assert can_approve(OWNING_GM, request(doc, K.EXTEND), NOW) == D(R.NO_FIXED_END)


# Never the requester — not even an HQ executive, a GM or a department manager.
@pytest.mark.parametrize(
    ("doc", "kind", "requester", "approver", "expected"),
    [
        pytest.param(document(Level.TOP_SECRET), K.COPY, HQ_EXEC, HQ_EXEC, D(R.REQUESTER_CANNOT_APPROVE), id="top_secret-hq_executive-own_request-deny"),
        pytest.param(document(Level.TOP_SECRET), K.COPY, HQ_EXEC, HQ_EXEC_2, A(R.HQ_EXECUTIVE), id="top_secret-other_hq_executive-allow"),
        pytest.param(document(Level.SECRET, company_is_hq=True), K.COPY, HQ_EXEC, HQ_EXEC, D(R.REQUESTER_CANNOT_APPROVE), id="hq_owned-secret-hq_executive-own_request-deny"),
        pytest.param(document(Level.CONFIDENTIAL), K.COPY, OWNING_GM, OWNING_GM, D(R.REQUESTER_CANNOT_APPROVE), id="confidential-gm-own_request-deny"),
        pytest.param(document(Level.SECRET), K.EXTEND, OWNING_GM, OWNING_GM, D(R.REQUESTER_CANNOT_APPROVE), id="secret-extend-gm-own_request-deny"),
        pytest.param(document(Level.CONFIDENTIAL, category=C.BUSINESS_LICENCE), K.COPY, OWNING_DEPT_MANAGER, OWNING_DEPT_MANAGER, D(R.REQUESTER_CANNOT_APPROVE), id="licence-dept_manager-own_request-deny"),
        pytest.param(document(Level.CONFIDENTIAL, category=C.BUSINESS_LICENCE), K.COPY, OWNING_DEPT_MANAGER, OWNING_GM, A(R.OWNING_COMPANY_GM), id="licence-gm-for_dept_manager-allow"),
        pytest.param(document(Level.INTERNAL), K.COPY, OWNING_GM, OWNING_GM, D(R.REQUESTER_CANNOT_APPROVE), id="internal-own_request-deny"),
    ],
)
def test_can_approve_never_the_requester(doc, kind, requester, approver, expected) -> None:
    assert can_approve(approver, request(doc, kind, requester), NOW) == expected


# Someone who lost the office since the request was made (the route is recomputed).
@pytest.mark.parametrize(
    ("doc", "approver", "expected"),
    [
        pytest.param(document(Level.CONFIDENTIAL), person(OWNING_GM.user_id, OWNING_COMPANY, None, Role.STAFF), D(R.NOT_AN_APPROVER), id="former_gm-no_role-deny"),
        pytest.param(document(Level.CONFIDENTIAL), person(OWNING_GM.user_id, OTHER_COMPANY, None, Role.COMPANY_GM), D(R.NOT_AN_APPROVER), id="gm_moved_to_other_company-deny"),
        pytest.param(document(Level.CONFIDENTIAL), person(OWNING_GM.user_id, OWNING_COMPANY, None, Role.COMPANY_GM, active=False), D(R.INACTIVE_USER), id="gm_deactivated-deny"),
        pytest.param(document(Level.TOP_SECRET), person(HQ_EXEC.user_id, HQ, HQ_DEPT, Role.STAFF), D(R.NOT_AN_APPROVER), id="top_secret-former_hq_executive-no_role-deny"),
        pytest.param(document(Level.TOP_SECRET), person(HQ_EXEC.user_id, OWNING_COMPANY, OTHER_DEPT, Role.HQ_EXECUTIVE), D(R.NOT_AN_APPROVER), id="top_secret-hq_executive_left_hq-deny"),
        pytest.param(document(Level.SECRET, company_is_hq=True), person(HQ_EXEC.user_id, OWNING_COMPANY, OTHER_DEPT, Role.HQ_EXECUTIVE), D(R.NOT_AN_APPROVER), id="hq_owned-hq_executive_left_hq-deny"),
        pytest.param(document(Level.CONFIDENTIAL, category=C.BUSINESS_LICENCE), person(OWNING_DEPT_MANAGER.user_id, OWNING_COMPANY, OTHER_DEPT, Role.DEPT_MANAGER), D(R.NOT_AN_APPROVER), id="licence-dept_manager_moved_department-deny"),
        pytest.param(document(Level.CONFIDENTIAL, category=C.BUSINESS_LICENCE), person(OWNING_DEPT_MANAGER.user_id, OWNING_COMPANY, OWNING_DEPT, Role.STAFF), D(R.NOT_AN_APPROVER), id="licence-former_dept_manager-deny"),
        pytest.param(document(Level.CONFIDENTIAL, category=C.BUSINESS_LICENCE), person(400, OTHER_COMPANY, OWNING_DEPT, Role.DEPT_MANAGER), D(R.NOT_AN_APPROVER), id="licence-same_dept_number_other_company-deny"),
    ],
)
def test_can_approve_refuses_someone_without_the_office(doc, approver, expected) -> None:
    assert can_approve(approver, request(doc, K.COPY), NOW) == expected


# --- eligible_approvers -----------------------------------------------------------------------

# user ids: 101, 102 HQ executives; 106 HQ department manager; 210 the owning company's GM;
# 211 the owning department's manager. Results keep the pool's order.
@pytest.mark.parametrize(
    ("doc", "kind", "requester", "expected_ids"),
    [
        pytest.param(document(Level.CONFIDENTIAL), K.COPY, REQUESTER, [210], id="confidential-contract-copy"),
        pytest.param(document(Level.SECRET), K.EXCERPT, REQUESTER, [210], id="secret-contract-excerpt"),
        pytest.param(document(Level.TOP_SECRET), K.PRINT, REQUESTER, [101, 102], id="top_secret-contract-print"),
        pytest.param(document(Level.TOP_SECRET), K.COPY, HQ_EXEC, [102], id="top_secret-copy-requested_by_hq_executive"),
        pytest.param(document(Level.CONFIDENTIAL), K.COPY, OWNING_GM, [], id="confidential-copy-requested_by_gm"),
        pytest.param(document(Level.INTERNAL), K.COPY, REQUESTER, [], id="internal-contract-copy"),
        pytest.param(document(Level.INTERNAL), K.LEND, REQUESTER, [210], id="internal-contract-lend"),
        pytest.param(document(Level.CONFIDENTIAL, category=C.BUSINESS_LICENCE), K.COPY, REQUESTER, [210, 211], id="confidential-business_licence-copy"),
        pytest.param(document(Level.CONFIDENTIAL, category=C.ORG_CODE_CERTIFICATE), K.PRINT, REQUESTER, [210, 211], id="confidential-org_code_certificate-print"),
        pytest.param(document(Level.INTERNAL, category=C.BUSINESS_LICENCE), K.COPY, REQUESTER, [210, 211], id="internal-business_licence-copy"),
        pytest.param(document(Level.CONFIDENTIAL, category=C.BUSINESS_LICENCE), K.LEND, REQUESTER, [210], id="confidential-business_licence-lend"),
        pytest.param(document(Level.CONFIDENTIAL, category=C.TAX_REGISTRATION), K.COPY, REQUESTER, [210], id="confidential-tax_registration-copy"),
        pytest.param(document(Level.CONFIDENTIAL, category=C.OTHER_CERTIFICATE), K.LEND, REQUESTER, [210], id="confidential-other_certificate-lend"),
        pytest.param(document(Level.TOP_SECRET, category=C.BUSINESS_LICENCE), K.COPY, REQUESTER, [101, 102], id="top_secret-business_licence-copy"),
        pytest.param(document(Level.CONFIDENTIAL, company_is_hq=True), K.COPY, REQUESTER, [101, 102], id="hq_owned-confidential-contract-copy"),
        pytest.param(document(Level.CONFIDENTIAL, category=C.BUSINESS_LICENCE, company_is_hq=True), K.COPY, REQUESTER, [101, 102, 106], id="hq_owned-business_licence-copy"),
        pytest.param(document(Level.SECRET), K.EXTEND, REQUESTER, [210], id="secret-extend"),
        pytest.param(document(Level.TOP_SECRET), K.DOWNGRADE, REQUESTER, [101, 102], id="top_secret-downgrade"),
        pytest.param(document(Level.INTERNAL), K.DECLASSIFY, REQUESTER, [], id="internal-declassify"),
        pytest.param(document(Level.SECRET, period=Period(condition="until announced")), K.EXTEND, REQUESTER, [], id="condition-extend"),
    ],
)
def test_eligible_approvers(doc, kind, requester, expected_ids) -> None:
    chosen = eligible_approvers(POOL, request(doc, kind, requester), NOW)
    assert [s.user_id for s in chosen] == expected_ids
    assert all(s in POOL for s in chosen)


def test_eligible_approvers_accepts_any_iterable() -> None:
    doc = document(Level.CONFIDENTIAL)
    chosen = eligible_approvers(iter(POOL), request(doc, K.COPY), NOW)
    assert chosen == [OWNING_GM]


def test_world_ids_used_above() -> None:
    assert (HQ_EXEC.user_id, HQ_EXEC_2.user_id, HQ_DEPT_MANAGER.user_id) == (101, 102, 106)
    assert (OWNING_GM.user_id, OWNING_DEPT_MANAGER.user_id) == (210, 211)
    assert OWNING_DEPT_MANAGER.department_id == OWNING_DEPT


# --- can_reclassify: direct changes by the approving office ------------------------------------

# Whoever would approve a request at the current level AND at the new level; never an
# extension once the period has ended. Subsidiary-owned contract unless marked hq_owned.
TS, S, CF, IN = Level.TOP_SECRET, Level.SECRET, Level.CONFIDENTIAL, Level.INTERNAL
AFTER_END = datetime(2034, 1, 15, tzinfo=GROUP_TZ)  # the 10-year period of the standard document ended


@pytest.mark.parametrize(
    ("subject", "hq_owned", "current", "new", "extends", "now", "expected"),
    [
        pytest.param(OWNING_GM, False, S, S, True, NOW, A(R.APPROVER), id="gm-secret-extend-allow"),
        pytest.param(OWNING_GM, False, S, S, True, AFTER_END, D(R.PERIOD_ALREADY_ENDED), id="gm-secret-extend_after_end-deny"),
        pytest.param(OWNING_GM, False, S, S, True, AFTER_END - timedelta(seconds=1), A(R.APPROVER), id="gm-secret-extend_1s_before_end-allow"),
        pytest.param(OWNING_GM, False, S, S, False, AFTER_END, A(R.APPROVER), id="gm-reclassify_after_end_without_extension-allow"),
        pytest.param(OWNING_GM, False, CF, S, False, NOW, A(R.APPROVER), id="gm-confidential_to_secret-allow"),
        pytest.param(OWNING_GM, False, S, CF, False, NOW, A(R.APPROVER), id="gm-secret_to_confidential-allow"),
        pytest.param(OWNING_GM, False, S, IN, False, NOW, A(R.APPROVER), id="gm-secret_to_internal-allow"),
        pytest.param(OWNING_GM, False, IN, CF, False, NOW, A(R.APPROVER), id="gm-internal_to_confidential-allow"),
        pytest.param(OWNING_GM, False, S, TS, False, NOW, D(R.NOT_RECLASSIFIER), id="gm-secret_to_top_secret-deny"),
        pytest.param(OWNING_GM, False, TS, S, False, NOW, D(R.NOT_RECLASSIFIER), id="gm-top_secret_to_secret-deny"),
        pytest.param(OWNING_GM, False, IN, IN, False, NOW, D(R.NOT_CLASSIFIED), id="gm-internal_to_internal-deny"),
        pytest.param(OWNING_GM, True, S, CF, False, NOW, D(R.NOT_RECLASSIFIER), id="subsidiary_gm-hq_owned-deny"),
        pytest.param(RELATIONS["other_company-gm"], False, S, CF, False, NOW, D(R.NOT_RECLASSIFIER), id="other_company_gm-deny"),
        pytest.param(HQ_EXEC, False, TS, TS, True, NOW, A(R.APPROVER), id="hq_executive-top_secret-extend-allow"),
        pytest.param(HQ_EXEC, False, TS, IN, False, NOW, A(R.APPROVER), id="hq_executive-top_secret_to_internal-allow"),
        pytest.param(HQ_EXEC, False, IN, TS, False, NOW, A(R.APPROVER), id="hq_executive-internal_to_top_secret-allow"),
        # Subsidiary files: confidential and secret belong to the subsidiary GM, so an HQ
        # executive alone cannot move a file across the top-secret boundary (nor can the GM).
        pytest.param(HQ_EXEC, False, TS, S, False, NOW, A(R.APPROVER), id="hq_executive-subsidiary-top_secret_to_secret-allow"),
        pytest.param(HQ_EXEC, False, CF, S, False, NOW, A(R.APPROVER), id="hq_executive-subsidiary-confidential_to_secret-allow"),
        pytest.param(HQ_EXEC, True, S, TS, False, NOW, A(R.APPROVER), id="hq_executive-hq_owned-secret_to_top_secret-allow"),
        pytest.param(HQ_EXEC, True, TS, CF, False, NOW, A(R.APPROVER), id="hq_executive-hq_owned-top_secret_to_confidential-allow"),
        pytest.param(RELATIONS["non_hq-hq_executive_role"], False, TS, IN, False, NOW, D(R.NOT_RECLASSIFIER), id="non_hq-hq_executive_role-deny"),
        pytest.param(RELATIONS["responsible-supervisor"], False, S, S, True, NOW, D(R.NOT_RECLASSIFIER), id="supervisor-extend-deny"),
        pytest.param(RELATIONS["registrant"], False, CF, IN, False, NOW, D(R.NOT_RECLASSIFIER), id="registrant-declassify-deny"),
        pytest.param(OWNING_DEPT_MANAGER, False, CF, IN, False, NOW, D(R.NOT_RECLASSIFIER), id="dept_manager-declassify-deny"),
        pytest.param(RELATIONS["compliance"], False, CF, IN, False, NOW, D(R.NOT_RECLASSIFIER), id="compliance-deny"),
        pytest.param(RELATIONS["deactivated-hq_executive"], False, TS, IN, False, NOW, D(R.INACTIVE_USER), id="deactivated_hq_executive-deny"),
        pytest.param(replace(OWNING_GM, active=False), False, S, S, True, AFTER_END, D(R.INACTIVE_USER), id="deactivated_gm-deny"),
    ],
)  # fmt: skip
def test_can_reclassify(subject, hq_owned, current, new, extends, now, expected) -> None:
    doc = document(current, company_is_hq=hq_owned)
    assert can_reclassify(subject, doc, new, extends, now) == expected


def test_can_reclassify_business_licence_is_not_for_the_department_manager() -> None:
    doc = document(CF, category=C.BUSINESS_LICENCE)
    assert can_reclassify(OWNING_DEPT_MANAGER, doc, IN, False, NOW) == D(R.NOT_RECLASSIFIER)
    assert can_reclassify(OWNING_GM, doc, IN, False, NOW) == A(R.APPROVER)
