"""Secrecy periods and automatic declassification (保密期限、自行解密, SPEC.md §1).

A duration ends at 00:00 group time (UTC+8) of the day it reaches from the issue date
(a missing day — 29 February, the 31st — runs to the 1st of the next month); a fixed
date is the last day of secrecy; a condition never ends by time.
"""

# Each pytest.param is one table row, kept on one line for reading.
# ruff: noqa: E501

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from policy_world import (
    HQ_EXEC,
    OTHER_COMPANY_STAFF,
    OTHER_DEPT_STAFF,
    OWNING_GM,
    REGISTRANT,
    SUPERVISOR,
    allow,
    deny,
    document,
    request,
)

from vault.policy import (
    DEFAULT_PERIOD,
    GROUP_TZ,
    NO_PERIOD,
    CopyKind,
    Level,
    Period,
    PeriodError,
    Reason,
    Route,
    add_period,
    can_approve,
    can_request,
    can_view,
    copy_route,
    declassify_at,
    effective_level,
    parse_period,
    period_ended,
    validate_period,
)

ONE_SECOND = timedelta(seconds=1)


def group(*args: int) -> datetime:
    """A wall-clock time in the group time zone (UTC+8)."""
    return datetime(*args, tzinfo=GROUP_TZ)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- parse_period -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("10y", Period(years=10), id="10y"),
        pytest.param("6m", Period(months=6), id="6m"),
        pytest.param("90d", Period(days=90), id="90d"),
        pytest.param("1y6m", Period(years=1, months=6), id="1y6m"),
        pytest.param("1y6m10d", Period(years=1, months=6, days=10), id="1y6m10d"),
        pytest.param("2y15d", Period(years=2, days=15), id="2y15d"),
        pytest.param(" 10Y ", Period(years=10), id="upper_case-and-spaces"),
        pytest.param("2030-06-30", Period(until=date(2030, 6, 30)), id="fixed_date"),
        pytest.param("2028-02-29", Period(until=date(2028, 2, 29)), id="fixed_date-leap_day"),
        pytest.param(
            "condition:until the project is announced",
            Period(condition="until the project is announced"),
            id="condition-en",
        ),
        pytest.param("condition: 项目公布之日 ", Period(condition="项目公布之日"), id="condition-zh-stripped"),
    ],
)
def test_parse_period(text: str, expected: Period) -> None:
    assert parse_period(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("   ", "empty", id="blank"),
        pytest.param("10x", "not a period", id="10x-unknown_unit"),
        pytest.param("y", "not a period", id="y-no_number"),
        pytest.param("10", "not a period", id="10-no_unit"),
        pytest.param("10y5", "not a period", id="trailing_number"),
        pytest.param("0y", "zero length", id="0y-zero"),
        pytest.param("0y0m0d", "zero length", id="0y0m0d-zero"),
        pytest.param("2030-13-01", "not a date", id="2030-13-01-no_month_13"),
        pytest.param("2030-02-30", "not a date", id="2030-02-30-no_such_day"),
        pytest.param("2031-02-29", "not a date", id="2031-02-29-not_leap"),
        pytest.param("condition:", "condition text", id="condition-empty"),
        pytest.param("condition:   ", "condition text", id="condition-blank"),
        pytest.param("10y10y", "not a period", id="10y10y-repeated_unit"),
        pytest.param("-1y", "not a period", id="negative"),
        pytest.param("1.5y", "not a period", id="fraction"),
        pytest.param("1y 6m", "not a period", id="inner_space"),
        pytest.param("30/06/2030", "not a period", id="other_date_format"),
    ],
)
def test_parse_period_rejects(text: str, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(text)


def test_period_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_period("10x")


@pytest.mark.parametrize(
    ("period", "kind"),
    [
        pytest.param(Period(years=1), "duration", id="duration"),
        pytest.param(Period(days=1), "duration", id="duration-days_only"),
        pytest.param(Period(until=date(2030, 1, 1)), "date", id="date"),
        pytest.param(Period(condition="x"), "condition", id="condition"),
        pytest.param(Period(condition="x", until=date(2030, 1, 1)), "condition", id="condition-wins"),
        pytest.param(Period(years=1, until=date(2030, 1, 1)), "date", id="date-wins_over_duration"),
        pytest.param(NO_PERIOD, "none", id="none"),
    ],
)
def test_period_kind(period: Period, kind: str) -> None:
    assert period.kind == kind


def test_default_periods_are_30_20_10_years_and_none() -> None:
    assert DEFAULT_PERIOD == {
        Level.TOP_SECRET: Period(years=30),
        Level.SECRET: Period(years=20),
        Level.CONFIDENTIAL: Period(years=10),
        Level.INTERNAL: NO_PERIOD,
    }


# --- add_period / declassify_at ------------------------------------------------------------


@pytest.mark.parametrize(
    ("issued_on", "period", "first_free_day"),
    [
        pytest.param(date(2024, 1, 15), Period(years=10), date(2034, 1, 15), id="10y"),
        pytest.param(date(2024, 2, 29), Period(years=1), date(2025, 3, 1), id="29feb+1y-1mar"),
        pytest.param(date(2024, 2, 29), Period(years=4), date(2028, 2, 29), id="29feb+4y-29feb"),
        pytest.param(date(2024, 2, 29), Period(years=100), date(2124, 2, 29), id="29feb+100y-29feb"),
        pytest.param(date(2024, 2, 29), Period(years=76), date(2100, 3, 1), id="29feb+76y-2100_not_leap"),
        pytest.param(date(2024, 1, 31), Period(months=1), date(2024, 3, 1), id="31jan+1m-1mar-leap"),
        pytest.param(date(2023, 1, 31), Period(months=1), date(2023, 3, 1), id="31jan+1m-1mar"),
        pytest.param(date(2024, 3, 31), Period(months=1), date(2024, 5, 1), id="31mar+1m-1may"),
        pytest.param(date(2024, 1, 30), Period(months=1), date(2024, 3, 1), id="30jan+1m-1mar"),
        pytest.param(date(2024, 1, 29), Period(months=1), date(2024, 2, 29), id="29jan+1m-29feb"),
        pytest.param(date(2024, 11, 30), Period(months=3), date(2025, 3, 1), id="30nov+3m-1mar"),
        pytest.param(date(2024, 12, 15), Period(months=1), date(2025, 1, 15), id="15dec+1m-new_year"),
        pytest.param(date(2024, 6, 15), Period(months=30), date(2026, 12, 15), id="30m-december"),
        pytest.param(date(2024, 1, 15), Period(days=90), date(2024, 4, 14), id="90d-leap_year"),
        pytest.param(date(2023, 1, 15), Period(days=90), date(2023, 4, 15), id="90d"),
        pytest.param(date(2024, 1, 15), Period(years=1, months=6), date(2025, 7, 15), id="1y6m"),
        pytest.param(date(2024, 8, 31), Period(years=1, months=6), date(2026, 3, 1), id="31aug+1y6m-1mar"),
        pytest.param(date(2024, 1, 31), Period(months=1, days=1), date(2024, 3, 2), id="31jan+1m1d-2mar"),
        pytest.param(date(2024, 1, 15), Period(until=date(2030, 6, 30)), date(2030, 7, 1), id="until-30jun"),
        pytest.param(date(2024, 1, 15), Period(until=date(2030, 12, 31)), date(2031, 1, 1), id="until-new_year"),
        pytest.param(date(2024, 1, 15), Period(until=date(2028, 2, 28)), date(2028, 2, 29), id="until-28feb-leap"),
        pytest.param(date(2024, 1, 15), Period(condition="x"), None, id="condition-never"),
        pytest.param(date(2024, 1, 15), NO_PERIOD, None, id="none-never"),
    ],
)  # fmt: skip
def test_add_period(issued_on: date, period: Period, first_free_day: date | None) -> None:
    assert add_period(issued_on, period) == first_free_day


@pytest.mark.parametrize(
    ("issued_on", "period", "instant_group", "instant_utc"),
    [
        pytest.param(date(2024, 1, 15), Period(years=10), group(2034, 1, 15), utc(2034, 1, 14, 16), id="10y"),
        pytest.param(date(2024, 2, 29), Period(years=1), group(2025, 3, 1), utc(2025, 2, 28, 16), id="29feb+1y"),
        pytest.param(date(2024, 2, 29), Period(years=4), group(2028, 2, 29), utc(2028, 2, 28, 16), id="29feb+4y"),
        pytest.param(date(2024, 1, 31), Period(months=1), group(2024, 3, 1), utc(2024, 2, 29, 16), id="31jan+1m"),
        pytest.param(date(2024, 1, 15), Period(until=date(2030, 6, 30)), group(2030, 7, 1), utc(2030, 6, 30, 16), id="until-2030-06-30"),
    ],
)  # fmt: skip
def test_declassify_at_is_midnight_group_time(issued_on, period, instant_group, instant_utc) -> None:
    end = declassify_at(issued_on, period, GROUP_TZ)
    assert end == instant_group
    assert end == instant_utc
    assert end is not None
    assert end.utcoffset() == timedelta(hours=8)
    assert (end.hour, end.minute, end.second, end.microsecond) == (0, 0, 0, 0)


def test_declassify_at_uses_the_given_time_zone() -> None:
    end = declassify_at(date(2024, 1, 15), Period(years=10), UTC)
    assert end == utc(2034, 1, 15)
    assert end != group(2034, 1, 15)


@pytest.mark.parametrize(
    "period", [pytest.param(Period(condition="x"), id="condition"), pytest.param(NO_PERIOD, id="none")]
)
def test_declassify_at_never(period: Period) -> None:
    assert declassify_at(date(2024, 1, 15), period, GROUP_TZ) is None


# --- effective_level at the boundary ------------------------------------------------------

# Issued 2024-01-15 for 10 years: secret until 2034-01-15 00:00 UTC+8 = 2034-01-14 16:00 UTC.
TEN_YEAR_END = group(2034, 1, 15)
# "2030-06-30" is the last day of secrecy: 2030-07-01 00:00 UTC+8 = 2030-06-30 16:00 UTC.
FIXED_DATE_END = group(2030, 7, 1)


@pytest.mark.parametrize(
    ("period", "now", "expected"),
    [
        pytest.param(Period(years=10), group(2034, 1, 14, 23, 59, 59), Level.SECRET, id="10y-1s_before-group_tz"),
        pytest.param(Period(years=10), utc(2034, 1, 14, 15, 59, 59), Level.SECRET, id="10y-1s_before-utc"),
        pytest.param(Period(years=10), group(2034, 1, 15), Level.INTERNAL, id="10y-at_end-group_tz"),
        pytest.param(Period(years=10), utc(2034, 1, 14, 16), Level.INTERNAL, id="10y-at_end-utc"),
        pytest.param(Period(years=10), group(2034, 1, 15, 0, 0, 1), Level.INTERNAL, id="10y-1s_after-group_tz"),
        pytest.param(Period(years=10), utc(2034, 1, 14, 16, 0, 1), Level.INTERNAL, id="10y-1s_after-utc"),
        # The UTC calendar date is still the 14th, but the period is over in group time.
        pytest.param(Period(years=10), utc(2034, 1, 14, 20), Level.INTERNAL, id="10y-utc_date_before_end_date"),
        pytest.param(Period(years=10), group(2024, 1, 15), Level.SECRET, id="10y-issue_day"),
        pytest.param(Period(until=date(2030, 6, 30)), group(2030, 6, 30, 23, 59, 59), Level.SECRET, id="date-last_day_23_59_59-group_tz"),
        pytest.param(Period(until=date(2030, 6, 30)), utc(2030, 6, 30, 15, 59, 59), Level.SECRET, id="date-1s_before-utc"),
        pytest.param(Period(until=date(2030, 6, 30)), group(2030, 7, 1), Level.INTERNAL, id="date-next_day_00_00-group_tz"),
        pytest.param(Period(until=date(2030, 6, 30)), utc(2030, 6, 30, 16), Level.INTERNAL, id="date-at_end-utc"),
        pytest.param(Period(condition="until announced"), group(2999, 1, 1), Level.SECRET, id="condition-never_ends"),
        pytest.param(NO_PERIOD, group(2999, 1, 1), Level.SECRET, id="no_period-never_ends"),
    ],
)  # fmt: skip
def test_effective_level_boundary(period: Period, now: datetime, expected: Level) -> None:
    doc = document(Level.SECRET, period=period)
    assert effective_level(doc, now) is expected


@pytest.mark.parametrize(
    "period",
    [
        pytest.param(NO_PERIOD, id="no_period"),
        pytest.param(Period(years=10), id="with_a_period"),
    ],
)
def test_internal_stays_internal(period: Period) -> None:
    doc = document(Level.INTERNAL, period=period)
    assert effective_level(doc, group(2025, 1, 1)) is Level.INTERNAL
    assert effective_level(doc, group(2099, 1, 1)) is Level.INTERNAL
    assert period_ended(doc, group(2099, 1, 1)) is False


def test_effective_level_keeps_top_secret_until_the_end() -> None:
    doc = document(Level.TOP_SECRET, period=Period(years=30))
    end = group(2054, 1, 15)
    assert effective_level(doc, end - ONE_SECOND) is Level.TOP_SECRET
    assert effective_level(doc, end) is Level.INTERNAL


def test_document_time_zone_decides_midnight() -> None:
    doc = document(Level.SECRET, period=Period(years=10), tz=UTC)
    assert effective_level(doc, utc(2034, 1, 14, 23, 59, 59)) is Level.SECRET
    assert effective_level(doc, utc(2034, 1, 15)) is Level.INTERNAL


def test_another_offset_for_now_means_the_same_instant() -> None:
    doc = document(Level.SECRET, period=Period(years=10))
    new_york_winter = timezone(timedelta(hours=-5))
    assert effective_level(doc, datetime(2034, 1, 14, 10, 59, 59, tzinfo=new_york_winter)) is Level.SECRET
    assert effective_level(doc, datetime(2034, 1, 14, 11, 0, 0, tzinfo=new_york_winter)) is Level.INTERNAL


@pytest.mark.parametrize("level", [pytest.param(lv, id=str(lv)) for lv in Level])
def test_naive_now_raises(level: Level) -> None:
    doc = document(level)
    with pytest.raises(ValueError, match="aware"):
        effective_level(doc, datetime(2025, 3, 1, 12, 0))


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(TEN_YEAR_END - ONE_SECOND, False, id="1s_before"),
        pytest.param(TEN_YEAR_END, True, id="at_end"),
        pytest.param(TEN_YEAR_END + ONE_SECOND, True, id="1s_after"),
    ],
)
def test_period_ended(now: datetime, expected: bool) -> None:
    assert period_ended(document(Level.SECRET), now) is expected


