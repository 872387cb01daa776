"""The rules hold at every use, not only at the first (issue 11).

approval_void / can_collect: an approval is checked again when it is used (a
download, a loan handed over, a photocopy issued, a change applied).
copy_route with a requester: no office is ever empty — a requester who holds every
approving office themselves goes one level up. keeps_a_custodian / can_keep_loans:
every company keeps a custodian; without one its GM keeps the lending register.
"""

# The decision tables are aligned in columns for reading; their rows are long on purpose.
# ruff: noqa: E501

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest
from policy_world import (
    CUSTODIAN,
    DEACTIVATED_HQ_EXEC,
    HQ,
    HQ_DEPT,
    HQ_DEPT_MANAGER,
    HQ_EXEC,
    HQ_EXEC_2,
    NOW,
    OTHER_COMPANY,
    OTHER_GM,
    OWNING_COMPANY,
    OWNING_DEPT,
    OWNING_DEPT_MANAGER,
    OWNING_GM,
    REQUESTER,
    SAME_DEPT_STAFF,
    allow,
    deny,
    document,
    person,
)

from vault.policy import (
    ApprovalFacts,
    ApproverScope,
    Category,
    CopyFacts,
    CopyKind,
    Decision,
    Level,
    Period,
    Reason,
    RequestState,
    Role,
    Route,
    Subject,
    approval_void,
    can_approve,
    can_collect,
    can_keep_loans,
    copy_route,
    keeps_a_custodian,
    photocopiable,
)

A, D, R, K, C, S = allow, deny, Reason, CopyKind, Category, RequestState

# --- approval_void ----------------------------------------------------------------------------

ENDED = Period(years=1)  # issued 2024-01-15: ended on 2025-01-15, before NOW
GM_AS_STAFF = replace(OWNING_GM, roles=frozenset({Role.STAFF}))


def _req(level: Level, kind: CopyKind = K.COPY, **doc: object) -> CopyFacts:
    return CopyFacts(document(level, **doc), kind, REQUESTER.user_id, REQUESTER)  # type: ignore[arg-type]


VOID_ROWS: list[tuple[str, CopyFacts, Level, Subject, Decision]] = [
    # case                                          request now                              asked at         approver       expected
    ("still-holds-gm",                              _req(Level.CONFIDENTIAL),                Level.CONFIDENTIAL, OWNING_GM,   A(R.APPROVED)),
    ("raised-to-top_secret-gm-approved",            _req(Level.TOP_SECRET),                  Level.SECRET,    OWNING_GM,      D(R.VOID_RECLASSIFIED)),
    ("raised-to-top_secret-hq-approved",            _req(Level.TOP_SECRET),                  Level.SECRET,    HQ_EXEC,        D(R.VOID_RECLASSIFIED)),
    ("raised-secret-to-confidential-not-up",        _req(Level.CONFIDENTIAL),                Level.SECRET,    OWNING_GM,      A(R.APPROVED)),
    ("requester-lost-the-right-to-read",            _req(Level.SECRET),                      Level.SECRET,    OWNING_GM,      D(R.VOID_REQUESTER_LOST_ACCESS)),
    ("downgrade-of-a-file-that-declassified",       _req(Level.CONFIDENTIAL, K.DOWNGRADE, period=ENDED), Level.CONFIDENTIAL, OWNING_GM, D(R.VOID_RECLASSIFIED)),
    ("copy-of-a-file-that-declassified",            _req(Level.CONFIDENTIAL, period=ENDED),  Level.CONFIDENTIAL, OWNING_GM,   A(R.NO_APPROVAL_NEEDED)),
    ("approver-lost-the-role",                      _req(Level.CONFIDENTIAL),                Level.CONFIDENTIAL, GM_AS_STAFF, D(R.VOID_APPROVER_LOST_OFFICE)),
    ("approver-deactivated",                        _req(Level.CONFIDENTIAL),                Level.CONFIDENTIAL, replace(OWNING_GM, active=False), D(R.VOID_APPROVER_LOST_OFFICE)),
    ("hq-executive-approval-stands-after-downgrade", _req(Level.CONFIDENTIAL),               Level.TOP_SECRET, HQ_EXEC,       A(R.HQ_EXECUTIVE)),
    ("deactivated-hq-executive",                    _req(Level.CONFIDENTIAL),                Level.TOP_SECRET, DEACTIVATED_HQ_EXEC, D(R.VOID_APPROVER_LOST_OFFICE)),
    ("other-company-gm-never-held-it",              _req(Level.CONFIDENTIAL),                Level.CONFIDENTIAL, OTHER_GM,    D(R.VOID_APPROVER_LOST_OFFICE)),
    ("dept-manager-of-a-licence-copy",              _req(Level.CONFIDENTIAL, category=C.BUSINESS_LICENCE), Level.CONFIDENTIAL, OWNING_DEPT_MANAGER, A(R.APPROVED)),
    ("dept-manager-now-staff",                      _req(Level.CONFIDENTIAL, category=C.BUSINESS_LICENCE), Level.CONFIDENTIAL, replace(OWNING_DEPT_MANAGER, roles=frozenset({Role.STAFF})), D(R.VOID_APPROVER_LOST_OFFICE)),
]


