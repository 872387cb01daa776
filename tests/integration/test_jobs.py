"""`vault jobs run`: every job under a lease in ``job_runs``, on SQLite and PostgreSQL.

The must-show: two real `vault jobs run` processes, released at the same moment
against the same database, declassify each expired document exactly once (one
``document:declassify`` event each) and leave an audit chain that verifies. Then the
lease itself (held: skipped; run out: taken over), expiry notices that are never
repeated, overdue loans, mail retries, audit checkpoints, and a failing job that
does not stop the others.
"""

from __future__ import annotations

import dataclasses
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from vault import db
from vault.actions import Action, Outcome
from vault.audit.models import AuditEvent
from vault.cli import main
from vault.errors import InvalidInput
from vault.models import Document, JobRun, Notification, User
from vault.policy import Category, CopyKind, Level, Period
from vault.services import accounts, copies, documents, jobs, samples
from vault.services.context import Infra, unit_of_work

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def register(infra: Infra, title: str, *, level: Level = Level.SECRET,
             period: Period | None = None, issued_on: date | None = None,
             registrant: str = "clerk", supervisor: str = "boss",
             now: datetime = NOW) -> int:
    with unit_of_work(infra, registrant, now) as ctx:
        return documents.register(
            ctx, title=title, category=Category.CONTRACT, level=level, period=period,
            issued_on=issued_on, supervisor=accounts.get_user(ctx.session, supervisor),
            content=io.BytesIO(samples.pdf_pages(title)), filename="doc.pdf",
        ).id


def events(infra: Infra, action: Action, **where: Any) -> list[AuditEvent]:
    with infra.sessions() as s:
        stmt = select(AuditEvent).where(AuditEvent.action == action.value)
        for name, value in where.items():
            stmt = stmt.where(getattr(AuditEvent, name) == value)
        return list(s.scalars(stmt.order_by(AuditEvent.seq)))


def notes_of(infra: Infra, username: str, kind: str | None = None) -> list[Notification]:
    with infra.sessions() as s:
        stmt = select(Notification).join(User).where(User.username == username)
        if kind is not None:
            stmt = stmt.where(Notification.kind == kind)
        return list(s.scalars(stmt.order_by(Notification.id)))


def chain_ok(infra: Infra) -> None:
    with infra.readonly_sessions()() as s:
        report = infra.audit.verify_database(s)
    assert report.ok, report.summary()


# ---------------------------------------------------------------------------
# Two real processes at once


CHILD = """
import os, sys, time
from vault.cli import main
from vault.services import jobs
ready, go, mark, overlap = sys.argv[1:5]
if overlap == "1":
    # Test hook: hold the declassify lease until the test has seen the other runner
    # ask for it, so that the two runs overlap whatever the timing.
    taken = jobs.acquire
    def acquire(infra, name, holder, now, lease):
        got = taken(infra, name, holder, now, lease)
        if name == "declassify":
            open(f"{mark}-{got}", "w").close()
            while got and not os.path.exists(go + ".release"):
                time.sleep(0.005)
        return got
    jobs.acquire = acquire
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.005)
sys.argv = ["vault", "jobs", "run"]
main()
"""


def _wait_for(procs: list[subprocess.Popen[str]], ready: Callable[[], bool]) -> None:
    """Wait until ``ready()``; a child that ends meanwhile fails the test with its output."""
    while not ready():
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.01)


