"""Organisation and people: companies, departments, users and their roles."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from vault import policy
from vault.actions import Action, Outcome
from vault.db import one_statement
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import Company, Department, SignInAddress, User, UserRole
from vault.policy import Role, Subject

if TYPE_CHECKING:
    from vault.services.context import Ctx, Infra

# argon2id with the library's recommended parameters (RFC 9106 low-memory profile).
PRODUCTION_HASHER = PasswordHasher()
_hasher = PRODUCTION_HASHER

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")
MIN_PASSWORD = 10


def check_code(code: str, what: str) -> str:
    if not CODE_RE.match(code):
        raise InvalidInput(
            f"{what} code {code!r} is not valid: use 1–32 letters, digits, '_', '-' or '.'.",
            code="bad_code",
        )
    return code


def check_name(name: str, what: str) -> str:
    name = name.strip()
    if not name or len(name) > 200 or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"{what} name must be 1–200 printable characters.", code="bad_name")
    return name


def parse_roles(text: str | Iterable[str]) -> frozenset[Role]:
    """``"staff,supervisor"`` → roles; unknown ids are refused with the list of valid ones."""
    items = [t.strip() for t in (text.split(",") if isinstance(text, str) else text)]
    items = [t for t in items if t]
    if not items:
        raise InvalidInput("At least one role is needed.", code="no_roles")
    valid = {r.value for r in Role}
    unknown = [t for t in items if t not in valid]
    if unknown:
        raise InvalidInput(
            f"Unknown role {', '.join(unknown)}; roles are: {', '.join(sorted(valid))}.",
            code="unknown_role",
        )
    return frozenset(Role(t) for t in items)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# A fixed hash so that an unknown user costs the same time as a wrong password. Made on
# first use, not at import (argon2 at production cost would slow every `vault` command),
# and again whenever the hasher changes so that its cost always matches real hashes.
_dummy: tuple[PasswordHasher, str] | None = None


def _dummy_hash() -> str:
    global _dummy
    if _dummy is None or _dummy[0] is not _hasher:
        _dummy = (_hasher, _hasher.hash(secrets.token_urlsafe(16)))
    return _dummy[1]


def burn_password_check(password: str) -> None:
    verify_password(_dummy_hash(), password)


#: Why a password is refused: (English, Chinese). Views and the CLI show these in
#: the reader's language; ``InvalidInput.params["why"]`` says which.
PASSWORD_PROBLEMS = {
    "too_short": (f"The password is too short: at least {MIN_PASSWORD} characters.",
                  f"密码太短：至少需要 {MIN_PASSWORD} 个字符。"),
    "username": ("The password must not be the user name, nor the user name with digits.",
                 "密码不能是用户名，也不能是用户名加数字。"),
    "current": ("The new password must differ from the current one.",
                "新密码不能与当前密码相同。"),
    "guessable": ("The password is too easy to guess (a common password, a word, a repeat or "
                  "a sequence such as 1234). Use a longer phrase of unrelated words.",
                  "密码太容易被猜到（常见密码、单词、重复或 1234 这样的序列）。"
                  "请使用由几个不相关的词组成的较长短语。"),
}
#: zxcvbn's score (0–4) a password needs: 3 is "safely unguessable", about 10^8 guesses
#: and more (the estimator knows common passwords, words, names, keyboard patterns,
#: repeats, sequences and dates, and the person's own name and user name).
MIN_STRENGTH = 3
_ESTIMATED_CHARS = 72  # zxcvbn's limit; a longer password is judged by its start


def password_problem(password: str, username: str | None = None,
                     current_hash: str | None = None, context: tuple[str, ...] = ()
                     ) -> str | None:
    """Why ``password`` would be refused (a key of PASSWORD_PROBLEMS), or None."""
    if len(password) < MIN_PASSWORD:
        return "too_short"
    if username and password.lower().rstrip("0123456789") in (
            username.lower(), username.lower().rstrip("0123456789")):
        return "username"
    if current_hash is not None and verify_password(current_hash, password):
        return "current"
    from zxcvbn import zxcvbn

    hints = [x for x in (username, *context) if x]
    if zxcvbn(password[:_ESTIMATED_CHARS], user_inputs=hints)["score"] < MIN_STRENGTH:
        return "guessable"
    return None


def password_message(why: str, lang: str = "en") -> str:
    en, zh = PASSWORD_PROBLEMS[why]
    return zh if lang.startswith("zh") else en


def check_password_strength(password: str, username: str | None = None,
                            current_hash: str | None = None,
                            context: tuple[str, ...] = ()) -> None:
    """Refuse a short, guessable or reused password, saying why (``params["why"]``)."""
    why = password_problem(password, username, current_hash, context)
    if why is not None:
        raise InvalidInput(password_message(why), code="weak_password", why=why)


def generate_password() -> str:
    return secrets.token_urlsafe(12)


# ---------------------------------------------------------------------------
# Companies and departments


def get_company(session: Session, code: str) -> Company:
    company = session.scalar(select(Company).where(Company.code == code))
    if company is None:
        raise NotFound(f"No company with code {code!r}.", code="unknown_company")
    return company


def get_department(session: Session, company: Company, code: str) -> Department:
    dept = session.scalar(
        select(Department).where(Department.company_id == company.id, Department.code == code)
    )
    if dept is None:
        raise NotFound(
            f"No department {code!r} in company {company.code!r}.", code="unknown_department"
        )
    return dept


def add_company(session: Session, code: str, name: str, hq: bool = False) -> Company:
    """Add a company; at most one is the HQ (总公司)."""
    check_code(code, "Company")
    name = check_name(name, "Company")
    if session.scalar(select(Company).where(Company.code == code)) is not None:
        raise Conflict(f"A company with code {code!r} already exists.", code="company_exists")
    if hq and session.scalar(select(Company).where(Company.is_hq.is_(True))) is not None:
        raise Conflict("There is already an HQ company; only one can be HQ.", code="hq_exists")
    company = Company(code=code, name=name, is_hq=hq)
    session.add(company)
    session.flush()
    return company


def add_department(session: Session, company_code: str, code: str, name: str) -> Department:
    company = get_company(session, company_code)
    check_code(code, "Department")
    name = check_name(name, "Department")
    exists = session.scalar(
        select(Department).where(Department.company_id == company.id, Department.code == code)
    )
    if exists is not None:
        raise Conflict(
            f"Department {code!r} already exists in {company_code!r}.", code="department_exists"
        )
    dept = Department(company_id=company.id, code=code, name=name)
    session.add(dept)
    session.flush()
    return dept


# ---------------------------------------------------------------------------
# Users


def get_user(session: Session, username: str) -> User:
    # With the company (policy's at_hq) and the roles in the same statement: the
    # actor of every unit of work is read this way, and the separate lazy loads of
    # roles and company were two more round trips per request.
    user = session.scalars(
        select(User).options(joinedload(User.company), joinedload(User.role_rows))
        .where(User.username == username)).unique().one_or_none()
    if user is None:
        raise NotFound(f"No user {username!r}.", code="unknown_user")
    return user


def _check_roles_fit(company: Company, roles: frozenset[Role]) -> None:
    if Role.HQ_EXECUTIVE in roles and not company.is_hq:
        raise InvalidInput(
            "The hq_executive role is only for people of the HQ company.", code="role_needs_hq"
        )


def add_user(
    session: Session,
    username: str,
    name: str,
    company_code: str,
    department_code: str | None,
    roles: frozenset[Role],
    password: str | None = None,
    email: str | None = None,
) -> tuple[User, str | None]:
    """Add a user. Returns the user and the generated password (None when one was given)."""
    if not USERNAME_RE.match(username):
        raise InvalidInput(
            f"User name {username!r} is not valid: 2–64 lower-case letters, digits, '_', '-', '.'.",
            code="bad_username",
        )
    name = check_name(name, "Person's")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"User {username!r} already exists.", code="user_exists")
    company = get_company(session, company_code)
    dept = get_department(session, company, department_code) if department_code else None
    _check_roles_fit(company, roles)
    generated = None
    if password is None:
        password = generated = generate_password()
    check_password_strength(password, username, context=(name,))
    user = User(
        username=username,
        name=name,
        email=email,
        company_id=company.id,
        department_id=dept.id if dept else None,
        password_hash=hash_password(password),
    )
    user.role_rows = [UserRole(role=r.value) for r in sorted(roles)]
    session.add(user)
    session.flush()
    return user, generated


def set_roles(session: Session, username: str, roles: frozenset[Role]) -> User:
    user = get_user(session, username)
    _check_roles_fit(user.company, roles)
    _keep_a_custodian(session, user, roles, user.active)
    user.role_rows = [UserRole(role=r.value) for r in sorted(roles)]
    session.flush()
    return user


def deactivate(session: Session, username: str) -> User:
    """Deactivate at once: sessions and tokens of the old epoch stop working."""
    user = get_user(session, username)
    _keep_a_custodian(session, user, None, False)
    user.active = False
    user.auth_epoch += 1
    session.flush()
    return user


def set_password(session: Session, username: str, password: str | None) -> tuple[User, str | None]:
    user = get_user(session, username)
    generated = None
    if password is None:
        password = generated = generate_password()
    check_password_strength(password, username, user.password_hash, (user.name,))
    user.password_hash = hash_password(password)
    user.auth_epoch += 1
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    return user, generated


def active_custodians(session: Session, company_id: int, *,
                      except_user: int | None = None) -> int:
    """How many active custodians (保管员) the company has (``except_user`` not counted)."""
    stmt = (select(func.count(func.distinct(User.id))).select_from(User).join(UserRole)
            .where(User.company_id == company_id, User.active.is_(True),
                   UserRole.role == Role.CUSTODIAN.value))
    if except_user is not None:
        stmt = stmt.where(User.id != except_user)
    return int(session.scalar(stmt) or 0)


def company_id(ctx: Ctx, code: str | None) -> int | None:
    """The id of the company with ``code`` (None for None); unknown codes are refused."""
    return get_company(ctx.session, code).id if code else None


def user_named(ctx: Ctx, username: str) -> User:
    """The person called ``username``, for a use case that takes one (e.g. a supervisor)."""
    return get_user(ctx.session, username)


def codes_without_custodian(sessions: sessionmaker[Session]) -> list[str]:
    """The codes of `companies_without_custodian`, in a session of their own."""
    with sessions() as session:
        return [c.code for c in companies_without_custodian(session)]


def companies_without_custodian(session: Session) -> list[Company]:
    """Companies with no active custodian (flagged by `vault doctor` and the admin page;
    their general manager keeps the lending register meanwhile)."""
    return [c for c in session.scalars(select(Company).order_by(Company.code))
            if active_custodians(session, c.id) == 0]


def _keep_a_custodian(session: Session, user: User, roles: frozenset[Role] | None,
                      active: bool) -> None:
    """Refuse a change that leaves the user's company, which has a custodian, with none."""
    was = user.active and Role.CUSTODIAN.value in user.roles
    stays = active and (Role.CUSTODIAN in roles if roles is not None
                        else Role.CUSTODIAN.value in user.roles)
    if not was or stays:
        return
    left = active_custodians(session, user.company_id, except_user=user.id)
    if not policy.keeps_a_custodian(left).allowed:
        raise Conflict(
            f"{user.username} is the last active custodian of {user.company.code}; every "
            f"company needs one. Give another person of {user.company.code} the custodian "
            f"role first (vault users roles OTHER staff,custodian), then try again.",
            code="last_custodian", company=user.company.code)