@pytest.mark.parametrize(("request_now", "asked", "approver", "expected"),
                         [pytest.param(*row[1:], id=row[0]) for row in VOID_ROWS])
def test_approval_void(request_now: CopyFacts, asked: Level, approver: Subject,
                       expected: Decision) -> None:
    assert approval_void(REQUESTER, approver, request_now, asked, NOW) == expected


# --- can_collect ------------------------------------------------------------------------------

WINDOW = NOW + timedelta(hours=1)


def _approval(state: RequestState = S.APPROVED, approver: Subject | None = OWNING_GM,
              window: object = WINDOW, level: Level = Level.CONFIDENTIAL,
              asked: Level = Level.CONFIDENTIAL) -> ApprovalFacts:
    return ApprovalFacts(_req(level), state, asked, approver, window)  # type: ignore[arg-type]


COLLECT_ROWS: list[tuple[str, Subject, ApprovalFacts, Decision]] = [
    ("requester-within-the-window",     REQUESTER,                          _approval(),                                  A(R.APPROVED)),
    ("loan-has-no-window",              REQUESTER,                          _approval(window=None),                       A(R.APPROVED)),
    ("deactivated-requester",           replace(REQUESTER, active=False),   _approval(),                                  D(R.INACTIVE_USER)),
    ("another-person",                  SAME_DEPT_STAFF,                    _approval(),                                  D(R.NOT_REQUESTER)),
    ("used-already",                    REQUESTER,                          _approval(S.SPENT),                           D(R.ALREADY_USED)),
    ("pending",                         REQUESTER,                          _approval(S.PENDING, approver=None),          D(R.NOT_APPROVED)),
    ("rejected",                        REQUESTER,                          _approval(S.REJECTED),                        D(R.NOT_APPROVED)),
    ("void-already",                    REQUESTER,                          _approval(S.VOID),                            D(R.NOT_APPROVED)),
    ("approved-without-approver",       REQUESTER,                          _approval(approver=None),                     D(R.NOT_APPROVED)),
    ("window-over",                     REQUESTER,                          _approval(window=NOW),                        D(R.WINDOW_OVER)),
    ("raised-since",                    REQUESTER,                          _approval(level=Level.SECRET),                D(R.VOID_RECLASSIFIED)),
    ("approver-lost-office",            REQUESTER,                          _approval(approver=GM_AS_STAFF),              D(R.VOID_APPROVER_LOST_OFFICE)),
]


@pytest.mark.parametrize(("subject", "approval", "expected"),
                         [pytest.param(*row[1:], id=row[0]) for row in COLLECT_ROWS])
def test_can_collect(subject: Subject, approval: ApprovalFacts, expected: Decision) -> None:
    assert can_collect(subject, approval, NOW) == expected


# --- copy_route: no office is ever empty ------------------------------------------------------

HQ_ESCALATED = Route(True, (ApproverScope.HQ_EXECUTIVES,), default_no=False, reason=R.ESCALATED)
GM = Route(True, (ApproverScope.OWNING_COMPANY_GM,))
DM_OR_GM = Route(True, (ApproverScope.OWNING_DEPT_MANAGER, ApproverScope.OWNING_COMPANY_GM))
HQ_DEFAULT_NO = Route(True, (ApproverScope.HQ_EXECUTIVES,), default_no=True)

GM_AND_DM = person(216, OWNING_COMPANY, OWNING_DEPT, Role.COMPANY_GM, Role.DEPT_MANAGER)