@pytest.mark.parametrize("overlap", [False, True], ids=["free", "overlapping"])
def test_two_runners_at_once_declassify_each_document_exactly_once(
        org: Infra, tmp_path: Path, overlap: bool) -> None:
    """Two real `vault jobs run` processes, released at the same moment. "free": as
    they come (the second usually finds nothing left); "overlapping": the first holds
    the declassify lease until the second has asked for it and been refused."""
    now = datetime.now(UTC)
    past = (now - timedelta(days=400)).date()
    expired = [register(org, f"到期合同 {i}", period=Period(years=1), issued_on=past, now=now)
               for i in range(6)]
    expired.append(register(org, "到期纪要", level=Level.CONFIDENTIAL,
                            period=Period(until=past + timedelta(days=30)), issued_on=past,
                            now=now))
    running = register(org, "仍在期内", period=Period(years=10), now=now)
    env = {**os.environ, "VAULT_HOME": str(org.settings.home),
           "VAULT_DATABASE_URL": org.settings.database_url}
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path / f"ready{i}"), str(go),
             str(tmp_path / f"asked{i}"), "1" if overlap else "0"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    # Both have imported everything and wait at the line; then both start at once.
    _wait_for(procs, lambda: all((tmp_path / f"ready{i}").exists() for i in range(2)))
    go.touch()
    if overlap:
        _wait_for(procs, lambda: len(list(tmp_path.glob("asked*-*"))) == 2)
        asked = sorted(p.name.split("-")[1] for p in tmp_path.glob("asked*-*"))
        assert asked == ["False", "True"]  # one lease, one runner
        Path(f"{go}.release").touch()
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, (out, err)
        assert len(out.splitlines()) == len(jobs.JOBS), out
    # Between them, the runners declassified every expired file once: one ran the
    # job and the other skipped it (or found nothing left to do).
    lines = [ln.split() for out, _ in outputs for ln in out.splitlines()
             if ln.startswith("declassify ")]
    possible = [["ran", "skipped"]] if overlap else [["ran", "skipped"], ["ran", "ran"]]
    assert sorted(ln[1] for ln in lines) in possible
    assert sum(int(ln[2].split("=")[1]) for ln in lines if ln[1] == "ran") == len(expired)
    with org.sessions() as s:
        levels = {d.id: d.level for d in s.scalars(select(Document))}
    assert all(levels[i] == Level.INTERNAL.value for i in expired)
    assert levels[running] == Level.SECRET.value
    declassified = events(org, Action.DOCUMENT_DECLASSIFY)
    assert sorted(int(e.object_id or 0) for e in declassified) == sorted(expired)
    assert {e.actor for e in declassified} == {"system"}
    runs = events(org, Action.JOB_RUN, object_id="declassify")
    assert [e.outcome for e in runs if e.outcome != Outcome.ALLOWED.value] == []
    chain_ok(org)


# ---------------------------------------------------------------------------
# The lease


def test_a_held_lease_is_skipped_and_a_run_out_lease_taken_over(org: Infra) -> None:
    doc = register(org, "到期合同", period=Period(years=1), issued_on=date(2025, 6, 1))
    with db.transaction(org.sessions) as s:
        s.add(JobRun(name="declassify", holder="other-server:42",
                     locked_until=NOW + timedelta(minutes=5)))
    (result,) = jobs.run(org, ["declassify"], now=NOW, holder="me")
    assert (result.status, result.holder) == ("skipped", "other-server:42")
    assert result.summary() == "held by other-server:42"
    with org.sessions() as s:
        assert s.get(Document, doc).level == Level.SECRET.value  # type: ignore[union-attr]
    assert events(org, Action.DOCUMENT_DECLASSIFY) == []
    # The other server died: once its lease runs out, the next runner takes over.
    later = NOW + timedelta(minutes=6)
    (result,) = jobs.run(org, ["declassify"], now=later, holder="me")
    assert (result.status, result.counts) == ("ran", {"declassified": 1})
    with org.sessions() as s:
        row = s.get(JobRun, "declassify")
        assert row is not None
        assert (row.holder, row.locked_until) == ("me", None)
        assert row.last_started_at == later and row.last_finished_at == later
        assert row.last_result == "ran: declassified=1"
        assert s.get(Document, doc).level == Level.INTERNAL.value  # type: ignore[union-attr]
    (event,) = events(org, Action.JOB_RUN, object_id="declassify")
    assert (event.actor, event.outcome, event.reason) == ("system", "allowed", "ran")
    assert '"declassified":1' in (event.detail or "")
    # Idempotent: again, nothing more.
    (result,) = jobs.run(org, ["declassify"], now=later + timedelta(minutes=1))
    assert result.counts == {"declassified": 0}
    assert len(events(org, Action.DOCUMENT_DECLASSIFY)) == 1