def hq_executives(session: Session) -> list[User]:
    """Every active HQ executive (the role counts only at the HQ company)."""
    rows = session.scalars(
        select(User).join(UserRole).where(User.active.is_(True),
                                          UserRole.role == Role.HQ_EXECUTIVE.value)
        .order_by(User.id))
    return [u for u in rows.unique() if subject_of(u).is_hq_executive]


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


@dataclass(frozen=True)
class UserView:
    username: str
    name: str
    company: str
    department: str | None
    roles: list[str]
    active: bool


def user_views(sessions: sessionmaker[Session]) -> list[UserView]:
    """Everyone, by user name, in a session of their own (`vault users list`)."""
    with sessions() as session:
        return [describe(u) for u in list_users(session)]


def describe_me(ctx: Ctx) -> UserView:
    assert ctx.actor is not None
    return describe(ctx.actor)


def describe(user: User) -> UserView:
    return UserView(
        username=user.username,
        name=user.name,
        company=user.company.code,
        department=user.department.code if user.department else None,
        roles=sorted(user.roles),
        active=user.active,
    )


@dataclass(frozen=True)
class Identity:
    """Who signed in, as a request carries it (the session holds id and epoch)."""

    id: int
    username: str
    name: str
    roles: frozenset[str]
    epoch: int