def test_condition_period_never_ended() -> None:
    doc = document(Level.SECRET, period=Period(condition="until announced"))
    assert period_ended(doc, group(2999, 1, 1)) is False


# --- access flips at the instant the period ends ------------------------------------------


@pytest.mark.parametrize(
    ("level", "subject", "now", "expected"),
    [
        pytest.param(Level.CONFIDENTIAL, OTHER_DEPT_STAFF, TEN_YEAR_END - ONE_SECOND, deny(Reason.NOT_IN_SCOPE), id="confidential-1s_before-group_tz-deny"),
        pytest.param(Level.CONFIDENTIAL, OTHER_DEPT_STAFF, utc(2034, 1, 14, 15, 59, 59), deny(Reason.NOT_IN_SCOPE), id="confidential-1s_before-utc-deny"),
        pytest.param(Level.CONFIDENTIAL, OTHER_DEPT_STAFF, TEN_YEAR_END, allow(Reason.INTERNAL_EMPLOYEE), id="confidential-at_end-group_tz-allow"),
        pytest.param(Level.CONFIDENTIAL, OTHER_DEPT_STAFF, utc(2034, 1, 14, 16), allow(Reason.INTERNAL_EMPLOYEE), id="confidential-at_end-utc-allow"),
        pytest.param(Level.SECRET, OTHER_COMPANY_STAFF, TEN_YEAR_END - ONE_SECOND, deny(Reason.SECRET_NOT_DESIGNATED), id="secret-1s_before-deny"),
        pytest.param(Level.SECRET, OTHER_COMPANY_STAFF, TEN_YEAR_END, allow(Reason.INTERNAL_EMPLOYEE), id="secret-at_end-allow"),
        pytest.param(Level.TOP_SECRET, OWNING_GM, TEN_YEAR_END - ONE_SECOND, deny(Reason.TOP_SECRET_NOT_DESIGNATED), id="top_secret-1s_before-deny"),
        pytest.param(Level.TOP_SECRET, OWNING_GM, utc(2034, 1, 14, 16), allow(Reason.INTERNAL_EMPLOYEE), id="top_secret-at_end-utc-allow"),
    ],
)  # fmt: skip
def test_can_view_flips_exactly_at_the_end(level, subject, now, expected) -> None:
    doc = document(level, period=Period(years=10))
    assert can_view(subject, doc, now) == expected