def test_the_lease_is_atomic(org: Infra) -> None:
    """Of two runners asking for a free lease, one gets it; a held lease is refused
    until it runs out, and only its holder gives it back."""
    lease = timedelta(minutes=15)
    assert jobs.acquire(org, "mail", "a", NOW, lease) is True
    assert jobs.acquire(org, "mail", "b", NOW, lease) is False
    assert jobs.acquire(org, "mail", "b", NOW + lease - timedelta(seconds=1), lease) is False
    jobs.release(org, "mail", "b", "ran: not mine", NOW)  # not b's: nothing changes
    assert jobs.acquire(org, "mail", "b", NOW, lease) is False
    jobs.release(org, "mail", "a", "ran: sent=0", NOW)
    assert jobs.acquire(org, "mail", "b", NOW, lease) is True
    assert jobs.acquire(org, "mail", "c", NOW + lease + timedelta(seconds=1), lease) is True
    with org.sessions() as s:
        assert s.scalar(select(func.count()).select_from(JobRun)) == 1


# ---------------------------------------------------------------------------
# Expiry notices


def test_expiry_notices_reach_drafter_and_supervisor_once(org: Infra) -> None:
    # Ends (declassifies) at 00:00 of 2026-12-17, group time: 20 days ahead.
    soon = register(org, "将到期合同", period=Period(until=date(2026, 12, 16)),
                    issued_on=date(2025, 1, 1))
    far = register(org, "远期合同", period=Period(years=10))
    for _ in range(2):
        (result,) = jobs.run(org, ["expiry_notices"], now=NOW)
        assert result.status == "ran"
    for person in ("clerk", "boss"):
        (note,) = notes_of(org, person, "period_ending")
        assert note.document_id == soon and note.link == f"/documents/{soon}"
        assert "2026-12-17" in note.subject_zh and "将到期合同" in note.subject_zh
        assert "declassifies itself on 2026-12-17" in note.subject_en
    assert notes_of(org, "manager") == []
    # On the day the period ends (the declassify job materialises it first).
    day = datetime(2026, 12, 16, 16, 30, tzinfo=UTC)  # 00:30 on 17 December, UTC+8
    results = {r.name: r for r in jobs.run(org, ["declassify", "expiry_notices"], now=day)}
    assert results["declassify"].counts == {"declassified": 1}
    assert results["expiry_notices"].counts == {"ending_soon": 0, "ended": 1, "notices": 2}
    (result,) = jobs.run(org, ["expiry_notices"], now=day + timedelta(hours=1))
    assert result.counts == {"ending_soon": 0, "ended": 0, "notices": 0}
    for person in ("clerk", "boss"):
        assert [n.document_id for n in notes_of(org, person, "period_ended")] == [soon]
        assert [n.document_id for n in notes_of(org, person)] == [soon, soon]
    assert far not in {n.document_id for n in notes_of(org, "clerk")}


def test_a_changed_period_gets_notices_of_its_own(org: Infra) -> None:
    doc = register(org, "延期合同", period=Period(until=date(2026, 12, 16)),
                   issued_on=date(2025, 1, 1))
    jobs.run(org, ["expiry_notices"], now=NOW)
    with unit_of_work(org, "gm", NOW) as ctx:  # extended by the approving office
        documents.change_classification(ctx, doc, period=Period(until=date(2026, 12, 20)))
    jobs.run(org, ["expiry_notices"], now=NOW + timedelta(hours=1))
    subjects = [n.subject_en for n in notes_of(org, "boss", "period_ending")]
    assert len(subjects) == 2
    assert "2026-12-17" in subjects[0] and "2026-12-21" in subjects[1]


def test_nobody_is_told_of_a_file_outside_their_scope(org: Infra) -> None:
    """A top-secret file's supervisor may not know of it: only its registrant hears — and
    the HQ executives, who alone can extend a 绝密 period (issue 11)."""
    register(org, "绝密方案", level=Level.TOP_SECRET, period=Period(until=date(2026, 12, 1)),
             issued_on=date(2025, 1, 1), registrant="ceo", supervisor="ceo")
    register(org, "绝密协议", level=Level.TOP_SECRET, period=Period(until=date(2026, 12, 1)),
             issued_on=date(2025, 1, 1), registrant="clerk", supervisor="boss")
    jobs.run(org, ["expiry_notices"], now=NOW)
    assert len(notes_of(org, "ceo", "period_ending")) == 2
    assert len(notes_of(org, "clerk", "period_ending")) == 1
    assert notes_of(org, "boss") == []


