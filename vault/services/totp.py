"""The second factor: TOTP (RFC 6238) enrolled by QR code, one-time recovery codes,
the two-step sign-in, and re-authentication before sensitive acts.

Sign-in (`sign_in`, then `verify_login`)
    The password step is `accounts.sign_in`. When the person has a confirmed
    factor, the password alone does not sign them in: its success does not clear
    the failure count, and every wrong code counts toward the same back-off and
    pause (`accounts.MAX_FAILURES`). Whoever holds one of the roles of the
    ``require_2fa_roles`` setting (`policy.second_factor_required`) and has no
    factor must enrol before anything else.

Codes
    Six digits, 30-second steps, accepted one step early or late; a step once
    used (``last_step``) is never accepted again, so a code cannot be replayed.
    Ten recovery codes (16 characters, ~79 bits each) are shown once and stored
    as SHA-256 hashes: their entropy makes a slow hash unnecessary, and each is
    spent on use.

The secret at rest
    Each factor has its own random 256-bit data key, wrapped by the active
    master key (as a document version's is); the secret is sealed with
    AES-256-GCM under that key, the user id as associated data, so a sealed
    secret cannot be moved to another person's row. ``secret_encrypted`` holds
    ``version (1) | wrapped key length (1) | wrapped key | nonce (12) | ciphertext``;
    ``master_key_id`` names the wrapping key. A factor still wrapped by an older
    master key is re-wrapped the next time it is used.

Audit
    ``auth:second_factor`` (signed in with a code; reason ``totp`` or
    ``recovery_code``), ``auth:second_factor_failed``, ``auth:second_factor_enrol``
    (started, confirmed, new recovery codes), ``auth:second_factor_reset`` (by an
    administrator, or turned off by its owner where not required),
    ``auth:reauth`` and ``auth:reauth_failed``. No secret, code or password is
    ever written to the trail.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
import segno
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, func, select

from vault import policy
from vault.actions import Action, Outcome
from vault.errors import Conflict, Forbidden, IntegrityFailure, InvalidInput
from vault.models import RecoveryCode, TotpFactor, User
from vault.services import accounts
from vault.services.context import Ctx

ISSUER = "Vault"
INTERVAL = 30
WINDOW = 1  # steps accepted either side of now
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i
RECOVERY_LENGTH = 16
_SEAL_VERSION = 1
_NONCE = 12
_TOTP_RE = re.compile(r"\d{6}")
_RECOVERY_RE = re.compile(f"[{RECOVERY_ALPHABET}]{{{RECOVERY_LENGTH}}}")


# --------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret (also as text, for typing into an
    app), the ``otpauth://`` URI and the QR code as an SVG ``data:`` URI."""

    secret: str
    uri: str
    qr_data_uri: str


@dataclass(frozen=True)
class FactorState:
    confirmed: bool
    pending: bool
    confirmed_at: datetime | None
    recovery_left: int
    required: bool


def required_roles(ctx: Ctx) -> frozenset[policy.Role]:
    return frozenset(policy.Role(r) for r in ctx.settings.second_factor_roles)


def is_required(ctx: Ctx, user: User) -> bool:
    """Whether ``user``'s roles require a second factor (the setting decides which)."""
    return policy.second_factor_required(accounts.subject_of(user), required_roles(ctx))


def _factor(ctx: Ctx, user: User) -> TotpFactor | None:
    return ctx.session.get(TotpFactor, user.id)


def has_factor(ctx: Ctx, user: User) -> bool:
    """A confirmed factor (an enrolment never confirmed does not count)."""
    factor = _factor(ctx, user)
    return factor is not None and factor.confirmed_at is not None


def _recovery_left(ctx: Ctx, user: User) -> int:
    return int(ctx.session.scalar(
        select(func.count()).select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ) or 0)


