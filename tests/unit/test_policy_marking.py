"""Levels, category defaults and markings 密级★保密期限 (SPEC.md §1), in both languages."""

# Each pytest.param is one table row, kept on one line for reading.
# ruff: noqa: E501

from __future__ import annotations

from datetime import date

import pytest

from vault.policy import (
    DEFAULT_LEVEL,
    DEFAULT_PERIOD,
    LEVEL_LABELS,
    NO_PERIOD,
    Category,
    Level,
    MarkingStyle,
    Period,
    Role,
    Subject,
    marking,
    parse_period,
    period_text,
)

TS, S, C, INT = Level.TOP_SECRET, Level.SECRET, Level.CONFIDENTIAL, Level.INTERNAL
ANNOUNCED = "until the project is announced"


# --- levels --------------------------------------------------------------------------------


def test_levels_rank_lowest_first() -> None:
    assert [lv.rank for lv in (INT, C, S, TS)] == [0, 1, 2, 3]
    assert [lv.classified for lv in (INT, C, S, TS)] == [False, True, True, True]
    assert [str(lv) for lv in (INT, C, S, TS)] == ["internal", "confidential", "secret", "top_secret"]


def test_category_default_levels() -> None:
    assert dict(DEFAULT_LEVEL) == {
        Category.STRATEGY: TS,
        Category.ANNUAL_PLAN: S,
        Category.FINANCIAL_REPORT: S,
        Category.STATISTICAL_REPORT: S,
        Category.MEETING_MINUTES: S,
        Category.OPERATIONS_REPORT: S,
        Category.SUPPLIER_TECHNICAL: S,
        Category.CONTRACT: C,
        Category.AGREEMENT: C,
        Category.PERSONNEL_FILE: C,
        Category.SALARY: C,
        Category.UNPUBLISHED_INFO: C,
        Category.CUSTOMER_INFO: C,
        Category.TENANT_ARCHIVE: C,
        Category.CALL_RECORDING: C,
        Category.BUSINESS_LICENCE: C,
        Category.ORG_CODE_CERTIFICATE: C,
        Category.TAX_REGISTRATION: C,
        Category.OTHER_CERTIFICATE: C,
        Category.NOTICE: INT,
        Category.LETTER: INT,
        Category.ADMINISTRATIVE: INT,
        Category.TENANT_MEETING_MINUTES: INT,
    }


def test_subject_roles_and_hq_executive() -> None:
    at_hq = Subject(1, 1, None, frozenset({Role.HQ_EXECUTIVE}), at_hq=True)
    elsewhere = Subject(2, 2, None, frozenset({Role.HQ_EXECUTIVE}), at_hq=False)
    hq_staff = Subject(3, 1, None, frozenset({Role.STAFF}), at_hq=True)
    assert at_hq.has(Role.HQ_EXECUTIVE) and not at_hq.has(Role.STAFF)
    assert (at_hq.is_hq_executive, elsewhere.is_hq_executive, hq_staff.is_hq_executive) == (True, False, False)
    assert at_hq.active is True


