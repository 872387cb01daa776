"""Organisation and people, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from vault.errors import Conflict, InvalidInput, NotFound
from vault.policy import Role
from vault.services import accounts


@pytest.fixture
def org(session: Session) -> Session:
    accounts.add_company(session, "HQ", "总公司", hq=True)
    accounts.add_company(session, "SZ", "深圳公司")
    accounts.add_department(session, "SZ", "CS", "客服部")
    return session


def test_one_hq_only(org: Session) -> None:
    with pytest.raises(Conflict, match="only one can be HQ"):
        accounts.add_company(org, "HQ2", "另一个总公司", hq=True)


def test_duplicate_codes_refused(org: Session) -> None:
    with pytest.raises(Conflict):
        accounts.add_company(org, "SZ", "again")
    with pytest.raises(Conflict):
        accounts.add_department(org, "SZ", "CS", "again")


@pytest.mark.parametrize("code", ["", "../x", "a b", "x" * 33, "中文"])
def test_bad_codes_refused(org: Session, code: str) -> None:
    with pytest.raises(InvalidInput, match="not valid"):
        accounts.add_company(org, code, "名称")


def test_unknown_company_and_department(org: Session) -> None:
    with pytest.raises(NotFound, match="No company"):
        accounts.add_department(org, "NOPE", "CS", "x")
    with pytest.raises(NotFound, match="No department"):
        accounts.add_user(org, "zhang", "张三", "SZ", "NOPE", frozenset({Role.STAFF}))


def test_user_with_generated_password_is_argon2id(org: Session) -> None:
    user, generated = accounts.add_user(
        org, "zhang", "张三", "SZ", "CS", accounts.parse_roles("staff,supervisor")
    )
    assert generated is not None and len(generated) >= 12
    assert user.password_hash.startswith("$argon2id$")
    assert generated not in user.password_hash
    assert accounts.verify_password(user.password_hash, generated)
    assert not accounts.verify_password(user.password_hash, generated + "x")
    assert user.roles == {"staff", "supervisor"}


def test_given_password_is_checked(org: Session) -> None:
    with pytest.raises(InvalidInput, match="too short"):
        accounts.add_user(org, "zhang", "张三", "SZ", "CS", frozenset({Role.STAFF}), "short")
    user, generated = accounts.add_user(
        org, "zhang", "张三", "SZ", "CS", frozenset({Role.STAFF}), "a long enough one"
    )
    assert generated is None
    assert accounts.verify_password(user.password_hash, "a long enough one")


def test_roles_parse_and_refuse_unknown() -> None:
    assert accounts.parse_roles("staff, custodian") == {Role.STAFF, Role.CUSTODIAN}
    with pytest.raises(InvalidInput, match="Unknown role boss"):
        accounts.parse_roles("staff,boss")
    with pytest.raises(InvalidInput, match="At least one role"):
        accounts.parse_roles(" , ")


def test_hq_executive_only_at_hq(org: Session) -> None:
    with pytest.raises(InvalidInput, match="only for people of the HQ"):
        accounts.add_user(org, "boss", "老板", "SZ", None, frozenset({Role.HQ_EXECUTIVE}))
    user, _ = accounts.add_user(org, "boss", "老板", "HQ", None, frozenset({Role.HQ_EXECUTIVE}))
    assert accounts.subject_of(user).is_hq_executive


def test_set_roles_deactivate_and_passwd(org: Session) -> None:
    user, first = accounts.add_user(org, "zhang", "张三", "SZ", "CS", frozenset({Role.STAFF}))
    # (Not custodian: the last custodian of a company cannot be deactivated, issue 11.)
    accounts.set_roles(org, "zhang", frozenset({Role.SUPERVISOR}))
    assert user.roles == {"supervisor"}
    epoch = user.auth_epoch
    accounts.set_password(org, "zhang", "another long password")
    assert user.auth_epoch == epoch + 1
    assert first is not None and not accounts.verify_password(user.password_hash, first)
    accounts.deactivate(org, "zhang")
    assert not user.active and user.auth_epoch == epoch + 2
    assert not accounts.subject_of(user).active
    org.expire_all()
    assert [u.username for u in accounts.list_users(org)] == ["zhang"]
    view = accounts.describe(accounts.get_user(org, "zhang"))
    assert (view.company, view.department, view.roles, view.active) == (
        "SZ", "CS", ["supervisor"], False,
    )


def test_bad_username(org: Session) -> None:
    with pytest.raises(InvalidInput, match="User name"):
        accounts.add_user(org, "Bad Name", "x", "SZ", None, frozenset({Role.STAFF}))


# --- password strength (issue 12) -------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short", "too_short"),
        ("aaaaaaaaaa", "guessable"),
        ("1234567890", "guessable"),
        ("password12", "guessable"),
        ("qwertyuiop", "guessable"),
        ("zhang12345", "username"),
        ("Zhang2024999", "username"),
        ("zhangzhangzhang", "guessable"),
    ],
)
def test_weak_passwords_are_refused_saying_why(org: Session, password: str, why: str) -> None:
    with pytest.raises(InvalidInput) as info:
        accounts.add_user(org, "zhang", "张三", "SZ", "CS", frozenset({Role.STAFF}), password)
    assert info.value.code == "weak_password" and info.value.params["why"] == why
    assert info.value.message == accounts.password_message(why, "en")
    assert accounts.password_message(why, "zh") != accounts.password_message(why, "en")


def test_the_current_password_is_refused_as_the_new_one(org: Session) -> None:
    accounts.add_user(org, "zhang", "张三", "SZ", "CS", frozenset({Role.STAFF}),
                      "violet kettle under moonlight")
    with pytest.raises(InvalidInput) as info:
        accounts.set_password(org, "zhang", "violet kettle under moonlight")
    assert info.value.params["why"] == "current"
    accounts.set_password(org, "zhang", "amber lantern across rivers")


def test_strong_passwords_and_generated_ones_pass() -> None:
    for password in ("correct horse battery staple", "Tr0ub4dor&3x-plus",
                     accounts.generate_password()):
        assert accounts.password_problem(password, "zhang") is None
