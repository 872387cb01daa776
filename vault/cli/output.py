"""How commands print what they list: JSON from the read models, aligned tables.

Tables go through `rich`, which measures Chinese (and other wide) characters as two
cells, so the columns line up whatever the titles hold.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

import click


def plain(value: Any) -> Any:
    """``value`` as JSON data: read models (frozen dataclasses) become objects, dates
    ISO text, enums their value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):  # a NamedTuple
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def echo_json(data: Any) -> None:
    """``data`` as indented JSON with Chinese kept readable (not \\u escapes)."""
    click.echo(json.dumps(plain(data), ensure_ascii=False, indent=2))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *,
          right: Iterable[int] = ()) -> None:
    """``rows`` as columns under ``headers``, two spaces apart, the columns numbered in
    ``right`` flush right. `rich` measures each cell in terminal cells (a Chinese
    character is two), so Chinese titles do not push the columns after them. Nothing
    wraps (the lines are as long as they need to be, for grep and pipes); trailing
    spaces are cut. ``None`` prints as —. No rows, no lines (not even the headers)."""
    import io

    rows = list(rows)
    if not rows:
        return

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    flush_right = set(right)
    grid = Table(box=None, show_header=True, header_style=None, pad_edge=False,
                 padding=(0, 1), show_edge=False)
    for i, head in enumerate(headers):
        grid.add_column(head, justify="right" if i in flush_right else "left",
                        no_wrap=True)
    for row in rows:
        grid.add_row(*(Text("—" if cell is None else str(cell),
                            justify="right" if i in flush_right else "left")
                       for i, cell in enumerate(row)))
    buffer = io.StringIO()
    Console(file=buffer, width=1_000_000, color_system=None, force_terminal=False,
            highlight=False, markup=False, emoji=False, soft_wrap=False).print(grid)
    for line in buffer.getvalue().splitlines():
        click.echo(line.rstrip())
