"""Personal API tokens: created by their owner (or by the system at the shell),
shown once, stored only as a hash, revocable, and audited.

A token reads ``vt_<prefix>_<secret>``: ``prefix`` is 8 random hex digits that
name the token in lists and in the trail (not secret, not part of the secret);
``secret`` is 32 random bytes, base64url. Only SHA-256 of the whole token is
kept, so a database dump gives no usable token. A presented token is found by
its hash: no comparison ever runs over the secret itself.

A token acts as its owner, with no more rights: every use passes through the
same policy as the web pages. It stops working at once when it is revoked,
when it expires, and when its owner is deactivated.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from vault import policy
from vault.actions import Action
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import ApiToken, User
from vault.services import accounts
from vault.services.context import Ctx

PREFIX = "vt"
SECRET_BYTES = 32
TOKEN_RE = re.compile(r"vt_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
MAX_TOKEN_CHARS = 64  # a presented value longer than any token is refused unread
MAX_NAME = 100
#: ``last_used_at`` is written at most this often per token: a busy integration
#: must not turn every read into a write.
LAST_USED_EVERY = timedelta(minutes=1)


def hash_token(token: str) -> str:
    """SHA-256 (hex) of the whole token: what the database keeps."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh ``(prefix, token)``."""
    prefix = secrets.token_hex(4)
    return prefix, f"{PREFIX}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"


@dataclass(frozen=True)
class TokenRow:
    """A token as lists show it (never its hash)."""

    id: int
    user: str  # the owner's user name
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    status: str  # active, revoked or expired


def row_of(token: ApiToken, now: datetime) -> TokenRow:
    return TokenRow(token.id, token.user.username, token.name, token.prefix, token.created_at,
                    token.expires_at, token.last_used_at, status(token, now))


class _Dated(Protocol):
    revoked_at: datetime | None
    expires_at: datetime | None


def status(token: _Dated, now: datetime) -> str:
    """``active``, ``revoked`` or ``expired`` (an inactive owner is shown on the user):
    of a token, or of a row with its ``revoked_at`` and ``expires_at`` (`lookup`)."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def parse_expiry(text: str | None, tz: tzinfo) -> datetime | None:
    """``2027-06-30`` (valid through that day, group time) or an ISO date-time."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=tz)
        value = datetime.fromisoformat(text)
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"The expiry {text[:40]!r} is not a date; use e.g. 2027-06-30.", code="bad_expiry"
        ) from None


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidInput(
            f"A token's name must be 1–{MAX_NAME} printable characters.", code="bad_token_name"
        )
    return name


def _owner(ctx: Ctx, username: str | None) -> User:
    """Whose token: the actor's own, or anyone's when the system (the shell) acts."""
    if ctx.actor is None:
        if not username:
            raise InvalidInput("Name the user the token is for.", code="no_user")
        return accounts.get_user(ctx.session, username)
    if username and username != ctx.actor.username:
        # A token for someone else would let its maker act as them.
        raise ctx.refuse(
            Forbidden("A token can only be made for yourself.", code="not_own_token"),
            Action.TOKEN_CREATE, object_type="user", object_id=username[:64],
        )
    return ctx.actor


def create(
    ctx: Ctx, name: str, expires_at: datetime | None = None, *, user: str | None = None
) -> tuple[TokenRow, str]:
    """A new token for the actor (or, from the shell, for ``user``).

    Returns the token's row and the token itself, which is not kept anywhere: show it
    once. The audit event names the token by id and prefix, never by value.
    """
    owner = _owner(ctx, user)
    name = _check_name(name)
    if not owner.active:
        raise InvalidInput(f"{owner.username} is deactivated.", code="inactive_user")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidInput("The expiry needs a time zone.", code="bad_expiry")
        if expires_at <= ctx.now:
            raise InvalidInput("The expiry must be in the future.", code="expiry_in_past")
    prefix, token = new_token()
    row = ApiToken(user_id=owner.id, name=name, prefix=prefix, token_hash=hash_token(token),
                   created_at=ctx.now, expires_at=expires_at)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.record(Action.TOKEN_CREATE, object_type="token", object_id=str(row.id),
               reason="created",
               detail={"user": owner.username, "name": name, "prefix": prefix,
                       "expires_at": expires_at.isoformat() if expires_at else None})
    return row_of(row, ctx.now), token


def _may_manage(ctx: Ctx, owner_id: int) -> bool:
    if ctx.actor is None:
        return True  # the shell
    if ctx.actor.id == owner_id:
        return True
    return policy.can_administer(ctx.subject).allowed


