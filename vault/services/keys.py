"""Master key operations: list, rotate (re-wrap every data key), retire.

Rotation never rewrites blobs: it re-wraps the data keys in the version rows,
in batches that each commit, so a crash midway loses nothing and a second run
resumes (it re-wraps what is left before making yet another key).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vault.actions import Action
from vault.crypto.keyring import Keyring
from vault.models import DocumentVersion, FollowUp, ServiceRequest, TotpFactor
from vault.services import search_index, totp
from vault.services.context import Ctx, Infra, unit_of_work

BATCH = 200
#: Rows with sealed fields under a data key of their own (vault/services/sealed.py).
SEALED_ROWS: tuple[type[ServiceRequest] | type[FollowUp], ...] = (ServiceRequest, FollowUp)


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    active: bool
    data_keys: int


def usage(infra: Infra) -> dict[str, int]:
    """How many data keys each master key wraps: file versions, second factors, the
    index key and the keys of extracted texts."""
    with infra.sessions() as session:
        return wrapped_counts(session)


def wrapped_counts_if_any(database_url: str) -> dict[str, int] | None:
    """`wrapped_counts` for `vault doctor`, which asks before the keys are loaded:
    None when there is no database yet or it cannot be read (the keys are still
    checked)."""
    from sqlalchemy.exc import SQLAlchemyError

    from vault import db

    try:
        engine = db.make_engine(database_url)
        try:
            if not db.is_initialised(engine):
                return None
            with db.transaction(db.make_sessionmaker(engine)) as session:
                return wrapped_counts(session)
        finally:
            engine.dispose()
    except SQLAlchemyError:
        return None


def wrapped_counts(session: Session) -> dict[str, int]:
    """`usage` on a session of one's own (`vault doctor` asks before keys are loaded)."""
    counts: dict[str, int] = {}
    rows: list[Any] = [
        *session.execute(
            select(DocumentVersion.master_key_id, func.count())
            .where(DocumentVersion.wrapped_key.is_not(None))
            .group_by(DocumentVersion.master_key_id)
        ).all(),
        *session.execute(
            select(TotpFactor.master_key_id, func.count()).group_by(TotpFactor.master_key_id)
        ).all(),
        *(row for model in SEALED_ROWS for row in session.execute(
            select(model.master_key_id, func.count())
            .where(model.wrapped_key.is_not(None))
            .group_by(model.master_key_id)
        ).all()),
    ]
    rows += search_index.key_usage(session)  # the index key and the text keys
    for key_id, n in rows:
        counts[str(key_id)] = counts.get(str(key_id), 0) + int(n)
    return counts


def list_keys(infra: Infra) -> list[KeyInfo]:
    used = usage(infra)
    ring = infra.keyring
    return [KeyInfo(k, k == ring.active_id, used.get(k, 0)) for k in ring.ids]


def stale_count(infra: Infra) -> int:
    active = infra.keyring.active_id
    return sum(n for k, n in usage(infra).items() if k != active)


@dataclass(frozen=True)
class Rotation:
    new_key: str | None  # None when an interrupted rotation was resumed
    rewrapped: int


def rotate(
    infra: Infra,
    actor: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    stop_after: int | None = None,
) -> Rotation:
    """Make a new active master key (unless resuming) and re-wrap every data key.

    ``progress(done, total)`` is called after each batch. ``stop_after`` ends the
    run after that many rows, as a crash would (for tests).
    """
    ring = infra.keyring
    new_key = None
    if stale_count(infra) == 0:
        new_key = ring.rotate()
        with unit_of_work(infra, actor) as ctx:
            ctx.record(Action.KEY_ROTATE, object_type="master_key", object_id=new_key,
                       reason="new_active_key")
    total = stale_count(infra)
    done = 0
    while True:
        with unit_of_work(infra, actor) as ctx:
            rows = ctx.session.scalars(
                select(DocumentVersion)
                .where(DocumentVersion.wrapped_key.is_not(None))
                .where(DocumentVersion.master_key_id != ring.active_id)
                .order_by(DocumentVersion.id)
                .limit(BATCH)
            ).all()
            if stop_after is not None:
                rows = rows[: max(0, stop_after - done)]
            _rewrap(ctx, ring, rows, {})
        done += len(rows)
        if progress:
            progress(done, total)
        if not rows or (stop_after is not None and done >= stop_after):
            break
    if stop_after is None or done < stop_after:
        with unit_of_work(infra, actor) as ctx:
            done += totp.rewrap_all(ctx)  # second-factor secrets' keys too
        done += _rewrap_sealed(infra, actor)
        with unit_of_work(infra, actor) as ctx:
            done += search_index.rewrap_all(ctx)  # the index key and the text keys
    return Rotation(new_key, done)


def _rewrap(ctx: Ctx, ring: Keyring, rows: Sequence[Any], detail: dict[str, Any]) -> None:
    """Re-wrap one batch's data keys under the active master key; one audit event."""
    for row in rows:
        assert row.master_key_id is not None and row.wrapped_key is not None
        row.master_key_id, row.wrapped_key = ring.rewrap(row.master_key_id, row.wrapped_key)
    if rows:
        ctx.record(Action.KEY_ROTATE, object_type="master_key", object_id=ring.active_id,
                   reason="rewrapped", detail={"rows": len(rows), **detail})


def _rewrap_sealed(infra: Infra, actor: str | None) -> int:
    """Re-wrap the data keys of rows with sealed fields, in committed batches."""
    ring = infra.keyring
    done = 0
    for table in SEALED_ROWS:
        model: Any = table  # either model: both have id, wrapped_key, master_key_id
        while True:
            with unit_of_work(infra, actor) as ctx:
                rows = ctx.session.scalars(
                    select(model).where(model.wrapped_key.is_not(None))
                    .where(model.master_key_id != ring.active_id)
                    .order_by(model.id).limit(BATCH)).all()
                _rewrap(ctx, ring, rows, {"table": model.__tablename__})
            done += len(rows)
            if not rows:
                break
    return done


def retire(infra: Infra, key_id: str, actor: str | None = None) -> str:
    """Retire a master key no data key uses any more (refused otherwise)."""
    counts = usage(infra)
    path = infra.keyring.retire(key_id, lambda k: counts.get(k, 0))
    with unit_of_work(infra, actor, datetime.now(UTC)) as ctx:
        ctx.record(Action.KEY_RETIRE, object_type="master_key", object_id=key_id,
                   reason="retired")
    return str(path)
