"""Call recordings (录音): registration with the call's metadata, the request record's
list within scope, the archive register (提取录音另行保存) and the retention purge
that destroys data key and blob but keeps metadata and trail; the retention floor of
30 days at start-up; the `vault recordings …` commands. SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from vault import create_app, db
from vault.actions import Action, Outcome
from vault.audit.models import AuditEvent
from vault.cli import main
from vault.config import load_settings
from vault.crypto import envelope
from vault.errors import ConfigError, Conflict, Forbidden, InvalidInput, NotFound
from vault.models import Document, DocumentVersion, Recording, RecordingArchive
from vault.runtime import init_runtime
from vault.services import doctor, recordings, samples, viewer
from vault.services.context import Infra, unit_of_work

TZ = timezone(timedelta(hours=8))
WAV = samples.wav_tone(0.25)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def add(infra: Infra, *, days_ago: float, ref: str = "SQ-2026-0001", who: str = "clerk",
        now: datetime | None = None, **kw: object) -> int:
    now = now or _now()
    fields: dict[str, object] = {
        "caller_number": "+86 755-1234 5678", "agent": "李客服", "request_ref": ref,
        "called_at": now - timedelta(days=days_ago), "filename": "call.wav",
        "content": io.BytesIO(WAV),
    }
    fields.update(kw)
    with unit_of_work(infra, who, now=now) as ctx:
        return recordings.register(ctx, **fields).id  # type: ignore[arg-type]


def version(infra: Infra, doc_id: int) -> DocumentVersion:
    with infra.sessions() as s:
        return s.scalars(select(DocumentVersion).where(DocumentVersion.document_id == doc_id)
                         ).one()


def blob_path(infra: Infra, blob_id: str) -> Path:
    return infra.blobs.path_of(blob_id)


def decrypts(infra: Infra, ver: DocumentVersion) -> bytes:
    assert ver.master_key_id and ver.wrapped_key and ver.blob_id
    key = infra.keyring.unwrap(ver.master_key_id, ver.wrapped_key)
    with infra.blobs.open(ver.blob_id) as fh:
        return b"".join(envelope.decrypt_stream(key, fh, document_id=ver.document_id,
                                                version=ver.number))


def events(infra: Infra, action: Action | None = None) -> list[AuditEvent]:
    with infra.sessions() as s:
        stmt = select(AuditEvent).order_by(AuditEvent.seq)
        if action is not None:
            stmt = stmt.where(AuditEvent.action == action.value)
        return list(s.scalars(stmt))


def last_seq(infra: Infra) -> int:
    with infra.sessions() as s:
        return int(s.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0))) or 0)


def snapshot(infra: Infra) -> list[tuple[object, ...]]:
    with infra.sessions() as s:
        rows = s.execute(select(Recording.document_id, Recording.purged_at,
                                DocumentVersion.blob_id, DocumentVersion.wrapped_key,
                                DocumentVersion.master_key_id)
                         .join(DocumentVersion,
                               DocumentVersion.document_id == Recording.document_id)
                         .order_by(Recording.document_id)).all()
        return [tuple(r) for r in rows]


def trail_ok(infra: Infra) -> None:
    with db.transaction(infra.sessions) as s:
        report = infra.audit.verify_database(s)
    assert report.ok, report.summary()


# ---------------------------------------------------------------------------
# The retention floor


def test_retention_29_days_refused_30_accepted(tmp_path: Path) -> None:
    from vault.audit.log import AuditLog
    from vault.crypto.keyring import Keyring

    base = load_settings(environ={}, home=tmp_path)
    init_runtime(base)
    Keyring.create_first(base)
    AuditLog.init_keys(base)
    for source in ({"VAULT_RECORDING_RETENTION_DAYS": "29"}, {}):
        kw = {} if source else {"recording_retention_days": 29}
        settings = load_settings(environ=source, home=tmp_path, **kw)
        with pytest.raises(ConfigError, match="at least 30") as info:
            settings.check()
        assert info.value.code == "retention_too_short"
        assert "it is 29" in info.value.message
    load_settings(environ={"VAULT_RECORDING_RETENTION_DAYS": "30"}, home=tmp_path).check()
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    with pytest.raises(ConfigError, match="VAULT_RECORDING_RETENTION_DAYS must be at least 30"):
        create_app({"home": tmp_path, "database_url": url, "recording_retention_days": 29})
    app = create_app({"home": tmp_path, "database_url": url, "recording_retention_days": 30})
    assert app.config["VAULT_SETTINGS"].recording_retention_days == 30
    app.extensions["vault.engine"].dispose()


def test_purge_refuses_a_retention_below_the_floor(org: Infra) -> None:
    short = replace(org, settings=replace(org.settings, recording_retention_days=29))
    with pytest.raises(ConfigError, match="at least 30"), unit_of_work(short, None) as ctx:
        recordings.purge(ctx, dry_run=True)


# ---------------------------------------------------------------------------
# Registration


def test_register_keeps_the_call_metadata_on_a_confidential_document(org: Infra) -> None:
    now = _now()
    doc_id = add(org, days_ago=1, now=now, ref="SQ/2026-07_1")
    with org.sessions() as s:
        doc = s.get(Document, doc_id)
        rec = s.get(Recording, doc_id)
        assert doc is not None and rec is not None
        assert (doc.category, doc.level) == ("call_recording", "confidential")
        assert doc.issued_on == (now - timedelta(days=1)).astimezone(TZ).date()
        assert doc.title.startswith("通话录音 SQ/2026-07_1 ")
        assert (rec.caller_number, rec.agent, rec.request_ref, rec.source) == (
            "+86 755-1234 5678", "李客服", "SQ/2026-07_1", "upload")
        assert rec.called_at == now - timedelta(days=1) and rec.purged_at is None
    assert decrypts(org, version(org, doc_id)) == WAV
    (event,) = events(org, Action.DOCUMENT_REGISTER)
    assert event.object_id == str(doc_id) and event.actor == "clerk"


@pytest.mark.parametrize(("field", "value", "code"), [
    ("caller_number", "12", "bad_caller_number"),
    ("caller_number", "call me maybe", "bad_caller_number"),
    ("caller_number", "+ - +", "bad_caller_number"),
    ("caller_number", "1" * 33, "bad_caller_number"),
    ("agent", "", "bad_agent"),
    ("agent", "x" * 101, "bad_agent"),
    ("agent", "李\x07", "bad_agent"),
    ("request_ref", "", "bad_request_ref"),
    ("request_ref", "SQ 1", "bad_request_ref"),
    ("request_ref", "../x;drop", "bad_request_ref"),
    ("request_ref", "R" * 65, "bad_request_ref"),
    ("called_at", datetime(2026, 5, 1, 9, 30), "bad_called_at"),
    ("called_at", datetime(1999, 12, 31, tzinfo=UTC), "bad_called_at"),
    ("called_at", "future", "called_at_in_future"),
    ("source", "fax", "bad_source"),
    ("content", samples.pdf_pages("not audio"), "type_not_allowed"),
])
def test_bad_fields_are_refused_and_leave_nothing(org: Infra, field: str, value: object,
                                                  code: str) -> None:
    now = _now()
    if value == "future":
        value = now + timedelta(minutes=6)
    filename = "call.pdf" if field == "content" else "call.wav"
    if isinstance(value, bytes):
        value = io.BytesIO(value)
    with pytest.raises(InvalidInput) as info:
        add(org, days_ago=1, now=now, filename=filename, **{field: value})
    assert info.value.code == code, info.value.message
    with org.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 0
        assert s.scalar(select(func.count()).select_from(Recording)) == 0
    assert list(org.blobs.iter_ids()) == []


def test_a_call_a_few_minutes_ahead_of_the_clock_is_accepted(org: Infra) -> None:
    now = _now()
    add(org, days_ago=-4 / (24 * 60), now=now)  # the hotline's clock runs 4 minutes ahead


# ---------------------------------------------------------------------------
# Lists within scope


def test_request_record_lists_only_what_the_reader_may_know(org: Infra) -> None:
    now = _now()
    first = add(org, days_ago=2, now=now, ref="SQ-7")
    second = add(org, days_ago=1, now=now, ref="SQ-7")
    add(org, days_ago=1, now=now, ref="SQ-8")
    theirs = add(org, days_ago=1, now=now, ref="SQ-7", who="outsider")
    with unit_of_work(org, "boss", now=now) as ctx:
        mine = recordings.for_request(ctx, "SQ-7")
        assert [r.document_id for r in mine] == [first, second]  # call order
        assert all(r.may_view and r.may_archive for r in mine)
        assert mine[0].purge_after == mine[0].called_at + timedelta(days=180)
        assert {r.request_ref for r in recordings.search(ctx)} == {"SQ-7", "SQ-8"}
    with unit_of_work(org, "outsider", now=now) as ctx:
        assert [r.document_id for r in recordings.for_request(ctx, "SQ-7")] == [theirs]
    with unit_of_work(org, "auditor", now=now) as ctx:  # compliance: metadata only
        seen = recordings.for_request(ctx, "SQ-7")
        assert {r.document_id for r in seen} == {first, second, theirs}
        assert not any(r.may_view or r.may_archive for r in seen)
    with pytest.raises(InvalidInput) as info, unit_of_work(org, "boss", now=now) as ctx:
        recordings.for_request(ctx, "SQ 7; --")
    assert info.value.code == "bad_request_ref"


# ---------------------------------------------------------------------------
# The archive register


def test_archive_needs_reason_and_event_and_a_listener(org: Infra) -> None:
    now = _now()
    doc_id = add(org, days_ago=3, now=now)
    for reason, event, code in (("", "A座漏水", "reason_required"),
                                ("   ", "A座漏水", "reason_required"),
                                ("业主投诉未结", "", "event_required"),
                                ("x" * 2001, "A座漏水", "bad_reason"),
                                ("业主投诉未结", "\x00", "bad_event")):
        with pytest.raises(InvalidInput) as info, unit_of_work(org, "boss", now=now) as ctx:
            recordings.archive(ctx, doc_id, reason, event)
        assert info.value.code == code
    with pytest.raises(NotFound), unit_of_work(org, "outsider", now=now) as ctx:
        recordings.archive(ctx, doc_id, "业主投诉未结", "A座漏水")
    with pytest.raises(Forbidden), unit_of_work(org, "auditor", now=now) as ctx:
        recordings.archive(ctx, doc_id, "业主投诉未结", "A座漏水")
    denied = events(org, Action.RECORDING_ARCHIVE)
    assert [(e.actor, e.outcome) for e in denied] == [
        ("outsider", Outcome.DENIED.value), ("auditor", Outcome.DENIED.value)]
    with org.sessions() as s:
        assert s.scalar(select(func.count()).select_from(RecordingArchive)) == 0


def test_archive_once_then_conflict_and_the_register(org: Infra) -> None:
    now = _now()
    doc_id = add(org, days_ago=3, now=now, ref="SQ-9")
    with unit_of_work(org, "clerk", now=now) as ctx:
        row = recordings.archive(ctx, doc_id, "  业主投诉未结，需保留证据 \n第二行", "A座漏水事件")
        entry = recordings.entry_of(ctx, row)
    assert (entry.archived_by, entry.reason, entry.event) == (
        "clerk", "业主投诉未结，需保留证据 \n第二行", "A座漏水事件")
    with pytest.raises(Conflict) as info, unit_of_work(org, "boss", now=now) as ctx:
        recordings.archive(ctx, doc_id, "再次", "A座漏水事件")
    assert info.value.code == "already_archived"
    allowed = [e for e in events(org, Action.RECORDING_ARCHIVE)
               if e.outcome == Outcome.ALLOWED.value]
    assert [(e.actor, e.object_id, e.reason) for e in allowed] == [
        ("clerk", str(doc_id), "special_event")]
    assert "A座漏水事件" in (allowed[0].detail or "")
    with unit_of_work(org, "manager", now=now) as ctx:
        (line,) = recordings.archive_register(ctx)
        assert (line.document_id, line.archived_by_name, line.request_ref) == (
            doc_id, "clerk", "SQ-9")
        (info_,) = recordings.for_request(ctx, "SQ-9")
        assert info_.archive is not None and info_.purge_after is None
        assert not info_.may_archive
    with unit_of_work(org, "outsider", now=now) as ctx:
        assert recordings.archive_register(ctx) == []


def test_only_recordings_can_be_archived(org: Infra) -> None:
    from vault.policy import Category
    from vault.services import documents

    with unit_of_work(org, "clerk") as ctx:
        doc_id = documents.register(ctx, title="合同", category=Category.CONTRACT,
                                    content=io.BytesIO(b"text\n"), filename="c.txt").id
    with pytest.raises(NotFound) as info, unit_of_work(org, "clerk") as ctx:
        recordings.archive(ctx, doc_id, "原因", "事件")
    assert info.value.code == "not_a_recording"


# ---------------------------------------------------------------------------
# The purge


def test_purge_destroys_old_unarchived_recordings_only_and_once(org: Infra) -> None:
    now = _now()
    old = add(org, days_ago=31, now=now, ref="SQ-OLD")
    kept = add(org, days_ago=31, now=now, ref="SQ-EVENT")
    young = add(org, days_ago=29, now=now, ref="SQ-NEW")
    with unit_of_work(org, "boss", now=now) as ctx:
        recordings.archive(ctx, kept, "业主投诉未结", "A座漏水事件")
    org = replace(org, settings=replace(org.settings, recording_retention_days=30))
    old_ver = version(org, old)
    assert old_ver.blob_id is not None and blob_path(org, old_ver.blob_id).is_file()
    before, seq = snapshot(org), last_seq(org)

    # A dry run lists and changes nothing, writes no event.
    with unit_of_work(org, None, now=now) as ctx:
        listed = recordings.purge(ctx, dry_run=True)
    assert [p.document_id for p in listed] == [old]
    assert (snapshot(org), last_seq(org)) == (before, seq)
    assert blob_path(org, old_ver.blob_id).is_file()

    with unit_of_work(org, None, now=now) as ctx:
        purged = recordings.purge(ctx)
    assert [(p.document_id, p.request_ref, p.versions, p.size) for p in purged] == [
        (old, "SQ-OLD", 1, len(WAV))]
    # Its data key and blob are gone; the metadata stays.
    gone = version(org, old)
    assert (gone.blob_id, gone.wrapped_key, gone.master_key_id) == (None, None, None)
    assert (gone.size, gone.media_type) == (len(WAV), "audio/wav")
    assert not blob_path(org, old_ver.blob_id).exists()
    assert old_ver.blob_id not in set(org.blobs.iter_ids())
    with org.sessions() as s:
        doc, rec = s.get(Document, old), s.get(Recording, old)
        assert doc is not None and rec is not None
        assert rec.purged_at == now and rec.request_ref == "SQ-OLD"
        assert doc.title.startswith("通话录音 SQ-OLD")
    # The archived one and the young one are untouched.
    for doc_id in (kept, young):
        assert decrypts(org, version(org, doc_id)) == WAV
    # On the trail, by "system", and the trail still verifies.
    (event,) = events(org, Action.RECORDING_PURGE)
    assert (event.actor, event.object_id, event.outcome, event.reason, event.level) == (
        "system", str(old), "allowed", "retention_expired", "confidential")
    assert event.document_id == old
    assert '"retention_days":30' in (event.detail or "")
    assert '"request_ref":"SQ-OLD"' in (event.detail or "")
    trail_ok(org)
    # Nothing orphaned, nothing missing.
    assert doctor.check(org).healthy

    # Twice: nothing changes, no event.
    after, seq = snapshot(org), last_seq(org)
    with unit_of_work(org, None, now=now) as ctx:
        assert recordings.purge(ctx) == []
    with unit_of_work(org, None, now=now) as ctx:
        assert recordings.purge(ctx, dry_run=True) == []
    assert (snapshot(org), last_seq(org)) == (after, seq)

    # The pages and the player know it is gone; it can no longer be archived.
    with unit_of_work(org, "boss", now=now) as ctx:
        info = recordings.show(ctx, old)
        assert info.purged_at == now and not info.playable and not info.may_archive
    with pytest.raises(InvalidInput) as bad, unit_of_work(org, "boss", now=now) as ctx:
        viewer.audio(ctx, old)
    assert bad.value.code == "not_audio"
    with pytest.raises(Conflict) as conflict, unit_of_work(org, "boss", now=now) as ctx:
        recordings.archive(ctx, old, "太晚了", "事件")
    assert conflict.value.code == "recording_purged"
    trail_ok(org)


def test_purge_at_the_default_retention_and_in_batches(org: Infra) -> None:
    now = _now()
    ids = [add(org, days_ago=181 + i, now=now) for i in range(3)]
    add(org, days_ago=179, now=now)
    with unit_of_work(org, None, now=now) as ctx:
        first = recordings.purge(ctx, limit=2)
    with unit_of_work(org, None, now=now) as ctx:
        rest = recordings.purge(ctx, limit=2)
    # Oldest call first.
    assert [p.document_id for p in first + rest] == list(reversed(ids))
    assert len(events(org, Action.RECORDING_PURGE)) == 3


def test_a_leftover_blob_is_an_orphan_that_doctor_repairs(org: Infra) -> None:
    """If the blob deletion after the commit fails, the blob is undecryptable (its key
    is gone) and `vault doctor` reports it as an orphan; `--repair` removes it."""
    import os
    import time

    now = _now()
    doc_id = add(org, days_ago=200, now=now)
    blob_id = version(org, doc_id).blob_id
    assert blob_id is not None
    saved = blob_path(org, blob_id).read_bytes()
    with unit_of_work(org, None, now=now) as ctx:
        recordings.purge(ctx)
    # Put the bytes back, as if the deletion had failed, an hour and more ago.
    path = blob_path(org, blob_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(saved)
    old = time.time() - 2 * doctor.GRACE_SECONDS
    os.utime(path, (old, old))
    report = doctor.check(org)
    assert [b for b, _age in report.orphans] == [blob_id] and not report.missing
    assert doctor.repair(org, report) == [f"orphan blob {blob_id}"]
    assert not path.exists() and doctor.check(org).healthy


# ---------------------------------------------------------------------------
# The CLI


class Vault:
    def __init__(self, infra: Infra, **env: str) -> None:
        s = infra.settings
        self.env = {"VAULT_HOME": str(s.home), "VAULT_DATABASE_URL": s.database_url, **env}
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(main, list(args), env=self.env)


def ok(res: Result) -> str:
    assert res.exit_code == 0, res.output
    return res.output


def test_cli_purge_archive_list_and_register(org: Infra) -> None:
    vault = Vault(org, VAULT_RECORDING_RETENTION_DAYS="30")
    now = _now()
    old = add(org, days_ago=31, now=now, ref="SQ-CLI-1")
    event_call = add(org, days_ago=31, now=now, ref="SQ-CLI-2")
    add(org, days_ago=29, now=now, ref="SQ-CLI-1")

    out = ok(vault("recordings", "archive", str(event_call), "--reason", "业主投诉未结",
                   "--event", "A座漏水事件", "--as", "boss"))
    assert f"recording {event_call} archived by boss" in out
    res = vault("recordings", "archive", str(event_call), "--reason", "x", "--event", "y",
                "--as", "boss")
    assert res.exit_code == 2 and "already in the archive register" in res.output
    res = vault("recordings", "archive", str(old), "--reason", " ", "--event", "y",
                "--as", "boss")
    assert res.exit_code == 2 and "State the reason" in res.output
    res = vault("recordings", "archive", str(old), "--reason", "r", "--event", "y",
                "--as", "auditor")
    assert res.exit_code == 1 and "Traceback" not in res.output

    seq = last_seq(org)
    out = ok(vault("recordings", "purge", "--dry-run"))
    assert re.search(rf"^\s+{old}\s.*SQ-CLI-1", out, re.M), out
    assert "1 recording(s) would destroy (retention 30 days)" in out
    assert last_seq(org) == seq and version(org, old).blob_id is not None

    out = ok(vault("recordings", "purge"))
    assert "1 recording(s) destroyed (retention 30 days)" in out
    assert version(org, old).wrapped_key is None
    assert "0 recording(s) destroyed" in ok(vault("recordings", "purge"))
    assert len(events(org, Action.RECORDING_PURGE)) == 1

    out = ok(vault("recordings", "list", "--request-ref", "SQ-CLI-1", "--as", "clerk"))
    assert "destroyed" in out and "kept until" in out
    assert "0 recording(s)" in vault("recordings", "list", "--as", "outsider").output
    out = ok(vault("recordings", "archive-register", "--as", "manager"))
    assert "A座漏水事件" in out and "业主投诉未结" in out and "boss" in out

    short = Vault(org, VAULT_RECORDING_RETENTION_DAYS="29")
    res = short("recordings", "purge", "--dry-run")
    assert res.exit_code == 2
    assert "VAULT_RECORDING_RETENTION_DAYS must be at least 30" in res.output
