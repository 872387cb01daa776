"""Outgoing letters with seal approval (对外发文与用章申请): the seal route of every
kind of requester and letter, who decides each step (every role × relation), when a
letter may be sent, who keeps the templates. Expected results written out literally.

The world: a letter of company 2 drafted in its department 20 (or with no
department); company 1 is HQ, company 3 another subsidiary; department 21 is
another department of company 2. The requester is user 7."""

# The decision tables are aligned in columns for reading; their rows are long on purpose.
# ruff: noqa: E501

from __future__ import annotations

import pytest
from policy_world import allow, deny

from vault.policy import (
    ApproverScope,
    LetterFacts,
    Reason,
    Role,
    Subject,
    can_decide_seal,
    can_manage_letter_templates,
    can_send_letter,
    seal_route,
)

A, D, R = allow, deny, Reason
MGR, GM, HQX = ApproverScope.OWNING_DEPT_MANAGER, ApproverScope.OWNING_COMPANY_GM, ApproverScope.HQ_EXECUTIVES
HQ, OWN, OTHER = 1, 2, 3
CS, ADM = 20, 21
REQUESTER = 7
LETTER = LetterFacts(company_id=OWN, company_is_hq=False, department_id=CS)
NO_DEPT = LetterFacts(company_id=OWN, company_is_hq=False, department_id=None)
HQ_LETTER = LetterFacts(company_id=HQ, company_is_hq=True, department_id=10)


def _subject(role: Role, company: int, dept: int | None, at_hq: bool = False,
             user_id: int = 50, active: bool = True) -> Subject:
    return Subject(user_id=user_id, company_id=company, department_id=dept,
                   roles=frozenset({role}), active=active, at_hq=at_hq)


# (who asks, role, company, dept, at_hq, letter) -> route
ROUTES = [
    ("cs staff",                 Role.STAFF,        OWN,   CS,   False, LETTER,    (MGR, GM)),
    ("cs supervisor",            Role.SUPERVISOR,   OWN,   CS,   False, LETTER,    (MGR, GM)),
    ("cs department manager",    Role.DEPT_MANAGER, OWN,   CS,   False, LETTER,    (GM,)),
    ("other dept manager",       Role.DEPT_MANAGER, OWN,   ADM,  False, LETTER,    (MGR, GM)),
    ("company gm",               Role.COMPANY_GM,   OWN,   ADM,  False, LETTER,    (HQX,)),
    ("other company's gm",       Role.COMPANY_GM,   OTHER, ADM,  False, LETTER,    (MGR, GM)),
    ("staff, no department",     Role.STAFF,        OWN,   CS,   False, NO_DEPT,   (GM,)),
    ("gm, no department",        Role.COMPANY_GM,   OWN,   None, False, NO_DEPT,   (HQX,)),
    ("hq staff",                 Role.STAFF,        HQ,    10,   True,  HQ_LETTER, (MGR, GM)),
    ("hq department manager",    Role.DEPT_MANAGER, HQ,    10,   True,  HQ_LETTER, (GM,)),
    ("hq executive",             Role.HQ_EXECUTIVE, HQ,    10,   True,  HQ_LETTER, (GM,)),
]  # fmt: skip


@pytest.mark.parametrize(("who", "role", "company", "dept", "at_hq", "letter", "route"),
                         [pytest.param(*row, id=row[0]) for row in ROUTES])
def test_seal_route(who: str, role: Role, company: int, dept: int | None, at_hq: bool,
                    letter: LetterFacts, route: tuple[ApproverScope, ...]) -> None:
    assert seal_route(letter, _subject(role, company, dept, at_hq, REQUESTER)) == route


@pytest.mark.parametrize(("vacant", "route"), [
    ((), (MGR, GM)),
    ((MGR,), (GM,)),
    ((MGR, GM), (GM,)),  # the last step stays: its approvers are told, nobody is skipped past
])
def test_a_vacant_managers_office_is_left_out(vacant: tuple[ApproverScope, ...],
                                              route: tuple[ApproverScope, ...]) -> None:
    clerk = _subject(Role.STAFF, OWN, CS, user_id=REQUESTER)
    assert seal_route(LETTER, clerk, vacant) == route


