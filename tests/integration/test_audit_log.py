"""The audit log on SQLite and PostgreSQL: writing in the caller's transaction,
the mirror, checkpoints, verification of tampered databases and mirror copies,
failing closed, refusing secrets, concurrent writers, export and knowers."""

from __future__ import annotations

import csv
import io
import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from servers import process_context  # noqa: I001 - tests/servers.py
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from vault import db
from vault.actions import Action, Outcome
from vault.audit import chain
from vault.audit.chain import ZERO_MAC
from vault.audit.log import AuditLog, AuditMirrorFailed, verify_offline
from vault.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from vault.audit.witness import read_records as read_witness
from vault.config import AUDIT_KEY_FILE, SIGNING_KEY_FILE, Settings
from vault.errors import AuditUnavailable
from vault.models import Company

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def audit_settings(settings: Settings) -> Settings:
    s = replace(settings, checkpoint_every=5, checkpoint_seconds=600)
    AuditLog.init_keys(s)
    return s


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return db.make_sessionmaker(engine)


@pytest.fixture
def audit(audit_settings: Settings) -> AuditLog:
    return AuditLog(audit_settings)


def write(
    factory: sessionmaker[Session], audit: AuditLog, n: int, *, start: datetime = T0, **kw: Any
) -> None:
    for i in range(n):
        with db.transaction(factory) as s:
            args: dict[str, Any] = {
                "actor": f"user{i % 3}",
                "actor_roles": ["staff"],
                "action": Action.DOCUMENT_VIEW,
                "outcome": Outcome.ALLOWED,
                "object_type": "document",
                "object_id": 100 + i % 4,
                "level": "secret",
                "reason": "grant",
                "source": "10.0.0.7",
                "request_id": f"r{i}",
                "now": start + timedelta(seconds=i),
            }
            args.update(kw)
            audit.record(s, **args)


def count_events(factory: sessionmaker[Session]) -> int:
    with db.transaction(factory) as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def verify_db(factory: sessionmaker[Session], audit: AuditLog, **kw: Any) -> Any:
    with db.transaction(factory) as s:
        return audit.verify_database(s, **kw)


def day_file(settings: Settings) -> Path:
    (path,) = sorted(settings.audit_dir.glob("2*.jsonl"))
    return path


def mirror_lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


# --------------------------------------------------------------------------- clean trail


def test_untouched_trail_verifies_in_database_and_offline(
    audit_settings: Settings, factory: sessionmaker[Session], audit: AuditLog, tmp_path: Path
) -> None:
    write(factory, audit, 12)
    report = verify_db(factory, audit)
    assert report.ok, report.summary()
    assert (report.events, report.checkpoints, report.last_seq) == (12, 2, 12)
    assert report.covered_seq == 10
    lines = mirror_lines(audit_settings.audit_dir / "2026-03-01.jsonl")
    assert [json.loads(ln)["event"]["seq"] for ln in lines] == list(range(1, 13))
    assert len(mirror_lines(audit_settings.audit_dir / "checkpoints.jsonl")) == 2

    copy = tmp_path / "copy"
    shutil.copytree(audit_settings.audit_dir, copy)
    offline = verify_offline(copy, audit.public_key_pem())
    assert offline.ok, offline.summary()
    assert offline.covered_seq == 10 and offline.uncovered == 2
    assert any("not covered" in n for n in offline.notes)


def test_record_returns_event_and_moves_head(
    factory: sessionmaker[Session], audit: AuditLog
) -> None:
    with db.transaction(factory) as s:
        ev = audit.record(
            s, actor="alice", actor_roles="custodian,staff", action="grant:create",
            outcome="allowed", object_type="grant", object_id=9, document_id=42,
            detail={"grantee": "bob", "until": "2026-04-01"}, now=T0,
        )
        assert ev.seq == 1 and len(ev.mac) == 64 and ev.document_id == 42
    with db.transaction(factory) as s:
        head = s.get(AuditHead, 1)
        assert head is not None and (head.seq, head.mac) == (1, ev.mac)
        stored = s.get(AuditEvent, 1)
        assert stored is not None and stored.ts == T0 and stored.actor_roles == "custodian,staff"
        assert json.loads(stored.detail or "") == {"grantee": "bob", "until": "2026-04-01"}


# --------------------------------------------------------------------------- database tampering


def _swap(s: Session, a: int, b: int) -> None:
    cols = [c.name for c in AuditEvent.__table__.columns if c.name != "seq"]
    rows = {r.seq: r for r in s.execute(select(AuditEvent.__table__).where(
        AuditEvent.seq.in_([a, b])))}
    for seq, other in ((a, b), (b, a)):
        s.execute(
            AuditEvent.__table__.update()
            .where(AuditEvent.seq == seq)
            .values({c: getattr(rows[other], c) for c in cols})
        )


def _insert_forged(s: Session, at: int) -> None:
    # Make room (two steps: PostgreSQL checks the key row by row), then forge.
    s.execute(text("UPDATE audit_events SET seq = seq + 100000 WHERE seq >= :at"), {"at": at})
    s.execute(text("UPDATE audit_events SET seq = seq - 99999 WHERE seq >= 100000"))
    row = s.execute(select(AuditEvent.__table__).where(AuditEvent.seq == at - 1)).one()
    values = dict(row._mapping)
    values.update(seq=at, actor="mallory", mac="ab" * 32)
    s.execute(AuditEvent.__table__.insert().values(values))
    s.execute(text("UPDATE audit_head SET seq = seq + 1"))


