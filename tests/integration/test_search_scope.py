"""The SQL scope of searches selects exactly what `policy.can_see_metadata` allows:
every level × category kind × owning company × period state × registrant removal,
with active, expired, revoked and lower-level grants, for every role and relation.
On SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

import pytest
from snapshots import Snapshot  # noqa: I001 - tests/snapshots.py
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from vault import db, policy
from vault.config import load_settings
from vault.models import Company, Department, Document, Grant, User, UserRole
from vault.policy import Category, Level
from vault.services import accounts, documents, scope
from vault.services.context import Infra, unit_of_work

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)

# company id: (code, is_hq); department id: (company, code)
COMPANIES = {1: ("HQ", True), 2: ("SZ", False), 3: ("GZ", False)}
DEPARTMENTS = {10: (1, "OFF"), 20: (2, "CS"), 21: (2, "ADM"), 30: (3, "CS")}
# user id: (company, department, roles, active)
PEOPLE = {
    101: (1, 10, "hq_executive", True),
    103: (1, 10, "compliance", True),
    104: (1, 10, "admin", True),
    105: (1, 10, "hq_executive", False),
    106: (1, 10, "dept_manager", True),
    107: (1, 10, "company_gm", True),
    108: (1, 10, "custodian", True),
    201: (2, 20, "staff", True),
    202: (2, 21, "staff", True),
    203: (2, 21, "supervisor", True),
    204: (2, 21, "staff", True),  # designee, active grant
    205: (2, 21, "staff", True),  # expired grant
    206: (2, 21, "staff", True),  # revoked grant
    207: (2, 21, "staff", True),  # grant made at the level below
    208: (2, 21, "staff", True),  # registrant
    209: (2, 21, "hq_executive", True),  # the role outside HQ counts for nothing
    210: (2, None, "company_gm", True),
    211: (2, 20, "dept_manager", True),
    212: (2, 21, "dept_manager", True),
    213: (2, 21, "custodian", True),
    214: (2, 20, "staff", False),
    301: (3, 30, "staff", True),
    302: (3, None, "company_gm", True),
}
BELOW = {Level.CONFIDENTIAL: Level.INTERNAL, Level.SECRET: Level.CONFIDENTIAL,
         Level.TOP_SECRET: Level.SECRET, Level.INTERNAL: Level.INTERNAL}
CATEGORIES = (Category.CONTRACT, Category.BUSINESS_LICENCE, Category.TAX_REGISTRATION)


def _build_world(home: Path, url: str) -> None:
    """The companies, people, documents and grants above (ids as given)."""
    tz = load_settings(environ={}, home=home, database_url=url).tz
    engine = db.make_engine(url)
    try:
        _add_world(db.make_sessionmaker(engine), tz)
    finally:
        engine.dispose()


def _add_world(sessions: sessionmaker[Session], tz: tzinfo) -> None:
    with db.transaction(sessions) as s:
        for cid, (code, hq) in COMPANIES.items():
            s.add(Company(id=cid, code=code, name=code, is_hq=hq))
        for did, (cid, code) in DEPARTMENTS.items():
            s.add(Department(id=did, company_id=cid, code=code, name=code))
        s.flush()
        for uid, (cid, did, roles, active) in PEOPLE.items():
            s.add(User(id=uid, username=f"u{uid}", name=f"u{uid}", company_id=cid,
                       department_id=did, password_hash="x", active=active))
            s.flush()
            for role in roles.split(","):
                s.add(UserRole(user_id=uid, role=role))
        s.flush()
        doc_id = 0
        for level, category, owner, ended, removed in itertools.product(
                Level, CATEGORIES, (2, 1), (False, True), (False, True)):
            if removed and level is not Level.TOP_SECRET:
                continue
            doc_id += 1
            period = policy.NO_PERIOD if not level.classified else (
                policy.Period(until=date(2026, 1, 1)) if ended else policy.Period(years=10))
            doc = Document(
                id=doc_id, title=f"d{doc_id}", category=category.value, level=level.value,
                issued_on=date(2025, 6, 1), company_id=owner,
                department_id=20 if owner == 2 else 10, supervisor_id=203 if owner == 2 else 106,
                registrant_id=208, registrant_removed=removed, created_at=NOW,
            )
            documents._set_period(doc, period, tz)
            s.add(doc)
            s.flush()
            grants = [
                (204, level, None, None),
                (205, level, NOW - timedelta(days=1), None),
                (206, level, None, NOW - timedelta(days=2)),
                (207, BELOW[level], None, None),
            ]
            for grantee, at, until, revoked in grants:
                s.add(Grant(document_id=doc_id, grantee_id=grantee, grantor_id=101,
                            level=at.value, created_at=NOW - timedelta(days=10), until=until,
                            revoked_at=revoked))
            # 202: an HQ executive's designation made at the level below (holds at every
            # level); 208: the registrant's designation by registration at 机密 and 绝密
            # (ended by an HQ executive for "removed").
            s.add(Grant(document_id=doc_id, grantee_id=202, grantor_id=101,
                        level=BELOW[level].value, created_at=NOW - timedelta(days=10),
                        hq_confirmed_by_id=101, hq_confirmed_at=NOW - timedelta(days=10)))
            if level in (Level.SECRET, Level.TOP_SECRET):
                s.add(Grant(document_id=doc_id, grantee_id=208, grantor_id=203,
                            level=level.value, created_at=NOW - timedelta(days=10),
                            basis="registration",
                            revoked_at=NOW - timedelta(days=1) if removed else None))


# The tests only read the world: it is built once per session and database kind
# (tests/conftest.py) and each test reads its own copy.
SNAPSHOT = Snapshot("search-scope-world", _build_world)


@pytest.fixture
def world(snapshot_url: str, infra: Infra) -> Infra:
    """SNAPSHOT's world under this test's keys, blob store and audit log."""
    return infra


def test_sql_scope_is_the_policy(world: Infra) -> None:
    with world.sessions() as s:
        docs = list(s.scalars(select(Document).order_by(Document.id)))
        for user_id in sorted(PEOPLE):
            user = s.get(User, user_id)
            assert user is not None
            subject = accounts.subject_of(user)
            expected = {d.id for d in docs
                        if policy.can_see_metadata(subject, documents.facts(d), NOW).allowed}
            got = set(s.scalars(select(Document.id).where(scope.metadata_scope(subject, NOW))))
            assert (user_id, sorted(got - expected), sorted(expected - got)) == (user_id, [], [])
        # The effective level in SQL is the policy's too.
        levels = dict(s.execute(select(Document.id, scope.effective_level(NOW))).all())
        assert levels == {d.id: policy.effective_level(documents.facts(d), NOW).value
                          for d in docs}


def test_sql_review_scope_is_the_policy(world: Infra) -> None:
    """The review queue's SQL narrows to exactly the files `policy.can_review` allows."""
    with world.sessions() as s:
        docs = list(s.scalars(select(Document).order_by(Document.id)))
        sizes = {}
        for user_id in sorted(PEOPLE):
            user = s.get(User, user_id)
            assert user is not None
            subject = accounts.subject_of(user)
            expected = {d.id for d in docs
                        if policy.can_review(subject, documents.facts(d), NOW).allowed}
            got = set(s.scalars(select(Document.id).where(scope.review_scope(subject, NOW))))
            assert (user_id, sorted(got - expected), sorted(expected - got)) == (user_id, [], [])
            sizes[user_id] = len(got)
    # Not trivial: HQ executives, GMs, managers, supervisors and registrants review some.
    assert sizes[101] > sizes[203] > 0 and sizes[208] > 0 and sizes[210] > 0
    assert sizes[211] > 0 and sizes[106] > 0
    assert sizes[105] == sizes[103] == sizes[201] == sizes[209] == sizes[302] == 0


