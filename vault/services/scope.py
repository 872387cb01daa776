"""`policy.can_see_metadata` as a SQL condition on `Document`, for searches that must
leave out-of-scope files out of every count before anything is counted or ranked;
`policy.can_review` as one for the annual review's queue (`review_scope`).

The policy stays the rule: this is its translation for one subject at one moment,
and tests/integration/test_search_scope.py checks that the condition selects
exactly the documents `policy.can_see_metadata` allows, for every level × role ×
relation of the policy tables (grants, expired periods, HQ-owned files included).

It reads like the policy:

- inactive: nothing; HQ executives and compliance: everything;
- a file whose period has ended (``declassify_at <= now``) or that is internal:
  everyone;
- 绝密: a designee (granted at 绝密, or made or confirmed by an HQ executive at any
  level; the registrant's own designation "by registration" included);
- 机密/秘密: the responsible supervisor, a designee as above (granted at this level
  or above); for 秘密 also the registrant and the owning department (same company);
- the custodians of the owning company; the owning company's GM (not for
  HQ-owned files, whose office is the HQ executives'); for business licences and
  organisation-code certificates the owning department's manager.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, false, or_, select, true, union_all
from sqlalchemy.sql.elements import Case

from vault import policy
from vault.actions import Action
from vault.errors import Forbidden
from vault.models import Company, Document, Grant
from vault.policy import Level, Role, Subject
from vault.services.context import Ctx

_CLASSIFIED = (Level.CONFIDENTIAL.value, Level.SECRET.value, Level.TOP_SECRET.value)
_AT_OR_ABOVE = {
    level: tuple(lv.value for lv in Level if lv.classified and lv.rank >= level.rank)
    for level in Level if level.classified
}


def ended(now: datetime) -> ColumnElement[bool]:
    """The file's period has ended (it is internal from then on, whatever is stored)."""
    return and_(Document.declassify_at.is_not(None), Document.declassify_at <= now)


def effective_level(now: datetime) -> Case[str]:
    """`policy.effective_level` as a SQL expression."""
    return case(
        (Document.level.not_in(_CLASSIFIED), Level.INTERNAL.value),
        (ended(now), Level.INTERNAL.value),
        else_=Document.level,
    )


def _designated(subject: Subject, level: Level, now: datetime) -> ColumnElement[bool]:
    return (
        select(Grant.id)
        .where(Grant.document_id == Document.id, Grant.grantee_id == subject.user_id,
               Grant.revoked_at.is_(None), or_(Grant.until.is_(None), Grant.until > now),
               or_(Grant.level.in_(_AT_OR_ABOVE[level]), Grant.hq_confirmed_by_id.is_not(None)))
        .exists()
    )


def metadata_scope(subject: Subject, now: datetime) -> ColumnElement[bool]:
    """Documents ``subject`` may know of at ``now`` (`policy.can_see_metadata`)."""
    if not subject.active:
        return false()
    if policy.reads_every_company(subject):
        return true()
    live = ~ended(now)
    uid = subject.user_id
    top = and_(
        Document.level == Level.TOP_SECRET.value, live,
        _designated(subject, Level.TOP_SECRET, now),
    )

    def lower(level: Level) -> ColumnElement[bool]:
        ways: list[ColumnElement[bool]] = [
            Document.supervisor_id == uid,
            _designated(subject, level, now),
        ]
        if level is Level.CONFIDENTIAL:
            ways.append(Document.registrant_id == uid)
        if level is Level.CONFIDENTIAL and subject.department_id is not None:
            ways.append(and_(Document.company_id == subject.company_id,
                             Document.department_id == subject.department_id))
        if subject.has(Role.COMPANY_GM) and not subject.at_hq:
            # The GM's approving office; HQ-owned files' office is the HQ executives'
            # (a subsidiary's GM is never at HQ, so the company test excludes them).
            ways.append(Document.company_id == subject.company_id)
        if subject.has(Role.DEPT_MANAGER) and subject.department_id is not None:
            ways.append(and_(
                Document.category.in_([c.value for c in policy.DEPT_MANAGER_MAY_APPROVE_COPY]),
                Document.company_id == subject.company_id,
                Document.department_id == subject.department_id,
            ))
        return and_(Document.level == level.value, live, or_(*ways))

    ways = [
        Document.level.not_in(_CLASSIFIED),
        ended(now),
        top,
        lower(Level.SECRET),
        lower(Level.CONFIDENTIAL),
    ]
    if subject.has(Role.CUSTODIAN):
        ways.append(Document.company_id == subject.company_id)
    return or_(*ways)