# ---------------------------------------------------------------------------
# Overdue loans, mail, checkpoints


def test_an_overdue_loan_is_announced_once_to_borrower_and_custodians(org: Infra) -> None:
    with unit_of_work(org, "boss", NOW) as ctx:
        doc = documents.register(
            ctx, title="营业执照", category=Category.BUSINESS_LICENCE, level=Level.INTERNAL,
            content=io.BytesIO(samples.png_card("营业执照")), filename="scan.png").id
    with unit_of_work(org, "clerk", NOW) as ctx:
        req = copies.request(ctx, doc, CopyKind.LEND, "工商年检", due_on=date(2026, 12, 5)).id
    with unit_of_work(org, "gm", NOW) as ctx:
        copies.approve(ctx, req)
    with unit_of_work(org, "keeper", NOW) as ctx:
        (loan,) = copies.loans(ctx)
        copies.hand_over(ctx, loan.id)
    (result,) = jobs.run(org, ["loans_overdue"], now=datetime(2026, 12, 5, 10, tzinfo=UTC))
    assert result.counts == {"overdue": 0, "notices": 0}  # due today: not late yet
    late = datetime(2026, 12, 6, 2, tzinfo=UTC)
    for _ in range(2):
        jobs.run(org, ["loans_overdue"], now=late)
    (mine,) = notes_of(org, "clerk", "loan_overdue")
    assert mine.link == f"/copies/{req}" and "2026-12-05" in mine.subject_zh
    (keepers,) = notes_of(org, "keeper", "loan_overdue")
    assert keepers.link == "/registers/loans?overdue=1" and "clerk" in keepers.subject_en
    with unit_of_work(org, "keeper", late) as ctx:
        copies.return_loan(ctx, loan.id)
    (result,) = jobs.run(org, ["loans_overdue"], now=late + timedelta(days=1))
    assert result.counts == {"overdue": 0, "notices": 0}


class _Keep:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self, received: list[Any]) -> None:
        self.received = received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.append(envelope)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_mail_job_sends_what_failed_before(org: Infra) -> None:
    from aiosmtpd.controller import Controller

    from vault.services import notifications

    port, received = _free_port(), []
    mailing = dataclasses.replace(
        org, settings=dataclasses.replace(org.settings, smtp_host="127.0.0.1", smtp_port=port))
    with db.transaction(org.sessions) as s:
        accounts.get_user(s, "clerk").email = "clerk@example.com"
    now = datetime.now(UTC)
    with unit_of_work(mailing, None, now) as ctx:  # no server listening yet: kept pending
        notifications.notify(ctx, [accounts.get_user(ctx.session, "clerk")],
                             notifications.Message("test", "测试", "Test"))
    assert received == []
    server = Controller(_Keep(received), hostname="127.0.0.1", port=port)
    server.start()
    try:
        (result,) = jobs.run(mailing, ["mail"], now=now + timedelta(minutes=5))
    finally:
        server.stop()
    assert (result.status, result.counts) == ("ran", {"sent": 1})
    assert [e.rcpt_tos for e in received] == [["clerk@example.com"]]
    (result,) = jobs.run(mailing, ["mail"], now=now + timedelta(minutes=10))
    assert result.counts == {"sent": 0}



