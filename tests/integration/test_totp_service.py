"""The second factor as a service, on SQLite and PostgreSQL: enrolment, codes with
their window and replay rule, recovery codes, the shared back-off, resets, the
secret at rest, re-authentication and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from people import PASSWORD  # noqa: I001 - tests/people.py
from sqlalchemy import select

from vault.actions import Action
from vault.audit.models import AuditEvent
from vault.errors import Conflict, Forbidden, IntegrityFailure, InvalidInput
from vault.models import RecoveryCode, TotpFactor, User
from vault.services import totp
from vault.services.context import Infra, unit_of_work

T0 = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)  # on a 30-second boundary


def at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def enrol(infra: Infra, username: str, when: datetime = T0) -> tuple[str, list[str]]:
    with unit_of_work(infra, username, now=when) as ctx:
        secret = totp.begin_enrolment(ctx).secret
    with unit_of_work(infra, username, now=when) as ctx:
        codes = totp.confirm_enrolment(ctx, at(secret, when))
    return secret, codes


def user_id(infra: Infra, username: str) -> int:
    with infra.sessions() as s:
        return int(s.scalar(select(User.id).where(User.username == username)))


def login(infra: Infra, username: str, code: str, when: datetime) -> totp.Verdict:
    uid = user_id(infra, username)
    with unit_of_work(infra, None, now=when) as ctx:
        verdict = totp.verify_login(ctx, uid, 0, code)
        return totp.Verdict(None if verdict.user is None else verdict.user, verdict.reason)


def events(infra: Infra, action: Action) -> list[AuditEvent]:
    with infra.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action.value)
                              .order_by(AuditEvent.seq)))


def test_enrolment_shows_a_secret_qr_and_uri_and_waits_for_a_code(org: Infra) -> None:
    with unit_of_work(org, "clerk", now=T0) as ctx:
        first = totp.begin_enrolment(ctx)
    assert len(first.secret) == 32
    assert first.uri.startswith("otpauth://totp/Vault:clerk?") and "issuer=Vault" in first.uri
    assert first.qr_data_uri.startswith("data:image/svg+xml")
    with unit_of_work(org, "clerk", now=T0) as ctx:
        again = totp.begin_enrolment(ctx)
        assert not totp.has_factor(ctx, ctx.actor)  # type: ignore[arg-type]
    assert again.secret == first.secret  # a reload shows the same secret
    with pytest.raises(InvalidInput) as err, unit_of_work(org, "clerk", now=T0) as ctx:
        totp.confirm_enrolment(ctx, "000000" if at(first.secret, T0) != "000000" else "111111")
    assert err.value.code == "wrong_code"
    assert [e.reason for e in events(org, Action.AUTH_SECOND_FACTOR_FAILED)] == [
        "enrol_wrong_code"]
    with unit_of_work(org, "clerk", now=T0) as ctx:
        codes = totp.confirm_enrolment(ctx, at(first.secret, T0))
        assert totp.has_factor(ctx, ctx.actor)  # type: ignore[arg-type]
        state = totp.state(ctx)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(c) == 19 and c.count("-") == 3 for c in codes)
    assert state.confirmed and state.recovery_left == 10 and not state.required
    assert [e.reason for e in events(org, Action.AUTH_SECOND_FACTOR_ENROL)] == [
        "started", "confirmed"]
    with pytest.raises(Conflict), unit_of_work(org, "clerk", now=T0) as ctx:
        totp.begin_enrolment(ctx)


def test_the_secret_is_sealed_per_user_under_the_master_key(org: Infra) -> None:
    secret, _codes = enrol(org, "clerk")
    clerk, accountant = user_id(org, "clerk"), user_id(org, "accountant")
    with org.sessions() as s:
        factor = s.get(TotpFactor, clerk)
        assert factor is not None
        assert secret.encode() not in factor.secret_encrypted
        assert factor.master_key_id == org.keyring.active_id
        sealed = bytes(factor.secret_encrypted)
        # Moved to another person's row, it does not open (the user id is bound in).
        s.add(TotpFactor(user_id=accountant, secret_encrypted=sealed,
                         master_key_id=factor.master_key_id, confirmed_at=T0))
        # One flipped byte of the ciphertext: refused.
        factor.secret_encrypted = sealed[:-1] + bytes([sealed[-1] ^ 1])
        s.commit()
    for who in ("clerk", "accountant"):
        with pytest.raises(IntegrityFailure):
            login(org, who, at(secret, T0 + timedelta(seconds=30)), T0 + timedelta(seconds=30))


def test_codes_have_a_window_of_one_step_and_are_never_reused(org: Infra) -> None:
    secret, _codes = enrol(org, "ceo", T0)  # uses the step of T0
    later = T0 + timedelta(minutes=10)
    assert login(org, "ceo", at(secret, T0), later).reason == "wrong_code"  # too old
    assert login(org, "ceo", at(secret, later - timedelta(seconds=60)), later).user is None
    assert login(org, "ceo", at(secret, later - timedelta(seconds=30)), later).reason == "totp"
    # The same code again, or an older one in the window: refused (replay).
    assert login(org, "ceo", at(secret, later - timedelta(seconds=30)), later).user is None
    assert login(org, "ceo", at(secret, later + timedelta(seconds=30)), later).user is not None
    assert login(org, "ceo", at(secret, later), later).user is None  # behind last_step now
    assert login(org, "ceo", "12 34 56", later).user is None
    assert login(org, "ceo", "not a code", later).user is None


def test_recovery_codes_work_once_each(org: Infra) -> None:
    _secret, codes = enrol(org, "gm")
    when = T0 + timedelta(hours=1)
    assert login(org, "gm", codes[0].upper().replace("-", " "), when).reason == "recovery_code"
    assert login(org, "gm", codes[0], when).user is None
    with unit_of_work(org, "gm", now=when) as ctx:
        assert totp.state(ctx).recovery_left == 9
        fresh = totp.renew_recovery_codes(ctx)
    assert set(fresh).isdisjoint(codes)
    assert login(org, "gm", codes[1], when).user is None  # the old ones died
    assert login(org, "gm", fresh[1], when).user is not None
    with org.sessions() as s:
        hashes = list(s.scalars(select(RecoveryCode.code_hash)))
    assert all(len(h) == 64 for h in hashes) and not any(c in hashes for c in fresh)


def test_wrong_codes_count_toward_the_same_pause_as_passwords(org: Infra) -> None:
    from vault.services import accounts

    secret, _codes = enrol(org, "auditor")
    when = T0 + timedelta(hours=2)
    with unit_of_work(org, None, now=when) as ctx:
        assert totp.sign_in(ctx, "auditor", "wrong password!").next == "failed"
    with unit_of_work(org, None, now=when) as ctx:
        assert totp.sign_in(ctx, "auditor", "wrong password!").next == "failed"
    with unit_of_work(org, None, now=when) as ctx:
        step = totp.sign_in(ctx, "auditor", PASSWORD)
        assert step.next == "second_factor"
        assert step.user is not None and step.user.failed_logins == 2  # not cleared yet
    for _ in range(accounts.MAX_FAILURES - 2):
        assert login(org, "auditor", "000000", when).reason == "wrong_code"
    # Paused: even the right code is refused now, and so is the password.
    assert login(org, "auditor", at(secret, when), when).reason == "paused"
    with unit_of_work(org, None, now=when) as ctx:
        assert totp.sign_in(ctx, "auditor", PASSWORD).next == "failed"
    assert [e.reason for e in events(org, Action.AUTH_LOCKOUT)] == ["too_many_failures"]
    failed = events(org, Action.AUTH_SECOND_FACTOR_FAILED)
    assert [e.reason for e in failed] == ["wrong_code"] * 3 + ["paused"]
    assert {e.actor for e in failed} == {"auditor"} and {e.outcome for e in failed} == {"denied"}
    # After the pause, a right code signs in and clears the count.
    after = when + timedelta(minutes=5)
    assert login(org, "auditor", at(secret, after), after).reason == "totp"
    with org.sessions() as s:
        user = s.scalar(select(User).where(User.username == "auditor"))
        assert user is not None and user.failed_logins == 0 and user.locked_until is None
    assert [e.reason for e in events(org, Action.AUTH_SECOND_FACTOR)] == ["totp"]


def test_the_password_step_says_what_comes_next(org: Infra) -> None:
    with unit_of_work(org, None) as ctx:
        assert totp.sign_in(ctx, "clerk", PASSWORD).next == "done"
    for required in ("ceo", "gm", "auditor", "root"):
        with unit_of_work(org, None) as ctx:
            assert totp.sign_in(ctx, required, PASSWORD).next == "enrol"
    enrol(org, "clerk")
    with unit_of_work(org, None) as ctx:
        assert totp.sign_in(ctx, "clerk", PASSWORD).next == "second_factor"


def test_the_setting_decides_whose_roles_require_it(org: Infra) -> None:
    from dataclasses import replace

    infra = Infra(replace(org.settings, require_2fa_roles="staff"), org.sessions, org.keyring,
                  org.blobs, org.audit)
    with unit_of_work(infra, None) as ctx:
        assert totp.sign_in(ctx, "clerk", PASSWORD).next == "enrol"
        assert totp.sign_in(ctx, "root", PASSWORD).next == "done"
    none = Infra(replace(org.settings, require_2fa_roles="none"), org.sessions, org.keyring,
                 org.blobs, org.audit)
    with unit_of_work(none, None) as ctx:
        assert totp.sign_in(ctx, "root", PASSWORD).next == "done"


def test_only_administrators_reset_a_factor(org: Infra) -> None:
    enrol(org, "ceo")
    for who in ("ceo", "auditor", "gm", "clerk"):
        with pytest.raises(Forbidden), unit_of_work(org, who) as ctx:
            totp.reset(ctx, "ceo")
    denied = events(org, Action.AUTH_SECOND_FACTOR_RESET)
    assert [(e.actor, e.outcome, e.reason) for e in denied] == [
        (who, "denied", "not_admin") for who in ("ceo", "auditor", "gm", "clerk")]
    with unit_of_work(org, "root") as ctx:
        totp.reset(ctx, "ceo")
    with pytest.raises(Conflict), unit_of_work(org, "root") as ctx:
        totp.reset(ctx, "ceo")
    with org.sessions() as s:
        assert s.scalar(select(TotpFactor)) is None and s.scalar(select(RecoveryCode)) is None
    assert events(org, Action.AUTH_SECOND_FACTOR_RESET)[-1].reason == "reset_by_admin"
    with unit_of_work(org, None) as ctx:
        assert totp.sign_in(ctx, "ceo", PASSWORD).next == "enrol"  # enrols again


def test_turning_it_off_is_for_those_whose_roles_do_not_require_it(org: Infra) -> None:
    enrol(org, "clerk")
    enrol(org, "root")
    with pytest.raises(Forbidden), unit_of_work(org, "root") as ctx:
        totp.disable_own(ctx)
    with unit_of_work(org, "clerk") as ctx:
        totp.disable_own(ctx)
    with pytest.raises(Conflict), unit_of_work(org, "clerk") as ctx:
        totp.disable_own(ctx)
    assert [(e.actor, e.outcome, e.reason) for e in events(org, Action.AUTH_SECOND_FACTOR_RESET)
            ] == [("root", "denied", "second_factor_required"),
                  ("clerk", "allowed", "turned_off_by_owner")]


def test_reauthentication_needs_the_password_and_a_code(org: Infra) -> None:
    assert_reauth = [("clerk", "x" * 12, None, False), ("clerk", PASSWORD, None, True)]
    for who, password, code, expected in assert_reauth:
        with unit_of_work(org, who) as ctx:
            assert totp.reauthenticate(ctx, password, code) is expected
    secret, _codes = enrol(org, "ceo", T0)
    when = T0 + timedelta(minutes=1)
    with unit_of_work(org, "ceo", now=when) as ctx:
        assert totp.reauthenticate(ctx, PASSWORD, None) is False
    with unit_of_work(org, "ceo", now=when) as ctx:
        assert totp.reauthenticate(ctx, PASSWORD, at(secret, when)) is True
    assert [e.reason for e in events(org, Action.AUTH_REAUTH_FAILED)] == [
        "wrong_password", "wrong_code"]
    assert [e.reason for e in events(org, Action.AUTH_REAUTH)] == ["password", "password+totp"]


def test_a_rotated_master_key_is_followed_on_use(org: Infra) -> None:
    secret, _codes = enrol(org, "ceo", T0)
    old = org.keyring.active_id
    new = org.keyring.rotate()
    when = T0 + timedelta(minutes=2)
    assert login(org, "ceo", at(secret, when), when).reason == "totp"
    ceo = user_id(org, "ceo")
    with org.sessions() as s:
        factor = s.get(TotpFactor, ceo)
        assert factor is not None and factor.master_key_id == new != old
    later = when + timedelta(minutes=1)
    assert login(org, "ceo", at(secret, later), later).reason == "totp"


def test_rotation_can_rewrap_every_factor_at_once(org: Infra) -> None:
    secret, _codes = enrol(org, "ceo", T0)
    enrol(org, "clerk", T0)
    old = org.keyring.active_id
    org.keyring.rotate()
    with unit_of_work(org, None) as ctx:
        assert totp.wrapped_by(ctx, old) == 2
        assert totp.rewrap_all(ctx) == 2
    with unit_of_work(org, None) as ctx:
        assert totp.wrapped_by(ctx, old) == 0 and totp.rewrap_all(ctx) == 0
    when = T0 + timedelta(minutes=5)
    assert login(org, "ceo", at(secret, when), when).reason == "totp"


def test_the_system_may_reset_a_factor(org: Infra) -> None:
    enrol(org, "root")
    with unit_of_work(org, None) as ctx:  # `vault` CLI, run on the server
        totp.reset(ctx, "root")
    event = events(org, Action.AUTH_SECOND_FACTOR_RESET)[-1]
    assert (event.actor, event.outcome, event.reason) == ("system", "allowed", "reset_by_admin")


def test_no_secret_or_code_reaches_the_trail(org: Infra) -> None:
    secret, codes = enrol(org, "ceo", T0)
    when = T0 + timedelta(minutes=3)
    code = at(secret, when)
    login(org, "ceo", code, when)
    login(org, "ceo", codes[0], when)
    with org.sessions() as s:
        rows = list(s.scalars(select(AuditEvent)))
    text = " ".join(str(e.as_event()) for e in rows)
    assert secret not in text and codes[0] not in text and f"'{code}'" not in text
    assert PASSWORD not in text


def test_key_rotation_rewraps_second_factors_and_retire_waits_for_them(org: Infra) -> None:
    from vault.services import keys

    secret, _ = enrol(org, "boss")
    old = org.keyring.active_id
    assert keys.usage(org) == {old: 1}
    org.keyring.rotate()
    with pytest.raises(Conflict, match="still wraps 1"):
        keys.retire(org, old)  # the factor's key is still under the old master key
    result = keys.rotate(org)  # resumes: re-wraps what is left, the factor included
    assert result.new_key is None and result.rewrapped == 1
    assert keys.usage(org) == {org.keyring.active_id: 1}
    keys.retire(org, old)
    later = T0 + timedelta(minutes=5)
    assert login(org, "boss", at(secret, later), later).user is not None


def test_cli_reset_second_factor(org: Infra) -> None:
    from click.testing import CliRunner

    from vault.cli import main

    enrol(org, "boss")
    env = {"VAULT_HOME": str(org.settings.home), "VAULT_DATABASE_URL": org.settings.database_url}
    res = CliRunner().invoke(main, ["users", "reset-2fa", "boss"], env=env)
    assert res.exit_code == 0, res.output
    with org.sessions() as s:
        uid = user_id(org, "boss")
        assert s.scalar(select(TotpFactor).where(TotpFactor.user_id == uid)) is None
    res = CliRunner().invoke(main, ["users", "reset-2fa", "boss"], env=env)
    assert res.exit_code == 2 and "no second factor" in res.output