# (who decides, role, company, dept, at_hq, letter) -> (manager's step, GM's step, HQ step)
DECIDERS = [
    ("cs department manager",   Role.DEPT_MANAGER, OWN,   CS,   False, LETTER,    A(R.OWNING_DEPT_MANAGER), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("other dept manager",      Role.DEPT_MANAGER, OWN,   ADM,  False, LETTER,    D(R.NOT_AN_APPROVER),     D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("other company's manager", Role.DEPT_MANAGER, OTHER, CS,   False, LETTER,    D(R.NOT_AN_APPROVER),     D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("company gm",              Role.COMPANY_GM,   OWN,   ADM,  False, LETTER,    D(R.NOT_AN_APPROVER),     A(R.OWNING_COMPANY_GM),  D(R.NOT_AN_APPROVER)),
    ("other company's gm",      Role.COMPANY_GM,   OTHER, ADM,  False, LETTER,    D(R.NOT_AN_APPROVER),     D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("cs staff",                Role.STAFF,        OWN,   CS,   False, LETTER,    D(R.NOT_AN_APPROVER),     D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("company supervisor",      Role.SUPERVISOR,   OWN,   CS,   False, LETTER,    D(R.NOT_AN_APPROVER),     D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("custodian",               Role.CUSTODIAN,    OWN,   CS,   False, LETTER,    D(R.NOT_AN_APPROVER),     D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("hq executive",            Role.HQ_EXECUTIVE, HQ,    10,   True,  LETTER,    D(R.NOT_AN_APPROVER),     D(R.NOT_AN_APPROVER),    A(R.HQ_EXECUTIVE)),
    ("hq role outside hq",      Role.HQ_EXECUTIVE, OTHER, ADM,  False, LETTER,    D(R.NOT_AN_APPROVER),     D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("compliance",              Role.COMPLIANCE,   HQ,    10,   True,  LETTER,    D(R.NOT_AN_APPROVER),     D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("admin",                   Role.ADMIN,        HQ,    10,   True,  LETTER,    D(R.NOT_AN_APPROVER),     D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("manager, no department",  Role.DEPT_MANAGER, OWN,   CS,   False, NO_DEPT,   D(R.NOT_AN_APPROVER),     D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("hq executive, hq letter", Role.HQ_EXECUTIVE, HQ,    10,   True,  HQ_LETTER, D(R.NOT_AN_APPROVER),     A(R.OWNING_COMPANY_GM),  A(R.HQ_EXECUTIVE)),
    ("hq manager, hq letter",   Role.DEPT_MANAGER, HQ,    10,   True,  HQ_LETTER, A(R.OWNING_DEPT_MANAGER), D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
    ("company gm, hq letter",   Role.COMPANY_GM,   OWN,   ADM,  False, HQ_LETTER, D(R.NOT_AN_APPROVER),     D(R.NOT_AN_APPROVER),    D(R.NOT_AN_APPROVER)),
]  # fmt: skip


@pytest.mark.parametrize(("who", "role", "company", "dept", "at_hq", "letter", "mgr", "gm", "hqx"),
                         [pytest.param(*row, id=row[0]) for row in DECIDERS])
@pytest.mark.parametrize("active", [True, False], ids=["active", "deactivated"])
def test_who_decides_each_step(who: str, role: Role, company: int, dept: int | None,
                               at_hq: bool, letter: LetterFacts, mgr: object, gm: object,
                               hqx: object, active: bool) -> None:
    subject = _subject(role, company, dept, at_hq, active=active)
    got = tuple(can_decide_seal(subject, letter, scope, REQUESTER) for scope in (MGR, GM, HQX))
    expected = (mgr, gm, hqx) if active else (D(R.INACTIVE_USER),) * 3
    assert got == expected


def test_the_requester_never_decides_and_nobody_decides_twice() -> None:
    gm = _subject(Role.COMPANY_GM, OWN, ADM, user_id=REQUESTER)
    assert can_decide_seal(gm, LETTER, GM, REQUESTER) == D(R.REQUESTER_CANNOT_APPROVE)
    both = Subject(user_id=60, company_id=OWN, department_id=CS,
                   roles=frozenset({Role.DEPT_MANAGER, Role.COMPANY_GM}))
    assert can_decide_seal(both, LETTER, MGR, REQUESTER) == A(R.OWNING_DEPT_MANAGER)
    assert can_decide_seal(both, LETTER, GM, REQUESTER, earlier_deciders=[60]) == D(R.ALREADY_DECIDED_STEP)
    assert can_decide_seal(both, LETTER, GM, REQUESTER, earlier_deciders=[61]) == A(R.OWNING_COMPANY_GM)


@pytest.mark.parametrize(("status", "expected"), [
    ("draft", D(R.LETTER_NOT_SEALED)),
    ("pending", D(R.LETTER_NOT_SEALED)),
    ("sealed", A(R.SEALED)),
])
def test_only_a_sealed_letter_is_sent(status: str, expected: object) -> None:
    assert can_send_letter(status) == expected


@pytest.mark.parametrize(("role", "active", "expected"), [
    (Role.ADMIN, True, A(R.ADMIN)),
    (Role.ADMIN, False, D(R.INACTIVE_USER)),
    (Role.HQ_EXECUTIVE, True, D(R.NOT_ADMIN)),
    (Role.COMPANY_GM, True, D(R.NOT_ADMIN)),
    (Role.DEPT_MANAGER, True, D(R.NOT_ADMIN)),
    (Role.STAFF, True, D(R.NOT_ADMIN)),
    (Role.COMPLIANCE, True, D(R.NOT_ADMIN)),
])
def test_templates_are_kept_by_administrators(role: Role, active: bool, expected: object) -> None:
    assert can_manage_letter_templates(_subject(role, HQ, 10, True, active=active)) == expected
