"""The API's own field types (vault/web/api_schema.py, api_service.py) refuse what is no date,
no date-time, no query switch or no JSON boolean, and dates outside the years they accept."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import pytest

from vault.web.api_schema import Day, Flag, Moment
from vault.web.api_service import JsonBool


@pytest.mark.parametrize(("field", "value", "message"), [
    (Day(), 20270630, "must be a date YYYY-MM-DD"),
    (Day(), "2027-06-30T00:00", "must be a date YYYY-MM-DD"),
    (Day(), "2027-6-30", "must be a date YYYY-MM-DD"),
    (Day(), "3000-01-01", "must lie between"),
    (Moment(), 20270630, "must be a date-time"),
    (Moment(), "3000-01-01T00:00+00:00", "must lie between"),
    (Moment(), "1899-12-31T23:00+00:00", "must lie between"),
    (Flag(), "yes", "must be true or false (1 or 0)"),
    (JsonBool(), "true", "must be true or false"),
    (JsonBool(), 1, "must be true or false"),
])
def test_refused(field: ma.fields.Field, value: Any, message: str) -> None:
    with pytest.raises(ma.ValidationError) as raised:
        field.deserialize(value)
    assert message in str(raised.value)


def test_accepted() -> None:
    assert str(Day().deserialize("2027-06-30")) == "2027-06-30"
    assert Moment().deserialize("2027-06-30T09:00+08:00").isoformat() == "2027-06-30T09:00:00+08:00"
    assert JsonBool().deserialize(False) is False
    assert Flag().deserialize("1") is True and Flag().deserialize("false") is False