def test_fixed_date_opens_at_midnight_after_the_last_day() -> None:
    doc = document(Level.CONFIDENTIAL, period=Period(until=date(2030, 6, 30)))
    assert can_view(OTHER_DEPT_STAFF, doc, FIXED_DATE_END - ONE_SECOND) == deny(Reason.NOT_IN_SCOPE)
    assert can_view(OTHER_DEPT_STAFF, doc, FIXED_DATE_END) == allow(Reason.INTERNAL_EMPLOYEE)


def test_deactivated_user_stays_out_after_declassification() -> None:
    gone = replace(OTHER_DEPT_STAFF, active=False)
    doc = document(Level.CONFIDENTIAL)
    assert can_view(gone, doc, TEN_YEAR_END) == deny(Reason.INACTIVE_USER)


# --- extension before / after the end -----------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "now", "expected"),
    [
        pytest.param(SUPERVISOR, TEN_YEAR_END - ONE_SECOND, allow(Reason.RESPONSIBLE_SUPERVISOR), id="supervisor-1s_before-allow"),
        pytest.param(SUPERVISOR, utc(2034, 1, 14, 15, 59, 59), allow(Reason.RESPONSIBLE_SUPERVISOR), id="supervisor-1s_before-utc-allow"),
        pytest.param(SUPERVISOR, TEN_YEAR_END, deny(Reason.PERIOD_ALREADY_ENDED), id="supervisor-at_end-deny"),
        pytest.param(SUPERVISOR, TEN_YEAR_END + ONE_SECOND, deny(Reason.PERIOD_ALREADY_ENDED), id="supervisor-1s_after-deny"),
        pytest.param(SUPERVISOR, utc(2034, 1, 14, 16, 0, 1), deny(Reason.PERIOD_ALREADY_ENDED), id="supervisor-1s_after-utc-deny"),
        pytest.param(REGISTRANT, TEN_YEAR_END - ONE_SECOND, allow(Reason.REGISTRANT), id="registrant-1s_before-allow"),
        pytest.param(HQ_EXEC, TEN_YEAR_END + ONE_SECOND, deny(Reason.PERIOD_ALREADY_ENDED), id="hq_executive-1s_after-deny"),
        pytest.param(OTHER_DEPT_STAFF, TEN_YEAR_END - ONE_SECOND, deny(Reason.CANNOT_VIEW), id="outsider-1s_before-deny"),
        pytest.param(OTHER_DEPT_STAFF, TEN_YEAR_END + ONE_SECOND, deny(Reason.PERIOD_ALREADY_ENDED), id="outsider-1s_after-deny"),
    ],
)  # fmt: skip
def test_extension_only_before_the_end(subject, now, expected) -> None:
    doc = document(Level.SECRET, period=Period(years=10))
    assert can_request(subject, doc, CopyKind.EXTEND, now) == expected