def identity_of(user: User) -> Identity:
    return Identity(user.id, user.username, user.name, frozenset(user.roles), user.auth_epoch)


def signed_in(infra: Infra, user_id: int, epoch: int) -> Identity | None:
    """The person a session names, if still active and of the same auth epoch (a
    sign-out, deactivation or password change moves the epoch: older sessions end).
    Read on every request, writing nothing: a read-only session (on SQLite it does
    not queue behind writers for the writer lock)."""
    with infra.readonly_sessions()() as session:
        one_statement(session)
        # One statement, plain rows (one per role): no ORM object to build for it.
        rows = session.execute(
            select(User.username, User.name, User.active, User.auth_epoch, UserRole.role)
            .outerjoin(UserRole, UserRole.user_id == User.id).where(User.id == user_id)
        ).all()
    if not rows:
        return None
    username, name, active, auth_epoch, _role = rows[0]
    if not active or auth_epoch != epoch:
        return None
    return Identity(user_id, username, name, frozenset(r[4] for r in rows if r[4] is not None),
                    auth_epoch)


def change_own_password(ctx: Ctx, current: str, new: str | None) -> int | None:
    """The actor changes their own password, giving the current one: the new auth
    epoch (every other session ends), or None when ``current`` is wrong."""
    assert ctx.actor is not None
    if not verify_password(ctx.actor.password_hash, current):
        return None
    user, _generated = change_password(ctx, ctx.actor.username, new)
    return user.auth_epoch


