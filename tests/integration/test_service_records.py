"""Customer-service records through the services and the CLI, on SQLite and
PostgreSQL: the request register with sealed content and scope, complaints with
receipts and the reply letter, follow-ups scheduled by rule, visits with a
signature, the supervisor's review, the monthly report, the deposit register; a
request left open past due keeps its recordings through `vault jobs run` and the
purge; recording references become records (the migration too); key rotation
re-wraps the rows' data keys."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import select

from vault import db, policy
from vault.actions import Action
from vault.audit.models import AuditEvent
from vault.cli import main
from vault.errors import Conflict, Forbidden, InvalidInput, NotFound
from vault.models import FollowUp, Recording, RecordingArchive, ServiceRequest
from vault.policy import Category
from vault.services import (
    accounts,
    deposits,
    followups,
    jobs,
    keys,
    recordings,
    requests,
    samples,
    tenants,
)
from vault.services.context import Infra, unit_of_work

SECRET_TEXT = "三楼洗手间漏水，已第二次反映"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def world(org: Infra) -> Infra:
    with unit_of_work(org, "root") as ctx:
        sz = ctx.session.scalar(select(ServiceRequest.company_id))  # None: no request yet
        assert sz is None

        company = accounts.get_company(ctx.session, "SZ")
        tenants.add_tenant(ctx.session, "T001", "华南贸易", "A1201", "张先生",
                           company_id=company.id)
    return org


def _complaint(infra: Infra, who: str = "clerk", **kw: object) -> int:
    fields: dict[str, object] = {"kind": "complaint", "channel": "hotline", "grade": "normal",
                                 "content": SECRET_TEXT, "tenant_code": "T001"}
    fields.update(kw)
    with unit_of_work(infra, who) as ctx:
        return requests.create(ctx, **fields).id  # type: ignore[arg-type]


def _events(infra: Infra, action: Action) -> list[AuditEvent]:
    with infra.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action.value)
                              .order_by(AuditEvent.seq)))


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (60, 20), "white").save(out, "PNG")
    return out.getvalue()


def test_register_numbering_sealed_content_and_scope(world: Infra) -> None:
    first = _complaint(world)
    second = _complaint(world, kind="repair", grade=None)
    with world.sessions() as s:
        rows = s.scalars(select(ServiceRequest).order_by(ServiceRequest.id)).all()
        year = datetime.now(world.settings.tz).year
        assert [r.number for r in rows] == [f"SZ-{year}-0001", f"SZ-{year}-0002"]
        # The content is sealed: not in the row, not anywhere in the database file.
        assert SECRET_TEXT.encode() not in bytes(rows[0].content_sealed or b"")
        assert rows[0].master_key_id == world.keyring.active_id
    if world.settings.database_url.startswith("sqlite"):
        path = Path(world.settings.database_url.removeprefix("sqlite:///"))
        assert SECRET_TEXT.encode() not in path.read_bytes()
    with unit_of_work(world, "boss") as ctx:
        info = requests.show(ctx, first)
        assert info.content == SECRET_TEXT and info.follow_up_owner == "staff"
    with unit_of_work(world, "auditor") as ctx:
        assert requests.show(ctx, f"SZ-{year}-0002").summary.kind == "repair"
        assert [r.id for r in requests.search(ctx)] == [second, first]
    # Out of scope looks absent; the refusal is audited.
    for who in ("outsider", "accountant", "root"):
        with pytest.raises(NotFound), unit_of_work(world, who) as ctx:
            requests.show(ctx, first)
        with unit_of_work(world, who) as ctx:
            assert requests.search(ctx) == []
    denied = [e for e in _events(world, Action.REQUEST_VIEW) if e.outcome == "denied"]
    assert [e.actor for e in denied] == ["outsider", "accountant", "root"]
    assert len([e for e in _events(world, Action.REQUEST_VIEW) if e.outcome == "allowed"]) == 2
    # HQ executives read but do not handle.
    with pytest.raises(Forbidden), unit_of_work(world, "ceo") as ctx:
        requests.start(ctx, first)


def test_bad_input_is_refused_clearly(world: Infra) -> None:
    cases = [({"grade": None}, "grade_required"), ({"kind": "rumour"}, "bad_request_kind"),
             ({"channel": "pigeon"}, "bad_channel"), ({"content": "  "}, "content_required"),
             ({"kind": "repair"}, "grade_not_complaint"),
             ({"handler": "outsider"}, "bad_handler")]
    for change, code in cases:
        with pytest.raises(InvalidInput) as err:
            _complaint(world, **change)
        assert err.value.code == code
    with pytest.raises(Forbidden), unit_of_work(world, "accountant") as ctx:
        requests.create(ctx, kind="enquiry", channel="hotline", content="x")


def test_complaint_handled_closed_followed_up_reviewed_and_reported(world: Infra) -> None:
    rid = _complaint(world, grade="important")
    with unit_of_work(world, "clerk") as ctx:
        assert requests.start(ctx, rid).status == "in_progress"
        requests.add_receipt(ctx, rid, channel="letter", via="行政部", note="又向行政部投诉")
    with unit_of_work(world, "clerk") as ctx:
        info = requests.show(ctx, rid)
        assert len(info.receipts) == 2 and info.receipts[1].note == "又向行政部投诉"
        requests.close(ctx, rid, "已维修并致歉")
    with unit_of_work(world, "clerk") as ctx:
        info = requests.show(ctx, rid)
        assert info.summary.status == "closed" and info.reply == "已维修并致歉"
        (fid,) = info.follow_up_ids
        visit = followups.show(ctx, fid)
        today = datetime.now(world.settings.tz).date()
        assert visit.due_on == today + timedelta(days=3) and visit.owner_role == "supervisor"
        assert not visit.may_record  # an important complaint: the supervisor visits
    with pytest.raises(Forbidden), unit_of_work(world, "clerk") as ctx:
        followups.record_visit(ctx, fid, method="telephone", visited_on=today, notes="x",
                               resolved=True)
    with pytest.raises(InvalidInput) as err, unit_of_work(world, "boss") as ctx:
        followups.record_visit(ctx, fid, method="on_site", visited_on=today, notes="满意",
                               resolved=True)
    assert err.value.code == "signature_required"
    with unit_of_work(world, "boss") as ctx:
        followups.record_visit(ctx, fid, method="on_site", visited_on=today, notes="基本满意",
                               resolved=False, signature=_png(),
                               next_visit_on=today + timedelta(days=7))
    with unit_of_work(world, "boss") as ctx:
        first = followups.show(ctx, fid)
        assert first.signature_document_id is not None and first.notes == "基本满意"
        (second,) = [v for v in followups.search(ctx, status="due")]
        assert second.sequence == 2 and not second.telephone_allowed
    # The visitor does not review their own visit; the manager does.
    with pytest.raises(Forbidden), unit_of_work(world, "boss") as ctx:
        followups.review(ctx, fid, "好")
    with unit_of_work(world, "manager") as ctx:
        followups.review(ctx, fid, "跟进到位")
    with unit_of_work(world, "boss") as ctx:
        assert followups.show(ctx, fid).opinion == "跟进到位"
    with pytest.raises(InvalidInput) as err, unit_of_work(world, "boss") as ctx:
        followups.record_visit(ctx, second.id, method="telephone", visited_on=today,
                               notes="电话", resolved=True)
    assert err.value.code == "on_site_required"
    month = today.strftime("%Y-%m")
    due_month = first.due_on.strftime("%Y-%m")
    with unit_of_work(world, "gm") as ctx:
        rep, sent = followups.send_report(ctx, "SZ", due_month)
    assert sent == 1
    lines = {ln.kind: ln for ln in rep.lines}
    assert (lines["complaint"].due, lines["complaint"].done) == (1, 1)
    assert lines["complaint"].rate == 100.0 and lines["complaint"].met is True
    assert "complaint,1,1,100.0,50,yes" in rep.csv()
    with unit_of_work(world, "gm") as ctx:
        handling = {ln.kind: ln for ln in followups.report(ctx, "SZ", month).lines}["handling"]
        assert (handling.due, handling.done, handling.target) == (1, 1, 100)
    with world.sessions() as s:
        from vault.models import Notification, User

        gm_id = s.scalar(select(User.id).where(User.username == "gm"))
        (note,) = s.scalars(select(Notification).where(Notification.user_id == gm_id,
                                                       Notification.kind == "follow_up_report"))
        assert "客户回访记录" in note.subject_zh and "100%" in note.subject_zh
    with pytest.raises(Forbidden), unit_of_work(world, "clerk") as ctx:
        followups.report(ctx, "SZ", month)


def test_anonymous_complaint_needs_its_reply_letter_and_no_follow_up(world: Infra) -> None:
    rid = _complaint(world, tenant_code=None, caller="匿名来电")
    with pytest.raises(Conflict) as err, unit_of_work(world, "clerk") as ctx:
        requests.close(ctx, rid, "已处理")
    assert err.value.code == "reply_letter_required"
    with unit_of_work(world, "clerk") as ctx:
        content, name = samples.sample(Category.LETTER, "复函", world.settings.font_file)
        doc_id = requests.attach_reply_letter(ctx, rid, io.BytesIO(content), name)
        requests.close(ctx, rid, "已复函")
    with unit_of_work(world, "clerk") as ctx:
        info = requests.show(ctx, rid)
        assert info.reply_letter_id == doc_id and info.follow_up_ids == ()
        assert info.summary.anonymous and info.caller == "匿名来电"


def test_overdue_request_keeps_its_recordings_through_jobs_and_purge(world: Infra) -> None:
    now = _now()
    received = now - timedelta(days=5)
    later = now + timedelta(days=world.settings.recording_retention_days)  # past retention
    rid = _complaint(world, received_at=received, due_at=received + timedelta(days=3))
    with unit_of_work(world, "clerk") as ctx:
        number = ctx.session.get(ServiceRequest, rid).number  # type: ignore[union-attr]
        kept = recordings.register(ctx, content=io.BytesIO(samples.wav_tone(0.2)),
                                   filename="a.wav", caller_number="13800000000",
                                   called_at=received, agent="吴", request_ref=number).id
        other = recordings.register(ctx, content=io.BytesIO(samples.wav_tone(0.2)),
                                    filename="b.wav", caller_number="13800000001",
                                    called_at=received, agent="吴", request_ref="OLD-7").id
    with world.sessions() as s:
        assert s.get(Recording, kept).request_id == rid  # type: ignore[union-attr]
        legacy = s.get(ServiceRequest, s.get(Recording, other).request_id)  # type: ignore[union-attr]
        assert legacy is not None and legacy.legacy and legacy.number == "OLD-7"
    results = jobs.run(world, ["requests_overdue", "recording_purge"], now=later)
    assert [r.status for r in results] == ["ran", "ran"]
    assert results[0].counts == {"overdue_requests": 1, "archived": 1}
    with world.sessions() as s:
        arch = s.scalars(select(RecordingArchive)).one()
        assert arch.document_id == kept and arch.archived_by_id is None
        assert number in arch.event
        assert s.get(Recording, kept).purged_at is None  # type: ignore[union-attr]
        assert s.get(Recording, other).purged_at is not None  # type: ignore[union-attr]
    assert jobs.run(world, ["requests_overdue"], now=later)[0].counts["archived"] == 0
    with unit_of_work(world, "clerk") as ctx:
        (line,) = recordings.archive_register(ctx)
        assert line.archived_by == "system"


def test_migration_turns_references_into_records(world: Infra) -> None:
    with unit_of_work(world, "clerk") as ctx:
        doc = recordings.register(ctx, content=io.BytesIO(samples.wav_tone(0.2)),
                                  filename="a.wav", caller_number="13800000000",
                                  called_at=_now() - timedelta(hours=1), agent="吴",
                                  request_ref="REF-1").id
    url = world.settings.database_url
    cfg = db.alembic_config(url)
    command.downgrade(cfg, "0005")
    command.upgrade(cfg, "head")
    with world.sessions() as s:
        rec = s.get(Recording, doc)
        assert rec is not None and rec.request_id is not None
        req = s.get(ServiceRequest, rec.request_id)
        assert req is not None and req.legacy and req.number == "REF-1"


def test_key_rotation_rewraps_sealed_rows(world: Infra) -> None:
    rid = _complaint(world)
    before = world.keyring.active_id
    keys.rotate(world)
    with world.sessions() as s:
        row = s.get(ServiceRequest, rid)
        assert row is not None and row.master_key_id == world.keyring.active_id != before
    assert keys.usage(world).get(before, 0) == 0
    with unit_of_work(world, "clerk") as ctx:
        assert requests.show(ctx, rid).content == SECRET_TEXT


def test_event_follow_up_and_deposits(world: Infra) -> None:
    today = datetime.now(world.settings.tz).date()
    with unit_of_work(world, "clerk") as ctx:
        fu = followups.schedule(ctx, kind="event", trigger_on=today, subject="中秋游园会",
                                tenant_code="T001")
        fid = fu.id
    with unit_of_work(world, "clerk") as ctx:
        followups.record_visit(ctx, fid, method="telephone", visited_on=today,
                               notes="电话回访：满意", resolved=True)
    with world.sessions() as s:
        row = s.get(FollowUp, fid)
        assert row is not None and row.method == "telephone" and row.signature_document_id is None
    with unit_of_work(world, "clerk") as ctx:
        dep = deposits.receive(ctx, "T001", "快递包裹一件").id
    with pytest.raises(NotFound), unit_of_work(world, "outsider") as ctx:
        deposits.collect(ctx, dep, "张先生")
    with unit_of_work(world, "keeper") as ctx:
        deposits.collect(ctx, dep, "张先生")
    with pytest.raises(Conflict), unit_of_work(world, "keeper") as ctx:
        deposits.collect(ctx, dep, "张先生")
    with unit_of_work(world, "clerk") as ctx:
        assert deposits.register(ctx, open_only=True) == []
        (line,) = deposits.register(ctx)
        assert line.collected_by == "张先生" and line.handed_out_by == "keeper"


def test_cli(world: Infra, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = world.settings.home
    monkeypatch.setenv("VAULT_HOME", str(home))
    monkeypatch.setenv("VAULT_DATABASE_URL", world.settings.database_url)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    out = run("requests", "add", "--as", "clerk", "--kind", "complaint", "--channel", "hotline",
              "--grade", "normal", "--tenant", "T001", "--content", SECRET_TEXT)
    number = out.split()[0]
    assert number.startswith("SZ-")
    assert SECRET_TEXT in run("requests", "show", number, "--as", "boss")
    run("requests", "start", number, "--as", "clerk")
    assert "follow-up visit" in run("requests", "close", number, "--as", "clerk",
                                    "--reply", "已处理")
    assert "due" in run("visits", "ls", "--as", "clerk", "--status", "due")
    sig = tmp_path / "sig.png"
    sig.write_bytes(_png())
    with world.sessions() as s:
        fid = s.scalars(select(FollowUp.id)).one()
    run("visits", "record", str(fid), "--as", "clerk", "--method", "on_site",
        "--notes", "满意", "--signature", str(sig))
    run("visits", "review", str(fid), "--as", "boss", "--opinion", "同意")
    with world.sessions() as s:
        due_month = s.get(FollowUp, fid).due_on.strftime("%Y-%m")  # type: ignore[union-attr]
    csv_out = run("visits", "report", "--as", "gm", "--company", "SZ", "--month", due_month,
                  "--format", "csv")
    assert "complaint,1,1,100.0,50,yes" in csv_out
    pdf = tmp_path / "report.pdf"
    run("visits", "report", "--as", "gm", "--company", "SZ", "--month", due_month,
        "--format", "pdf", "--out", str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF")
    again = runner.invoke(main, ["visits", "report", "--as", "gm", "--company", "SZ",
                                 "--month", due_month, "--format", "pdf", "--out", str(pdf)])
    assert again.exit_code == 2 and "exists" in again.output
    denied = runner.invoke(main, ["requests", "show", number, "--as", "outsider"])
    assert denied.exit_code == 2 and SECRET_TEXT not in denied.output
    bad = runner.invoke(main, ["visits", "report", "--as", "gm", "--company", "SZ",
                               "--month", "2026-13"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output
    run("deposits", "add", "--as", "clerk", "--tenant", "T001", "--item", "钥匙")
    assert "钥匙" in run("deposits", "ls", "--as", "clerk", "--open")


def test_tenant_meeting_minutes_are_internal_with_the_tenants_present(world: Infra) -> None:
    from vault.models import Document
    from vault.policy import Level
    from vault.services import documents, meetings

    with unit_of_work(world, "clerk") as ctx:
        doc = documents.register(ctx, title="租户大会记录",
                                 category=Category.TENANT_MEETING_MINUTES,
                                 content=io.BytesIO(b"minutes\n"), filename="m.txt")
        doc_id = doc.id
        assert doc.level == Level.INTERNAL.value  # not a secret by default
        met = meetings.set_attendees(ctx, doc_id, ["T001"])
        assert met.attendees == (("T001", "华南贸易"),)
    with pytest.raises(Forbidden), unit_of_work(world, "accountant") as ctx:
        meetings.set_attendees(ctx, doc_id, [])
    with pytest.raises(InvalidInput), unit_of_work(world, "clerk") as ctx:
        meetings.set_attendees(ctx, doc_id, ["NOPE"])
    with unit_of_work(world, "outsider") as ctx:  # internal: every employee may know it
        assert meetings.show(ctx, doc_id).attendees == (("T001", "华南贸易"),)
    with world.sessions() as s:
        assert s.get(Document, doc_id) is not None
    with pytest.raises(NotFound), unit_of_work(world, "clerk") as ctx:
        other = documents.register(ctx, title="通知", category=Category.NOTICE,
                                   content=io.BytesIO(b"n\n"), filename="n.txt").id
        meetings.show(ctx, other)


def test_register_scope_and_paging_are_sql(world: Infra) -> None:
    """The register is scoped, filtered and paged by the database: `requests.readable`
    selects exactly the records `policy.can_read_request` allows, for everyone; pages
    follow each other without gap or overlap, filters kept."""
    from people import PEOPLE

    from vault.services.accounts import subject_of

    made = [_complaint(world), _complaint(world, kind="repair", grade=None),
            _complaint(world, kind="repair", grade=None, handler="accountant"),
            _complaint(world, who="boss", kind="enquiry", grade=None),
            _complaint(world, kind="repair", grade=None,
                       due_at=_now() - timedelta(hours=1),
                       received_at=_now() - timedelta(days=2))]
    with world.sessions() as s:
        rows = s.scalars(select(ServiceRequest)).all()
        assert sorted(r.id for r in rows) == sorted(made)
        for username in PEOPLE:
            subject = subject_of(accounts.get_user(s, username))
            by_sql = set(s.scalars(select(ServiceRequest.id).where(
                requests.readable(subject))))
            by_rule = {r.id for r in rows
                       if policy.can_read_request(subject, requests.facts(r)).allowed}
            assert by_sql == by_rule, username
    with unit_of_work(world, "accountant") as ctx:  # the handler of one, in another dept
        assert [r.id for r in requests.search(ctx)] == [made[2]]
    with unit_of_work(world, "clerk") as ctx:
        everything = [r.id for r in requests.search(ctx)]
        assert sorted(everything) == sorted(made)
        pages = [[r.id for r in requests.search(ctx, limit=2, offset=o)] for o in (0, 2, 4, 6)]
        assert pages[0] + pages[1] + pages[2] == everything and pages[3] == []
        repairs = [r.id for r in requests.search(ctx, kind="repair")]
        assert len(repairs) == 3
        assert [r.id for r in requests.search(ctx, kind="repair", limit=2, offset=2)] == \
            repairs[2:]
        assert [r.id for r in requests.search(ctx, overdue=True)] == [made[4]]
        with pytest.raises(InvalidInput):
            requests.search(ctx, offset=-1)
