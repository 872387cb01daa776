"""Customer-service records: who reads and handles a request record (诉求记录), who
makes and reviews a follow-up visit (回访), who reads the monthly report and keeps
the deposit register; and the follow-up rules (when due, who makes it, which
method). Every role × relation; expected results written out literally.

The world: a request of company 2, kept by its customer-service department 20,
handled by user 250. Company 1 is HQ, company 3 another subsidiary; department
21 is another department of company 2."""

# The decision tables are aligned in columns for reading; their rows are long on purpose.
# ruff: noqa: E501

from __future__ import annotations

from datetime import date

import pytest
from policy_world import allow, deny

from vault.policy import (
    FOLLOW_UP_DUE,
    REPORT_TARGETS,
    ComplaintGrade,
    Decision,
    FollowUpKind,
    Reason,
    RequestFacts,
    RequestKind,
    Role,
    Subject,
    VisitMethod,
    can_follow_up,
    can_handle_request,
    can_keep_deposits,
    can_read_follow_up_report,
    can_read_request,
    can_review_follow_up,
    follow_up_due_on,
    follow_up_kind,
    follow_up_needed,
    follow_up_owner,
    reply_letter_required,
    visit_method_allowed,
)

A, D, R = allow, deny, Reason
HQ, OWN, OTHER = 1, 2, 3
CS, ADM = 20, 21
HANDLER = 250
REQ = RequestFacts(company_id=OWN, department_id=CS, handler_id=HANDLER)

# (who, role, company, department, at_hq) -> (read, handle)
SCOPE = [
    ("handler (another dept)",  Role.STAFF,        OWN,   ADM,  False, A(R.HANDLER),             A(R.HANDLER)),
    ("customer-service staff",  Role.STAFF,        OWN,   CS,   False, A(R.OWNING_DEPARTMENT),   A(R.OWNING_DEPARTMENT)),
    ("cs department manager",   Role.DEPT_MANAGER, OWN,   CS,   False, A(R.OWNING_DEPT_MANAGER), A(R.OWNING_DEPT_MANAGER)),
    ("other dept manager",      Role.DEPT_MANAGER, OWN,   ADM,  False, D(R.NOT_IN_SCOPE),        D(R.NOT_REQUEST_KEEPER)),
    ("company supervisor",      Role.SUPERVISOR,   OWN,   ADM,  False, A(R.COMPANY_SUPERVISOR),  A(R.COMPANY_SUPERVISOR)),
    ("company gm",              Role.COMPANY_GM,   OWN,   ADM,  False, A(R.OWNING_COMPANY_GM),   A(R.OWNING_COMPANY_GM)),
    ("staff of another dept",   Role.STAFF,        OWN,   ADM,  False, D(R.NOT_IN_SCOPE),        D(R.NOT_REQUEST_KEEPER)),
    ("custodian",               Role.CUSTODIAN,    OWN,   ADM,  False, D(R.NOT_IN_SCOPE),        D(R.NOT_REQUEST_KEEPER)),
    ("other company's cs staff", Role.STAFF,       OTHER, CS,   False, D(R.NOT_IN_SCOPE),        D(R.NOT_REQUEST_KEEPER)),
    ("other company's gm",      Role.COMPANY_GM,   OTHER, ADM,  False, D(R.NOT_IN_SCOPE),        D(R.NOT_REQUEST_KEEPER)),
    ("other company supervisor", Role.SUPERVISOR,  OTHER, ADM,  False, D(R.NOT_IN_SCOPE),        D(R.NOT_REQUEST_KEEPER)),
    ("hq executive",            Role.HQ_EXECUTIVE, HQ,    10,   True,  A(R.HQ_EXECUTIVE),        D(R.NOT_REQUEST_KEEPER)),
    ("hq role outside hq",      Role.HQ_EXECUTIVE, OTHER, ADM,  False, D(R.NOT_IN_SCOPE),        D(R.NOT_REQUEST_KEEPER)),
    ("compliance",              Role.COMPLIANCE,   HQ,    10,   True,  A(R.COMPLIANCE),          D(R.NOT_REQUEST_KEEPER)),
    ("admin",                   Role.ADMIN,        HQ,    10,   True,  D(R.NOT_IN_SCOPE),        D(R.NOT_REQUEST_KEEPER)),
]  # fmt: skip