TAMPER_DB = {
    "edit": (
        lambda s: s.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 7")),
        "mac mismatch",
    ),
    "edit_time": (
        lambda s: s.execute(
            AuditEvent.__table__.update()
            .where(AuditEvent.seq == 7)
            .values(ts=datetime(2026, 1, 1, tzinfo=UTC))
        ),
        "mac mismatch",
    ),
    "delete": (
        lambda s: s.execute(text("DELETE FROM audit_events WHERE seq = 7")),
        "missing event 7",
    ),
    "swap": (lambda s: _swap(s, 7, 8), "mac mismatch"),
    "insert": (lambda s: _insert_forged(s, 7), "mac mismatch"),
}


@pytest.mark.parametrize("how", sorted(TAMPER_DB))
@pytest.mark.parametrize("with_mirror", [True, False])
def test_database_tampering_names_first_bad_event(
    factory: sessionmaker[Session], audit: AuditLog, how: str, with_mirror: bool
) -> None:
    write(factory, audit, 20)
    assert verify_db(factory, audit).ok
    tamper, message = TAMPER_DB[how]
    with db.transaction(factory) as s:
        tamper(s)
    report = verify_db(factory, audit, mirror=with_mirror)
    assert not report.ok
    assert report.first_bad_seq == 7, report.summary()
    assert message in (report.problem or ""), report.summary()


def test_database_forged_event_appended_at_end(
    factory: sessionmaker[Session], audit: AuditLog
) -> None:
    write(factory, audit, 8)
    with db.transaction(factory) as s:
        row = dict(s.execute(select(AuditEvent.__table__).where(AuditEvent.seq == 8)).one()
                   ._mapping)
        row.update(seq=9, actor="mallory", mac="cd" * 32)
        s.execute(AuditEvent.__table__.insert().values(row))
        s.execute(text("UPDATE audit_head SET seq = 9, mac = :m"), {"m": "cd" * 32})
    report = verify_db(factory, audit, mirror=False)
    assert report.first_bad_seq == 9 and "mac mismatch" in (report.problem or "")


def test_database_tail_removed_with_head_rewound_is_caught_by_checkpoint(
    factory: sessionmaker[Session], audit: AuditLog
) -> None:
    write(factory, audit, 10)  # checkpoints at 5 and 10
    with db.transaction(factory) as s:
        mac8 = s.scalar(select(AuditEvent.mac).where(AuditEvent.seq == 8))
        s.execute(text("DELETE FROM audit_events WHERE seq > 8"))
        s.execute(text("UPDATE audit_head SET seq = 8, mac = :m"), {"m": mac8})
    report = verify_db(factory, audit, mirror=False)
    assert report.first_bad_seq == 9 and "events removed" in (report.problem or "")


def test_chain_rewritten_with_the_hmac_key_is_caught_by_signed_checkpoints(
    factory: sessionmaker[Session], audit: AuditLog
) -> None:
    write(factory, audit, 12)  # checkpoints at 5 and 10
    key = audit.hmac_key()
    with db.transaction(factory) as s:
        s.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 7"))
        prev = s.scalar(select(AuditEvent.mac).where(AuditEvent.seq == 6))
        for ev in s.scalars(select(AuditEvent).where(AuditEvent.seq >= 7).order_by(AuditEvent.seq)):
            ev.mac = chain.next_mac(key, prev, ev.as_event())
            prev = ev.mac
        s.flush()
        s.execute(text("UPDATE audit_head SET mac = :m"), {"m": prev})
    report = verify_db(factory, audit, mirror=False)
    assert report.first_bad_seq == 7, report.summary()
    assert "does not match signed checkpoint 10" in (report.problem or "")
    assert any("head mac at 10" in p.message for p in report.problems)


def test_missing_head_row_is_reported(factory: sessionmaker[Session], audit: AuditLog) -> None:
    write(factory, audit, 3)
    with db.transaction(factory) as s:
        s.execute(text("DELETE FROM audit_head"))
    report = verify_db(factory, audit)
    assert report.first_bad_seq == 4 and "head row is missing" in (report.problem or "")


def test_database_checkpoint_tampering(factory: sessionmaker[Session], audit: AuditLog) -> None:
    write(factory, audit, 10)
    with db.transaction(factory) as s:
        s.execute(text("UPDATE audit_checkpoints SET mac = :m WHERE seq = 10"), {"m": "0" * 64})
    report = verify_db(factory, audit, mirror=False)
    assert report.first_bad_seq == 6 and "bad signature" in (report.problem or "")


def test_database_verify_compares_the_mirror(
    audit_settings: Settings, factory: sessionmaker[Session], audit: AuditLog
) -> None:
    write(factory, audit, 12)
    path = day_file(audit_settings)
    lines = mirror_lines(path)
    saved = lines[8]
    doc = json.loads(lines[8])
    doc["event"]["actor"] = "mallory"
    lines[8] = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = verify_db(factory, audit)
    assert report.first_bad_seq == 9 and "differs from the database" in (report.problem or "")
    assert verify_db(factory, audit, mirror=False).ok

    lines[8] = saved
    path.write_bytes(b"\n".join(lines[:4] + lines[5:]) + b"\n")  # a line removed
    report = verify_db(factory, audit)
    assert report.first_bad_seq == 5 and "missing from the mirror" in (report.problem or "")

    path.write_bytes(b"\n".join(lines[:10]) + b"\n")  # the last lines removed
    report = verify_db(factory, audit)
    assert report.first_bad_seq == 11 and "removed" in (report.problem or "")

    path.write_bytes(b"\n".join(lines) + b"\n")
    cps = audit_settings.audit_dir / "checkpoints.jsonl"
    cps.write_bytes(b"\n".join(mirror_lines(cps)[:1]) + b"\n")  # the last checkpoint removed
    report = verify_db(factory, audit)
    assert report.first_bad_seq == 6 and "checkpoint 10 is missing" in (report.problem or "")


# --------------------------------------------------------------------------- mirror tampering


def _edit(lines: list[bytes]) -> list[bytes]:
    doc = json.loads(lines[6])
    doc["event"]["actor"] = "mallory"
    lines[6] = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return lines


