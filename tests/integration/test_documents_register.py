"""Registering document records, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from vault.errors import InvalidInput, NotFound
from vault.models import ClassificationChange, User
from vault.policy import GROUP_TZ, Category, Level, Period
from vault.services import accounts, documents, tenants

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


@pytest.fixture
def people(session: Session) -> dict[str, User]:
    accounts.add_company(session, "HQ", "总公司", hq=True)
    accounts.add_company(session, "SZ", "深圳公司")
    accounts.add_department(session, "SZ", "CS", "客服部")
    accounts.add_department(session, "SZ", "FIN", "财务部")
    tenants.add_tenant(session, "T1", "租户一")
    out = {}
    for name, company, dept in [("drafter", "SZ", "CS"), ("boss", "SZ", "FIN"), ("hq", "HQ", None)]:
        out[name], _ = accounts.add_user(
            session, name, name, company, dept, accounts.parse_roles("staff"), "long password 1"
        )
    return out


@pytest.mark.parametrize(
    ("category", "level", "period"),
    [
        (Category.STRATEGY, Level.TOP_SECRET, Period(years=30)),
        (Category.MEETING_MINUTES, Level.SECRET, Period(years=20)),
        (Category.CONTRACT, Level.CONFIDENTIAL, Period(years=10)),
        (Category.NOTICE, Level.INTERNAL, Period()),
    ],
)
def test_category_prefills_level_and_period(
    session: Session, people: dict[str, User], category: Category, level: Level, period: Period
) -> None:
    doc = documents.register(session, people["drafter"], title="文件", category=category, now=NOW)
    assert (doc.level, documents.period_of(doc)) == (level.value, period)
    assert doc.issued_on == date(2026, 11, 27)
    assert doc.registrant_id == doc.supervisor_id == people["drafter"].id
    history = session.scalars(
        select(ClassificationChange).where(ClassificationChange.document_id == doc.id)
    ).all()
    assert [(h.kind, h.new_level, h.new_period) for h in history] == [
        ("register", level.value, period.spec())
    ]


def test_declassify_at_is_stored_in_utc(session: Session, people: dict[str, User]) -> None:
    doc = documents.register(
        session, people["drafter"], title="合同", category=Category.CONTRACT,
        period=Period(until=date(2027, 6, 30)), issued_on=date(2026, 1, 1), now=NOW,
    )
    session.expire_all()
    assert doc.declassify_at == datetime(2027, 7, 1, tzinfo=GROUP_TZ)
    assert doc.declassify_at.tzinfo is not None


def test_explicit_choices(session: Session, people: dict[str, User]) -> None:
    doc = documents.register(
        session, people["drafter"], title="  协议 ", category=Category.AGREEMENT,
        level=Level.SECRET, period=documents.parse_period("condition:项目公布"),
        supervisor=people["boss"], department_code="FIN", tenant_code="T1",
        paper_original=True, now=NOW,
    )
    assert doc.title == "协议"
    assert doc.level == "secret" and doc.condition == "项目公布" and doc.declassify_at is None
    assert doc.supervisor_id == people["boss"].id
    assert doc.department.code == "FIN" and doc.tenant.code == "T1" and doc.has_paper_original


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"title": ""}, "bad_title"),
        ({"title": "a\nb"}, "bad_title"),
        ({"level": Level.INTERNAL, "period": Period(years=1)}, "period_on_internal"),
        ({"period": Period(until=date(2020, 1, 1)), "issued_on": date(2021, 1, 1)},
         "period_before_issue"),
    ],
)
def test_bad_registrations(
    session: Session, people: dict[str, User], kwargs: dict[str, object], code: str
) -> None:
    args: dict[str, object] = {"title": "文件", "category": Category.CONTRACT, "now": NOW}
    args.update(kwargs)
    with pytest.raises(InvalidInput) as info:
        documents.register(session, people["drafter"], **args)  # type: ignore[arg-type]
    assert info.value.code == code


def test_supervisor_must_be_of_the_company(session: Session, people: dict[str, User]) -> None:
    with pytest.raises(InvalidInput, match="supervisor"):
        documents.register(session, people["drafter"], title="x", category=Category.CONTRACT,
                           supervisor=people["hq"], now=NOW)


def test_unknown_tenant_and_department(session: Session, people: dict[str, User]) -> None:
    with pytest.raises(NotFound, match="tenant"):
        documents.register(session, people["drafter"], title="x", category=Category.CONTRACT,
                           tenant_code="T9", now=NOW)
    with pytest.raises(NotFound, match="department"):
        documents.register(session, people["drafter"], title="x", category=Category.CONTRACT,
                           department_code="NOPE", now=NOW)


@pytest.mark.parametrize(
    ("text", "parser", "code"),
    [("boss", documents.parse_level, "unknown_level"),
     ("memo", documents.parse_category, "unknown_category"),
     ("10x", documents.parse_period, "bad_period")],
)
def test_parsers_give_clear_errors(text: str, parser: object, code: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parser(text)  # type: ignore[operator]
    assert info.value.code == code


def test_explain_names_approvers(session: Session, people: dict[str, User]) -> None:
    gm, _ = accounts.add_user(session, "gm", "总经理", "SZ", None,
                              accounts.parse_roles("company_gm"), "long password 1")
    doc = documents.register(session, people["drafter"], title="纪要",
                             category=Category.MEETING_MINUTES, now=NOW)
    res = documents.explain(session, people["drafter"], doc, "copy", NOW)
    assert res.allowed and res.approval_required and not res.default_no
    assert [u.username for u in res.approvers] == ["gm"]
    res = documents.explain(session, people["boss"], doc, "view", NOW)
    assert (res.allowed, res.reason) == (False, "secret_not_designated")
    with pytest.raises(InvalidInput, match="Unknown action"):
        documents.explain(session, gm, doc, "delete", NOW)
