"""Personal API tokens: the service and `vault tokens`, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from vault.actions import Action, Outcome
from vault.audit.models import AuditEvent
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import ApiToken
from vault.services import accounts, tokens
from vault.services.context import Infra, unit_of_work

NOW = datetime.now(UTC).replace(microsecond=0)
SHAPE = re.compile(r"vt_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


def make(infra: Infra, actor: str | None = "clerk", name: str = "hotline",
         expires_at: datetime | None = None, user: str | None = None) -> tuple[int, str]:
    with unit_of_work(infra, actor, NOW) as ctx:
        row, token = tokens.create(ctx, name, expires_at, user=user)
        return row.id, token


def who(infra: Infra, token: str, now: datetime = NOW) -> str | None:
    """Whose token it is, as the API asks (web/api.py): look it up, record the use."""
    with infra.sessions() as s:
        bearer = tokens.lookup(s, token, now)
        if bearer is not None:
            tokens.note_use(s, bearer, now)
        s.commit()
    return bearer.username if bearer else None


def row_of(infra: Infra, token_id: int) -> ApiToken:
    with infra.sessions() as s:
        row = s.get(ApiToken, token_id)
        assert row is not None
        s.expunge(row)
        return row


def events(infra: Infra, action: Action) -> list[AuditEvent]:
    with infra.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action.value)
                              .order_by(AuditEvent.seq)))


def test_created_token_has_the_shape_and_only_its_hash_is_stored(org: Infra) -> None:
    token_id, token = make(org)
    assert SHAPE.fullmatch(token)
    prefix, secret = token.split("_", 2)[1:]
    assert len(secret) == 43  # 32 random bytes, base64url
    row = row_of(org, token_id)
    assert row.prefix == prefix
    assert row.token_hash == tokens.hash_token(token)
    assert token not in {row.name, row.prefix, row.token_hash}
    assert secret not in row.token_hash
    # Two tokens never collide, even for the same person and name.
    assert make(org)[1] != token


def test_authenticate_returns_the_owner_and_notes_last_use(org: Infra) -> None:
    token_id, token = make(org)
    assert row_of(org, token_id).last_used_at is None
    assert who(org, token) == "clerk"
    assert row_of(org, token_id).last_used_at == NOW
    # Not rewritten on every request: at most once a minute.
    assert who(org, token, NOW + timedelta(seconds=30)) == "clerk"
    assert row_of(org, token_id).last_used_at == NOW
    later = NOW + timedelta(minutes=2)
    assert who(org, token, later) == "clerk"
    assert row_of(org, token_id).last_used_at == later


@pytest.mark.parametrize("mangle", [
    lambda t: "",
    lambda t: t + "x",
    lambda t: t[:-1],
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
    lambda t: t.replace("vt_", "xx_", 1),
    lambda t: "vt_00000000_" + t.split("_", 2)[2],  # right secret, wrong prefix
    lambda t: t.upper(),
    lambda t: " " + t,
    lambda t: t + "\x00",
    lambda t: "vt_" + "a" * 10_000,
    lambda t: "vt_zzzzzzzz_" + "é" * 43,
], ids=["empty", "longer", "shorter", "last-char", "scheme", "prefix", "upper", "space",
        "nul", "huge", "non-ascii"])
def test_anything_but_the_token_is_refused(org: Infra, mangle: object) -> None:
    _id, token = make(org)
    assert callable(mangle)
    assert who(org, mangle(token)) is None


def test_revoked_expired_and_deactivated_tokens_stop_at_once(org: Infra) -> None:
    revoked_id, revoked = make(org)
    _, expiring = make(org, expires_at=NOW + timedelta(hours=1))
    _, owned_by_leaver = make(org, actor="accountant")
    assert who(org, revoked) == "clerk"
    with unit_of_work(org, "clerk", NOW) as ctx:
        tokens.revoke(ctx, revoked_id)
    assert who(org, revoked) is None

    assert who(org, expiring, NOW + timedelta(minutes=59)) == "clerk"
    assert who(org, expiring, NOW + timedelta(hours=1)) is None

    assert who(org, owned_by_leaver) == "accountant"
    with unit_of_work(org, None, NOW) as ctx:
        accounts.deactivate_user(ctx, "accountant")
    assert who(org, owned_by_leaver) is None


def test_revoke_own_only_admins_anyones(org: Infra) -> None:
    clerk_id, _ = make(org)
    boss_id, _ = make(org, actor="boss")
    with pytest.raises(NotFound), unit_of_work(org, "clerk", NOW) as ctx:
        tokens.revoke(ctx, boss_id)  # someone else's token does not exist for the clerk
    denied = [e for e in events(org, Action.TOKEN_REVOKE) if e.outcome == Outcome.DENIED]
    assert [(e.actor, e.object_id, e.reason) for e in denied] == [
        ("clerk", str(boss_id), "unknown_token")]
    with pytest.raises(NotFound), unit_of_work(org, "clerk", NOW) as ctx:
        tokens.revoke(ctx, 10**30)
    with unit_of_work(org, "root", NOW) as ctx:
        tokens.revoke(ctx, boss_id)
    with unit_of_work(org, "clerk", NOW) as ctx:
        tokens.revoke(ctx, clerk_id)
    with pytest.raises(Conflict), unit_of_work(org, "clerk", NOW) as ctx:
        tokens.revoke(ctx, clerk_id)
    allowed = [(e.actor, e.object_id) for e in events(org, Action.TOKEN_REVOKE)
               if e.outcome == Outcome.ALLOWED]
    assert allowed == [("root", str(boss_id)), ("clerk", str(clerk_id))]


def test_list_own_and_admins_by_name(org: Infra) -> None:
    mine, _ = make(org)
    other, _ = make(org, actor="boss")
    with unit_of_work(org, "clerk", NOW) as ctx:
        assert [t.id for t in tokens.list_tokens(ctx)] == [mine]
        with pytest.raises(Forbidden):
            tokens.list_tokens(ctx, "boss")
    with unit_of_work(org, "root", NOW) as ctx:
        assert [t.id for t in tokens.list_tokens(ctx, "boss")] == [other]
    with unit_of_work(org, None, NOW) as ctx:  # the shell sees everyone's
        assert {t.id for t in tokens.list_tokens(ctx)} == {mine, other}


def test_tokens_are_only_for_oneself_except_from_the_shell(org: Infra) -> None:
    with pytest.raises(Forbidden), unit_of_work(org, "root", NOW) as ctx:
        tokens.create(ctx, "as boss", user="boss")
    _, token = make(org, actor=None, user="boss")
    assert who(org, token) == "boss"
    with pytest.raises(InvalidInput), unit_of_work(org, None, NOW) as ctx:
        tokens.create(ctx, "nobody")


@pytest.mark.parametrize(("name", "expires", "code"), [
    ("", None, "bad_token_name"),
    ("   ", None, "bad_token_name"),
    ("x" * 101, None, "bad_token_name"),
    ("tab\there", None, "bad_token_name"),
    ("ok", NOW - timedelta(seconds=1), "expiry_in_past"),
    ("ok", NOW, "expiry_in_past"),
    ("ok", datetime(2030, 1, 1), "bad_expiry"),  # naive
])
def test_bad_names_and_expiries(org: Infra, name: str, expires: datetime | None,
                                code: str) -> None:
    with pytest.raises(InvalidInput) as err, unit_of_work(org, "clerk", NOW) as ctx:
        tokens.create(ctx, name, expires)
    assert err.value.code == code


def test_deactivated_user_gets_no_new_token(org: Infra) -> None:
    with unit_of_work(org, None, NOW) as ctx:
        accounts.deactivate_user(ctx, "clerk")
    with pytest.raises(InvalidInput) as err, unit_of_work(org, None, NOW) as ctx:
        tokens.create(ctx, "late", user="clerk")
    assert err.value.code == "inactive_user"


def test_parse_expiry() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    assert tokens.parse_expiry(None, tz) is None
    assert tokens.parse_expiry(" ", tz) is None
    # A date is valid through that day, group time.
    assert tokens.parse_expiry("2027-06-30", tz) == datetime(2027, 7, 1, tzinfo=tz)
    assert tokens.parse_expiry("2027-06-30T09:00", tz) == datetime(2027, 6, 30, 9, tzinfo=tz)
    for bad in ["tomorrow", "2027-02-30", "9999-12-31", "2027-06-30T25:00"]:
        with pytest.raises(InvalidInput):
            tokens.parse_expiry(bad, tz)


def test_every_create_and_revoke_is_audited_without_the_token(org: Infra) -> None:
    token_id, token = make(org, expires_at=NOW + timedelta(days=30))
    with unit_of_work(org, "clerk", NOW) as ctx:
        assert tokens.revoke_all(ctx, "clerk", reason="leaving") == 1
    created = events(org, Action.TOKEN_CREATE)
    revoked = events(org, Action.TOKEN_REVOKE)
    assert [(e.actor, e.object_type, e.object_id) for e in created] == [
        ("clerk", "token", str(token_id))]
    assert [(e.actor, e.reason) for e in revoked] == [("clerk", "leaving")]
    secret = token.split("_", 2)[2]
    with org.sessions() as s:
        for ev in s.scalars(select(AuditEvent)):
            text = " ".join(str(v) for v in ev.as_event().values())
            assert secret not in text and token not in text
            assert tokens.hash_token(token) not in text
    mirror = org.settings.audit_dir
    for path in Path(mirror).rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(encoding="utf-8", errors="replace")


def test_revoke_all_of_someone_else_needs_an_admin(org: Infra) -> None:
    make(org, actor="boss")
    with pytest.raises(Forbidden), unit_of_work(org, "clerk", NOW) as ctx:
        tokens.revoke_all(ctx, "boss")
    with unit_of_work(org, "root", NOW) as ctx:
        assert tokens.revoke_all(ctx, "boss") == 1


# ---------------------------------------------------------------------------
# `vault tokens`


def test_cli_create_list_revoke(org: Infra) -> None:
    from vault.cli import main

    env = {"VAULT_HOME": str(org.settings.home), "VAULT_DATABASE_URL": org.settings.database_url}
    runner = CliRunner()
    made = runner.invoke(main, ["tokens", "create", "boss", "--name", "hotline",
                                "--expires", (date.today() + timedelta(days=30)).isoformat()],
                         env=env)
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    assert SHAPE.fullmatch(token)
    assert "cannot be shown again" in made.stderr
    assert who(org, token) == "boss"

    listed = runner.invoke(main, ["tokens", "list", "boss", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    import json

    rows = json.loads(listed.stdout)
    assert [(r["user"], r["name"], r["status"]) for r in rows] == [("boss", "hotline", "active")]
    assert token not in listed.output
    assert runner.invoke(main, ["tokens", "list"], env=env).exit_code == 0

    gone = runner.invoke(main, ["tokens", "revoke", str(rows[0]["id"])], env=env)
    assert gone.exit_code == 0, gone.output
    assert who(org, token) is None
    again = runner.invoke(main, ["tokens", "revoke", str(rows[0]["id"])], env=env)
    assert again.exit_code == 2 and "already revoked" in again.output

    bad = runner.invoke(main, ["tokens", "create", "boss", "--expires", "someday"], env=env)
    assert bad.exit_code == 2 and "not a date" in bad.output
    nobody = runner.invoke(main, ["tokens", "create", "nobody"], env=env)
    assert nobody.exit_code == 2
    creator = events(org, Action.TOKEN_CREATE)[0]
    assert (creator.actor, creator.source) == ("system", "cli")