ESCALATION_ROWS = [
    # case                                       requester           level               category             hq_owned  kind     expected
    ("staff-asks-gm",                            REQUESTER,          Level.SECRET,       C.CONTRACT,          False, K.COPY,     GM),
    ("gm-asks-own-company-file",                 OWNING_GM,          Level.SECRET,       C.CONTRACT,          False, K.COPY,     HQ_ESCALATED),
    ("gm-asks-for-a-loan",                       OWNING_GM,          Level.INTERNAL,     C.TAX_REGISTRATION,  False, K.LEND,     HQ_ESCALATED),
    ("gm-asks-an-extension",                     OWNING_GM,          Level.CONFIDENTIAL, C.CONTRACT,          False, K.EXTEND,   HQ_ESCALATED),
    ("other-gm-is-no-approver-here",             OTHER_GM,           Level.SECRET,       C.CONTRACT,          False, K.COPY,     GM),
    ("dept-manager-asks-licence-copy",           OWNING_DEPT_MANAGER, Level.CONFIDENTIAL, C.BUSINESS_LICENCE, False, K.COPY,     DM_OR_GM),
    ("gm-and-dept-manager-asks-licence-copy",    GM_AND_DM,          Level.CONFIDENTIAL, C.BUSINESS_LICENCE,  False, K.COPY,     HQ_ESCALATED),
    ("hq-executive-asks-hq-file",                HQ_EXEC,            Level.SECRET,       C.CONTRACT,          True,  K.COPY,     HQ_ESCALATED),
    ("hq-executive-asks-top-secret",             HQ_EXEC,            Level.TOP_SECRET,   C.STRATEGY,          True,  K.COPY,     HQ_DEFAULT_NO),
    ("internal-file-needs-nothing",              OWNING_GM,          Level.INTERNAL,     C.CONTRACT,          False, K.COPY,     Route(False, reason=R.NO_APPROVAL_NEEDED)),
]


@pytest.mark.parametrize(("requester", "level", "category", "hq_owned", "kind", "expected"),
                         [pytest.param(*row[1:], id=row[0]) for row in ESCALATION_ROWS])
def test_copy_route_goes_up_when_the_requester_holds_the_office(
        requester: Subject, level: Level, category: Category, hq_owned: bool, kind: CopyKind,
        expected: Route) -> None:
    doc = document(level, category=category, company_is_hq=hq_owned)
    assert copy_route(doc, kind, NOW, requester) == expected
    assert copy_route(doc, kind, NOW) == copy_route(doc, kind, NOW, None)


# Every role a requester may hold that is an approving office, alone and together.
OFFICES = (Role.HQ_EXECUTIVE, Role.COMPANY_GM, Role.DEPT_MANAGER)
ROLE_SETS = [frozenset(c) for n in range(len(OFFICES) + 1) for c in itertools.combinations(OFFICES, n)]


def _full_organisation(requester: Subject) -> list[Subject]:
    """Two HQ executives (总经理, 副总经理), a GM per subsidiary, a manager per department —
    with the requester in the seat of every office they hold (they are its only holder)."""
    pool = [HQ_EXEC, HQ_EXEC_2, HQ_DEPT_MANAGER, OWNING_GM, OWNING_DEPT_MANAGER, OTHER_GM,
            CUSTODIAN]
    if requester.has(Role.COMPANY_GM) and requester.company_id == OWNING_COMPANY:
        pool.remove(OWNING_GM)
    if requester.has(Role.DEPT_MANAGER):
        pool = [p for p in pool if not (p.has(Role.DEPT_MANAGER)
                                        and p.department_id == requester.department_id)]
    if requester.is_hq_executive:
        pool.remove(HQ_EXEC)
    return [*pool, requester]


@pytest.mark.parametrize("hq_owned", [False, True], ids=["subsidiary", "hq"])
@pytest.mark.parametrize("roles", ROLE_SETS, ids=lambda r: "+".join(sorted(r)) or "staff")
def test_every_request_has_an_approver_who_is_not_the_requester(
        hq_owned: bool, roles: frozenset[Role]) -> None:
    company, dept = (HQ, HQ_DEPT) if hq_owned else (OWNING_COMPANY, OWNING_DEPT)
    at_hq = Role.HQ_EXECUTIVE in roles or hq_owned
    requester = person(299, HQ if at_hq else company, HQ_DEPT if at_hq else dept,
                       Role.STAFF, *roles)
    checked = 0
    for level, category, kind in itertools.product(Level, Category, CopyKind):
        doc = document(level, category=category, company_is_hq=hq_owned)
        if not copy_route(doc, kind, NOW, requester).required:
            continue
        facts = CopyFacts(doc, kind, requester.user_id, requester)
        who = [s for s in _full_organisation(requester) if can_approve(s, facts, NOW).allowed]
        assert who, (level, category, kind)
        assert requester not in who
        checked += 1
    assert checked > 100