def me(ctx: Ctx) -> Identity:
    assert ctx.actor is not None
    return identity_of(ctx.actor)


def own_company(ctx: Ctx) -> str:
    """The code of the actor's company ("" for the system)."""
    return ctx.actor.company.code if ctx.actor is not None else ""


def still_signed_in(ctx: Ctx, epoch: int) -> Identity | None:
    """The actor, if still active and of the auth epoch a half-finished sign-in (or
    a session) started with; None when it moved (signed out, deactivated…)."""
    actor = ctx.actor
    if actor is None or actor.auth_epoch != epoch or not actor.active:
        return None
    return identity_of(actor)


@dataclass(frozen=True)
class Someone:
    """An active person as the pages that decide for everyone need them."""

    username: str
    name: str
    company: str  # its code
    subject: Subject


def active_people(session: Session) -> list[Someone]:
    """Every active person with the policy's view of them, by company then name: two
    plain queries and no ORM objects (the document page asks policy about each one;
    loading each as a User with its roles and company cost more than the page)."""
    rows = session.execute(
        select(User.id, User.username, User.name, User.company_id, User.department_id,
               Company.code, Company.is_hq)
        .join(Company, User.company_id == Company.id)
        .where(User.active.is_(True)).order_by(User.company_id, User.name)).all()
    roles: dict[int, set[Role]] = {}
    for user_id, role in session.execute(
            select(UserRole.user_id, UserRole.role).join(User, UserRole.user_id == User.id)
            .where(User.active.is_(True))):
        if role in Role._value2member_map_:
            roles.setdefault(user_id, set()).add(Role(role))
    return [Someone(username, name, code,
                    Subject(user_id=user_id, company_id=company_id, department_id=dept_id,
                            roles=frozenset(roles.get(user_id, ())), active=True, at_hq=hq))
            for user_id, username, name, company_id, dept_id, code, hq in rows]


