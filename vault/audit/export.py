"""Export of the trail as CSV (formula-safe cells) or canonical JSON lines.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.orm import Session

from vault.actions import Action, Outcome
from vault.audit import chain

if TYPE_CHECKING:
    from vault.audit.log import AuditLog


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


# chain.EVENT_FIELDS, then mac (a unit test keeps them equal).
_ALL_EVENTS_SQL = (
    "SELECT seq, ts, actor, actor_roles, source, action, object_type, object_id, "
    "document_id, level, outcome, reason, request_id, detail, mac "
    "FROM audit_events ORDER BY seq"
)


def _ts_text(value: object) -> str:
    """A stored time as the trail writes it, from the driver's raw value."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat(timespec="microseconds") + "Z"
        return chain.format_ts(value)
    if isinstance(value, str):
        # SQLite: SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff".
        if len(value) == 26 and value[10] == " " and value[19] == ".":
            return value[:10] + "T" + value[11:] + "Z"
        try:
            return chain.format_ts(datetime.fromisoformat(value).replace(tzinfo=UTC))
        except ValueError:
            return value  # not a time: the MAC will not match
    return str(value)


def _stored_events(session: Session) -> Iterator[tuple[dict[str, Any], str]]:
    """Every stored event in sequence order, as (event, mac), read with the driver's
    raw rows (verification speed: no ORM, no type processing)."""
    conn = session.connection().execution_options(stream_results=True, max_row_buffer=5000)
    for row in conn.exec_driver_sql(_ALL_EVENTS_SQL):
        yield (
            {
                "seq": row[0],
                "ts": _ts_text(row[1]),
                "actor": row[2],
                "actor_roles": row[3],
                "source": row[4],
                "action": row[5],
                "object_type": row[6],
                "object_id": row[7],
                "document_id": row[8],
                "level": row[9],
                "outcome": row[10],
                "reason": row[11],
                "request_id": row[12],
                "detail": row[13],
            },
            row[14],
        )


def export(
    audit: AuditLog,
    session: Session,
    fmt: str,
    out: TextIO,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    document: int | None = None,
    action: Action | str | None = None,
    outcome: Outcome | str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write matching events as ``csv`` (header row; cells that a spreadsheet
    would run as a formula are prefixed with ``'``) or ``jsonl`` (one canonical
    JSON object per event, with its ``mac``). Returns the number written;
    ``progress(done, total)`` is called as it goes. Auditing the export itself
    is the caller's job (``audit:export``)."""
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"unknown export format {fmt!r}; use csv or jsonl")
    stmt = audit.query(
        since=since, until=until, actor=actor, document=document, action=action,
        outcome=outcome,
    )
    total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    columns = [*chain.EVENT_FIELDS, "mac"]
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(columns)
    done = 0
    for ev in session.scalars(stmt.execution_options(yield_per=1000)):
        record = {**ev.as_event(), "mac": ev.mac}
        if writer is not None:
            writer.writerow([_csv_cell(record[c]) for c in columns])
        else:
            out.write(chain.canonical(record).decode("utf-8") + "\n")
        done += 1
        if progress is not None and done % 500 == 0:
            progress(done, total)
    if progress is not None:
        progress(done, total)
    return done
