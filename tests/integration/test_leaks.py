"""Leak reports through the service (SQLite and PostgreSQL), over real storage, keys
and audit: the trace (knowers, registered copies and their holders, loans), the
notification of every HQ executive (inbox, and mail through a loopback SMTP
server), the same answer for a known and an unknown copy number, who reads what,
handling and the 24-hour deadline — and that nothing deletes an incident. The CLI
(`vault leaks …`) runs at the end against the same database."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import io
import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner, Result
from snapshots import Snapshot, in_one_transaction  # noqa: I001 - tests/snapshots.py
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vault import db
from vault.actions import Action
from vault.audit.models import AuditEvent
from vault.cli import main
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import LeakReport, Notification, User
from vault.policy import Category, CopyKind, Level
from vault.services import accounts, copies, documents, leaks, viewer
from vault.services.context import Infra, unit_of_work

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
TITLE = "C座物业服务合同"
#: Found on a page outside; no register has it.
UNKNOWN_NUMBER = "秘密-2026-9999 副本 7"


def _add_vp_and_addresses(s: Session) -> None:
    accounts.add_user(s, "vp", "vp", "HQ", "OFF", accounts.parse_roles("hq_executive"),
                      "pw-" * 6 + "violet kettle", email="vp@example.test")
    for user in s.scalars(select(User).where(User.username.in_(["ceo", "gm", "boss"]))):
        user.email = f"{user.username}@example.test"


# Built once per session and database kind on tests/conftest.py's `org`; copied per test.
SNAPSHOT = Snapshot("leaks-group", in_one_transaction(_add_vp_and_addresses), base="org")


@pytest.fixture
def group(snapshot_url: str, org: Infra) -> Infra:
    """The small organisation plus a second HQ executive, and addresses for some."""
    return org


@dataclasses.dataclass
class Scene:
    doc: int
    labels: dict[str, str]  # holder -> copy label
    loan: int


def _scene(infra: Infra) -> Scene:
    """A confidential SZ contract (content and paper original) read by its supervisor,
    with two registered copies (clerk, manager: asked, approved by the GM, downloaded)
    and one loan of the original (clerk, handed over by the custodian)."""
    with unit_of_work(infra, "boss", NOW) as ctx:
        doc = documents.register(ctx, title=TITLE, category=Category.CONTRACT,
                                 level=Level.CONFIDENTIAL, paper_original=True,
                                 content=io.BytesIO(b"Service fee: 12 yuan/m2.\n"),
                                 filename="contract.txt").id
    with unit_of_work(infra, "boss", NOW + timedelta(minutes=1)) as ctx:
        viewer.open_viewer(ctx, doc)
    labels = {}
    for i, holder in enumerate(("clerk", "manager")):
        at = NOW + timedelta(minutes=10 * (i + 1))
        with unit_of_work(infra, holder, at) as ctx:
            req = copies.request(ctx, doc, CopyKind.COPY, "核对条款").id
        with unit_of_work(infra, "gm", at + timedelta(minutes=1)) as ctx:
            copies.approve(ctx, req)
        with unit_of_work(infra, holder, at + timedelta(minutes=2)) as ctx:
            labels[holder] = copies.download(ctx, req).copy.label
    with unit_of_work(infra, "clerk", NOW + timedelta(minutes=40)) as ctx:
        req = copies.request(ctx, doc, CopyKind.LEND, "现场核对原件",
                             due_on=date(2026, 12, 4)).id
    with unit_of_work(infra, "gm", NOW + timedelta(minutes=41)) as ctx:
        copies.approve(ctx, req)
    with unit_of_work(infra, "keeper", NOW + timedelta(minutes=42)) as ctx:
        loan = copies.loans(ctx)[0].id
        copies.hand_over(ctx, loan)
    return Scene(doc, labels, loan)


def _report(infra: Infra, who: str, at: datetime = NOW + timedelta(hours=1),
            **kw: Any) -> int:
    kw.setdefault("description", "在小区门口捡到一页复印件")
    with unit_of_work(infra, who, at) as ctx:
        return leaks.report(ctx, **kw).id


def _inbox(infra: Infra) -> dict[str, list[Notification]]:
    with infra.sessions() as s:
        out: dict[str, list[Notification]] = {}
        for note, username in s.execute(
                select(Notification, User.username).join(User, Notification.user_id == User.id)
                .order_by(Notification.id)):
            out.setdefault(username, []).append(note)
        return out


def _events(infra: Infra, action: Action) -> list[AuditEvent]:
    with infra.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action.value)
                              .order_by(AuditEvent.seq)))


# ---------------------------------------------------------------------------
# Reporting and the trace


def test_report_by_copy_number_traces_knowers_copies_and_loans(group: Infra) -> None:
    scene = _scene(group)
    # The accountant (SZ finance) may not know of the contract, yet reports the number
    # on a page found outside; it leads to the manager's copy.
    leak_id = _report(group, "accountant", copy_number=scene.labels["manager"])
    with group.sessions() as s:
        leak = s.get(LeakReport, leak_id)
        assert leak is not None
        assert leak.document_id == scene.doc and leak.copy_id is not None
        assert leak.copy_number == scene.labels["manager"]
        assert leak.status == "open"
        assert leak.reported_at == NOW + timedelta(hours=1)
        assert leak.deadline_at == NOW + timedelta(hours=25)
        snap = json.loads(leak.trace_json or "")
    assert snap["document"]["id"] == scene.doc and snap["document"]["title"] == TITLE
    # Every registered copy and its holder, with the approver and the time.
    assert [(c["label"], c["recipient"]["username"], c["approved_by"]["username"], c["status"])
            for c in snap["copies"]] == [
        (scene.labels["clerk"], "clerk", "gm", "issued"),
        (scene.labels["manager"], "manager", "gm", "issued")]
    assert [c["issued_at"] for c in snap["copies"]] == [
        (NOW + timedelta(minutes=12)).isoformat(), (NOW + timedelta(minutes=22)).isoformat()]
    # Everyone who came to know the content, with times.
    knowers = {k["username"]: k for k in snap["knowers"]}
    assert set(knowers) == {"boss", "clerk", "manager"}
    assert knowers["boss"]["actions"] == [Action.DOCUMENT_VIEW.value]
    assert knowers["boss"]["first_at"] == (NOW + timedelta(minutes=1)).isoformat()
    assert knowers["clerk"]["actions"] == [Action.COPY_DOWNLOAD.value]
    assert knowers["manager"]["last_at"] == (NOW + timedelta(minutes=22)).isoformat()
    assert [(e["username"], e["action"]) for e in snap["events"]] == [
        ("boss", "document:view"), ("clerk", "copy:download"), ("manager", "copy:download")]
    # Every loan, with its times.
    assert [(x["borrower"]["username"], x["state"], x["due_on"], x["lent_at"])
            for x in snap["loans"]] == [
        ("clerk", "lent", "2026-12-04", (NOW + timedelta(minutes=42)).isoformat())]
    # Audited, with what the number led to.
    (event,) = _events(group, Action.LEAK_REPORT)
    assert (event.actor, event.outcome, event.document_id) == ("accountant", "allowed",
                                                                scene.doc)
    assert json.loads(event.detail or "{}")["copy"] == scene.labels["manager"]


def test_every_hq_executive_is_notified_at_once_and_nobody_else(group: Infra) -> None:
    scene = _scene(group)
    before = _inbox(group)
    leak_id = _report(group, "clerk", document_id=scene.doc)
    new = {who: [n for n in notes if n.kind == "leak_report"]
           for who, notes in _inbox(group).items()}
    assert {who for who, notes in new.items() if notes} == {"ceo", "vp"}
    for who in ("ceo", "vp"):
        (note,) = new[who]
        assert note.link == f"/leaks/{leak_id}" and note.document_id == scene.doc
        assert note.created_at == NOW + timedelta(hours=1) and note.read_at is None
        assert TITLE in note.subject_zh and "泄密报告" in note.subject_zh
        assert TITLE in note.subject_en and "Leak report" in note.subject_en
    # The GM, the custodian, compliance and the reporter get nothing from it.
    for who in ("gm", "keeper", "auditor", "clerk", "boss"):
        assert len(_inbox(group).get(who, [])) == len(before.get(who, []))


def test_an_hq_executive_role_outside_hq_is_not_notified(group: Infra) -> None:
    # The role counts only at HQ; a deactivated executive is not told either.
    with db.transaction(group.sessions) as s:
        accounts.add_user(s, "exvp", "exvp", "HQ", "OFF", accounts.parse_roles("hq_executive"),
                          "pw-" * 6 + "violet kettle")
        s.flush()
        user = s.scalar(select(User).where(User.username == "exvp"))
        assert user is not None
        user.active = False
    with unit_of_work(group, "clerk", NOW) as ctx:
        assert [u.username for u in leaks.hq_executives(ctx)] == ["ceo", "vp"]
    _report(group, "clerk", copy_number=UNKNOWN_NUMBER)
    assert {who for who, notes in _inbox(group).items()
            if any(n.kind == "leak_report" for n in notes)} == {"ceo", "vp"}


def test_unknown_copy_number_is_answered_like_a_known_one(group: Infra) -> None:
    scene = _scene(group)
    at = NOW + timedelta(hours=1)
    known = _report(group, "accountant", copy_number=scene.labels["clerk"])
    unknown = _report(group, "accountant", copy_number=UNKNOWN_NUMBER)
    answers = []
    for leak_id in (known, unknown):
        with unit_of_work(group, "accountant", at) as ctx:
            view = leaks.show(ctx, leak_id)
            seen = leaks.receipt(view.report, ctx.now)
            assert (view.full, view.snapshot, view.live, view.may_handle) == (
                False, None, None, False)
        seen.pop("id")
        seen.pop("copy_number")
        answers.append(seen)
    assert answers[0] == answers[1]
    assert answers[0]["document"] is None and answers[0]["by"] == "copy_number"
    # Both reach the HQ executives; the unknown one says so to them.
    subjects = [n.subject_en for n in _inbox(group)["ceo"] if n.kind == "leak_report"]
    assert len(subjects) == 2
    assert scene.labels["clerk"] in subjects[0] and "received by clerk" in subjects[0]
    assert "not in any register" in subjects[1]
    with group.sessions() as s:
        row = s.get(LeakReport, unknown)
        assert row is not None and row.document_id is None and row.copy_id is None
        assert json.loads(row.trace_json or "")["copies"] == []


def test_bad_reports_are_refused_and_store_nothing(group: Infra) -> None:
    scene = _scene(group)
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"document_id": scene.doc, "copy_number": scene.labels["clerk"]}, InvalidInput,
         "leak_target_required"),
        ({"document_id": 2**31}, InvalidInput, "bad_document"),
        ({"copy_number": "not a number"}, InvalidInput, "bad_copy_number"),
        ({"copy_number": "x" * 101 + " 1-2"}, InvalidInput, "bad_copy_number"),
        ({"document_id": scene.doc, "description": "  "}, InvalidInput,
         "description_required"),
        ({"document_id": scene.doc, "description": "a\x00b"}, InvalidInput,
         "bad_description"),
        ({"document_id": scene.doc, "description": "x" * 4001}, InvalidInput,
         "bad_description"),
    ]
    for kw, error, code in cases:
        kw.setdefault("description", "发现外泄")
        with pytest.raises(error) as caught, unit_of_work(group, "outsider", NOW) as ctx:
            leaks.report(ctx, **kw)
        assert caught.value.code == code, kw  # type: ignore[attr-defined]
    with group.sessions() as s:
        assert s.scalar(select(func.count(LeakReport.id))) == 0
    # (A document outside the reporter's scope, or none at all, is reported like any:
    # tests/integration/test_rules_at_use.py.)


# ---------------------------------------------------------------------------
# Reading, handling, the deadline, no deletion


def test_who_reads_what(group: Infra) -> None:
    scene = _scene(group)
    leak_id = _report(group, "clerk", document_id=scene.doc)
    at = NOW + timedelta(hours=2)
    # The reporter: their own report, no trace; handling is not theirs.
    with unit_of_work(group, "clerk", at) as ctx:
        mine = leaks.show(ctx, leak_id)
        assert (mine.full, mine.snapshot, mine.live, mine.may_handle) == (
            False, None, None, False)
        assert leaks.receipt(mine.report, at)["document"] == scene.doc
    # Anyone else but the investigators: as if there were no report.
    for who in ("boss", "gm", "keeper", "root", "outsider"):
        with pytest.raises(NotFound), unit_of_work(group, who, at) as ctx:
            leaks.show(ctx, leak_id)
    # A view after the report shows in the live trace, not in the snapshot.
    with unit_of_work(group, "manager", at) as ctx:
        viewer.open_viewer(ctx, scene.doc)
    for who, may_handle in (("ceo", True), ("vp", True), ("auditor", False)):
        with unit_of_work(group, who, at + timedelta(minutes=1)) as ctx:
            view = leaks.show(ctx, leak_id)
            assert view.full and view.may_handle is may_handle
            assert view.snapshot is not None and view.live is not None
            assert view.live["events_total"] == view.snapshot["events_total"] + 1 == 4
            assert [(e["username"], e["action"]) for e in view.live["events"]][-1] == (
                "manager", "document:view")
            assert view.live["copies"] == view.snapshot["copies"]
            assert view.state == "open"
    views = [e for e in _events(group, Action.LEAK_VIEW) if e.object_id == str(leak_id)]
    assert [(e.actor, e.outcome) for e in views] == [
        ("clerk", "allowed"), ("boss", "denied"), ("gm", "denied"), ("keeper", "denied"),
        ("root", "denied"), ("outsider", "denied"), ("ceo", "allowed"), ("vp", "allowed"),
        ("auditor", "allowed")]


def test_lists(group: Infra) -> None:
    scene = _scene(group)
    first = _report(group, "clerk", document_id=scene.doc)
    second = _report(group, "accountant", copy_number=UNKNOWN_NUMBER)
    with unit_of_work(group, "ceo", NOW + timedelta(hours=2)) as ctx:
        assert [x.id for x in leaks.list_reports(ctx)] == [second, first]
        leaks.handle(ctx, first, "已收回复印件")
    with unit_of_work(group, "auditor", NOW + timedelta(hours=2)) as ctx:
        assert [x.id for x in leaks.list_reports(ctx)] == [second, first]
        assert [x.id for x in leaks.list_reports(ctx, open_only=True)] == [second]
    with unit_of_work(group, "clerk", NOW + timedelta(hours=2)) as ctx:
        assert [x.id for x in leaks.list_reports(ctx)] == [first]
    with unit_of_work(group, "gm", NOW + timedelta(hours=2)) as ctx:
        assert leaks.list_reports(ctx) == []


def test_handling_and_the_deadline(group: Infra) -> None:
    scene = _scene(group)
    on_time = _report(group, "clerk", document_id=scene.doc)
    late = _report(group, "clerk", copy_number=scene.labels["manager"])
    at = NOW + timedelta(hours=2)
    # Only an HQ executive handles; the reporter may not even see whose it is.
    with pytest.raises(Forbidden) as caught, unit_of_work(group, "auditor", at) as ctx:
        leaks.handle(ctx, on_time, "查看")
    assert caught.value.code == "not_hq_executive"
    with pytest.raises(Forbidden), unit_of_work(group, "clerk", at) as ctx:
        leaks.handle(ctx, on_time, "已处理")
    with pytest.raises(NotFound), unit_of_work(group, "gm", at) as ctx:
        leaks.handle(ctx, on_time, "已处理")
    with pytest.raises(InvalidInput) as empty, unit_of_work(group, "ceo", at) as ctx:
        leaks.handle(ctx, on_time, "   ")
    assert empty.value.code == "note_required"
    with unit_of_work(group, "ceo", at) as ctx:
        handled_now = leaks.handle(ctx, on_time, "已收回全部复印件，已上报集团")
        assert leaks.time_left(handled_now, at) == timedelta(hours=23)
    with pytest.raises(Conflict), unit_of_work(group, "vp", at) as ctx:
        leaks.handle(ctx, on_time, "再次处理")
    # Past the 24 hours: overdue while open, handled late once handled.
    past = NOW + timedelta(hours=26)
    with unit_of_work(group, "vp", past) as ctx:
        assert leaks.show(ctx, late).state == "overdue"
        assert leaks.show(ctx, on_time).state == "handled"
        leaks.handle(ctx, late, "逾期处理：已约谈副本持有人")
        assert leaks.show(ctx, late).state == "handled_late"
    with group.sessions() as s:
        rows = {r.id: r for r in s.scalars(select(LeakReport))}
        assert set(rows) == {on_time, late}  # handled incidents stay on record
        handled = rows[on_time]
        assert (handled.status, handled.handled_at) == ("handled", at)
        assert handled.handling_note == "已收回全部复印件，已上报集团"
        assert handled.trace_json and handled.description
    handled_events = [e for e in _events(group, Action.LEAK_HANDLE) if e.outcome == "allowed"]
    assert [(e.actor, e.object_id, json.loads(e.detail or "{}")["overdue"])
            for e in handled_events] == [("ceo", str(on_time), False), ("vp", str(late), True)]
    # And the reporter learns the status, not the note.
    with unit_of_work(group, "clerk", past) as ctx:
        seen = leaks.receipt(leaks.show(ctx, on_time).report, past)
        assert seen["status"] == "handled" and "handling_note" not in seen


def test_nothing_deletes_an_incident(group: Infra) -> None:
    assert not [name for name in dir(leaks) if "delete" in name or "remove" in name]
    from vault.cli.leaks import leaks as leaks_group

    assert sorted(leaks_group.commands) == ["handle", "list", "report", "show"]
    runner = CliRunner()
    for verb in ("delete", "remove", "purge"):
        assert runner.invoke(main, ["leaks", verb, "1"]).exit_code == 2


# ---------------------------------------------------------------------------
# Mail through a loopback SMTP server


class _Collect:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), message))
        await asyncio.sleep(0)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Collect]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    handler = _Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


def test_each_hq_executive_with_an_address_is_mailed(group: Infra,
                                                     smtp: tuple[int, _Collect]) -> None:
    port, handler = smtp
    scene = _scene(group)  # without SMTP: nothing mailed for the copies
    mailing = dataclasses.replace(group, settings=dataclasses.replace(
        group.settings, smtp_host="127.0.0.1", smtp_port=port,
        base_url="https://vault.example.test"))
    leak_id = _report(mailing, "accountant", copy_number=scene.labels["clerk"])
    assert sorted(rcpt[0] for rcpt, _m in handler.received) == [
        "ceo@example.test", "vp@example.test"]
    for _rcpt, message in handler.received:
        assert "泄密报告" in str(message["Subject"]) and "Leak report" in str(message["Subject"])
        body = message.get_body(("plain",))
        assert body is not None
        text = str(body.get_content())  # type: ignore[attr-defined]
        assert f"https://vault.example.test/leaks/{leak_id}" in text
        assert "Service fee" not in text  # never the content
    with group.sessions() as s:
        mailed = s.scalars(select(Notification.mailed_at).where(
            Notification.kind == "leak_report")).all()
        assert len(mailed) == 2 and all(m is not None for m in mailed)


# ---------------------------------------------------------------------------
# The CLI


def _cli(infra: Infra) -> Any:
    env = {"VAULT_HOME": str(infra.settings.home),
           "VAULT_DATABASE_URL": infra.settings.database_url}
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), env=env)

    return run


def test_cli_report_list_show_handle(group: Infra, tmp_path: Path) -> None:
    scene = _scene(group)
    vault = _cli(group)
    res = vault("leaks", "report", "--copy-number", scene.labels["manager"],
                "--description", "门口发现复印件", "--as", "accountant")
    assert res.exit_code == 0, res.output
    assert "received" in res.output and "report 1" in res.output
    assert "manager" not in res.output and TITLE not in res.output
    res_unknown = vault("leaks", "report", "--copy-number", UNKNOWN_NUMBER,
                        "--description", "门口发现复印件", "--as", "accountant")
    assert res_unknown.exit_code == 0
    def same(text: str) -> str:
        return re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "TIME", text)

    assert same(res_unknown.output.replace("report 2", "report 1").replace(
        UNKNOWN_NUMBER, scene.labels["manager"])) == same(res.output)
    refused = vault("leaks", "report", "--document", str(scene.doc), "--copy-number", "1-1",
                    "--description", "x", "--as", "accountant")
    assert refused.exit_code == 2 and "not both" in refused.output
    assert "Traceback" not in refused.output
    out_of_scope = vault("leaks", "report", "--document", str(scene.doc),
                         "--description", "x", "--as", "outsider")
    # Anyone reports anything (issue 11): a file outside one's scope is received.
    assert out_of_scope.exit_code == 0 and "received" in out_of_scope.output

    listed = vault("leaks", "list", "--as", "ceo", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["state"], r["document"]) for r in rows] == [
        (3, "open", scene.doc), (2, "open", None), (1, "open", scene.doc)]
    shown = vault("leaks", "show", "1", "--as", "ceo")
    assert shown.exit_code == 0, shown.output
    for text in (TITLE, scene.labels["clerk"], scene.labels["manager"], "clerk", "manager",
                 "boss", "document:view", "copy:download", "2026-12-04"):
        assert text in shown.output, text
    as_json = json.loads(vault("leaks", "show", "1", "--as", "ceo", "--json").stdout)
    assert [c["recipient"]["username"] for c in as_json["trace"]["copies"]] == [
        "clerk", "manager"]
    assert as_json["live_trace"]["copies"] == as_json["trace"]["copies"]
    mine = vault("leaks", "show", "1", "--as", "accountant", "--json")
    assert mine.exit_code == 0
    assert "trace" not in json.loads(mine.stdout) and "manager" not in mine.stdout
    assert vault("leaks", "show", "1", "--as", "clerk").exit_code == 2
    handled = vault("leaks", "handle", "1", "--note", "已收回", "--as", "ceo")
    assert handled.exit_code == 0 and "handled" in handled.output
    again = vault("leaks", "handle", "1", "--note", "已收回", "--as", "ceo")
    assert again.exit_code == 2 and "already been handled" in again.output
    assert vault("leaks", "handle", "2", "--note", "x", "--as", "auditor").exit_code == 1
    open_only = json.loads(vault("leaks", "list", "--open", "--as", "auditor",
                                 "--json").stdout)
    assert [r["id"] for r in open_only] == [3, 2]