def list_tokens(ctx: Ctx, username: str | None = None) -> tuple[TokenRow, ...]:
    """The actor's tokens, newest first; administrators and the shell may name a user
    (the shell without one lists everybody's)."""
    stmt = select(ApiToken).order_by(ApiToken.id.desc())
    if username is None and ctx.actor is not None:
        username = ctx.actor.username
    if username is not None:
        owner = accounts.get_user(ctx.session, username)
        if not _may_manage(ctx, owner.id):
            raise Forbidden("Only administrators see other people's tokens.",
                            code="not_own_token")
        stmt = stmt.where(ApiToken.user_id == owner.id)
    return tuple(row_of(t, ctx.now) for t in ctx.session.scalars(stmt))


def revoke(ctx: Ctx, token_id: int) -> TokenRow:
    """Revoke a token at once: one's own, or anyone's for administrators and the shell.

    Someone else's token looks like no token at all (404) to everyone else."""
    row = ctx.session.get(ApiToken, token_id) if 0 < token_id < 2**63 else None
    if row is None or not _may_manage(ctx, row.user_id):
        raise ctx.refuse(NotFound(f"No token {token_id}.", code="unknown_token"),
                         Action.TOKEN_REVOKE, object_type="token", object_id=str(token_id))
    if row.revoked_at is not None:
        raise Conflict(f"Token {token_id} is already revoked.", code="token_revoked")
    row.revoked_at = ctx.now
    ctx.record(Action.TOKEN_REVOKE, object_type="token", object_id=str(row.id),
               reason="revoked", detail={"user": row.user.username, "prefix": row.prefix})
    return row_of(row, ctx.now)


def revoke_all(ctx: Ctx, username: str, reason: str = "revoked") -> int:
    """Revoke every live token of ``username`` (e.g. when deactivating them);
    one audit event per token. Returns how many were revoked."""
    owner = accounts.get_user(ctx.session, username)
    if not _may_manage(ctx, owner.id):
        raise ctx.refuse(Forbidden("Only administrators revoke other people's tokens.",
                                   code="not_own_token"),
                         Action.TOKEN_REVOKE, object_type="user", object_id=username[:64])
    rows = ctx.session.scalars(
        select(ApiToken).where(ApiToken.user_id == owner.id, ApiToken.revoked_at.is_(None))
    ).all()
    for row in rows:
        row.revoked_at = ctx.now
        ctx.record(Action.TOKEN_REVOKE, object_type="token", object_id=str(row.id),
                   reason=reason, detail={"user": owner.username, "prefix": row.prefix})
    return len(rows)


@dataclass(frozen=True)
class Bearer:
    """A live token as a request needs it: whose it is and what it shows of itself."""

    id: int
    user_id: int
    username: str
    name: str
    prefix: str
    expires_at: datetime | None
    last_used_at: datetime | None

    def use_due(self, now: datetime) -> bool:
        """Whether ``last_used_at`` is to be written now (at most every LAST_USED_EVERY)."""
        return self.last_used_at is None or now - self.last_used_at >= LAST_USED_EVERY


# The token and its owner's name and state in one read of plain columns: no ORM
# objects (the owner with their roles), no write, so no writer lock on SQLite.
_LOOKUP = (
    select(ApiToken.id, ApiToken.user_id, ApiToken.token_hash, ApiToken.name, ApiToken.prefix,
           ApiToken.expires_at, ApiToken.revoked_at, ApiToken.last_used_at,
           User.username, User.active)
    .join(User, User.id == ApiToken.user_id)
)


def lookup(session: Session, presented: str, now: datetime | None = None) -> Bearer | None:
    """The live token ``presented`` names, or None (malformed, unknown, revoked,
    expired, or its owner deactivated). Reads only: `note_use` records the use."""
    if not isinstance(presented, str) or len(presented) > MAX_TOKEN_CHARS:
        return None
    match = TOKEN_RE.fullmatch(presented)
    if match is None:
        return None
    digest = hash_token(presented)
    row = session.execute(_LOOKUP.where(ApiToken.token_hash == digest)).one_or_none()
    # The lookup is by hash, so timing reveals nothing of the secret; the
    # constant-time comparison is a second lock, not the first.
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    if row.prefix != match.group(1):
        return None
    now = now or datetime.now(UTC)
    if status(row, now) != "active" or not row.active:
        return None
    return Bearer(row.id, row.user_id, row.username, row.name, row.prefix, row.expires_at,
                  row.last_used_at)


def note_use(session: Session, bearer: Bearer, now: datetime) -> None:
    """Record that ``bearer`` was used at ``now`` when it is due (`Bearer.use_due`); the
    caller commits. A concurrent request that wrote it first leaves it as it is."""
    if not bearer.use_due(now):
        return
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == bearer.id,
               or_(ApiToken.last_used_at.is_(None),
                   ApiToken.last_used_at <= now - LAST_USED_EVERY))
        .values(last_used_at=now)
    )