def state(ctx: Ctx) -> FactorState:
    """The signed-in person's own second factor."""
    user = _me(ctx)
    factor = _factor(ctx, user)
    confirmed = factor is not None and factor.confirmed_at is not None
    return FactorState(
        confirmed=confirmed,
        pending=factor is not None and not confirmed,
        confirmed_at=factor.confirmed_at if factor is not None else None,
        recovery_left=_recovery_left(ctx, user) if confirmed else 0,
        required=is_required(ctx, user),
    )


def states(ctx: Ctx) -> dict[int, str]:
    """Every user's factor as ``on`` or ``pending`` (absent: none), for the people list."""
    rows = ctx.session.execute(select(TotpFactor.user_id, TotpFactor.confirmed_at)).all()
    return {int(uid): ("on" if at is not None else "pending") for uid, at in rows}


def _me(ctx: Ctx) -> User:
    if ctx.actor is None or not ctx.actor.active:
        raise Forbidden("Sign in first.", code="no_actor")
    return ctx.actor


# --------------------------------------------------------------------------- the secret at rest


def _aad(user_id: int) -> bytes:
    return f"vault-totp-v1|{user_id}".encode("ascii")


def _seal(ctx: Ctx, user_id: int, secret: str) -> tuple[str, bytes]:
    data_key = os.urandom(32)
    key_id, wrapped = ctx.infra.keyring.wrap(data_key)
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(data_key).encrypt(nonce, secret.encode("ascii"), _aad(user_id))
    return key_id, bytes([_SEAL_VERSION, len(wrapped)]) + wrapped + nonce + sealed


def _open(ctx: Ctx, factor: TotpFactor) -> str:
    blob = bytes(factor.secret_encrypted)
    damaged = IntegrityFailure(
        "The stored second-factor secret failed its integrity check; an administrator "
        "must reset the second factor.", code="totp_secret_damaged")
    if len(blob) < 2 or blob[0] != _SEAL_VERSION:
        raise damaged
    n = blob[1]
    wrapped, nonce, sealed = blob[2:2 + n], blob[2 + n:2 + n + _NONCE], blob[2 + n + _NONCE:]
    data_key = ctx.infra.keyring.unwrap(factor.master_key_id, wrapped)
    try:
        return AESGCM(data_key).decrypt(nonce, sealed, _aad(factor.user_id)).decode("ascii")
    except (InvalidTag, ValueError, UnicodeDecodeError):
        raise damaged from None


def wrapped_by(ctx: Ctx, master_key_id: str) -> int:
    """How many factors' data keys ``master_key_id`` still wraps (before retiring it)."""
    return int(ctx.session.scalar(
        select(func.count()).select_from(TotpFactor)
        .where(TotpFactor.master_key_id == master_key_id)
    ) or 0)


def rewrap_all(ctx: Ctx) -> int:
    """Re-wrap every factor's data key under the active master key (key rotation);
    returns how many changed. Secrets themselves are not touched."""
    active = ctx.infra.keyring.active_id
    stale = list(ctx.session.scalars(select(TotpFactor)
                                     .where(TotpFactor.master_key_id != active)))
    for factor in stale:
        _rewrap_if_stale(ctx, factor)
    ctx.session.flush()
    return len(stale)


def _rewrap_if_stale(ctx: Ctx, factor: TotpFactor) -> None:
    """Follow a master-key rotation: only the wrapped data key changes."""
    ring = ctx.infra.keyring
    if factor.master_key_id == ring.active_id:
        return
    blob = bytes(factor.secret_encrypted)
    n = blob[1]
    key_id, wrapped = ring.rewrap(factor.master_key_id, blob[2:2 + n])
    factor.secret_encrypted = bytes([_SEAL_VERSION, len(wrapped)]) + wrapped + blob[2 + n:]
    factor.master_key_id = key_id


# --------------------------------------------------------------------------- codes


def _step(now: datetime) -> int:
    return int(now.timestamp()) // INTERVAL


