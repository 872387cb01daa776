"""May a person do an action to a document, and why (`vault can-i`, the
administrator's tool): answered from metadata only, releasing nothing.

One decision, two ways to load its facts:

- `decide` asks the policy (documents.explain uses it too);
- `answer` loads the person and the document through the ORM, on any database;
- `answer_sqlite` reads a SQLite file through the standard library's sqlite3, so the
  command starts without importing SQLAlchemy and the models (under 0.3 s, where the
  ORM alone costs more: benchmarks/bench_startup.py). It returns None when it cannot
  answer (not a SQLite file, not initialised, a schema it does not know) and the
  caller takes the ORM path, which also gives the usual messages.

tests/integration/test_can_i.py checks that both loaders build the same facts and give
the same answers for every demo person, document and action.

This module imports only the standard library, the policy and the errors: keep it so
(tests/unit/test_layering.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar
from urllib.parse import unquote
from urllib.request import pathname2url

from vault import policy
from vault.errors import InvalidInput, NotFound
from vault.policy import Category, CopyKind, Level, Period, Role, Subject

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

CAN_I_ACTIONS = ("view", "copy", "excerpt", "lend", "grant", "extend")
REGISTRATION = "registration"  # a grant's basis: the registrant's own access

T = TypeVar("T")


@dataclass(frozen=True)
class Verdict(Generic[T]):
    """The policy's answer; ``approvers`` are the candidates who may approve."""

    allowed: bool
    reason: str
    effective_level: Level
    approval_required: bool
    default_no: bool
    approvers: tuple[T, ...]


def decide(subject: Subject, doc: policy.DocumentFacts, action: str, now: datetime,
           candidates: Callable[[], Iterable[tuple[Subject, T]]]) -> Verdict[T]:
    """May ``subject`` do ``action`` to ``doc`` at ``now``? For a request that needs
    approval, which of ``candidates`` (the active people, loaded only then) may approve."""
    if action not in CAN_I_ACTIONS:
        raise InvalidInput(
            f"Unknown action {action!r}; actions are: {', '.join(CAN_I_ACTIONS)}.",
            code="unknown_action",
        )
    level = policy.effective_level(doc, now)
    approvers: tuple[T, ...] = ()
    required = default_no = False
    if action == "view":
        decision = policy.can_view(subject, doc, now)
    elif action == "grant":
        decision = policy.can_grant(subject, doc, now)
    else:
        kind = CopyKind(action)
        decision = policy.can_request(subject, doc, kind, now)
        route = policy.copy_route(doc, kind, now, subject)
        required, default_no = route.required, route.default_no
        if decision.allowed and route.required:
            request = policy.CopyFacts(document=doc, kind=kind, requester_id=subject.user_id,
                                       requester=subject)
            approvers = tuple(item for person, item in candidates()
                              if policy.can_approve(person, request, now).allowed)
        elif decision.allowed:
            decision = policy.Decision(True, route.reason)
    return Verdict(allowed=decision.allowed, reason=decision.reason.value,
                   effective_level=level, approval_required=required,
                   default_no=default_no, approvers=approvers)


# ---------------------------------------------------------------------------
# The read model of `vault can-i`


@dataclass(frozen=True)
class Person:
    username: str
    name: str


@dataclass(frozen=True)
class Answer:
    action: str
    username: str
    document_id: int
    title: str
    period: Period
    verdict: Verdict[Person]


def answer(sessions: sessionmaker[Session], username: str, document_id: int, action: str,
           now: datetime) -> Answer:
    """The answer, loaded through the ORM (any database), in a session of its own."""
    with sessions() as session:
        return answer_in(session, username, document_id, action, now)


def answer_in(session: Session, username: str, document_id: int, action: str,
              now: datetime) -> Answer:
    from vault.services import accounts, documents

    user = accounts.get_user(session, username)
    doc = documents.get(session, document_id)
    found = documents.explain(session, user, doc, action, now)
    verdict = Verdict(allowed=found.allowed, reason=found.reason,
                      effective_level=found.effective_level,
                      approval_required=found.approval_required, default_no=found.default_no,
                      approvers=tuple(Person(u.username, u.name) for u in found.approvers))
    return Answer(action=action, username=user.username, document_id=doc.id, title=doc.title,
                  period=documents.period_of(doc), verdict=verdict)


# ---------------------------------------------------------------------------
# The same facts through sqlite3