def _swap_contents(lines: list[bytes]) -> list[bytes]:
    a, b = json.loads(lines[6]), json.loads(lines[7])
    a["event"], b["event"] = {**b["event"], "seq": 7}, {**a["event"], "seq": 8}
    a["mac"], b["mac"] = b["mac"], a["mac"]
    lines[6], lines[7] = (json.dumps(x, sort_keys=True, separators=(",", ":")).encode()
                          for x in (a, b))
    return lines


def _insert_renumbered(lines: list[bytes]) -> list[bytes]:
    forged = json.loads(lines[5])
    forged["event"].update(seq=7, actor="mallory")
    forged["prev"], forged["mac"] = forged["mac"], "ab" * 32
    out = lines[:6] + [json.dumps(forged, sort_keys=True, separators=(",", ":")).encode()]
    for ln in lines[6:]:
        doc = json.loads(ln)
        doc["event"]["seq"] += 1
        out.append(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())
    return out


def _insert_duplicate(lines: list[bytes]) -> list[bytes]:
    forged = json.loads(lines[6])
    forged["event"]["actor"] = "mallory"
    forged["mac"] = "ab" * 32
    return [*lines[:6], json.dumps(forged, sort_keys=True, separators=(",", ":")).encode(),
            *lines[6:]]


TAMPER_MIRROR = {
    "edit": (_edit, "does not match signed checkpoint"),
    "delete": (lambda lines: lines[:6] + lines[7:], "missing event 7"),
    "swap_lines": (lambda lines: [*lines[:6], lines[7], lines[6], *lines[8:]], "out of order"),
    "swap_contents": (_swap_contents, "does not match signed checkpoint"),
    "insert_renumbered": (_insert_renumbered, "does not match signed checkpoint"),
    "insert_duplicate": (_insert_duplicate, "does not match signed checkpoint"),
}


@pytest.fixture
def copied_trail(
    audit_settings: Settings, factory: sessionmaker[Session], audit: AuditLog, tmp_path: Path
) -> Iterator[tuple[Path, str]]:
    write(factory, audit, 20)  # checkpoints at 5, 10, 15, 20
    copy = tmp_path / "copied-audit"
    shutil.copytree(audit_settings.audit_dir, copy)
    yield copy, audit.public_key_pem()


@pytest.mark.parametrize("how", sorted(TAMPER_MIRROR))
def test_mirror_tampering_names_first_bad_event_offline(
    copied_trail: tuple[Path, str], how: str
) -> None:
    copy, pem = copied_trail
    assert verify_offline(copy, pem).ok
    tamper, message = TAMPER_MIRROR[how]
    path = copy / "2026-03-01.jsonl"
    path.write_bytes(b"\n".join(tamper(mirror_lines(path))) + b"\n")
    report = verify_offline(copy, pem)
    assert not report.ok
    assert report.first_bad_seq == 7, report.summary()
    assert message in (report.problem or ""), report.summary()


def test_offline_checkpoint_tampering_and_wrong_key(
    copied_trail: tuple[Path, str], tmp_path: Path
) -> None:
    copy, pem = copied_trail
    cps = copy / "checkpoints.jsonl"
    lines = mirror_lines(cps)
    doc = json.loads(lines[1])
    doc["time"] = "2020-01-01T00:00:00.000000Z"
    lines[1] = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    cps.write_bytes(b"\n".join(lines) + b"\n")
    report = verify_offline(copy, pem)
    assert report.first_bad_seq == 6 and "bad signature" in (report.problem or "")

    cps.write_bytes(b"\n".join(lines[:1] + lines[2:]) + b"\n")  # remove a checkpoint
    report = verify_offline(copy, pem)
    assert report.first_bad_seq == 6 and "removed" in (report.problem or "")

    other = tmp_path / "other"
    other.mkdir()
    s2 = replace(AuditLog(_settings_for(other)).settings)
    AuditLog.init_keys(s2)
    report = verify_offline(copy, AuditLog(s2).public_key_pem())
    assert report.first_bad_seq == 1 and "bad signature" in (report.problem or "")


def _settings_for(home: Path) -> Settings:
    from vault.config import load_settings

    return load_settings(environ={}, home=home, database_url="sqlite://")


def test_offline_events_after_last_checkpoint_are_not_covered(
    audit_settings: Settings, factory: sessionmaker[Session], audit: AuditLog, tmp_path: Path
) -> None:
    write(factory, audit, 13)  # checkpoints at 5 and 10; 11–13 not covered
    copy = tmp_path / "copy"
    shutil.copytree(audit_settings.audit_dir, copy)
    path = copy / "2026-03-01.jsonl"
    report = verify_offline(copy, audit.public_key_pem())
    assert report.ok and report.uncovered == 3
    lines = mirror_lines(path)
    # An edit after the last checkpoint cannot be seen without the HMAC key…
    doc = json.loads(lines[11])
    doc["event"]["actor"] = "mallory"
    path.write_bytes(b"\n".join([*lines[:11], json.dumps(doc).encode(), lines[12]]) + b"\n")
    report = verify_offline(copy, audit.public_key_pem())
    assert report.ok and any("not covered" in n for n in report.notes)
    # …but a removal still breaks continuity,
    path.write_bytes(b"\n".join([*lines[:11], lines[12]]) + b"\n")
    report = verify_offline(copy, audit.public_key_pem())
    assert report.first_bad_seq == 12 and report.problem == "missing event 12"
    # also when the later lines are renumbered to hide the gap.
    doc = json.loads(lines[12])
    doc["event"]["seq"] = 12
    path.write_bytes(b"\n".join([*lines[:11], json.dumps(doc).encode()]) + b"\n")
    report = verify_offline(copy, audit.public_key_pem())
    assert report.first_bad_seq == 12 and "chain broken" in (report.problem or "")
    # and removing covered lines at the end is named
    path.write_bytes(b"\n".join(lines[:8]) + b"\n")
    report = verify_offline(copy, audit.public_key_pem())
    assert report.first_bad_seq == 9 and "covered by a signed checkpoint" in (report.problem or "")