def _match_totp(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """The step ``code`` belongs to, if it is within the window and newer than ``last_step``."""
    totp = pyotp.TOTP(secret, interval=INTERVAL)
    current = _step(now)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if step > last_step and hmac.compare_digest(totp.at(step * INTERVAL), code):
            return step
    return None


def just_used(ctx: Ctx, user_id: int, code: str) -> bool:
    """Whether a refused ``code`` is the person's own current code, already spent (at
    enrolment or a sign-in moments ago): pages then say to wait for the next one
    rather than call it wrong. Reads only; the refusal stands."""
    user = ctx.session.get(User, user_id)
    factor = _factor(ctx, user) if user is not None else None
    text = _normalise(code)
    if factor is None or factor.confirmed_at is None or not _TOTP_RE.fullmatch(text):
        return False
    totp = pyotp.TOTP(_open(ctx, factor), interval=INTERVAL)
    current = _step(ctx.now)
    return any(step <= factor.last_step and hmac.compare_digest(totp.at(step * INTERVAL), text)
               for step in range(current - WINDOW, current + WINDOW + 1))


def _normalise(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()[:64]


def _hash_recovery(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def _new_recovery_codes(ctx: Ctx, user: User) -> list[str]:
    ctx.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
             for _ in range(RECOVERY_CODES)]
    ctx.session.add_all(RecoveryCode(user_id=user.id, code_hash=_hash_recovery(c)) for c in codes)
    ctx.session.flush()
    return ["-".join(c[i:i + 4] for i in range(0, RECOVERY_LENGTH, 4)) for c in codes]


def _check_code(ctx: Ctx, user: User, factor: TotpFactor, code: str) -> str | None:
    """``"totp"`` or ``"recovery_code"`` when ``code`` is good (and now spent), else None."""
    text = _normalise(code)
    if _TOTP_RE.fullmatch(text):
        step = _match_totp(_open(ctx, factor), text, ctx.now, factor.last_step)
        if step is None:
            return None
        factor.last_step = step
        _rewrap_if_stale(ctx, factor)
        return "totp"
    if _RECOVERY_RE.fullmatch(text):
        row = ctx.session.scalar(
            select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                       RecoveryCode.code_hash == _hash_recovery(text),
                                       RecoveryCode.used_at.is_(None))
        )
        if row is None:
            return None
        row.used_at = ctx.now
        return "recovery_code"
    return None


def _count_failure(ctx: Ctx, user: User) -> None:
    """The same back-off as a wrong password (`accounts.sign_in`)."""
    user.failed_logins += 1
    if user.failed_logins >= accounts.MAX_FAILURES:
        extra = min(user.failed_logins - accounts.MAX_FAILURES, 32)
        seconds = min(accounts.LOCK_BASE_SECONDS * 2**extra, accounts.LOCK_MAX_SECONDS)
        user.locked_until = ctx.now + timedelta(seconds=seconds)
        ctx.record(Action.AUTH_LOCKOUT, object_type="user", object_id=user.username,
                   reason="too_many_failures", actor_override=user.username,
                   detail={"failures": user.failed_logins, "seconds": seconds})


def _paused(ctx: Ctx, user: User) -> bool:
    return user.locked_until is not None and user.locked_until > ctx.now


# --------------------------------------------------------------------------- enrolment


def begin_enrolment(ctx: Ctx) -> Enrolment:
    """Start (or show again) the actor's enrolment: a new secret, unless one is
    already waiting for its first code. Refused once a factor is confirmed."""
    user = _me(ctx)
    factor = _factor(ctx, user)
    if factor is not None and factor.confirmed_at is not None:
        raise Conflict("A second factor is already set up.", code="already_enrolled")
    if factor is None:
        secret = pyotp.random_base32()
        key_id, sealed = _seal(ctx, user.id, secret)
        factor = TotpFactor(user_id=user.id, secret_encrypted=sealed, master_key_id=key_id,
                            last_step=0, created_at=ctx.now)
        ctx.session.add(factor)
        ctx.session.flush()
        ctx.record(Action.AUTH_SECOND_FACTOR_ENROL, object_type="user", object_id=user.username,
                   reason="started")
    else:
        secret = _open(ctx, factor)
    uri = pyotp.TOTP(secret, interval=INTERVAL).provisioning_uri(
        name=user.username, issuer_name=ISSUER)
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return Enrolment(secret=secret, uri=uri, qr_data_uri=qr)


def confirm_enrolment(ctx: Ctx, code: str) -> list[str]:
    """Confirm the actor's enrolment with a first code; returns the recovery codes
    (shown once). A wrong code is audited and changes nothing."""
    user = _me(ctx)
    factor = _factor(ctx, user)
    if factor is None or factor.confirmed_at is not None:
        raise Conflict("There is no enrolment waiting for a code.", code="no_enrolment")
    text = _normalise(code)
    step = _match_totp(_open(ctx, factor), text, ctx.now, factor.last_step) \
        if _TOTP_RE.fullmatch(text) else None
    if step is None:
        raise ctx.refuse(InvalidInput("The code is wrong or too old.", code="wrong_code"),
                         Action.AUTH_SECOND_FACTOR_FAILED, object_type="user",
                         object_id=user.username, reason="enrol_wrong_code")
    factor.last_step = step
    factor.confirmed_at = ctx.now
    codes = _new_recovery_codes(ctx, user)
    ctx.record(Action.AUTH_SECOND_FACTOR_ENROL, object_type="user", object_id=user.username,
               reason="confirmed")
    return codes


def renew_recovery_codes(ctx: Ctx) -> list[str]:
    """Ten new recovery codes for the actor; the old ones stop working."""
    user = _me(ctx)
    if not has_factor(ctx, user):
        raise Conflict("There is no second factor to renew codes for.", code="no_factor")
    codes = _new_recovery_codes(ctx, user)
    ctx.record(Action.AUTH_SECOND_FACTOR_ENROL, object_type="user", object_id=user.username,
               reason="recovery_codes_renewed")
    return codes


def _remove(ctx: Ctx, user: User) -> bool:
    factor = _factor(ctx, user)
    ctx.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    if factor is None:
        return False
    ctx.session.delete(factor)
    ctx.session.flush()
    return True


def disable_own(ctx: Ctx) -> None:
    """Turn off one's own second factor; refused where the roles require one."""
    user = _me(ctx)
    if is_required(ctx, user):
        raise ctx.refuse(Forbidden("Your roles require a second factor.",
                                   code="second_factor_required"),
                         Action.AUTH_SECOND_FACTOR_RESET, object_type="user",
                         object_id=user.username)
    if not _remove(ctx, user):
        raise Conflict("There is no second factor to turn off.", code="no_factor")
    ctx.record(Action.AUTH_SECOND_FACTOR_RESET, object_type="user", object_id=user.username,
               reason="turned_off_by_owner")


def reset(ctx: Ctx, username: str) -> None:
    """An administrator removes a person's factor and recovery codes (lost phone);
    at their next sign-in they enrol again where their roles require it."""
    if ctx.actor is not None:  # None: the system (the CLI, run by the server's operator)
        decision = policy.can_administer(ctx.subject)
        if not decision.allowed:
            raise ctx.refuse(Forbidden("Only administrators manage people and the "
                                       "organisation.", code=decision.reason.value),
                             Action.AUTH_SECOND_FACTOR_RESET, object_type="user",
                             object_id=username[:64])
    user = accounts.get_user(ctx.session, username)
    if not _remove(ctx, user):
        raise Conflict(f"{username} has no second factor.", code="no_factor")
    ctx.record(Action.AUTH_SECOND_FACTOR_RESET, object_type="user", object_id=username,
               reason="reset_by_admin")


# --------------------------------------------------------------------------- signing in


@dataclass(frozen=True)
class Step:
    """After the password: ``next`` is ``done`` (signed in), ``second_factor`` (ask for
    a code), ``enrol`` (must enrol first) or ``failed`` (``user`` is None)."""

    user: User | None
    next: str


def sign_in(ctx: Ctx, username: str, password: str, address: str | None = None) -> Step:
    """The password step (`accounts.sign_in`, with its back-off and audit), then what
    the person still has to do."""
    # No user name has a control character, and PostgreSQL refuses a NUL: such a
    # name is looked up as one that cannot exist (same answer, same cost).
    username = re.sub(r"[\x00-\x1f\x7f]", "\ufffd", username)
    before = ctx.session.scalar(select(User.failed_logins).where(User.username == username))
    result = accounts.sign_in(ctx, username, password, address)
    user = result.user
    if user is None:
        return Step(None, "failed")
    if has_factor(ctx, user):
        # The password alone proves nothing yet: failures keep counting.
        user.failed_logins = int(before or 0)
        return Step(user, "second_factor")
    if is_required(ctx, user):
        return Step(user, "enrol")
    return Step(user, "done")


@dataclass(frozen=True)
class Verdict:
    """The second step: ``user`` when the code was good, ``reason`` either way."""

    user: User | None
    reason: str


def verify_login(ctx: Ctx, user_id: int, epoch: int, code: str) -> Verdict:
    """Check the code of someone whose password was right moments ago. Wrong codes
    are audited and count toward the pause, as wrong passwords do."""
    user = ctx.session.get(User, user_id)
    if user is None or not user.active or user.auth_epoch != epoch:
        return Verdict(None, "session_expired")
    factor = _factor(ctx, user)
    if factor is None or factor.confirmed_at is None:
        return Verdict(None, "no_factor")
    method = None if _paused(ctx, user) else _check_code(ctx, user, factor, code)
    if method is None:
        reason = "paused" if _paused(ctx, user) else "wrong_code"
        if reason == "wrong_code":
            _count_failure(ctx, user)
        ctx.record(Action.AUTH_SECOND_FACTOR_FAILED, Outcome.DENIED, object_type="user",
                   object_id=user.username, reason=reason, actor_override=user.username)
        return Verdict(None, reason)
    user.failed_logins = 0
    user.locked_until = None
    ctx.actor = user
    ctx.record(Action.AUTH_SECOND_FACTOR, object_type="user", object_id=user.username,
               reason=method)
    return Verdict(user, method)


def require_factor_for_decisions(ctx: Ctx) -> None:
    """Refuse (audited) a decision by someone whose roles require a second factor
    and who has none: they cannot prove themselves again as the decision needs."""
    user = _me(ctx)
    if is_required(ctx, user) and not has_factor(ctx, user):
        raise ctx.refuse(Forbidden(
            "Your roles require a second factor for decisions: set one up under "
            "/security, then send its code as 'otp'.", code="second_factor_required"),
            Action.AUTH_REAUTH_FAILED, object_type="user", object_id=user.username)


def reauthenticate(ctx: Ctx, password: str, code: str | None) -> bool:
    """The actor proves again that it is them (password, and a code when they have a
    factor) before a sensitive act. Failures count toward the pause."""
    user = _me(ctx)
    factor = _factor(ctx, user)
    needs_code = factor is not None and factor.confirmed_at is not None
    reason = "confirmed"
    if _paused(ctx, user):
        accounts.burn_password_check(password)
        reason = "paused"
    elif not accounts.verify_password(user.password_hash, password):
        reason = "wrong_password"
    elif factor is not None and needs_code:
        method = _check_code(ctx, user, factor, code or "")
        reason = "wrong_code" if method is None else method
    if reason in ("paused", "wrong_password", "wrong_code"):
        if reason != "paused":
            _count_failure(ctx, user)
        ctx.record(Action.AUTH_REAUTH_FAILED, Outcome.DENIED, object_type="user",
                   object_id=user.username, reason=reason)
        return False
    user.failed_logins = 0
    ctx.record(Action.AUTH_REAUTH, object_type="user", object_id=user.username,
               reason="password" if not needs_code else f"password+{reason}")
    return True
