"""Registering document records, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from vault import db
from vault.errors import InvalidInput, NotFound
from vault.models import ClassificationChange, Document
from vault.policy import GROUP_TZ, Category, Level, Period
from vault.services import accounts, documents, tenants
from vault.services.context import Infra, unit_of_work

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


@pytest.fixture
def world(org: Infra) -> Infra:
    with db.transaction(org.sessions) as s:
        tenants.add_tenant(s, "T1", "租户一")
        accounts.add_department(s, "SZ", "FIN2", "财务二部")
    return org


def register(infra: Infra, actor: str = "clerk", **kwargs: Any) -> Document:
    kwargs.setdefault("title", "文件")
    kwargs.setdefault("category", Category.CONTRACT)
    with unit_of_work(infra, actor, NOW) as ctx:
        sup = kwargs.pop("supervisor", None)
        if sup:
            kwargs["supervisor"] = accounts.get_user(ctx.session, sup)
        doc = documents.register(ctx, **kwargs)
        doc.company, doc.department, doc.tenant  # noqa: B018 - load before the session closes
        return doc


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
    world: Infra, category: Category, level: Level, period: Period
) -> None:
    doc = register(world, category=category)
    assert (doc.level, documents.period_of(doc)) == (level.value, period)
    assert doc.issued_on == date(2026, 11, 27)
    assert doc.registrant_id == doc.supervisor_id
    assert doc.has_paper_original  # no content: a paper original
    with world.sessions() as s:
        history = s.scalars(
            select(ClassificationChange).where(ClassificationChange.document_id == doc.id)
        ).all()
        assert [(h.kind, h.new_level, h.new_period) for h in history] == [
            ("register", level.value, period.spec())
        ]


def test_declassify_at_is_stored_in_utc(world: Infra) -> None:
    doc = register(world, period=Period(until=date(2027, 6, 30)), issued_on=date(2026, 1, 1))
    with world.sessions() as s:
        stored = s.get(Document, doc.id)
        assert stored is not None
        assert stored.declassify_at == datetime(2027, 7, 1, tzinfo=GROUP_TZ)
        assert stored.declassify_at.tzinfo is not None


def test_explicit_choices(world: Infra) -> None:
    doc = register(
        world, title="  协议 ", category=Category.AGREEMENT, level=Level.SECRET,
        period=documents.parse_period("condition:项目公布"), supervisor="boss",
        department_code="FIN2", tenant_code="T1", paper_original=True,
    )
    assert doc.title == "协议"
    assert doc.level == "secret" and doc.condition == "项目公布" and doc.declassify_at is None
    assert doc.department is not None and doc.department.code == "FIN2"
    assert doc.tenant is not None and doc.tenant.code == "T1" and doc.has_paper_original


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"title": ""}, "bad_title"),
        ({"title": "a\nb"}, "bad_title"),
        ({"level": Level.INTERNAL, "period": Period(years=1)}, "period_on_internal"),
        ({"period": Period(until=date(2020, 1, 1)), "issued_on": date(2021, 1, 1)},
         "period_before_issue"),
        ({"supervisor": "ceo"}, "bad_supervisor"),
    ],
)
def test_bad_registrations(world: Infra, kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidInput) as info:
        register(world, **kwargs)
    assert info.value.code == code


def test_unknown_tenant_and_department(world: Infra) -> None:
    with pytest.raises(NotFound, match="tenant"):
        register(world, tenant_code="T9")
    with pytest.raises(NotFound, match="department"):
        register(world, department_code="NOPE")


@pytest.mark.parametrize(
    ("text", "parser", "code"),
    [("boss", documents.parse_level, "unknown_level"),
     ("memo", documents.parse_category, "unknown_category"),
     ("10x", documents.parse_period, "bad_period")],
)
def test_parsers_give_clear_errors(text: str, parser: Any, code: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parser(text)
    assert info.value.code == code


def test_explain_names_approvers(world: Infra) -> None:
    doc = register(world, title="纪要", category=Category.MEETING_MINUTES, actor="boss")
    with world.sessions() as s:
        stored = documents.get(s, doc.id)
        boss, clerk = accounts.get_user(s, "boss"), accounts.get_user(s, "clerk")
        res = documents.explain(s, boss, stored, "copy", NOW)
        assert res.allowed and res.approval_required and not res.default_no
        assert [u.username for u in res.approvers] == ["gm"]
        res = documents.explain(s, clerk, stored, "view", NOW)
        assert (res.allowed, res.reason) == (False, "secret_not_designated")
        with pytest.raises(InvalidInput, match="Unknown action"):
            documents.explain(s, boss, stored, "delete", NOW)