# --- custodians -------------------------------------------------------------------------------


@pytest.mark.parametrize(("left", "expected"), [
    (0, D(R.LAST_CUSTODIAN)),
    (1, A(R.CUSTODIAN)),
    (3, A(R.CUSTODIAN)),
])
def test_keeps_a_custodian(left: int, expected: Decision) -> None:
    assert keeps_a_custodian(left) == expected


HQ_COMPANY_GM_ROLE = person(107, HQ, HQ_DEPT, Role.COMPANY_GM)

KEEP_LOANS_ROWS = [
    # case                                    subject                            company          hq     has_custodian  expected
    ("custodian-of-the-company",              CUSTODIAN,                         OWNING_COMPANY,  False, True,  A(R.CUSTODIAN)),
    ("gm-while-a-custodian-exists",           OWNING_GM,                         OWNING_COMPANY,  False, True,  D(R.NOT_CUSTODIAN)),
    ("gm-of-a-company-without-custodian",     OWNING_GM,                         OWNING_COMPANY,  False, False, A(R.NO_CUSTODIAN_GM)),
    ("other-gm-never",                        OTHER_GM,                          OWNING_COMPANY,  False, False, D(R.NOT_CUSTODIAN)),
    ("staff-never",                           REQUESTER,                         OWNING_COMPANY,  False, False, D(R.NOT_CUSTODIAN)),
    ("deactivated-gm",                        replace(OWNING_GM, active=False),  OWNING_COMPANY,  False, False, D(R.INACTIVE_USER)),
    ("hq-executive-for-hq-without-custodian", HQ_EXEC,                           HQ,              True,  False, A(R.NO_CUSTODIAN_GM)),
    ("hq-gm-role-is-not-the-hq-office",       HQ_COMPANY_GM_ROLE,                HQ,              True,  False, D(R.NOT_CUSTODIAN)),
    ("hq-executive-not-for-a-subsidiary",     HQ_EXEC,                           OWNING_COMPANY,  False, False, D(R.NOT_CUSTODIAN)),
    ("custodian-of-another-company",          CUSTODIAN,                         OTHER_COMPANY,   False, False, D(R.NOT_CUSTODIAN)),
]


@pytest.mark.parametrize(("subject", "company", "hq", "has_custodian", "expected"),
                         [pytest.param(*row[1:], id=row[0]) for row in KEEP_LOANS_ROWS])
def test_can_keep_loans(subject: Subject, company: int, hq: bool, has_custodian: bool,
                        expected: Decision) -> None:
    assert can_keep_loans(subject, company, hq, has_custodian) == expected


# --- paper certificates -----------------------------------------------------------------------

PHOTOCOPY_ROWS = [
    # case                                   category              paper  kind        expected
    ("paper-business-licence-copy",          C.BUSINESS_LICENCE,   True,  K.COPY,     True),
    ("paper-org-code-certificate-copy",      C.ORG_CODE_CERTIFICATE, True, K.COPY,    True),
    ("paper-tax-registration-copy",          C.TAX_REGISTRATION,   True,  K.COPY,     True),
    ("paper-licence-excerpt",                C.BUSINESS_LICENCE,   True,  K.EXCERPT,  False),
    ("paper-licence-print",                  C.BUSINESS_LICENCE,   True,  K.PRINT,    False),
    ("paper-licence-loan",                   C.BUSINESS_LICENCE,   True,  K.LEND,     False),
    ("stored-only-licence",                  C.BUSINESS_LICENCE,   False, K.COPY,     False),
    ("paper-contract",                       C.CONTRACT,           True,  K.COPY,     False),
]


@pytest.mark.parametrize(("category", "paper", "kind", "expected"),
                         [pytest.param(*row[1:], id=row[0]) for row in PHOTOCOPY_ROWS])
def test_photocopiable(category: Category, paper: bool, kind: CopyKind, expected: bool) -> None:
    doc = document(Level.CONFIDENTIAL, category=category, paper_original=paper)
    assert photocopiable(doc, kind) is expected