# --- markings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "period", "lang", "expected"),
    [
        # the examples of SPEC.md §1
        pytest.param(S, Period(years=10), "zh", "机密★10年", id="zh-secret-10y"),
        pytest.param(C, Period(until=date(2027, 6, 30)), "zh", "秘密★2027年6月30日", id="zh-confidential-date"),
        pytest.param(S, Period(years=10), "en", "SECRET★10 years", id="en-secret-10y"),
        pytest.param(C, Period(until=date(2027, 6, 30)), "en", "CONFIDENTIAL★until 30 June 2027", id="en-confidential-date"),
        # every level
        pytest.param(TS, Period(years=30), "zh", "绝密★30年", id="zh-top_secret-30y"),
        pytest.param(TS, Period(years=30), "en", "TOP SECRET★30 years", id="en-top_secret-30y"),
        pytest.param(C, Period(years=10), "zh", "秘密★10年", id="zh-confidential-10y"),
        pytest.param(C, Period(years=10), "en", "CONFIDENTIAL★10 years", id="en-confidential-10y"),
        # months, days, combined, singular
        pytest.param(C, Period(months=6), "zh", "秘密★6个月", id="zh-6m"),
        pytest.param(C, Period(months=6), "en", "CONFIDENTIAL★6 months", id="en-6m"),
        pytest.param(C, Period(days=90), "zh", "秘密★90天", id="zh-90d"),
        pytest.param(C, Period(days=90), "en", "CONFIDENTIAL★90 days", id="en-90d"),
        pytest.param(S, Period(years=1, months=6), "zh", "机密★1年6个月", id="zh-1y6m"),
        pytest.param(S, Period(years=1, months=6), "en", "SECRET★1 year 6 months", id="en-1y6m"),
        pytest.param(S, Period(years=2, months=1, days=1), "zh", "机密★2年1个月1天", id="zh-2y1m1d"),
        pytest.param(S, Period(years=2, months=1, days=1), "en", "SECRET★2 years 1 month 1 day", id="en-2y1m1d-singular_units"),
        pytest.param(S, Period(years=1, days=10), "en", "SECRET★1 year 10 days", id="en-1y10d"),
        pytest.param(S, Period(years=1), "zh", "机密★1年", id="zh-1y"),
        pytest.param(S, Period(years=1), "en", "SECRET★1 year", id="en-1y-singular"),
        pytest.param(S, Period(until=date(2030, 1, 1)), "zh", "机密★2030年1月1日", id="zh-date-no_zero_padding"),
        pytest.param(S, Period(until=date(2030, 1, 1)), "en", "SECRET★until 1 January 2030", id="en-date-1_january"),
        # condition
        pytest.param(S, Period(condition="项目公布"), "zh", "机密★解密条件：项目公布", id="zh-condition"),
        pytest.param(S, Period(condition="the project is announced"), "en", "SECRET★until the project is announced", id="en-condition"),
        # internal: the label alone, whatever the period
        pytest.param(INT, NO_PERIOD, "zh", "内部", id="zh-internal"),
        pytest.param(INT, NO_PERIOD, "en", "INTERNAL", id="en-internal"),
        pytest.param(INT, Period(years=10), "zh", "内部", id="zh-internal-with_period"),
        # classified without a period: the label alone
        pytest.param(S, NO_PERIOD, "zh", "机密", id="zh-secret-no_period"),
        pytest.param(S, NO_PERIOD, "en", "SECRET", id="en-secret-no_period"),
        # language tags
        pytest.param(S, Period(years=10), "zh-CN", "机密★10年", id="zh-CN"),
        pytest.param(S, Period(years=10), "en-US", "SECRET★10 years", id="en-US"),
        pytest.param(S, Period(years=10), "EN", "SECRET★10 years", id="EN-upper_case"),
    ],
)
def test_marking(level: Level, period: Period, lang: str, expected: str) -> None:
    assert marking(level, period, lang) == expected


def test_marking_defaults_to_chinese() -> None:
    assert marking(S, Period(years=10)) == "机密★10年"
    assert period_text(Period(years=10)) == "10年"


@pytest.mark.parametrize(
    ("level", "zh", "en"),
    [
        pytest.param(TS, "绝密★30年", "TOP SECRET★30 years", id="top_secret"),
        pytest.param(S, "机密★20年", "SECRET★20 years", id="secret"),
        pytest.param(C, "秘密★10年", "CONFIDENTIAL★10 years", id="confidential"),
        pytest.param(INT, "内部", "INTERNAL", id="internal"),
    ],
)
def test_marking_of_default_periods(level: Level, zh: str, en: str) -> None:
    assert marking(level, DEFAULT_PERIOD[level], "zh") == zh
    assert marking(level, DEFAULT_PERIOD[level], "en") == en