def subject_of(user: User) -> Subject:
    """The policy's view of a user."""
    roles = frozenset(Role(r) for r in user.roles if r in Role._value2member_map_)
    return Subject(
        user_id=user.id,
        company_id=user.company_id,
        department_id=user.department_id,
        roles=roles,
        active=user.active,
        at_hq=user.company.is_hq,
    )


# ---------------------------------------------------------------------------
# Audited use cases (CLI and administration pages call these)


def _admin_check(ctx: Ctx, action: Action) -> None:
    """People and organisation are managed by administrators; the CLI runs as the
    system (shell access to the server is the administrator's)."""
    if ctx.actor is None:
        return
    from vault.policy import can_administer

    decision = can_administer(ctx.subject)
    if not decision.allowed:
        raise ctx.refuse(Forbidden("Only administrators manage people and the organisation.",
                                   code=decision.reason.value), action, object_type="user")


def create_company(ctx: Ctx, code: str, name: str, hq: bool = False) -> Company:
    _admin_check(ctx, Action.ORG_COMPANY_ADD)
    company = add_company(ctx.session, code, name, hq)
    ctx.record(Action.ORG_COMPANY_ADD, object_type="company", object_id=code,
               reason="added", detail={"name": name, "hq": hq})
    return company


def create_department(ctx: Ctx, company_code: str, code: str, name: str) -> Department:
    _admin_check(ctx, Action.ORG_DEPARTMENT_ADD)
    dept = add_department(ctx.session, company_code, code, name)
    ctx.record(Action.ORG_DEPARTMENT_ADD, object_type="department",
               object_id=f"{company_code}/{code}", reason="added", detail={"name": name})
    return dept


def create_user(ctx: Ctx, username: str, name: str, company_code: str,
                department_code: str | None, roles: frozenset[Role],
                password: str | None = None, email: str | None = None
                ) -> tuple[User, str | None]:
    _admin_check(ctx, Action.USER_CREATE)
    user, generated = add_user(ctx.session, username, name, company_code, department_code,
                               roles, password, email)
    ctx.record(Action.USER_CREATE, object_type="user", object_id=username, reason="added",
               detail={"roles": ",".join(sorted(roles)), "company": company_code})
    return user, generated


def change_roles(ctx: Ctx, username: str, roles: frozenset[Role]) -> User:
    _admin_check(ctx, Action.USER_UPDATE)
    before = ",".join(sorted(get_user(ctx.session, username).roles))
    user = set_roles(ctx.session, username, roles)
    ctx.record(Action.USER_UPDATE, object_type="user", object_id=username,
               reason="roles_changed", detail={"from": before, "to": ",".join(sorted(roles))})
    return user


EMAIL_RE = re.compile(r"[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,189}")


def check_email(email: str | None) -> str | None:
    """None for none; otherwise one address (local@domain, no spaces or controls)."""
    text = (email or "").strip()
    if not text:
        return None
    if len(text) > 254 or not EMAIL_RE.fullmatch(text):
        raise InvalidInput("The e-mail address is not valid.", code="bad_email")
    return text


