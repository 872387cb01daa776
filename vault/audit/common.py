"""Shared by the audit modules: the file names and bounds, the tables and the
prepared statements, the small conversions, and what reading the trail returns
(`Report`, `RecordedEvent`, `Knower`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Table,
    bindparam,
    insert,
    select,
    update,
)

from vault.audit import chain
from vault.audit.chain import Problem
from vault.audit.models import WIDTHS, AuditCheckpoint, AuditEvent, AuditHead

log = logging.getLogger("vault.audit")

HMAC_KEY_BYTES = 32
# An event the database has but the mirror lacks is "in flight" for this long.
MIRROR_GRACE = timedelta(seconds=60)
STATE_FILE = "mirror.state"
CHECKPOINTS_FILE = "checkpoints.jsonl"
DAY_FILE = re.compile(r"\d{4}-\d{2}-\d{2}\.jsonl")
_INFO_KEY = "vault.audit.pending"
_EVENTS = cast(Table, AuditEvent.__table__)
_HEAD = cast(Table, AuditHead.__table__)
_CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)
_EV = _EVENTS.c
_EVENT_COLUMNS = [_EV[name] for name in chain.EVENT_FIELDS]
_HEAD_ID = 1

# Built once: statements with bound parameters are compiled once and cached.
_LOCK_HEAD = (
    select(_HEAD.c.seq, _HEAD.c.mac, _HEAD.c.checkpoint_seq, _HEAD.c.checkpoint_at)
    .where(_HEAD.c.id == _HEAD_ID)
    .with_for_update()
)
_INSERT_EVENT = insert(_EVENTS)
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == _HEAD_ID)
    .values(seq=bindparam("h_seq"), mac=bindparam("h_mac"))
)
_MOVE_HEAD_START = _MOVE_HEAD.values(checkpoint_at=bindparam("h_at"))
_HEAD_CHECKPOINT = (
    update(_HEAD)
    .where(_HEAD.c.id == _HEAD_ID)
    .values(checkpoint_seq=bindparam("h_cp_seq"), checkpoint_at=bindparam("h_cp_at"))
)
_READ_HEAD = select(_HEAD.c.seq, _HEAD.c.mac).where(_HEAD.c.id == _HEAD_ID)
_MAC_AT = select(_EV.mac).where(_EV.seq == bindparam("m_seq"))
_EVENTS_BETWEEN = (
    select(*_EVENT_COLUMNS, _EV.mac)
    .where(_EV.seq > bindparam("e_after"), _EV.seq <= bindparam("e_upto"))
    .order_by(_EV.seq)
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _day(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d")


def _row_event(row: Sequence[Any]) -> dict[str, Any]:
    return chain.event_dict(*row[:14])


def _roles_text(roles: str | Iterable[str] | None) -> str:
    if roles is None:
        return ""
    items = [roles] if isinstance(roles, str) else list(roles)
    parts = sorted({p.strip() for item in items for p in str(item).split(",") if p.strip()})
    return ",".join(parts)


def _text(value: object, name: str) -> str | None:
    if value is None:
        return None
    return chain.clip(chain.escape_text(str(value)), WIDTHS[name])


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class Report:
    """The outcome of a verification; ``first_bad_seq``/``problem`` name the first bad event."""

    ok: bool
    events: int = 0
    checkpoints: int = 0
    first_bad_seq: int | None = None
    problem: str | None = None
    problems: tuple[Problem, ...] = ()
    last_seq: int = 0
    covered_seq: int = 0  # the last event covered by a valid signed checkpoint
    notes: tuple[str, ...] = ()

    @property
    def uncovered(self) -> int:
        """Events after the last checkpoint (offline: only their continuity was checked)."""
        return max(0, self.last_seq - self.covered_seq)

    def summary(self) -> str:
        head = (
            f"{self.events} events, {self.checkpoints} checkpoints: "
            + ("OK" if self.ok else f"BROKEN at event {self.first_bad_seq}: {self.problem}")
        )
        lines = [head]
        lines += [f"  event {p.seq}: {p.message}" for p in self.problems[1:20]]
        if len(self.problems) > 20:
            lines.append(f"  … and {len(self.problems) - 20} more problems")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _report(
    problems: Iterable[Problem],
    *,
    events: int,
    checkpoints: int,
    last_seq: int,
    covered_seq: int,
    notes: Iterable[str] = (),
) -> Report:
    ordered = tuple(sorted(problems, key=lambda p: p.seq))
    first = ordered[0] if ordered else None
    return Report(
        ok=not ordered,
        events=events,
        checkpoints=checkpoints,
        first_bad_seq=first.seq if first else None,
        problem=first.message if first else None,
        problems=ordered,
        last_seq=last_seq,
        covered_seq=covered_seq,
        notes=tuple(notes),
    )


class RecordedEvent(NamedTuple):
    """What `AuditLog.record` stored (the row is an `AuditEvent`)."""

    seq: int
    ts: datetime
    actor: str
    actor_roles: str
    source: str | None
    action: str
    object_type: str | None
    object_id: str | None
    document_id: int | None
    level: str | None
    outcome: str
    reason: str | None
    request_id: str | None
    detail: str | None
    mac: str


class Knower(NamedTuple):
    actor: str
    action: str
    ts: datetime
    seq: int