def classified_candidates(subject: Subject, level: Level) -> ColumnElement[bool] | None:
    """A condition every file at classified ``level`` whose period runs that
    ``subject`` may know of meets (`metadata_scope` still decides; this only
    narrows), made of the indexed ways of `metadata_scope` for that level: files
    granted to the subject, and below 绝密 files they supervise, of their department
    for its manager, for 秘密 files they registered or of their department. ``None``:
    no narrowing, when a way spans a company or more (those who read every company,
    a custodian, a GM below 绝密).

    A list sorted by level reads each level on its own (`documents._by_level`): for
    a staff member who may know of a handful of 机密 files among 200,000, reading the
    level's index until a page is full read all 200,000 (0.3 s at a million files);
    these ways read the handful. Someone with a company-wide way finds a page within
    the first few thousand rows of the level's index, which beats reading the whole
    company. Checked against the policy by tests/integration/test_search_scope.py."""
    if policy.reads_every_company(subject) or subject.has(Role.CUSTODIAN):
        return None
    uid = subject.user_id
    ways: list[Select[Any]] = [
        select(Grant.document_id).where(Grant.grantee_id == uid),
    ]
    if level is not Level.TOP_SECRET:
        if subject.has(Role.COMPANY_GM) and not subject.at_hq:
            return None
        ways.append(select(Document.id).where(Document.supervisor_id == uid))
    if level is Level.CONFIDENTIAL:
        ways.append(select(Document.id).where(Document.registrant_id == uid))
    if subject.department_id is not None and (
            level is Level.CONFIDENTIAL or subject.has(Role.DEPT_MANAGER)):
        ways.append(select(Document.id).where(Document.department_id == subject.department_id))
    return Document.id.in_(union_all(*ways))


def review_scope(subject: Subject, now: datetime) -> ColumnElement[bool]:
    """Documents ``subject`` reviews at ``now`` (`policy.can_review`), read like it:
    classified files whose period has not ended; 绝密 and HQ-owned ones for HQ
    executives; otherwise (not 绝密) the responsible supervisor, the registrant, for
    秘密 the owning department's manager, and the owning company's GM (not for
    HQ-owned files, whose office is the HQ executives'). Checked against the policy
    by tests/integration/test_search_scope.py."""
    if not subject.active:
        return false()
    uid = subject.user_id
    hq_owned = Document.company_id.in_(select(Company.id).where(Company.is_hq.is_(True)))
    ways: list[ColumnElement[bool]] = []
    if subject.is_hq_executive:
        ways.append(or_(hq_owned, Document.level == Level.TOP_SECRET.value))
    lower: list[ColumnElement[bool]] = [
        Document.supervisor_id == uid,
        Document.registrant_id == uid,
    ]
    if subject.has(Role.DEPT_MANAGER) and subject.department_id is not None:
        lower.append(and_(Document.level == Level.CONFIDENTIAL.value,
                          Document.company_id == subject.company_id,
                          Document.department_id == subject.department_id))
    if subject.has(Role.COMPANY_GM):
        lower.append(and_(~hq_owned, Document.company_id == subject.company_id))
    ways.append(and_(Document.level != Level.TOP_SECRET.value, or_(*lower)))
    return and_(Document.level.in_(_CLASSIFIED), ~ended(now), or_(*ways))


def register_companies(ctx: Ctx, company_id: int | None, message: str,
                       object_id: str | None = None) -> list[int] | None:
    """The ids of the companies whose registers (copies, loans, certificates) the actor
    reads, of ``company_id`` or by default (None: every company). A refusal is audited
    as a register view of ``object_id`` (default: the company's id)."""
    subject = ctx.subject
    if policy.reads_every_company(subject):
        return None if company_id is None else [company_id]
    target = company_id if company_id is not None else subject.company_id
    decision = policy.can_read_register(subject, target)
    if not decision.allowed:
        raise ctx.refuse(Forbidden(message, code=decision.reason.value), Action.REGISTER_VIEW,
                         object_type="register", object_id=object_id or str(target))
    return [target]
