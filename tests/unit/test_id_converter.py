"""The ``<id:…>`` route converter: 1 … 2³¹−1 in ASCII digits, anything else no match."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import NotFound
from werkzeug.routing import Map, Rule

from vault.web.ids import MAX_ID, IdConverter, valid_id


def _adapter() -> object:
    rules = Map([Rule("/documents/<id:doc_id>", endpoint="show")],
                converters={"id": IdConverter})
    return rules.bind("vault.test")


@pytest.mark.parametrize("path, expected", [
    ("1", 1), ("42", 42), (str(MAX_ID), 2**31 - 1), ("0042", 42),
])
def test_ids_in_range_match(path: str, expected: int) -> None:
    assert _adapter().match(f"/documents/{path}") == ("show", {"doc_id": expected})  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", [
    "0", str(2**31), "9" * 11, "9" * 5000, "-1", "+1", "1.5", "abc", "٣", "１", "",
])
def test_anything_else_matches_nothing(path: str) -> None:
    with pytest.raises(NotFound):
        _adapter().match(f"/documents/{path}")  # type: ignore[attr-defined]


def test_url_building_round_trips() -> None:
    assert _adapter().build("show", {"doc_id": 7}) == "/documents/7"  # type: ignore[attr-defined]


@pytest.mark.parametrize("value, ok", [(0, False), (1, True), (MAX_ID, True), (MAX_ID + 1, False),
                                       (-5, False)])
def test_valid_id(value: int, ok: bool) -> None:
    assert valid_id(value) is ok
