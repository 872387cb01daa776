"""A small fixed organisation, its people and documents, for the policy unit tests.

The world (ids are arbitrary but fixed so that failures are easy to read):

- company 1 is the headquarters 总公司 (department 10); company 2 is the subsidiary that
  owns the documents (owning department 20, another department 21); company 3 is another
  subsidiary (department 30).
- A document owned by company 2 / department 20 names user 203 as its responsible
  supervisor (主管人员, sitting in department 21 so that "supervisor" and "member of the
  owning department" never coincide) and user 208 as its registrant (起草人, department 21).
- Its grants: 204 active (ends in 30 days), 205 expired yesterday, 206 revoked, 207 made
  at the level just below the document's level; at 机密 and 绝密 the registrant's own
  designation "by registration" (revoked for "registrant-removed" at 绝密: an HQ
  executive ended it).

Tables in the test modules name the *relation* of a person to that document; `scene`
turns a relation and a level into the (Subject, DocumentFacts) pair to feed the policy.
Expected results are always written out literally in the tables, never computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from vault.policy import (
    GROUP_TZ,
    NO_PERIOD,
    Category,
    CopyFacts,
    CopyKind,
    Decision,
    DocumentFacts,
    GrantFact,
    Level,
    Period,
    Reason,
    Role,
    Subject,
)

# A fixed "now", well inside every default test period (issued 2024-01-15, 10 years).
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=GROUP_TZ)
ISSUED_ON = date(2024, 1, 15)
TEN_YEARS = Period(years=10)

HQ = 1
OWNING_COMPANY = 2
OTHER_COMPANY = 3

HQ_DEPT = 10
OWNING_DEPT = 20
OTHER_DEPT = 21
OTHER_COMPANY_DEPT = 30

# Levels in the column order of every table: internal, confidential, secret, top_secret.
LEVELS = (Level.INTERNAL, Level.CONFIDENTIAL, Level.SECRET, Level.TOP_SECRET)

# The level "just below" each level, for grants made before an upgrade.
LEVEL_BELOW = {
    Level.INTERNAL: Level.INTERNAL,
    Level.CONFIDENTIAL: Level.INTERNAL,
    Level.SECRET: Level.CONFIDENTIAL,
    Level.TOP_SECRET: Level.SECRET,
}


def person(
    user_id: int,
    company_id: int,
    department_id: int | None,
    *roles: Role,
    active: bool = True,
    at_hq: bool | None = None,
) -> Subject:
    """A subject; ``at_hq`` defaults to "employed by company 1"."""
    return Subject(
        user_id=user_id,
        company_id=company_id,
        department_id=department_id,
        roles=frozenset(roles),
        active=active,
        at_hq=(company_id == HQ) if at_hq is None else at_hq,
    )


# --- people -----------------------------------------------------------------------------

HQ_EXEC = person(101, HQ, HQ_DEPT, Role.HQ_EXECUTIVE)
HQ_EXEC_2 = person(102, HQ, HQ_DEPT, Role.HQ_EXECUTIVE)
COMPLIANCE = person(103, HQ, HQ_DEPT, Role.COMPLIANCE)
ADMIN = person(104, HQ, HQ_DEPT, Role.ADMIN)
DEACTIVATED_HQ_EXEC = person(105, HQ, HQ_DEPT, Role.HQ_EXECUTIVE, active=False)
HQ_DEPT_MANAGER = person(106, HQ, HQ_DEPT, Role.DEPT_MANAGER)

SAME_DEPT_STAFF = person(201, OWNING_COMPANY, OWNING_DEPT, Role.STAFF)
OTHER_DEPT_STAFF = person(202, OWNING_COMPANY, OTHER_DEPT, Role.STAFF)
SUPERVISOR = person(203, OWNING_COMPANY, OTHER_DEPT, Role.SUPERVISOR)
DESIGNEE = person(204, OWNING_COMPANY, OTHER_DEPT, Role.STAFF)
EXPIRED_DESIGNEE = person(205, OWNING_COMPANY, OTHER_DEPT, Role.STAFF)
REVOKED_DESIGNEE = person(206, OWNING_COMPANY, OTHER_DEPT, Role.STAFF)
LOWER_LEVEL_DESIGNEE = person(207, OWNING_COMPANY, OTHER_DEPT, Role.STAFF)
REGISTRANT = person(208, OWNING_COMPANY, OTHER_DEPT, Role.STAFF)
# Holds the hq_executive role but is employed by a subsidiary: the role must not count.
NON_HQ_WITH_HQ_EXEC_ROLE = person(209, OWNING_COMPANY, OTHER_DEPT, Role.HQ_EXECUTIVE)
OWNING_GM = person(210, OWNING_COMPANY, None, Role.COMPANY_GM)
OWNING_DEPT_MANAGER = person(211, OWNING_COMPANY, OWNING_DEPT, Role.DEPT_MANAGER)
OTHER_DEPT_MANAGER = person(212, OWNING_COMPANY, OTHER_DEPT, Role.DEPT_MANAGER)
CUSTODIAN = person(213, OWNING_COMPANY, OTHER_DEPT, Role.CUSTODIAN)
DEACTIVATED_STAFF = person(214, OWNING_COMPANY, OWNING_DEPT, Role.STAFF, active=False)
REQUESTER = person(215, OWNING_COMPANY, OWNING_DEPT, Role.STAFF)
# The very supervisor named on the file, deactivated.
DEACTIVATED_SUPERVISOR = replace(SUPERVISOR, active=False)

OTHER_COMPANY_STAFF = person(301, OTHER_COMPANY, OTHER_COMPANY_DEPT, Role.STAFF)
OTHER_GM = person(302, OTHER_COMPANY, None, Role.COMPANY_GM)

# Relation of a person to the standard document -> that person.
RELATIONS: dict[str, Subject] = {
    "same_dept-staff": SAME_DEPT_STAFF,
    "other_dept-staff": OTHER_DEPT_STAFF,
    "other_company-staff": OTHER_COMPANY_STAFF,
    "responsible-supervisor": SUPERVISOR,
    "designee-active": DESIGNEE,
    "designee-expired": EXPIRED_DESIGNEE,
    "designee-revoked": REVOKED_DESIGNEE,
    "designee-lower_level": LOWER_LEVEL_DESIGNEE,
    "registrant": REGISTRANT,
    "registrant-removed": REGISTRANT,  # 绝密: their designation by registration was revoked
    "hq-executive": HQ_EXEC,
    "non_hq-hq_executive_role": NON_HQ_WITH_HQ_EXEC_ROLE,
    "owning_company-gm": OWNING_GM,
    "other_company-gm": OTHER_GM,
    "owning_dept-manager": OWNING_DEPT_MANAGER,
    "other_dept-manager": OTHER_DEPT_MANAGER,
    "custodian": CUSTODIAN,
    "compliance": COMPLIANCE,
    "admin": ADMIN,
    "deactivated-staff": DEACTIVATED_STAFF,
    "deactivated-hq_executive": DEACTIVATED_HQ_EXEC,
    "deactivated-supervisor": DEACTIVATED_SUPERVISOR,
}

# Everybody, in a fixed order (for eligible_approvers).
POOL: tuple[Subject, ...] = (
    HQ_EXEC,
    HQ_EXEC_2,
    COMPLIANCE,
    ADMIN,
    DEACTIVATED_HQ_EXEC,
    HQ_DEPT_MANAGER,
    SAME_DEPT_STAFF,
    OTHER_DEPT_STAFF,
    SUPERVISOR,
    DESIGNEE,
    EXPIRED_DESIGNEE,
    REVOKED_DESIGNEE,
    LOWER_LEVEL_DESIGNEE,
    REGISTRANT,
    NON_HQ_WITH_HQ_EXEC_ROLE,
    OWNING_GM,
    OWNING_DEPT_MANAGER,
    OTHER_DEPT_MANAGER,
    CUSTODIAN,
    DEACTIVATED_STAFF,
    REQUESTER,
    DEACTIVATED_SUPERVISOR,
    OTHER_COMPANY_STAFF,
    OTHER_GM,
)


# --- documents --------------------------------------------------------------------------


def standard_grants(level: Level, registrant_removed: bool = False) -> tuple[GrantFact, ...]:
    """The grants of the standard document at ``level`` (see the module docstring)."""
    grants = (
        GrantFact(DESIGNEE.user_id, level, until=NOW + timedelta(days=30)),
        GrantFact(EXPIRED_DESIGNEE.user_id, level, until=NOW - timedelta(days=1)),
        GrantFact(REVOKED_DESIGNEE.user_id, level, revoked=True),
        GrantFact(LOWER_LEVEL_DESIGNEE.user_id, LEVEL_BELOW[level]),
    )
    if level in (Level.SECRET, Level.TOP_SECRET):
        removed = registrant_removed and level is Level.TOP_SECRET
        grants += (GrantFact(REGISTRANT.user_id, level, revoked=removed, by_registration=True),)
    return grants


def document(
    level: Level,
    *,
    category: Category = Category.CONTRACT,
    company_is_hq: bool = False,
    period: Period | None = None,
    issued_on: date = ISSUED_ON,
    grants: Iterable[GrantFact] | None = None,
    registrant_removed: bool = False,
    **overrides: object,
) -> DocumentFacts:
    """A document at ``level``; subsidiary-owned (company 2, department 20) unless
    ``company_is_hq`` (then company 1, department 10). Classified documents get a
    10-year period by default, internal ones none."""
    if period is None:
        period = TEN_YEARS if level.classified else NO_PERIOD
    doc = DocumentFacts(
        id=1,
        category=category,
        level=level,
        period=period,
        issued_on=issued_on,
        company_id=HQ if company_is_hq else OWNING_COMPANY,
        company_is_hq=company_is_hq,
        department_id=HQ_DEPT if company_is_hq else OWNING_DEPT,
        supervisor_id=SUPERVISOR.user_id,
        registrant_id=REGISTRANT.user_id,
        grants=(standard_grants(level, registrant_removed) if grants is None
                else tuple(grants)),
    )
    return replace(doc, **overrides) if overrides else doc


def scene(relation: str, level: Level, **doc_kwargs: object) -> tuple[Subject, DocumentFacts]:
    """The person standing in ``relation`` to the standard document at ``level``."""
    removed = relation == "registrant-removed"
    return RELATIONS[relation], document(level, registrant_removed=removed, **doc_kwargs)


def request(doc: DocumentFacts, kind: CopyKind, requester: Subject = REQUESTER) -> CopyFacts:
    return CopyFacts(document=doc, kind=kind, requester_id=requester.user_id)


# --- expected decisions -----------------------------------------------------------------


def allow(reason: Reason) -> Decision:
    return Decision(True, reason)


def deny(reason: Reason) -> Decision:
    return Decision(False, reason)


def outcome(decision: Decision) -> str:
    return "allow" if decision.allowed else "deny"


def level_table(
    rows: Sequence[tuple[str, Decision, Decision, Decision, Decision]],
    kinds: Sequence[CopyKind] = (),
) -> list[object]:
    """Expand rows ``(relation, internal, confidential, secret, top_secret)`` into
    ``pytest.param(relation, level, expected, id="secret-same_dept-staff-deny")``; with
    ``kinds``, one param per kind: ``(relation, level, kind, expected)``, id
    ``"secret-same_dept-staff-copy-deny"``."""
    params = []
    for relation, *expected in rows:
        assert relation in RELATIONS, relation
        for level, decision in zip(LEVELS, expected, strict=True):
            if not kinds:
                name = f"{level}-{relation}-{outcome(decision)}"
                params.append(pytest.param(relation, level, decision, id=name))
            for kind in kinds:
                name = f"{level}-{relation}-{kind}-{outcome(decision)}"
                params.append(pytest.param(relation, level, kind, decision, id=name))
    assert len({p.id for p in params}) == len(params), "duplicate ids"
    return params


def covers_every_relation(rows: Sequence[tuple[str, ...]]) -> bool:
    """Whether a table has exactly one row for every relation of the world."""
    names = [row[0] for row in rows]
    return sorted(names) == sorted(RELATIONS)