def test_the_checkpoint_job_fills_the_mirror_and_signs_when_due(org: Infra) -> None:
    register(org, "合同")
    mirror = org.settings.audit_dir
    lines = sorted(mirror.glob("*.jsonl"))
    assert lines
    kept = {p: p.read_bytes() for p in lines}
    for p in lines:  # the mirror lost its lines (a failed write): the job catches up
        p.unlink()
    (org.settings.audit_dir / "mirror.state").unlink()
    (result,) = jobs.run(org, ["audit_checkpoint"], now=NOW + timedelta(seconds=30))
    assert result.counts["mirrored"] >= 1
    assert result.counts["checkpoint_seq"] == 0  # not due within a minute
    for p, data in kept.items():
        assert p.read_bytes().startswith(data)
    (result,) = jobs.run(org, ["audit_checkpoint"], now=NOW + timedelta(minutes=2))
    assert result.counts["checkpoint_seq"] > 0
    chain_ok(org)


# ---------------------------------------------------------------------------
# Failures and the command line


def test_a_failing_job_is_recorded_and_does_not_stop_the_others(
        org: Infra, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(ctx: Any) -> dict[str, int]:
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(jobs.JOBS, "expiry_notices",  # type: ignore[index]
                        jobs.Job("expiry_notices", boom))
    doc = register(org, "到期合同", period=Period(years=1), issued_on=date(2025, 6, 1))
    results = jobs.run(org, now=NOW)
    assert [r.name for r in results] == list(jobs.JOBS)
    status = {r.name: r.status for r in results}
    assert status.pop("expiry_notices") == "failed"
    assert set(status.values()) == {"ran"}
    with org.sessions() as s:
        assert s.get(Document, doc).level == Level.INTERNAL.value  # type: ignore[union-attr]
        row = s.get(JobRun, "expiry_notices")
        assert row is not None and row.locked_until is None
        assert row.last_result == "failed: RuntimeError: disk on fire"
    (failed,) = events(org, Action.JOB_RUN, outcome=Outcome.FAILED.value)
    assert (failed.object_id, failed.reason) == ("expiry_notices", "failed")
    assert "disk on fire" in (failed.detail or "")
    # The command line says so and exits 1.
    res = CliRunner().invoke(main, ["jobs", "run", "--only", "expiry_notices", "--only",
                                    "declassify"], env=_env(org))
    assert res.exit_code == 1, res.output
    out = res.output.splitlines()
    assert out[0].split()[:3] == ["declassify", "ran", "declassified=0"]
    assert out[1].startswith("expiry_notices    failed   RuntimeError: disk on fire")
    chain_ok(org)


def _env(infra: Infra) -> dict[str, str]:
    return {"VAULT_HOME": str(infra.settings.home),
            "VAULT_DATABASE_URL": infra.settings.database_url}


def test_cli_run_quiet_status_and_unknown_names(org: Infra) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["jobs", "status"], env=_env(org))
    assert res.exit_code == 0, res.output
    assert res.output.startswith("declassify        never run")
    res = runner.invoke(main, ["jobs", "run", "--quiet"], env=_env(org))
    assert (res.exit_code, res.output) == (0, "")  # nothing to do, nothing said
    res = runner.invoke(main, ["jobs", "status"], env=_env(org))
    assert res.exit_code == 0
    assert "declassify        started " in res.output
    assert "ran: declassified=0" in res.output and "never run" not in res.output
    res = runner.invoke(main, ["jobs", "status", "--json"], env=_env(org))
    assert res.exit_code == 0
    assert '"running": false' in res.output
    res = runner.invoke(main, ["jobs", "run", "--only", "coffee"], env=_env(org))
    assert res.exit_code == 2
    assert "Unknown job 'coffee'; jobs are: declassify, expiry_notices" in res.output
    with pytest.raises(InvalidInput):
        jobs.parse_names(["declassify", "coffee"])
    assert jobs.parse_names(["mail", "declassify", "mail"]) == ["declassify", "mail"]


def test_a_database_that_refuses_the_lease_fails_that_job_only(
        org: Infra, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    taken = jobs.acquire

    def acquire(infra: Infra, name: str, *args: Any) -> bool:
        if name == "mail":
            raise OperationalError("UPDATE job_runs", {}, Exception("server closed"))
        return taken(infra, name, *args)

    monkeypatch.setattr(jobs, "acquire", acquire)
    results = {r.name: r for r in jobs.run(org, now=NOW)}
    assert results.pop("mail").status == "failed"
    assert {r.status for r in results.values()} == {"ran"}