def test_the_world_is_not_trivial(world: Infra) -> None:
    """Each person sees some documents and misses others (except the all-seeing)."""
    with world.sessions() as s:
        total = s.scalar(select(Document.id).order_by(Document.id.desc()).limit(1))
        sizes = {}
        for uid in PEOPLE:
            user = s.get(User, uid)
            assert user is not None
            subject = accounts.subject_of(user)
            sizes[uid] = len(s.scalars(select(Document.id).where(
                scope.metadata_scope(subject, NOW))).all())
    assert sizes[101] == sizes[103] == total
    assert sizes[105] == sizes[214] == 0
    assert 0 < sizes[201] < sizes[210] < total
    assert len(set(sizes.values())) >= 8


def test_classified_candidates_hold_every_file_of_the_level_in_scope(world: Infra) -> None:
    """`scope.classified_candidates` only narrows: every live file of a classified
    level that `metadata_scope` lets a person know of is among the candidates."""
    narrowed = set()
    with world.sessions() as s:
        levels = dict(s.execute(select(Document.id, scope.effective_level(NOW))).all())
        for user_id in sorted(PEOPLE):
            user = s.get(User, user_id)
            assert user is not None
            subject = accounts.subject_of(user)
            known = set(s.scalars(select(Document.id).where(scope.metadata_scope(subject, NOW))))
            for level in (Level.CONFIDENTIAL, Level.SECRET, Level.TOP_SECRET):
                candidates = scope.classified_candidates(subject, level)
                if candidates is None:
                    continue
                narrowed.add((user_id, level))
                got = set(s.scalars(select(Document.id).where(candidates)))
                expected = {d for d in known if levels[d] == level.value}
                assert (user_id, level, sorted(expected - got)) == (user_id, level, [])
    # Not trivial: staff, designees, registrants and managers are narrowed at every
    # level; HQ executives, compliance and custodians are not, a GM only at 绝密.
    assert {(201, lv) for lv in Level if lv.classified} <= narrowed
    assert {(uid, Level.SECRET) for uid in (204, 208, 211, 203)} <= narrowed
    assert not {(uid, lv) for uid in (101, 103, 213) for lv in Level} & narrowed
    assert (210, Level.TOP_SECRET) in narrowed and (210, Level.SECRET) not in narrowed


@pytest.mark.parametrize("sort", ["level", "-level"])
def test_list_sorted_by_level_is_the_scope_in_policy_order(world: Infra, sort: str) -> None:
    """The list sorted by level (read one level at a time, documents._by_level) holds
    exactly the files of the unsorted list, by effective level, newest first within
    one, page after page."""
    rank = {lv.value: lv.rank for lv in Level}
    for user_id in sorted(PEOPLE):
        with unit_of_work(world, f"u{user_id}", now=NOW) as ctx:
            everything = documents.search(ctx, documents.Query(per_page=500))
            level_of = {d.id: everything.levels[d.id].value for d in everything.items}
            sign = -1 if sort.startswith("-") else 1  # ties newest first either way
            expected = sorted(level_of, key=lambda d: (sign * rank[level_of[d]], -d))
            pages = [documents.search(ctx, documents.Query(sort=sort, page=p, per_page=7))
                     for p in range(1, 2 + len(expected) // 7)]
        got = [d.id for page in pages for d in page.items]
        assert (user_id, got) == (user_id, expected)
        assert {page.total for page in pages} <= {len(expected)}
