"""Batched appends (`AuditLog.append_many`) on SQLite and PostgreSQL: the same chain,
MACs, mirror lines, checkpoints and witness records as single appends, three
statements for a batch, nothing left by a refused unit of work, one chain under
concurrent writers mixing batches and single appends."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from servers import process_context  # noqa: I001 - tests/servers.py
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from vault import db
from vault.actions import Action, Outcome
from vault.audit.common import STATE_FILE
from vault.audit.log import AuditLog, verify_offline
from vault.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from vault.config import Settings

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def audit_settings(settings: Settings, tmp_path: Path) -> Settings:
    s = replace(settings, checkpoint_every=5, checkpoint_seconds=600,
                audit_witness_file=tmp_path / "witness" / "vault.witness")
    (tmp_path / "witness").mkdir()
    AuditLog.init_keys(s)
    return s


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return db.make_sessionmaker(engine)


@pytest.fixture
def audit(audit_settings: Settings) -> AuditLog:
    return AuditLog(audit_settings)


def ev(i: int, who: str = "alice") -> dict[str, Any]:
    return {"actor": who, "actor_roles": ["staff"], "action": Action.DOCUMENT_VIEW,
            "outcome": Outcome.ALLOWED, "object_type": "document", "object_id": 100 + i,
            "level": "secret", "reason": "snippet", "detail": {"version": i}}


def single(factory: sessionmaker[Session], audit: AuditLog, i: int, now: datetime) -> None:
    with db.transaction(factory) as s:
        audit.record(s, now=now, **ev(i))


def batch(factory: sessionmaker[Session], audit: AuditLog, items: list[int],
          now: datetime) -> None:
    with db.transaction(factory) as s:
        out = audit.append_many(s, [ev(i) for i in items], now=now)
        assert [e.object_id for e in out] == [str(100 + i) for i in items]


def mirror(settings: Settings) -> list[dict[str, Any]]:
    return [json.loads(ln) for p in sorted(settings.audit_dir.glob("2*.jsonl"))
            for ln in p.read_bytes().splitlines()]


def events(factory: sessionmaker[Session]) -> list[tuple[int, str | None, str]]:
    with db.transaction(factory) as s:
        return [(e.seq, e.object_id, e.mac)
                for e in s.scalars(select(AuditEvent).order_by(AuditEvent.seq))]


def checkpoints(factory: sessionmaker[Session]) -> list[int]:
    with db.transaction(factory) as s:
        return list(s.scalars(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq)))


def test_mixed_single_and_batched_appends_make_the_single_appends_trail(
    audit_settings: Settings, factory: sessionmaker[Session], audit: AuditLog,
    tmp_path: Path, engine: Engine,
) -> None:
    # Plan: (kind, items); the batch of 9 crosses two checkpoints (5 and 10).
    plan: list[tuple[str, list[int]]] = [
        ("single", [0]), ("single", [1]), ("single", [2]), ("batch", list(range(3, 12))),
        ("single", [12]), ("batch", [13]), ("batch", []), ("batch", list(range(14, 21))),
    ]
    for n, (kind, items) in enumerate(plan):
        now = T0 + timedelta(seconds=n)
        if kind == "single":
            single(factory, audit, items[0], now)
        else:
            batch(factory, audit, items, now)
    got = events(factory)
    assert [(seq, oid) for seq, oid, _ in got] == [(i + 1, str(100 + i)) for i in range(21)]
    assert checkpoints(factory) == [5, 10, 15, 20]
    with db.transaction(factory) as s:
        report = audit.verify_database(s)
        head = s.get(AuditHead, 1)
        assert head is not None and (head.seq, head.mac) == (21, got[-1][2])
        at = head.checkpoint_at
        assert at is not None and head.checkpoint_seq == 20
        assert at.replace(tzinfo=at.tzinfo or UTC) == T0 + timedelta(seconds=7)
    assert report.ok, report.summary()
    assert (report.events, report.checkpoints, report.covered_seq) == (21, 4, 20)
    lines = mirror(audit_settings)
    assert [ln["event"]["seq"] for ln in lines] == list(range(1, 22))
    assert [ln["mac"] for ln in lines] == [mac for _, _, mac in got]
    witnessed = [json.loads(x)["seq"] for x in
                 audit_settings.audit_witness_file.read_text().splitlines()]  # type: ignore[union-attr]
    assert witnessed == [5, 10, 15, 20]
    copy = tmp_path / "copy"
    shutil.copytree(audit_settings.audit_dir, copy)
    offline = verify_offline(copy, audit.public_key_pem())
    assert offline.ok and offline.covered_seq == 20, offline.summary()

    # The same events appended one by one on a second trail give the same MACs and
    # checkpoints (same keys; the second trail is the same database emptied).
    with db.transaction(factory) as s:
        s.execute(AuditCheckpoint.__table__.delete())
        s.execute(AuditEvent.__table__.delete())
        s.execute(AuditHead.__table__.update().values(
            seq=0, mac="0" * 64, checkpoint_seq=0, checkpoint_at=None))
    for p in audit_settings.audit_dir.glob("*.jsonl"):
        p.unlink()
    (audit_settings.audit_dir / STATE_FILE).unlink()
    audit_settings.audit_witness_file.unlink()  # type: ignore[union-attr]
    n_item = 0
    for n, (_kind, items) in enumerate(plan):
        for _ in items:
            single(factory, audit, n_item, T0 + timedelta(seconds=n))
            n_item += 1
    assert events(factory) == got
    assert checkpoints(factory) == [5, 10, 15, 20]


def _count_statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_batch_is_three_statements(
    factory: sessionmaker[Session], audit: AuditLog, engine: Engine
) -> None:
    single(factory, audit, 0, T0)  # starts the checkpoint clock
    with db.transaction(factory) as s:
        s.connection()  # begin outside the count
        counter = _count_statements(engine)
        seen = next(counter)
        audit.append_many(s, [ev(i) for i in (1, 2, 3)], now=T0)
        assert seen == ["SELECT", "INSERT", "UPDATE"]
        counter.close()
    assert [seq for seq, _, _ in events(factory)] == [1, 2, 3, 4]


def test_a_batch_in_a_refused_unit_of_work_leaves_nothing(
    audit_settings: Settings, factory: sessionmaker[Session], audit: AuditLog
) -> None:
    batch(factory, audit, [0, 1], T0)
    before = events(factory)
    # Rolled back after the batch (a checkpoint fell due inside it: rolled back too).
    with pytest.raises(RuntimeError), db.transaction(factory) as s:
        audit.append_many(s, [ev(i) for i in range(2, 8)], now=T0)
        raise RuntimeError("refused")
    # An invalid item refuses the whole batch before anything is written.
    with pytest.raises(ValueError), db.transaction(factory) as s:
        audit.append_many(s, [ev(2), {**ev(3), "detail": {"password": "x"}}], now=T0)
    # A rolled-back savepoint: its lines never reach the mirror, the seqs are reused.
    with db.transaction(factory) as s:
        nested = s.begin_nested()
        audit.append_many(s, [ev(i, "ghost") for i in range(2, 5)], now=T0)
        nested.rollback()
        audit.append_many(s, [ev(i) for i in (2, 3)], now=T0)
    got = events(factory)
    assert got[:2] == before and [seq for seq, _, _ in got] == [1, 2, 3, 4]
    assert checkpoints(factory) == []
    lines = mirror(audit_settings)
    assert [ln["event"]["seq"] for ln in lines] == [1, 2, 3, 4]
    assert all(ln["event"]["actor"] == "alice" for ln in lines)
    with db.transaction(factory) as s:
        report = audit.verify_database(s)
    assert report.ok and report.events == 4, report.summary()


def _writer(factory: sessionmaker[Session], audit: AuditLog, who: str, rounds: int,
            errors: list[BaseException]) -> None:
    try:
        for r in range(rounds):
            with db.transaction(factory) as s:
                if r % 2:
                    audit.record(s, **ev(5000 + r, who))
                else:
                    audit.append_many(s, [ev(r * 10 + k, who) for k in range(1 + r % 7)])
    except BaseException as exc:  # noqa: BLE001 -- handed to the test thread
        errors.append(exc)


def test_concurrent_batched_and_single_writers_make_one_chain(
    audit_settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    settings = replace(audit_settings, checkpoint_every=16)
    factory = db.make_sessionmaker(engine)
    audit = AuditLog(settings)
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_writer, args=(factory, audit, f"t{k}", 20, errors))
               for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=180)
    assert not errors, errors
    per_writer = 10 + sum(1 + r % 7 for r in range(0, 20, 2))
    total = 4 * per_writer
    with db.transaction(factory) as s:
        report = audit.verify_database(s)
        seqs = list(s.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        by_actor = dict(s.execute(select(AuditEvent.actor, func.count())  # type: ignore[arg-type]
                                  .group_by(AuditEvent.actor)).all())
        # A batch's events are consecutive: nobody else's event comes between.
        rows = s.execute(select(AuditEvent.actor, AuditEvent.object_id)
                         .order_by(AuditEvent.seq)).all()
    assert report.ok and report.events == total, report.summary()
    assert seqs == list(range(1, total + 1))
    assert by_actor == {f"t{k}": per_writer for k in range(4)}
    assert checkpoints(factory) == list(range(16, total + 1, 16))
    for k in range(4):
        mine = [int(oid) - 100 for actor, oid in rows if actor == f"t{k}"]
        expected = [x for r in range(20)
                    for x in ([5000 + r] if r % 2 else [r * 10 + j for j in range(1 + r % 7)])]
        assert mine == expected
    for i, (actor, oid) in enumerate(rows):
        n = int(oid) - 100
        if 10 <= n < 5000 and n % 10:  # not the first of its batch
            assert rows[i - 1].actor == actor
    assert [ln["event"]["seq"] for ln in mirror(settings)] == list(range(1, total + 1))
    copy = tmp_path / "copy"
    shutil.copytree(settings.audit_dir, copy)
    offline = verify_offline(copy, audit.public_key_pem())
    assert offline.ok, offline.summary()


def _process(url: str, home: str, keys: str, audit_dir: str, who: str) -> None:
    from vault.config import load_settings

    settings = load_settings(environ={}, home=Path(home), database_url=url, keys_dir=Path(keys),
                             audit_dir=Path(audit_dir), checkpoint_every=16)
    engine = db.make_engine(url)
    errors: list[BaseException] = []
    _writer(db.make_sessionmaker(engine), AuditLog(settings), who, 12, errors)
    engine.dispose()
    if errors:
        raise errors[0]


def test_processes_appending_batches_make_one_chain(
    audit_settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    settings = replace(audit_settings, checkpoint_every=16)
    ctx = process_context(__name__)
    procs = [ctx.Process(target=_process, args=(
        settings.database_url, str(settings.home), str(settings.keys_dir),
        str(settings.audit_dir), f"p{k}")) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    per_writer = 6 + sum(1 + r % 7 for r in range(0, 12, 2))
    total = 3 * per_writer
    factory = db.make_sessionmaker(engine)
    audit = AuditLog(settings)
    with db.transaction(factory) as s:
        report = audit.verify_database(s)
        by_actor = dict(s.execute(select(AuditEvent.actor, func.count())  # type: ignore[arg-type]
                                  .group_by(AuditEvent.actor)).all())
    assert report.ok and report.events == total == report.last_seq, report.summary()
    assert by_actor == {f"p{k}": per_writer for k in range(3)}
    assert checkpoints(factory) == list(range(16, total + 1, 16))
    assert [ln["event"]["seq"] for ln in mirror(settings)] == list(range(1, total + 1))
    copy = tmp_path / "copy"
    shutil.copytree(settings.audit_dir, copy)
    offline = verify_offline(copy, audit.public_key_pem())
    assert offline.ok, offline.summary()