def update_person(ctx: Ctx, username: str, *, name: str, email: str | None,
                  company_code: str, department_code: str | None) -> User:
    """An administrator corrects a person's name, e-mail address, company and
    department; what changed (before and after) goes to the audit trail. A move to
    another company keeps the roles only where they fit it (an HQ executive stays at
    HQ), else it is refused."""
    _admin_check(ctx, Action.USER_UPDATE)
    user = get_user(ctx.session, username)
    name = check_name(name, "Person's")
    email = check_email(email)
    company = get_company(ctx.session, company_code)
    dept = get_department(ctx.session, company, department_code) if department_code else None
    _check_roles_fit(company, frozenset(Role(r) for r in user.roles))
    before = {"name": user.name, "email": user.email or "", "company": user.company.code,
              "department": user.department.code if user.department else ""}
    after = {"name": name, "email": email or "", "company": company.code,
             "department": dept.code if dept else ""}
    changed = {k: after[k] for k in after if after[k] != before[k]}
    if not changed:
        return user
    user.name, user.email = name, email
    user.company_id, user.department_id = company.id, dept.id if dept else None
    ctx.session.flush()
    ctx.session.expire(user, ["company", "department"])
    ctx.record(Action.USER_UPDATE, object_type="user", object_id=username,
               reason="details_changed",
               detail={"from": {k: before[k] for k in changed}, "to": changed})
    return user


def deactivate_user(ctx: Ctx, username: str) -> User:
    _admin_check(ctx, Action.USER_DEACTIVATE)
    user = deactivate(ctx.session, username)
    ctx.record(Action.USER_DEACTIVATE, object_type="user", object_id=username,
               reason="deactivated")
    return user


def sign_out(ctx: Ctx) -> None:
    """End the actor's sessions on the server: the epoch their session cookies carry
    moves on, so a copied cookie stops working too (every browser of that person is
    signed out; API tokens are not sessions and stay valid)."""
    if ctx.actor is None:
        return
    ctx.actor.auth_epoch += 1
    ctx.session.flush()
    ctx.record(Action.AUTH_SIGN_OUT, object_type="user", object_id=ctx.actor.username,
               reason="signed_out")


def change_password(ctx: Ctx, username: str, password: str | None) -> tuple[User, str | None]:
    if ctx.actor is not None and ctx.actor.username != username:
        _admin_check(ctx, Action.USER_PASSWORD)
    user, generated = set_password(ctx.session, username, password)
    ctx.record(Action.USER_PASSWORD, object_type="user", object_id=username,
               reason="password_changed")  # never the password itself
    return user, generated


# ---------------------------------------------------------------------------
# Signing in