def test_extension_of_condition_period_has_no_fixed_end() -> None:
    doc = document(Level.SECRET, period=Period(condition="until the project is announced"))
    assert can_request(SUPERVISOR, doc, CopyKind.EXTEND, group(2999, 1, 1)) == deny(Reason.NO_FIXED_END)


def test_extension_approved_only_before_the_end() -> None:
    doc = document(Level.SECRET, period=Period(years=10))
    ask = request(doc, CopyKind.EXTEND, SUPERVISOR)
    assert can_approve(OWNING_GM, ask, TEN_YEAR_END - ONE_SECOND) == allow(Reason.OWNING_COMPANY_GM)
    assert can_approve(OWNING_GM, ask, TEN_YEAR_END) == deny(Reason.NOT_CLASSIFIED)


@pytest.mark.parametrize(
    "kind", [pytest.param(CopyKind.DOWNGRADE, id="downgrade"), pytest.param(CopyKind.DECLASSIFY, id="declassify")]
)
def test_downgrade_or_declassify_after_the_end_is_pointless(kind: CopyKind) -> None:
    doc = document(Level.SECRET, period=Period(years=10))
    assert can_request(SUPERVISOR, doc, kind, TEN_YEAR_END - ONE_SECOND) == allow(Reason.RESPONSIBLE_SUPERVISOR)
    assert can_request(SUPERVISOR, doc, kind, TEN_YEAR_END) == deny(Reason.NOT_CLASSIFIED)