# --------------------------------------------------------------------------- failing closed


def _company_count(factory: sessionmaker[Session]) -> int:
    with db.transaction(factory) as s:
        return int(s.scalar(select(func.count()).select_from(Company)) or 0)


def _attempt(factory: sessionmaker[Session], audit: AuditLog) -> None:
    """An action and its event in one unit of work: both or neither."""
    with db.transaction(factory) as s:
        s.add(Company(code="ACME", name="Acme"))
        s.flush()
        audit.record(s, actor="alice", actor_roles="admin", action=Action.ORG_COMPANY_ADD,
                     outcome=Outcome.ALLOWED, object_type="company", object_id="ACME")


def _assert_refused(factory: sessionmaker[Session], audit: AuditLog, code: str) -> None:
    with pytest.raises(AuditUnavailable) as info:
        _attempt(factory, audit)
    assert info.value.code == code
    assert count_events(factory) == 0
    assert _company_count(factory) == 0
    with db.transaction(factory) as s:
        head = s.get(AuditHead, 1)
        assert head is not None and (head.seq, head.mac) == (0, ZERO_MAC)


@pytest.mark.parametrize("key_file", [AUDIT_KEY_FILE, SIGNING_KEY_FILE])
def test_missing_key_refuses(
    audit_settings: Settings, factory: sessionmaker[Session], key_file: str
) -> None:
    (audit_settings.keys_dir / key_file).unlink()
    _assert_refused(factory, AuditLog(audit_settings), "audit_key_missing")


def test_damaged_key_refuses(audit_settings: Settings, factory: sessionmaker[Session]) -> None:
    (audit_settings.keys_dir / AUDIT_KEY_FILE).write_bytes(b"short")
    _assert_refused(factory, AuditLog(audit_settings), "audit_key_damaged")


def test_audit_folder_replaced_by_a_file_refuses(
    audit_settings: Settings, factory: sessionmaker[Session]
) -> None:
    # chmod does not stop root (CI): make the folder impossible to append to instead.
    shutil.rmtree(audit_settings.audit_dir)
    audit_settings.audit_dir.write_text("not a folder")
    _assert_refused(factory, AuditLog(audit_settings), "audit_folder_unwritable")


def test_audit_folder_missing_refuses(
    audit_settings: Settings, factory: sessionmaker[Session]
) -> None:
    shutil.rmtree(audit_settings.audit_dir)
    _assert_refused(factory, AuditLog(audit_settings), "audit_folder_unwritable")
    assert not audit_settings.audit_dir.exists()  # not silently re-created