MAX_FAILURES = 5  # then a growing pause
LOCK_BASE_SECONDS = 30
LOCK_MAX_SECONDS = 3600


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt. ``user`` is None on failure; the message
    is the same whatever went wrong (unknown name, wrong password, paused)."""

    user: User | None
    reason: str


#: Per client address, whatever the account (one client spraying many names): after
#: ADDRESS_MAX_FAILURES failed sign-ins with no quiet ADDRESS_QUIET between them, the
#: address pauses for a time that doubles with each further failure (capped at an
#: hour). Kept in the database (``sign_in_addresses``), so every app node counts alike.
ADDRESS_MAX_FAILURES = 10
ADDRESS_QUIET = timedelta(minutes=15)
ADDRESS_LOCK_BASE_SECONDS = 60
#: Rows quiet this long and not paused are removed as failures are counted.
ADDRESS_FORGET = timedelta(days=1)


def address_paused(ctx: Ctx, address: str | None) -> bool:
    """Whether sign-ins from ``address`` are paused now."""
    if not address:
        return False
    row = ctx.session.get(SignInAddress, address[:64])
    return row is not None and row.locked_until is not None and row.locked_until > ctx.now


def count_address_failure(ctx: Ctx, address: str | None) -> None:
    """One more failed sign-in from ``address``; pauses it past the limit (audited)."""
    if not address:
        return
    address = address[:64]
    session = ctx.session
    # Insert-if-absent without racing another node, then lock the row (PostgreSQL;
    # SQLite's writer lock serialises anyway) so that concurrent failures all count.
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(SignInAddress).values(address=address, failures=0)
                    .on_conflict_do_nothing(index_elements=["address"]))
    row = session.scalar(select(SignInAddress).where(SignInAddress.address == address)
                         .with_for_update().execution_options(populate_existing=True))
    assert row is not None
    if row.last_failure_at is None or ctx.now - row.last_failure_at > ADDRESS_QUIET:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = ctx.now
    if row.failures >= ADDRESS_MAX_FAILURES:
        extra = min(row.failures - ADDRESS_MAX_FAILURES, 32)
        seconds = min(ADDRESS_LOCK_BASE_SECONDS * 2**extra, LOCK_MAX_SECONDS)
        row.locked_until = ctx.now + timedelta(seconds=seconds)
        ctx.record(Action.AUTH_LOCKOUT, object_type="address", object_id=address,
                   reason="too_many_failures_from_address",
                   detail={"failures": row.failures, "seconds": seconds})
    session.execute(delete(SignInAddress).where(
        SignInAddress.last_failure_at < ctx.now - ADDRESS_FORGET,
        (SignInAddress.locked_until.is_(None)) | (SignInAddress.locked_until < ctx.now)))


def sign_in(ctx: Ctx, username: str, password: str, address: str | None = None) -> SignIn:
    """Check a password with back-off; every attempt is audited, success or not.

    Unknown names and wrong passwords cost the same argon2 verification and get
    the same answer. After MAX_FAILURES failures the account pauses for a time
    that doubles with each further failure (capped at an hour); so does the client
    ``address`` after ADDRESS_MAX_FAILURES failures, whichever names it tried.
    """
    # The row is locked (PostgreSQL; SQLite's writer lock serialises anyway): attempts
    # arriving at several app nodes at once must each count, none lost to a stale read.
    user = ctx.session.scalar(select(User).where(User.username == username).with_for_update())
    reason = "signed_in"
    if address_paused(ctx, address):
        burn_password_check(password)
        reason = "address_paused"
    elif user is None:
        burn_password_check(password)
        reason = "unknown_user"
    elif user.locked_until is not None and user.locked_until > ctx.now:
        burn_password_check(password)
        reason = "paused"
    elif not verify_password(user.password_hash, password):
        reason = "wrong_password"
    elif not user.active:
        reason = "inactive_user"
    if reason != "signed_in":
        if user is not None and reason == "wrong_password":
            user.failed_logins += 1
            if user.failed_logins >= MAX_FAILURES:
                extra = user.failed_logins - MAX_FAILURES
                seconds = min(LOCK_BASE_SECONDS * 2**extra, LOCK_MAX_SECONDS)
                user.locked_until = ctx.now + timedelta(seconds=seconds)
                ctx.record(Action.AUTH_LOCKOUT, object_type="user", object_id=user.username,
                           reason="too_many_failures",
                           detail={"failures": user.failed_logins, "seconds": seconds})
        if reason in ("unknown_user", "wrong_password", "inactive_user"):
            count_address_failure(ctx, address)
        ctx.record(Action.AUTH_SIGN_IN_FAILED, Outcome.DENIED, object_type="user",
                   object_id=username[:64], reason=reason, actor_override=username[:64])
        return SignIn(None, reason)
    assert user is not None
    user.failed_logins = 0
    user.locked_until = None
    ctx.actor = user
    ctx.record(Action.AUTH_SIGN_IN, object_type="user", object_id=user.username,
               reason="password")
    return SignIn(user, reason)