@pytest.mark.parametrize(
    ("period", "lang", "expected"),
    [
        pytest.param(NO_PERIOD, "zh", "", id="zh-none"),
        pytest.param(NO_PERIOD, "en", "", id="en-none"),
        pytest.param(Period(condition="项目公布"), "zh", "解密条件：项目公布", id="zh-condition"),
        pytest.param(Period(condition="the merger closes"), "en", "until the merger closes", id="en-condition"),
        pytest.param(Period(months=1), "en", "1 month", id="en-1_month"),
        pytest.param(Period(days=1), "en", "1 day", id="en-1_day"),
    ],
)
def test_period_text(period: Period, lang: str, expected: str) -> None:
    assert period_text(period, lang) == expected


# A company preferring 核心商密-style labels and a different star.
TRADE_SECRET_STYLE = MarkingStyle(
    labels={
        "zh": {TS: "核心商密", S: "重要商密", C: "普通商密", INT: "公开"},
        "en": {TS: "CORE TRADE SECRET", S: "KEY TRADE SECRET", C: "TRADE SECRET", INT: "PUBLIC"},
    },
)


@pytest.mark.parametrize(
    ("style", "level", "period", "lang", "expected"),
    [
        pytest.param(TRADE_SECRET_STYLE, TS, Period(years=5), "zh", "核心商密★5年", id="custom-zh-top_secret-5y"),
        pytest.param(TRADE_SECRET_STYLE, C, Period(until=date(2027, 6, 30)), "zh", "普通商密★2027年6月30日", id="custom-zh-date"),
        pytest.param(TRADE_SECRET_STYLE, S, Period(years=1), "en", "KEY TRADE SECRET★1 year", id="custom-en-1y"),
        pytest.param(TRADE_SECRET_STYLE, INT, NO_PERIOD, "zh", "公开", id="custom-zh-internal"),
        pytest.param(MarkingStyle(star=" | "), S, Period(years=10), "zh", "机密 | 10年", id="custom_star-zh"),
        pytest.param(MarkingStyle(star="*"), TS, Period(years=30), "en", "TOP SECRET*30 years", id="custom_star-en"),
        pytest.param(MarkingStyle(), S, Period(years=10), "zh", "机密★10年", id="default_style"),
    ],
)
def test_marking_style(style: MarkingStyle, level: Level, period: Period, lang: str, expected: str) -> None:
    assert marking(level, period, lang, style=style) == expected


def test_default_style_uses_the_level_labels() -> None:
    assert MarkingStyle().labels == LEVEL_LABELS
    assert MarkingStyle().star == "★"


# --- Period.spec() round trips --------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "spec"),
    [
        pytest.param(Period(years=10), "10y", id="10y"),
        pytest.param(Period(months=6), "6m", id="6m"),
        pytest.param(Period(days=90), "90d", id="90d"),
        pytest.param(Period(years=1, months=6), "1y6m", id="1y6m"),
        pytest.param(Period(years=1, months=6, days=10), "1y6m10d", id="1y6m10d"),
        pytest.param(Period(years=2, days=3), "2y3d", id="2y3d"),
        pytest.param(Period(months=18), "18m", id="18m-not_normalised"),
        pytest.param(Period(until=date(2030, 6, 30)), "2030-06-30", id="date"),
        pytest.param(Period(until=date(2027, 1, 5)), "2027-01-05", id="date-zero_padded"),
        pytest.param(Period(condition=ANNOUNCED), f"condition:{ANNOUNCED}", id="condition-en"),
        pytest.param(Period(condition="项目公布"), "condition:项目公布", id="condition-zh"),
    ],
)
def test_period_spec_round_trip(period: Period, spec: str) -> None:
    assert period.spec() == spec
    assert parse_period(spec) == period
    assert parse_period(period.spec()).spec() == spec


def test_no_period_spec_is_empty() -> None:
    assert NO_PERIOD.spec() == ""
