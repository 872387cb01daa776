"""How the CLI prints lists: tables aligned in terminal cells (a Chinese character is
two), JSON from the read models."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import NamedTuple

import click
import pytest
from click.testing import CliRunner

from vault.cli.output import echo_json, plain, table
from vault.policy import Level


def cells(text: str) -> int:
    """Width of ``text`` on a terminal: wide and full-width characters take two cells."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def printed(fn: click.Command, *args: str) -> list[str]:
    res = CliRunner().invoke(fn, list(args))
    assert res.exit_code == 0, res.output
    return res.output.splitlines()


ROWS = [(1, "2027年集团并购方案", "绝密★30年", "wang.zong"),
        (12, "Short title", "机密★10年", None),
        (123, "物业费收费标准（2026）", "内部", "li")]


@click.command()
def listing() -> None:
    table(["id", "title", "marking", "by"], ROWS, right=[0])


def test_columns_after_chinese_text_line_up_in_cells() -> None:
    lines = printed(listing)
    assert len(lines) == 1 + len(ROWS)
    header = lines[0]
    assert header.split() == ["id", "title", "marking", "by"]
    # Every row's third and fourth column start at the cell where their heading starts.
    for column in ("marking", "by"):
        start = cells(header[:header.index(column)])
        for line, row in zip(lines[1:], ROWS, strict=True):
            value = row[2] if column == "marking" else (row[3] or "—")
            assert cells(line[:line.index(value)]) == start, (column, line)


def test_ids_flush_right_none_as_a_dash_no_trailing_spaces() -> None:
    lines = printed(listing)
    assert [ln[:3] for ln in lines[1:]] == ["  1", " 12", "123"]
    assert lines[2].endswith("—")
    assert all(ln == ln.rstrip() for ln in lines)


def test_markup_and_long_text_are_printed_as_given() -> None:
    @click.command()
    def odd() -> None:
        table(["title", "note"], [("[bold]x[/bold] " + "长" * 150, "[red]")])

    (_, line) = printed(odd)
    assert line.startswith("[bold]x[/bold] " + "长" * 150) and line.endswith("[red]")


def test_no_rows_print_nothing() -> None:
    @click.command()
    def empty() -> None:
        table(["id", "title"], [])

    assert printed(empty) == []


@dataclass(frozen=True)
class Row:
    id: int
    level: Level
    on: date
    at: datetime
    tags: tuple[str, ...]


class Pair(NamedTuple):
    actor: str
    at: datetime


@pytest.mark.parametrize(("value", "expected"), [
    (Row(1, Level.SECRET, date(2027, 6, 30), datetime(2027, 1, 2, 3, 4, tzinfo=UTC), ("a",)),
     {"id": 1, "level": "secret", "on": "2027-06-30", "at": "2027-01-02T03:04:00+00:00",
      "tags": ["a"]}),
    ([Pair("wang.zong", datetime(2027, 1, 1, tzinfo=UTC))],
     [{"actor": "wang.zong", "at": "2027-01-01T00:00:00+00:00"}]),
    ({"title": "合同", "n": None}, {"title": "合同", "n": None}),
])
def test_read_models_become_json_data(value: object, expected: object) -> None:
    assert plain(value) == expected

    @click.command()
    def show() -> None:
        echo_json(value)

    res = CliRunner().invoke(show)
    assert json.loads(res.output) == expected
    assert "\\u" not in res.output  # Chinese stays readable