def _subject(role: Role, company: int, dept: int | None, at_hq: bool, active: bool = True,
             user_id: int | None = None, handler: bool = False) -> Subject:
    return Subject(user_id=user_id or (HANDLER if handler else 7), company_id=company,
                   department_id=dept, roles=frozenset({role}), active=active, at_hq=at_hq)


@pytest.mark.parametrize(("who", "role", "company", "dept", "at_hq", "read", "handle"),
                         [pytest.param(*row, id=row[0]) for row in SCOPE])
@pytest.mark.parametrize("active", [True, False], ids=["active", "deactivated"])
def test_request_scope(who: str, role: Role, company: int, dept: int, at_hq: bool,
                       read: Decision, handle: Decision, active: bool) -> None:
    subject = _subject(role, company, dept, at_hq, active, handler=who.startswith("handler"))
    if not active:
        read = handle = D(R.INACTIVE_USER)
    assert can_read_request(subject, REQ) == read
    assert can_handle_request(subject, REQ) == handle


def test_a_record_without_department_is_kept_by_supervisors_and_gm_only() -> None:
    req = RequestFacts(company_id=OWN, department_id=None)
    assert can_handle_request(_subject(Role.STAFF, OWN, CS, False), req) == D(R.NOT_REQUEST_KEEPER)
    assert can_handle_request(_subject(Role.SUPERVISOR, OWN, CS, False), req) == A(R.COMPANY_SUPERVISOR)


# (role, company, department) -> for owner staff, supervisor, gm
FOLLOW_UP = [
    (Role.STAFF,        OWN,   CS,  A(R.OWNING_DEPARTMENT),   D(R.NOT_FOLLOW_UP_OWNER),   D(R.NOT_FOLLOW_UP_OWNER)),
    (Role.STAFF,        OWN,   ADM, D(R.NOT_FOLLOW_UP_OWNER), D(R.NOT_FOLLOW_UP_OWNER),   D(R.NOT_FOLLOW_UP_OWNER)),
    (Role.SUPERVISOR,   OWN,   ADM, A(R.COMPANY_SUPERVISOR),  A(R.COMPANY_SUPERVISOR),    D(R.NOT_FOLLOW_UP_OWNER)),
    (Role.DEPT_MANAGER, OWN,   CS,  A(R.OWNING_DEPT_MANAGER), A(R.OWNING_DEPT_MANAGER),   D(R.NOT_FOLLOW_UP_OWNER)),
    (Role.DEPT_MANAGER, OWN,   ADM, D(R.NOT_FOLLOW_UP_OWNER), D(R.NOT_FOLLOW_UP_OWNER),   D(R.NOT_FOLLOW_UP_OWNER)),
    (Role.COMPANY_GM,   OWN,   ADM, A(R.OWNING_COMPANY_GM),   A(R.OWNING_COMPANY_GM),     A(R.OWNING_COMPANY_GM)),
    (Role.COMPANY_GM,   OTHER, ADM, D(R.NOT_FOLLOW_UP_OWNER), D(R.NOT_FOLLOW_UP_OWNER),   D(R.NOT_FOLLOW_UP_OWNER)),
    (Role.STAFF,        OTHER, CS,  D(R.NOT_FOLLOW_UP_OWNER), D(R.NOT_FOLLOW_UP_OWNER),   D(R.NOT_FOLLOW_UP_OWNER)),
    (Role.HQ_EXECUTIVE, HQ,    10,  D(R.NOT_FOLLOW_UP_OWNER), D(R.NOT_FOLLOW_UP_OWNER),   D(R.NOT_FOLLOW_UP_OWNER)),
]  # fmt: skip


@pytest.mark.parametrize(("role", "company", "dept", "staff", "supervisor", "gm"),
                         [pytest.param(*row, id=f"{row[0].value}-{row[1]}-{row[2]}") for row in FOLLOW_UP])
def test_who_follows_up(role: Role, company: int, dept: int, staff: Decision,
                        supervisor: Decision, gm: Decision) -> None:
    subject = _subject(role, company, dept, company == HQ)
    assert can_follow_up(subject, REQ, Role.STAFF) == staff
    assert can_follow_up(subject, REQ, Role.SUPERVISOR) == supervisor
    assert can_follow_up(subject, REQ, Role.COMPANY_GM) == gm
    assert can_follow_up(_subject(role, company, dept, False, active=False), REQ, Role.STAFF) == D(R.INACTIVE_USER)