def test_audit_folder_under_a_file_refuses(
    audit_settings: Settings, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    s = replace(audit_settings, audit_dir=blocker / "audit")
    _assert_refused(factory, AuditLog(s), "audit_folder_unwritable")


def test_day_file_that_cannot_be_appended_refuses(
    audit_settings: Settings, factory: sessionmaker[Session]
) -> None:
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    (audit_settings.audit_dir / f"{today}.jsonl").mkdir()
    _assert_refused(factory, AuditLog(audit_settings), "audit_folder_unwritable")


def _drop_events_table(s: Session) -> None:
    s.execute(text("ALTER TABLE audit_events RENAME TO audit_events_gone"))


def _delete_head(s: Session) -> None:
    s.execute(text("DELETE FROM audit_head"))


def _damage_head(s: Session) -> None:
    s.execute(text("UPDATE audit_head SET mac = 'not a mac'"))


def _occupy_next_seq(s: Session) -> None:
    s.execute(
        AuditEvent.__table__.insert().values(
            seq=1, ts=T0, actor="x", actor_roles="", action="auth:sign_in", outcome="allowed",
            mac="0" * 64,
        )
    )


@pytest.mark.parametrize(
    ("breakage", "code"),
    [
        (_drop_events_table, "audit_db_error"),
        (_occupy_next_seq, "audit_forged_row"),
        (_delete_head, "audit_head_missing"),
        (_damage_head, "audit_head_damaged"),
    ],
)
def test_database_failure_refuses(
    factory: sessionmaker[Session], audit: AuditLog, breakage: Any, code: str
) -> None:
    with pytest.raises(AuditUnavailable) as info:
        with db.transaction(factory) as s:
            s.add(Company(code="ACME", name="Acme"))
            s.flush()
            breakage(s)
            audit.record(s, actor="alice", actor_roles="admin", action=Action.ORG_COMPANY_ADD,
                         outcome=Outcome.ALLOWED)
    assert info.value.code == code
    assert count_events(factory) == 0 and _company_count(factory) == 0
    assert verify_db(factory, audit).ok


def test_failed_mirror_write_fails_the_commit_and_is_caught_up(
    audit_settings: Settings, factory: sessionmaker[Session], audit: AuditLog
) -> None:
    write(factory, audit, 2)
    path = audit_settings.audit_dir / "2026-03-01.jsonl"
    saved = path.read_bytes()
    with pytest.raises(AuditUnavailable) as info:
        with db.transaction(factory) as s:
            audit.record(s, actor="alice", actor_roles="", action=Action.DOCUMENT_VIEW,
                         outcome=Outcome.ALLOWED, now=T0 + timedelta(seconds=5))
            path.unlink()
            path.mkdir()  # the mirror write after commit fails
    assert info.value.code == "audit_mirror_failed"
    assert isinstance(info.value, AuditMirrorFailed)  # committed: do not undo
    path.rmdir()
    path.write_bytes(saved)
    assert count_events(factory) == 3  # the event itself is committed
    report = verify_db(factory, audit)
    assert not report.ok and report.first_bad_seq == 3 and "missing from the mirror" in (
        report.problem or ""
    )
    write(factory, audit, 1, start=T0 + timedelta(seconds=9))  # next writer catches up
    assert len(mirror_lines(path)) == 4
    assert verify_db(factory, audit).ok


def test_sync_mirror_rebuilds_a_lost_mirror(
    audit_settings: Settings, factory: sessionmaker[Session], audit: AuditLog
) -> None:
    write(factory, audit, 7)
    before = {p.name: p.read_bytes() for p in audit_settings.audit_dir.iterdir()}
    for p in audit_settings.audit_dir.iterdir():
        p.unlink()
    with db.transaction(factory) as s:
        assert audit.sync_mirror(s) == 8  # 7 events + 1 checkpoint
    after = {p.name: p.read_bytes() for p in audit_settings.audit_dir.iterdir()}
    assert after["2026-03-01.jsonl"] == before["2026-03-01.jsonl"]
    assert after["checkpoints.jsonl"] == before["checkpoints.jsonl"]
    assert verify_db(factory, audit).ok


def test_rolled_back_events_never_reach_the_mirror(
    audit_settings: Settings, factory: sessionmaker[Session], audit: AuditLog
) -> None:
    s = factory()
    try:
        audit.record(s, actor="a", actor_roles="", action=Action.DOCUMENT_VIEW,
                     outcome=Outcome.ALLOWED, now=T0)
        s.rollback()
        audit.record(s, actor="b", actor_roles="", action=Action.DOCUMENT_VIEW,
                     outcome=Outcome.ALLOWED, now=T0)
        sp = s.begin_nested()
        audit.record(s, actor="c", actor_roles="", action=Action.DOCUMENT_VIEW,
                     outcome=Outcome.ALLOWED, now=T0)
        sp.rollback()
        with s.begin_nested():
            audit.record(s, actor="d", actor_roles="", action=Action.DOCUMENT_VIEW,
                         outcome=Outcome.ALLOWED, now=T0)
        sp = s.begin_nested()  # a rolled-back savepoint as the last thing
        audit.record(s, actor="e", actor_roles="", action=Action.DOCUMENT_VIEW,
                     outcome=Outcome.ALLOWED, now=T0)
        sp.rollback()
        s.commit()
        assert audit.after_commit(s) == 0  # already mirrored by commit()
    finally:
        s.close()
    actors = [json.loads(ln)["event"]["actor"] for ln in mirror_lines(day_file(audit_settings))]
    assert actors == ["b", "d"]
    assert verify_db(factory, audit).ok


def test_backwards_clock_across_midnight_keeps_files_in_order(
    audit_settings: Settings, factory: sessionmaker[Session], audit: AuditLog, tmp_path: Path
) -> None:
    midnight = datetime(2026, 3, 2, tzinfo=UTC)
    for now in (midnight - timedelta(seconds=2), midnight + timedelta(milliseconds=1),
                midnight - timedelta(milliseconds=1), midnight + timedelta(seconds=1)):
        write(factory, audit, 1, start=now)
    first = mirror_lines(audit_settings.audit_dir / "2026-03-01.jsonl")
    second = mirror_lines(audit_settings.audit_dir / "2026-03-02.jsonl")
    assert [json.loads(x)["event"]["seq"] for x in first] == [1]
    assert [json.loads(x)["event"]["seq"] for x in second] == [2, 3, 4]
    assert verify_db(factory, audit).ok
    with db.transaction(factory) as s:
        audit.maybe_checkpoint(s, force=True)
    copy = tmp_path / "copy"
    shutil.copytree(audit_settings.audit_dir, copy)
    assert verify_offline(copy, audit.public_key_pem()).ok


# --------------------------------------------------------------------------- secrets, escaping


@pytest.mark.parametrize(
    "detail",
    [{"password": "hunter2"}, {"user": {"api_key": "hunter2"}}, {"token": "hunter2"},
     {"content": b"hunter2"}],
)
def test_secrets_are_refused(
    audit_settings: Settings, factory: sessionmaker[Session], audit: AuditLog,
    detail: dict[str, Any],
) -> None:
    with pytest.raises(ValueError):
        with db.transaction(factory) as s:
            audit.record(s, actor="alice", actor_roles="", action=Action.USER_PASSWORD,
                         outcome=Outcome.ALLOWED, detail=detail)
    assert count_events(factory) == 0
    for p in audit_settings.audit_dir.iterdir():
        assert b"hunter2" not in p.read_bytes()


def test_user_text_is_escaped(
    audit_settings: Settings, factory: sessionmaker[Session], audit: AuditLog
) -> None:
    typed = "eve\r\n{\"event\":{\"seq\":99}}\u2028"
    with db.transaction(factory) as s:
        audit.record(s, actor=typed, actor_roles="", action=Action.AUTH_SIGN_IN_FAILED,
                     outcome=Outcome.DENIED, reason="bad\npassword", source="1.2.3.4\r",
                     detail={"typed_name": typed}, now=T0)
    with db.transaction(factory) as s:
        ev = s.get(AuditEvent, 1)
        assert ev is not None
        assert ev.actor == 'eve\\r\\n{"event":{"seq":99}}\\u2028'
        assert ev.reason == "bad\\npassword" and ev.source == "1.2.3.4\\r"
        assert "\n" not in (ev.detail or "") and "\u2028" not in (ev.detail or "")
    raw = day_file(audit_settings).read_bytes()
    assert raw.count(b"\n") == 1 and b"\r" not in raw and "\u2028".encode() not in raw
    assert verify_db(factory, audit).ok


def test_overlong_typed_name_is_clipped_not_refused(
    factory: sessionmaker[Session], audit: AuditLog
) -> None:
    with db.transaction(factory) as s:
        ev = audit.record(s, actor="x" * 5000, actor_roles="", action=Action.AUTH_SIGN_IN_FAILED,
                          outcome=Outcome.DENIED, request_id="r" * 300)
    assert len(ev.actor) == 200 and ev.actor.endswith("…")
    assert verify_db(factory, audit).ok


def test_unknown_action_or_outcome_is_a_programming_error(
    factory: sessionmaker[Session], audit: AuditLog
) -> None:
    with pytest.raises(ValueError), db.transaction(factory) as s:
        audit.record(s, actor="a", actor_roles="", action="document:steal", outcome="allowed")
    with pytest.raises(ValueError), db.transaction(factory) as s:
        audit.record(s, actor="a", actor_roles="", action="document:view", outcome="maybe")
    assert count_events(factory) == 0


# --------------------------------------------------------------------------- checkpoints


def test_checkpoint_by_time_and_forced(
    audit_settings: Settings, factory: sessionmaker[Session], audit: AuditLog
) -> None:
    write(factory, audit, 2)  # clock starts at T0
    with db.transaction(factory) as s:
        assert audit.maybe_checkpoint(s, T0 + timedelta(minutes=5)) is None
    with db.transaction(factory) as s:
        cp = audit.maybe_checkpoint(s, T0 + timedelta(minutes=10))
        assert cp is not None and cp.seq == 2 and cp.prev_seq == 0
    with db.transaction(factory) as s:
        assert audit.maybe_checkpoint(s, T0 + timedelta(hours=5), force=True) is None  # nothing new
    write(factory, audit, 1, start=T0 + timedelta(minutes=25))  # due by time on append
    with db.transaction(factory) as s:
        assert [c.seq for c in s.scalars(select(AuditCheckpoint))] == [2, 3]
    write(factory, audit, 1, start=T0 + timedelta(minutes=26))
    with db.transaction(factory) as s:
        cp = audit.maybe_checkpoint(s, force=True)
        assert cp is not None and cp.seq == 4
    assert len(mirror_lines(audit_settings.audit_dir / "checkpoints.jsonl")) == 3
    assert verify_db(factory, audit).ok


def test_keys_are_created_once_and_private(audit_settings: Settings) -> None:
    hmac_path = audit_settings.keys_dir / AUDIT_KEY_FILE
    sign_path = audit_settings.keys_dir / SIGNING_KEY_FILE
    before = hmac_path.read_bytes(), sign_path.read_bytes()
    assert AuditLog.init_keys(audit_settings) == []
    assert (hmac_path.read_bytes(), sign_path.read_bytes()) == before
    assert len(before[0]) == 32
    assert hmac_path.stat().st_mode & 0o777 == 0o600
    assert sign_path.stat().st_mode & 0o777 == 0o600
    pem = AuditLog(audit_settings).public_key_pem()
    assert pem.startswith("-----BEGIN PUBLIC KEY-----") and "PRIVATE" not in pem


# --------------------------------------------------------------------------- concurrency


def _thread_writer(
    factory: sessionmaker[Session], audit: AuditLog, who: str, n: int, errors: list[BaseException]
) -> None:
    try:
        for i in range(n):
            with db.transaction(factory) as s:
                audit.record(s, actor=who, actor_roles="staff", action=Action.DOCUMENT_VIEW,
                             outcome=Outcome.ALLOWED, object_type="document", object_id=i)
    except BaseException as exc:  # noqa: BLE001 -- handed to the test thread
        errors.append(exc)


def _check_concurrent_trail(
    audit_settings: Settings, factory: sessionmaker[Session], audit: AuditLog, tmp_path: Path,
    per_writer: dict[str, int],
) -> None:
    total = sum(per_writer.values())
    report = verify_db(factory, audit)
    assert report.ok, report.summary()
    assert report.events == total and report.last_seq == total
    with db.transaction(factory) as s:
        seqs = list(s.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        by_actor = {
            actor: n
            for actor, n in s.execute(
                select(AuditEvent.actor, func.count()).group_by(AuditEvent.actor)
            )
        }
    assert seqs == list(range(1, total + 1))
    assert by_actor == per_writer
    files = sorted(audit_settings.audit_dir.glob("2*.jsonl"))
    lines = [ln for p in files for ln in mirror_lines(p)]
    assert [json.loads(ln)["event"]["seq"] for ln in lines] == list(range(1, total + 1))
    copy = tmp_path / "copy"
    shutil.copytree(audit_settings.audit_dir, copy)
    offline = verify_offline(copy, audit.public_key_pem())
    assert offline.ok, offline.summary()
    assert offline.checkpoints >= total // audit_settings.checkpoint_every - 1


def test_concurrent_threads_never_fork_the_chain(
    audit_settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    settings = replace(audit_settings, checkpoint_every=16)
    factory = db.make_sessionmaker(engine)
    audit = AuditLog(settings)
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_thread_writer, args=(factory, audit, f"t{k}", 50, errors))
        for k in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    _check_concurrent_trail(settings, factory, audit, tmp_path, {f"t{k}": 50 for k in range(4)})


def test_verify_while_writers_append(
    audit_settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    settings = replace(audit_settings, checkpoint_every=16)
    factory = db.make_sessionmaker(engine)
    audit = AuditLog(settings)
    write(factory, audit, 20)
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_thread_writer, args=(factory, audit, f"w{k}", 60, errors))
        for k in range(3)
    ]
    for t in threads:
        t.start()
    reports = []
    while any(t.is_alive() for t in threads):
        reports.append(verify_db(factory, audit))
        time.sleep(0.02)  # on SQLite a verification holds the writer lock
    for t in threads:
        t.join()
    assert not errors, errors
    assert reports and all(r.ok for r in reports), [r.summary() for r in reports if not r.ok]
    final = verify_db(factory, audit)
    assert final.ok and final.events == 200, final.summary()


def _process_writer(url: str, home: str, keys: str, audit_dir: str, who: str, n: int) -> None:
    from vault.config import load_settings

    settings = load_settings(environ={}, home=Path(home), database_url=url, keys_dir=Path(keys),
                             audit_dir=Path(audit_dir), checkpoint_every=16)
    engine = db.make_engine(url)
    factory = db.make_sessionmaker(engine)
    audit = AuditLog(settings)
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_thread_writer, args=(factory, audit, f"{who}-{k}", n, errors))
        for k in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose()
    if errors:
        raise errors[0]