def sqlite_path(database_url: str) -> Path | None:
    """The file of a plain ``sqlite:///FILE`` URL; None for anything else."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix) or "?" in database_url:
        return None
    name = unquote(database_url[len(prefix):])
    if name in ("", ":memory:"):
        return None
    return Path(name)


def _connect(path: Path) -> sqlite3.Connection | None:
    if not path.is_file():
        return None  # the ORM path says what to run (and creates nothing here)
    conn = sqlite3.connect(f"file:{pathname2url(str(path.resolve()))}?mode=rw", uri=True,
                           timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def _day(value: str) -> date:
    return date.fromisoformat(value)


def _moment(value: str | None) -> datetime | None:
    """A stored UTC moment (models.UTCDateTime keeps it naive in SQLite)."""
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


_USER = ("SELECT u.id, u.username, u.name, u.company_id, u.department_id, u.active, c.is_hq "
         "FROM users u JOIN companies c ON c.id = u.company_id")


def _roles(conn: sqlite3.Connection) -> dict[int, frozenset[Role]]:
    found: dict[int, set[Role]] = {}
    for row in conn.execute("SELECT user_id, role FROM user_roles"):
        if row["role"] in Role._value2member_map_:
            found.setdefault(row["user_id"], set()).add(Role(row["role"]))
    return {k: frozenset(v) for k, v in found.items()}


def _subject(row: sqlite3.Row, roles: dict[int, frozenset[Role]]) -> Subject:
    return Subject(user_id=row["id"], company_id=row["company_id"],
                   department_id=row["department_id"], roles=roles.get(row["id"], frozenset()),
                   active=bool(row["active"]), at_hq=bool(row["is_hq"]))


def subject_sqlite(conn: sqlite3.Connection, username: str) -> tuple[Subject, Person]:
    row = conn.execute(_USER + " WHERE u.username = ?", (username,)).fetchone()
    if row is None:
        raise NotFound(f"No user {username!r}.", code="unknown_user")
    return _subject(row, _roles(conn)), Person(row["username"], row["name"])


def facts_sqlite(conn: sqlite3.Connection, document_id: int,
                 tz: tzinfo = policy.GROUP_TZ) -> tuple[policy.DocumentFacts, str]:
    """The policy's view of a document (as documents.facts), and its title."""
    doc = conn.execute(
        "SELECT d.*, c.is_hq AS company_is_hq FROM documents d "
        "JOIN companies c ON c.id = d.company_id WHERE d.id = ?", (document_id,)).fetchone()
    if doc is None:
        raise NotFound(f"No document {document_id}.", code="unknown_document")
    grants = tuple(
        policy.GrantFact(grantee_id=g["grantee_id"], level=Level(g["level"]),
                         until=_moment(g["until"]), revoked=g["revoked_at"] is not None,
                         hq_confirmed=g["hq_confirmed_by_id"] is not None,
                         by_registration=g["basis"] == REGISTRATION)
        for g in conn.execute("SELECT * FROM grants WHERE document_id = ? ORDER BY id",
                              (document_id,))
    )
    period = Period(years=doc["period_years"], months=doc["period_months"],
                    days=doc["period_days"],
                    until=_day(doc["period_until"]) if doc["period_until"] else None,
                    condition=doc["condition"])
    facts = policy.DocumentFacts(
        id=doc["id"], category=Category(doc["category"]), level=Level(doc["level"]),
        period=period, issued_on=_day(doc["issued_on"]), company_id=doc["company_id"],
        company_is_hq=bool(doc["company_is_hq"]), department_id=doc["department_id"],
        supervisor_id=doc["supervisor_id"], registrant_id=doc["registrant_id"],
        grants=grants, paper_original=bool(doc["has_paper_original"]), tz=tz,
    )
    return facts, doc["title"]


def answer_sqlite(database_url: str, username: str, document_id: int, action: str,
                  now: datetime) -> Answer | None:
    """The answer read through sqlite3, or None when this path cannot give it."""
    path = sqlite_path(database_url)
    if path is None:
        return None
    try:
        conn = _connect(path)
        if conn is None:
            return None
        try:
            conn.execute("BEGIN")  # one snapshot for every read below
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                            "AND name = 'alembic_version'").fetchone() is None:
                return None
            subject, person = subject_sqlite(conn, username)
            doc, title = facts_sqlite(conn, document_id)

            def active_people() -> Iterable[tuple[Subject, Person]]:
                roles = _roles(conn)
                for row in conn.execute(_USER + " WHERE u.active ORDER BY u.username"):
                    yield _subject(row, roles), Person(row["username"], row["name"])

            verdict = decide(subject, doc, action, now, active_people)
        finally:
            conn.close()  # never wrote: closing ends the read transaction
    except (sqlite3.Error, KeyError, IndexError, ValueError):
        return None  # a schema or value this reader does not know: the ORM path answers
    return Answer(action=action, username=person.username, document_id=doc.id, title=title,
                  period=doc.period, verdict=verdict)