def test_copy_route_follows_the_effective_level() -> None:
    doc = document(Level.TOP_SECRET, period=Period(years=10))
    free = Route(required=False, reason=Reason.NO_APPROVAL_NEEDED)
    assert copy_route(doc, CopyKind.COPY, TEN_YEAR_END - ONE_SECOND).default_no is True
    assert copy_route(doc, CopyKind.COPY, TEN_YEAR_END) == free


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("99999999y", "longer than 100 years", id="huge-years"),
        pytest.param("1201m", "longer than 100 years", id="huge-months"),
        pytest.param("9" * 5000 + "d", "longer than 100 years", id="5000-digit-days"),
        pytest.param("9999-12-31", "between 1900 and 2999", id="far-date"),
        pytest.param("0001-01-01", "between 1900 and 2999", id="early-date"),
    ],
)
def test_parse_period_refuses_out_of_range(text: str, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        parse_period(text)


def test_parse_period_accepts_the_edges() -> None:
    assert parse_period("100y") == Period(years=100)
    assert parse_period("2999-12-31") == Period(until=date(2999, 12, 31))


@pytest.mark.parametrize(
    ("issued", "period", "message"),
    [
        pytest.param(date(1, 1, 1), Period(years=1), "issue date", id="issued-year-1"),
        pytest.param(date(9999, 1, 1), Period(days=1), "issue date", id="issued-9999"),
        pytest.param(date(2026, 1, 1), Period(until=date(9999, 12, 31)), "must end",
                     id="until-9999"),
        pytest.param(date(2026, 1, 1), Period(years=101), "longer than", id="101-years"),
    ],
)
def test_validate_period_refuses(issued: date, period: Period, message: str) -> None:
    with pytest.raises(PeriodError, match=message):
        validate_period(issued, period)


def test_validate_period_accepts_ordinary_periods() -> None:
    validate_period(date(2024, 2, 29), Period(years=30))
    validate_period(date(2026, 1, 1), Period(until=date(2999, 12, 31)))
    validate_period(date(2026, 1, 1), Period(condition="项目公布"))