def test_concurrent_processes_never_fork_the_chain(
    audit_settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    settings = replace(audit_settings, checkpoint_every=16)
    ctx = process_context(__name__)
    procs = [
        ctx.Process(
            target=_process_writer,
            args=(settings.database_url, str(settings.home), str(settings.keys_dir),
                  str(settings.audit_dir), f"p{k}", 25),
        )
        for k in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    factory = db.make_sessionmaker(engine)
    _check_concurrent_trail(
        settings, factory, AuditLog(settings), tmp_path,
        {f"p{k}-{j}": 25 for k in range(3) for j in range(2)},
    )


# --------------------------------------------------------------------------- export, knowers


def _seed_for_reading(factory: sessionmaker[Session], audit: AuditLog) -> None:
    rows: list[dict[str, Any]] = [
        {"actor": "alice", "action": Action.DOCUMENT_VIEW, "document_id": 1},
        {"actor": "bob", "action": Action.DOCUMENT_VIEW, "document_id": 1,
         "outcome": Outcome.DENIED, "reason": "no_grant"},
        {"actor": "carol", "action": Action.DOCUMENT_DOWNLOAD, "document_id": 1},
        {"actor": "dave", "action": Action.DOCUMENT_VIEW_METADATA, "document_id": 1},
        {"actor": "erin", "action": Action.COPY_DOWNLOAD, "document_id": 1,
         "object_type": "copy", "object_id": 5},
        {"actor": "=HYPERLINK(\"http://x\")", "action": Action.DOCUMENT_EXPORT, "document_id": 1},
        {"actor": "alice", "action": Action.DOCUMENT_VIEW, "document_id": 2},
        {"actor": "frank", "action": Action.GRANT_CREATE, "document_id": 1,
         "object_type": "grant", "object_id": 3, "detail": {"grantee": "+cmd"}},
    ]
    for i, row in enumerate(rows):
        with db.transaction(factory) as s:
            audit.record(s, **{"actor_roles": "staff", "outcome": Outcome.ALLOWED,
                               "object_type": "document", "object_id": row["document_id"],
                               "now": T0 + timedelta(minutes=i), **row})


def test_knowers_of_a_document(factory: sessionmaker[Session], audit: AuditLog) -> None:
    _seed_for_reading(factory, audit)
    with db.transaction(factory) as s:
        knowers = audit.knowers(s, 1)
        history = audit.history(s, 1)
    assert [(k.actor, k.action) for k in knowers] == [
        ("alice", "document:view"),
        ("carol", "document:download"),
        ("erin", "copy:download"),
        ('=HYPERLINK("http://x")', "document:export"),
    ]
    assert knowers[0].ts == T0
    assert len(history) == 7 and {e.document_id for e in history} == {1}


def test_export_csv_is_filtered_and_spreadsheet_safe(
    factory: sessionmaker[Session], audit: AuditLog
) -> None:
    _seed_for_reading(factory, audit)
    out = io.StringIO()
    progress: list[tuple[int, int]] = []
    with db.transaction(factory) as s:
        n = audit.export(s, "csv", out, document=1,
                         progress=lambda done, total: progress.append((done, total)))
    assert n == 7 and progress[-1] == (7, 7)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 7 and rows[0]["seq"] == "1"
    assert rows[0]["ts"] == "2026-03-01T08:00:00.000000Z"
    assert rows[5]["actor"] == "'=HYPERLINK(\"http://x\")"
    assert json.loads(rows[6]["detail"]) == {"grantee": "+cmd"}  # JSON text starts with "{"
    assert all(len(r["mac"]) == 64 for r in rows)

    for filters, want in [
        ({"actor": "alice"}, 2),
        ({"outcome": "denied"}, 1),
        ({"action": Action.DOCUMENT_VIEW}, 3),
        ({"since": T0 + timedelta(minutes=2), "until": T0 + timedelta(minutes=5)}, 3),
        ({"document": 2}, 1),
    ]:
        with db.transaction(factory) as s:
            assert audit.export(s, "csv", io.StringIO(), **filters) == want, filters


def test_export_jsonl(factory: sessionmaker[Session], audit: AuditLog) -> None:
    _seed_for_reading(factory, audit)
    out = io.StringIO()
    with db.transaction(factory) as s:
        assert audit.export(s, "jsonl", out, actor="alice") == 2
        with pytest.raises(ValueError):
            audit.export(s, "xlsx", io.StringIO())
    docs = [json.loads(ln) for ln in out.getvalue().splitlines()]
    assert [d["seq"] for d in docs] == [1, 7] and all(len(d["mac"]) == 64 for d in docs)



# --------------------------------------------------------------------------- witnesses


def _witness_seqs(path: Path) -> list[int]:
    return [json.loads(line)["seq"] for line in path.read_text().splitlines()]


def test_checkpoint_when_the_last_one_is_older_than_the_interval(
    audit_settings: Settings, factory: sessionmaker[Session]
) -> None:
    audit = AuditLog(replace(audit_settings, checkpoint_every=1000, checkpoint_seconds=60))
    write(factory, audit, 3, start=T0)  # 0, 1, 2 s: no checkpoint
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(AuditCheckpoint)) == 0
        assert audit.maybe_checkpoint(s, T0 + timedelta(seconds=59)) is None
    write(factory, audit, 1, start=T0 + timedelta(seconds=61))  # the clock started at T0
    with db.transaction(factory) as s:
        assert [c.seq for c in s.scalars(select(AuditCheckpoint))] == [4]
    write(factory, audit, 1, start=T0 + timedelta(seconds=100))  # 39 s after the last one
    with db.transaction(factory) as s:
        assert audit.maybe_checkpoint(s, T0 + timedelta(seconds=120)) is None
    with db.transaction(factory) as s:  # the job on a quiet trail
        cp = audit.maybe_checkpoint(s, T0 + timedelta(seconds=122))
        assert cp is not None and cp.seq == 5


def test_every_committed_checkpoint_goes_to_the_witness(
    audit_settings: Settings, factory: sessionmaker[Session], tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mount = tmp_path / "other-mount"
    witness_file = mount / "vault.witness"
    audit = AuditLog(replace(audit_settings, audit_witness_file=witness_file))
    mount.mkdir()
    write(factory, audit, 10)  # checkpoints at 5 and 10
    assert _witness_seqs(witness_file) == [5, 10]
    records = [json.loads(line) for line in witness_file.read_text().splitlines()]
    with db.transaction(factory) as s:
        rows = list(s.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)))
    assert [(r["mac"], r["sig"], r["prev_seq"]) for r in records] == [
        (c.mac, c.signature, c.prev_seq) for c in rows]
    # A rolled-back checkpoint is never witnessed.
    write(factory, audit, 4)
    with pytest.raises(RuntimeError), db.transaction(factory) as s:
        audit.record(s, actor="x", actor_roles=None, action=Action.DOCUMENT_VIEW,
                      outcome=Outcome.ALLOWED, now=T0 + timedelta(seconds=30))
        raise RuntimeError("rolled back")
    assert _witness_seqs(witness_file) == [5, 10]
    # A witness that fails does not stop the action; it is an alarm, caught up by the job.
    witness_file.rename(tmp_path / "moved")
    mount.rmdir()
    with caplog.at_level("CRITICAL", logger="vault.audit"):
        write(factory, audit, 1, start=T0 + timedelta(seconds=40))  # checkpoint 15
    assert count_events(factory) == 15
    assert any("ALARM" in r.message and "witness" in r.message for r in caplog.records)
    mount.mkdir()
    with db.transaction(factory) as s:
        assert audit.witness_catch_up(s) == 1
        assert audit.witness_catch_up(s) == 0
    assert _witness_seqs(witness_file) == [15]


