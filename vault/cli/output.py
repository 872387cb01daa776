"""How commands print what they list: JSON from the read models, aligned tables.

Tables go through `rich`, which measures Chinese (and other wide) characters as two
cells, so the columns line up whatever the titles hold.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from enum import Enum
from typing import Any

import click


def plain(value: Any) -> Any:
    """``value`` as JSON data: read models (frozen dataclasses) become objects, dates
    ISO text, enums their value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
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