def test_event_visits_without_department() -> None:
    event = RequestFacts(company_id=OWN, department_id=None)
    assert can_follow_up(_subject(Role.STAFF, OWN, ADM, False), event, Role.STAFF) == A(R.OWNING_DEPARTMENT)
    assert can_follow_up(_subject(Role.DEPT_MANAGER, OWN, ADM, False), event, Role.STAFF) == A(R.OWNING_DEPT_MANAGER)
    assert can_review_follow_up(_subject(Role.DEPT_MANAGER, OWN, ADM, False), event, 9) == A(R.OWNING_DEPT_MANAGER)


REVIEW = [
    (Role.SUPERVISOR,   OWN,   ADM, 9,  A(R.COMPANY_SUPERVISOR)),
    (Role.SUPERVISOR,   OWN,   ADM, 7,  D(R.VISITOR_CANNOT_REVIEW)),
    (Role.DEPT_MANAGER, OWN,   CS,  9,  A(R.OWNING_DEPT_MANAGER)),
    (Role.DEPT_MANAGER, OWN,   ADM, 9,  D(R.NOT_FOLLOW_UP_REVIEWER)),
    (Role.STAFF,        OWN,   CS,  9,  D(R.NOT_FOLLOW_UP_REVIEWER)),
    (Role.COMPANY_GM,   OWN,   ADM, 9,  D(R.NOT_FOLLOW_UP_REVIEWER)),
    (Role.SUPERVISOR,   OTHER, ADM, 9,  D(R.NOT_FOLLOW_UP_REVIEWER)),
]  # fmt: skip


@pytest.mark.parametrize(("role", "company", "dept", "visitor", "expected"), REVIEW)
def test_who_reviews(role: Role, company: int, dept: int, visitor: int, expected: Decision) -> None:
    assert can_review_follow_up(_subject(role, company, dept, False), REQ, visitor) == expected
    assert can_review_follow_up(_subject(role, company, dept, False, active=False), REQ, visitor) == D(R.INACTIVE_USER)


REPORT = [
    (Role.COMPANY_GM,   OWN,   False, A(R.OWNING_COMPANY_GM)),
    (Role.SUPERVISOR,   OWN,   False, A(R.COMPANY_SUPERVISOR)),
    (Role.STAFF,        OWN,   False, D(R.NOT_REPORT_READER)),
    (Role.COMPANY_GM,   OTHER, False, D(R.NOT_REPORT_READER)),
    (Role.HQ_EXECUTIVE, HQ,    True,  A(R.HQ_EXECUTIVE)),
    (Role.COMPLIANCE,   HQ,    True,  A(R.COMPLIANCE)),
]  # fmt: skip


@pytest.mark.parametrize(("role", "company", "at_hq", "expected"), REPORT)
def test_report_readers(role: Role, company: int, at_hq: bool, expected: Decision) -> None:
    assert can_read_follow_up_report(_subject(role, company, None, at_hq), OWN) == expected
    assert can_read_follow_up_report(_subject(role, company, None, at_hq, active=False), OWN) == D(R.INACTIVE_USER)


def test_deposit_keepers() -> None:
    assert can_keep_deposits(_subject(Role.STAFF, OWN, ADM, False), OWN) == A(R.INTERNAL_EMPLOYEE)
    assert can_keep_deposits(_subject(Role.STAFF, OTHER, ADM, False), OWN) == D(R.NOT_TENANT_KEEPER)
    assert can_keep_deposits(_subject(Role.STAFF, OWN, ADM, False, active=False), OWN) == D(R.INACTIVE_USER)


# --- the follow-up rules ------------------------------------------------------------------

DUE = [
    (FollowUpKind.COMPLAINT, date(2026, 11, 30), date(2026, 12, 3)),
    (FollowUpKind.EMERGENCY, date(2026, 12, 30), date(2027, 1, 2)),
    (FollowUpKind.REPAIR,    date(2026, 11, 15), date(2026, 12, 15)),
    (FollowUpKind.REPAIR,    date(2026, 1, 31),  date(2026, 2, 28)),
    (FollowUpKind.EVENT,     date(2026, 12, 20), date(2027, 1, 20)),
    (FollowUpKind.MOVE_IN,   date(2026, 3, 31),  date(2026, 4, 30)),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "trigger", "due"), DUE)