def _truncate(factory: sessionmaker[Session], audit_dir: Path, keep: int) -> None:
    """What someone with write access to the database and audit/ (not the keys) can
    do: remove every event and checkpoint after ``keep``, rewind the head, the
    mirror and its state."""
    with db.transaction(factory) as s:
        mac = s.scalar(select(AuditEvent.mac).where(AuditEvent.seq == keep))
        last_cp = s.scalar(select(func.max(AuditCheckpoint.seq)).where(AuditCheckpoint.seq <= keep))
        s.execute(text("DELETE FROM audit_events WHERE seq > :k"), {"k": keep})
        s.execute(text("DELETE FROM audit_checkpoints WHERE seq > :k"), {"k": keep})
        s.execute(text("UPDATE audit_head SET seq = :k, mac = :m, checkpoint_seq = :c"),
                  {"k": keep, "m": mac, "c": last_cp or 0})
    for path in audit_dir.glob("*.jsonl"):
        kept = [ln for ln in mirror_lines(path)
                if (json.loads(ln).get("event") or json.loads(ln))["seq"] <= keep]
        path.write_bytes(b"".join(ln + b"\n" for ln in kept))
    state = json.loads((audit_dir / "mirror.state").read_text())
    state.update(seq=keep, checkpoint=last_cp or 0)
    (audit_dir / "mirror.state").write_text(json.dumps(state))