def test_follow_up_due(kind: FollowUpKind, trigger: date, due: date) -> None:
    assert follow_up_due_on(kind, trigger) == due


def test_every_follow_up_kind_has_a_rule_and_targets_are_the_regulations() -> None:
    assert set(FOLLOW_UP_DUE) == set(FollowUpKind)
    assert dict(REPORT_TARGETS) == {"complaint": 50, "repair": 30, "event": 10, "handling": 100}


# kind, anonymous, reply_only -> follow-up kind, needed, reply letter required
NEEDED = [
    (RequestKind.COMPLAINT,  False, False, FollowUpKind.COMPLAINT, True,  False),
    (RequestKind.COMPLAINT,  True,  False, FollowUpKind.COMPLAINT, False, True),
    (RequestKind.COMPLAINT,  False, True,  FollowUpKind.COMPLAINT, False, True),
    (RequestKind.REPAIR,     True,  False, FollowUpKind.REPAIR,    True,  False),
    (RequestKind.EMERGENCY,  False, False, FollowUpKind.EMERGENCY, True,  False),
    (RequestKind.ENQUIRY,    False, False, None,                   False, False),
    (RequestKind.SUGGESTION, True,  False, None,                   False, False),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "anonymous", "reply_only", "fu_kind", "needed", "letter"), NEEDED)
def test_follow_up_needed(kind: RequestKind, anonymous: bool, reply_only: bool,
                          fu_kind: FollowUpKind | None, needed: bool, letter: bool) -> None:
    assert follow_up_kind(kind) == fu_kind
    assert follow_up_needed(kind, anonymous, reply_only) is needed
    assert reply_letter_required(kind, anonymous, reply_only) is letter


OWNER = [
    (FollowUpKind.COMPLAINT, ComplaintGrade.NORMAL,    Role.STAFF),
    (FollowUpKind.COMPLAINT, ComplaintGrade.IMPORTANT, Role.SUPERVISOR),
    (FollowUpKind.COMPLAINT, ComplaintGrade.MAJOR,     Role.COMPANY_GM),
    (FollowUpKind.COMPLAINT, None,                     Role.STAFF),
    (FollowUpKind.REPAIR,    None,                     Role.STAFF),
    (FollowUpKind.EVENT,     ComplaintGrade.MAJOR,     Role.STAFF),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "grade", "owner"), OWNER)
def test_follow_up_owner(kind: FollowUpKind, grade: ComplaintGrade | None, owner: Role) -> None:
    assert follow_up_owner(kind, grade) is owner


# method, sequence, grade -> allowed
METHOD = [
    (VisitMethod.ON_SITE,   1, ComplaintGrade.MAJOR,     A(R.NO_APPROVAL_NEEDED)),
    (VisitMethod.TELEPHONE, 1, ComplaintGrade.MAJOR,     A(R.NO_APPROVAL_NEEDED)),
    (VisitMethod.TELEPHONE, 2, ComplaintGrade.NORMAL,    D(R.ON_SITE_REQUIRED)),
    (VisitMethod.ON_SITE,   2, ComplaintGrade.NORMAL,    A(R.NO_APPROVAL_NEEDED)),
    (VisitMethod.TELEPHONE, 3, ComplaintGrade.NORMAL,    A(R.NO_APPROVAL_NEEDED)),
    (VisitMethod.TELEPHONE, 3, ComplaintGrade.IMPORTANT, A(R.NO_APPROVAL_NEEDED)),
    (VisitMethod.TELEPHONE, 3, None,                     A(R.NO_APPROVAL_NEEDED)),
    (VisitMethod.TELEPHONE, 4, ComplaintGrade.MAJOR,     D(R.ON_SITE_REQUIRED)),
]  # fmt: skip


@pytest.mark.parametrize(("method", "sequence", "grade", "expected"), METHOD)
def test_visit_method(method: VisitMethod, sequence: int, grade: ComplaintGrade | None,
                      expected: Decision) -> None:
    assert visit_method_allowed(method, sequence, grade) == expected