def test_truncation_after_a_witnessed_checkpoint_is_caught_only_with_the_witness(
    audit_settings: Settings, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    witness_file = tmp_path / "vault.witness"
    audit = AuditLog(replace(audit_settings, audit_witness_file=witness_file))
    write(factory, audit, 13)  # checkpoints at 5 and 10, witnessed; 11-13 not yet
    public = audit.public_key_pem()
    _truncate(factory, audit_settings.audit_dir, keep=7)
    # The rest is consistent with itself: verification without the witness passes.
    assert verify_db(factory, audit).ok
    assert verify_offline(audit_settings.audit_dir, public).ok
    records = read_witness(witness_file)
    report = verify_db(factory, audit, witnessed=records)
    assert not report.ok and report.first_bad_seq == 8
    assert "the trail ends at event 7, but the witness saw checkpoint 10 (a trail of 10 events" \
        in (report.problem or "")
    offline = verify_offline(audit_settings.audit_dir, public, witnessed=records)
    assert not offline.ok and offline.first_bad_seq == 8 and "checkpoint 10" in (
        offline.problem or "")


def test_what_the_witness_cannot_see_the_unwitnessed_tail(
    audit_settings: Settings, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    witness_file = tmp_path / "vault.witness"
    audit = AuditLog(replace(audit_settings, audit_witness_file=witness_file))
    write(factory, audit, 13)
    _truncate(factory, audit_settings.audit_dir, keep=11)  # 12-13 were never witnessed
    report = verify_db(factory, audit, witnessed=read_witness(witness_file))
    assert report.ok, report.summary()
    assert any("not witnessed yet" in n for n in report.notes)
    # A rewritten witnessed checkpoint is named.
    with db.transaction(factory) as s:
        s.execute(text("DELETE FROM audit_checkpoints WHERE seq = 10"))
    report = verify_db(factory, audit, mirror=False, witnessed=read_witness(witness_file))
    assert any("witnessed checkpoint 10" in p.message and "missing" in p.message
               for p in report.problems), report.summary()
