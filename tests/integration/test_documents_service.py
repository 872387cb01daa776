"""The documents service over real storage, keys and audit, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import os
import secrets
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from vault import db
from vault.actions import Action
from vault.audit.models import AuditEvent
from vault.errors import Forbidden, IntegrityFailure, InvalidInput, NotFound
from vault.models import ClassificationChange, Document, DocumentVersion
from vault.policy import Category, Level, Period
from vault.services import accounts, declassify, document_pages, documents, grants, keys, samples
from vault.services.context import Infra, unit_of_work

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def register(infra: Infra, actor: str = "boss", content: bytes | None = None,
             filename: str = "file.txt", **kwargs: object) -> int:
    kwargs.setdefault("title", "文件")
    kwargs.setdefault("category", Category.NOTICE)
    with unit_of_work(infra, actor, NOW) as ctx:
        doc = documents.register(
            ctx, content=io.BytesIO(content) if content is not None else None,
            filename=filename if content is not None else None, **kwargs,  # type: ignore[arg-type]
        )
        return doc.id


def read(infra: Infra, actor: str, doc_id: int, now: datetime = NOW) -> bytes:
    with unit_of_work(infra, actor, now) as ctx:
        content = documents.open_content(ctx, doc_id)
    return b"".join(content.chunks)


def events(infra: Infra, action: Action) -> list[AuditEvent]:
    with infra.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action.value)
                              .order_by(AuditEvent.seq)))


def blob_files(infra: Infra) -> list[Path]:
    return [p for p in (infra.settings.storage_dir / "blobs").rglob("*") if p.is_file()]


def tmp_files(infra: Infra) -> list[Path]:
    tmp = infra.settings.storage_dir / "tmp"
    return [p for p in tmp.iterdir()] if tmp.exists() else []


def samples_zip() -> bytes:
    """A bare ZIP archive (no [Content_Types].xml): not an Office document."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hello")
    return buf.getvalue()


# ---------------------------------------------------------------------------


def test_round_trip_and_audit(org: Infra) -> None:
    body = "停水通知\n".encode() * 30000  # several segments
    doc_id = register(org, content=body)
    assert read(org, "outsider", doc_id) == body  # internal: every employee
    downloads = events(org, Action.DOCUMENT_DOWNLOAD)
    assert [(e.actor, e.outcome, e.object_id) for e in downloads] == [
        ("outsider", "allowed", str(doc_id))
    ]
    with org.sessions() as s:
        version = s.scalars(select(DocumentVersion)).one()
        assert version.size == len(body) and version.media_type == "text/plain"
        assert version.original_name == "file.txt" and version.wrapped_key is not None
        assert version.master_key_id == org.keyring.active_id


def test_no_plaintext_on_disk(org: Infra, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              request: pytest.FixtureRequest) -> None:
    own_tmp = tmp_path / "process-tmp"
    own_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own_tmp))
    monkeypatch.setenv("TMPDIR", str(own_tmp))
    marker = f"MARKER-{secrets.token_hex(16)}".encode()
    body = b"header line\n" + marker + b"\n" + b"x" * 200_000 + marker
    doc_id = register(org, content=body, filename="plain.txt")
    assert read(org, "clerk", doc_id) == body
    roots = [org.settings.storage_dir, org.settings.keys_dir, org.settings.audit_dir, own_tmp]
    url = org.settings.database_url
    if url.startswith("postgresql"):
        sock = url.split("host=")[1].split("&")[0]
        roots.append(Path(sock).parent / "data")
    scanned = 0
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                scanned += 1
                assert marker not in path.read_bytes(), f"plaintext found in {path}"
                assert marker.hex().encode() not in path.read_bytes()
    assert scanned > 5


@pytest.mark.parametrize(
    ("content", "filename", "category", "code"),
    [
        (b"", "empty.txt", Category.NOTICE, "empty_file"),
        (samples.wav_tone(0.1), "song.wav", Category.CONTRACT, "type_not_allowed"),
        (samples.signature_png(0), "report.pdf", Category.CONTRACT, "type_mismatch"),
        (b"hello", "../../etc/passwd", Category.NOTICE, "bad_filename"),
        (b"hello", "/abs.txt", Category.NOTICE, "bad_filename"),
        (b"hello", "a\x00b.txt", Category.NOTICE, "bad_filename"),
        (b"hello", "a\nb.txt", Category.NOTICE, "bad_filename"),
        (b"hello", "x" * 300 + ".txt", Category.NOTICE, "bad_filename"),
        (b"x" * 5000, "big.txt", Category.NOTICE, "too_large"),
        # issue 12: a backslash is a path, a bare ZIP is no .docx, a PDF must parse
        (b"hello", "..\\..\\x.txt", Category.NOTICE, "bad_filename"),
        (samples_zip(), "minutes.docx", Category.CONTRACT, "unreadable_file"),
        (b"%PDF-1.7\n<html><body><script>alert(1)</script></body></html>\n", "x.pdf",
         Category.CONTRACT, "unreadable_file"),
    ],
)
def test_bad_uploads_store_nothing(org: Infra, content: bytes, filename: str,
                                   category: Category, code: str) -> None:
    org.settings = type(org.settings)(**{**org.settings.__dict__, "max_upload_bytes": 4096})
    with pytest.raises(InvalidInput) as info:
        register(org, content=content, filename=filename, category=category)
    assert info.value.code == code
    assert blob_files(org) == [] and tmp_files(org) == []
    with org.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 0
        assert s.scalar(select(func.count()).select_from(DocumentVersion)) == 0


class Exploding(io.RawIOBase):
    """A source that fails midway, as a dropped upload would."""

    def __init__(self, good: int) -> None:
        self.left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        if self.left <= 0:
            raise OSError("connection reset")
        n = min(len(buf), self.left, 10_000)
        buf[:n] = b"a" * n
        self.left -= n
        return n


def test_crash_midway_leaves_nothing(org: Infra) -> None:
    with pytest.raises(OSError, match="connection reset"):
        with unit_of_work(org, "boss", NOW) as ctx:
            documents.register(ctx, title="x", category=Category.NOTICE,
                               content=Exploding(300_000), filename="a.txt")  # type: ignore[arg-type]
    assert blob_files(org) == [] and tmp_files(org) == []
    with org.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 0


def test_failure_after_blob_commit_removes_the_blob(org: Infra) -> None:
    with pytest.raises(RuntimeError):
        with unit_of_work(org, "boss", NOW) as ctx:
            documents.register(ctx, title="x", category=Category.NOTICE,
                               content=io.BytesIO(b"hello"), filename="a.txt")
            assert len(blob_files(org)) == 1
            raise RuntimeError("database went away")
    assert blob_files(org) == []


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    os.chmod(path, 0o600)
    path.write_bytes(bytes(data))


def test_tampered_blob_is_refused(org: Infra) -> None:
    doc_id = register(org, content=b"A" * 200_000)
    (blob,) = blob_files(org)
    flip_byte(blob, blob.stat().st_size - 5)  # inside the last tag
    # Under VAULT_VERIFY_BEFORE_SEND_BYTES: refused whole, before any byte, audited failed.
    with pytest.raises(IntegrityFailure):
        with unit_of_work(org, "clerk", NOW) as ctx:
            documents.open_content(ctx, doc_id)
    assert [e.outcome for e in events(org, Action.DOCUMENT_DOWNLOAD)] == ["failed"]
    # Over it, the content streams and stops at the failed segment.
    org.settings = type(org.settings)(**{**org.settings.__dict__,
                                         "verify_before_send_bytes": 0})
    with unit_of_work(org, "clerk", NOW) as ctx:
        content = documents.open_content(ctx, doc_id)
    released = b""
    with pytest.raises(IntegrityFailure):
        for chunk in content.chunks:
            released += chunk
    assert len(released) < 200_000  # the failed segment's bytes never came out


def test_blob_moved_to_another_version_is_refused(org: Infra) -> None:
    first = register(org, content=b"first file")
    second = register(org, content=b"second file")
    with db.transaction(org.sessions) as s:
        a, b = s.scalars(select(DocumentVersion).order_by(DocumentVersion.id)).all()
        a.blob_id, b.blob_id = b.blob_id, a.blob_id
        a.wrapped_key, b.wrapped_key = b.wrapped_key, a.wrapped_key
    for doc_id in (first, second):
        with pytest.raises(IntegrityFailure):
            read(org, "clerk", doc_id)


def test_classified_content_needs_a_copy_and_out_of_scope_is_404(org: Infra) -> None:
    doc_id = register(org, content=samples.pdf_pages("纪要"), filename="m.pdf",
                      category=Category.MEETING_MINUTES)
    with pytest.raises(Forbidden) as info:
        read(org, "boss", doc_id)
    assert info.value.code == "copy_approval_required"
    with pytest.raises(NotFound):
        read(org, "clerk", doc_id)
    denied = [(e.actor, e.outcome, e.reason, e.level)
              for e in events(org, Action.DOCUMENT_DOWNLOAD)]
    assert denied == [("boss", "denied", "copy_approval_required", "secret"),
                      ("clerk", "denied", "secret_not_designated", "secret")]


def test_add_version_and_read_each(org: Infra) -> None:
    doc_id = register(org, content=b"version one")
    with unit_of_work(org, "boss", NOW) as ctx:
        documents.add_version(ctx, doc_id, io.BytesIO(b"version two"), "v2.txt")
    assert read(org, "clerk", doc_id) == b"version two"
    with unit_of_work(org, "clerk", NOW) as ctx:
        old = documents.open_content(ctx, doc_id, version=1)
    assert b"".join(old.chunks) == b"version one"
    with pytest.raises(Forbidden):
        with unit_of_work(org, "clerk", NOW) as ctx:
            documents.add_version(ctx, doc_id, io.BytesIO(b"mine"), "v3.txt")


def test_search_scope_and_counts(org: Infra) -> None:
    secret = register(org, title="季度财务报表", category=Category.FINANCIAL_REPORT,
                      actor="accountant")
    contract = register(org, title="物业服务合同", category=Category.CONTRACT)
    notice = register(org, title="停水通知", category=Category.NOTICE)

    def ids(actor: str, **q: object) -> tuple[list[int], int]:
        with unit_of_work(org, actor, NOW) as ctx:
            page = documents.search(ctx, documents.Query(**q))  # type: ignore[arg-type]
            return [d.id for d in page.items], page.total

    assert ids("clerk") == ([notice, contract], 2)
    assert ids("outsider") == ([notice], 1)
    assert ids("accountant") == ([notice, secret], 2)
    assert ids("ceo") == ([notice, contract, secret], 3)
    assert ids("gm")[1] == 3  # approving office: metadata, not content
    assert ids("auditor")[1] == 3  # compliance: metadata
    assert ids("clerk", text="合同") == ([contract], 1)
    assert ids("clerk", level=Level.INTERNAL) == ([notice], 1)
    assert ids("clerk", category=Category.CONTRACT) == ([contract], 1)
    assert ids("clerk", text="财务") == ([], 0)
    assert ids("clerk", company="SZ", department="CS")[1] == 2
    assert ids("clerk", issued_from=date(2027, 1, 1)) == ([], 0)
    assert ids("clerk", page=2, per_page=1) == ([contract], 2)
    with pytest.raises(InvalidInput):
        ids("clerk", page=0)


def test_a_capped_count_stops_at_the_cap(org: Infra, monkeypatch: pytest.MonkeyPatch) -> None:
    """Big lists count up to `count_cap` matches in scope and say so; without a cap,
    or under it, the count is exact. Out-of-scope files count for nothing."""
    secret = register(org, title="季度财务报表", category=Category.FINANCIAL_REPORT,
                      actor="accountant")
    mine = [register(org, title=f"通知 {i}") for i in range(4)]

    def counted(actor: str, cap: int | None, **q: object) -> tuple[int, bool, list[int]]:
        with unit_of_work(org, actor, NOW) as ctx:
            page = documents.search(ctx, documents.Query(count_cap=cap, **q))  # type: ignore[arg-type]
            return page.total, page.total_capped, [d.id for d in page.items]

    assert counted("clerk", None) == (4, False, mine[::-1])
    assert counted("clerk", 4) == (4, False, mine[::-1])
    assert counted("clerk", 3) == (3, True, mine[::-1])
    assert counted("clerk", 1, per_page=2, page=2) == (1, True, mine[1::-1])
    assert counted("ceo", 4) == (4, True, [*mine[::-1], secret])  # the page is whole
    assert counted("ceo", 5) == (5, False, [*mine[::-1], secret])
    assert counted("clerk", 3, text="财务") == (0, False, [])
    # The list page (and `vault ls`) count up to documents.COUNT_CAP.
    with unit_of_work(org, "clerk", NOW) as ctx:
        found = document_pages.browse(ctx, documents.Query())
    assert (found.total, found.total_capped, found.pages) == (4, False, 1)
    monkeypatch.setattr(documents, "COUNT_CAP", 2)
    with unit_of_work(org, "clerk", NOW) as ctx:
        found = document_pages.browse(ctx, documents.Query(per_page=1))
    assert (found.total, found.total_capped, found.pages) == (2, True, 2)


def test_show_metadata_and_who_may_view(org: Infra) -> None:
    doc_id = register(org, title="纪要", category=Category.MEETING_MINUTES,
                      period=Period(until=date(2027, 6, 30)), issued_on=date(2026, 1, 1))
    with unit_of_work(org, "gm", NOW) as ctx:
        info = documents.show(ctx, doc_id, "zh")
    assert info["marking"] == "机密★2027年6月30日"
    assert info["effective_level"] == "secret"
    assert info["declassify_at"] == "2027-07-01T00:00:00+08:00"
    assert info["may_view"] == [{"user": "boss", "reason": "responsible_supervisor"},
                                {"user": "ceo", "reason": "hq_executive"}]
    with pytest.raises(NotFound):
        with unit_of_work(org, "clerk", NOW) as ctx:
            documents.show(ctx, doc_id)


def test_grant_and_revoke(org: Infra) -> None:
    doc_id = register(org, title="纪要", category=Category.MEETING_MINUTES,
                      content=samples.pdf_pages("纪要"), filename="m.pdf")

    def may_view(user: str) -> bool:
        with org.sessions() as s:
            person = accounts.get_user(s, user)
            return documents.explain(s, person, documents.get(s, doc_id), "view", NOW).allowed

    assert not may_view("clerk")
    with unit_of_work(org, "boss", NOW) as ctx:
        grants.grant(ctx, doc_id, "clerk", NOW + timedelta(days=30))
    assert may_view("clerk")
    with pytest.raises(Forbidden):
        with unit_of_work(org, "clerk", NOW) as ctx:
            grants.grant(ctx, doc_id, "accountant")
    with unit_of_work(org, "boss", NOW) as ctx:
        assert grants.revoke(ctx, doc_id, "clerk") == 1
    assert not may_view("clerk")
    created = events(org, Action.GRANT_CREATE)
    assert [(e.actor, e.outcome) for e in created] == [("boss", "allowed"), ("clerk", "denied")]
    assert [e.actor for e in events(org, Action.GRANT_REVOKE)] == ["boss"]


def test_change_classification_is_recorded(org: Infra) -> None:
    doc_id = register(org, title="合同", category=Category.CONTRACT)
    with pytest.raises(Forbidden):
        with unit_of_work(org, "boss", NOW) as ctx:
            documents.change_classification(ctx, doc_id, level=Level.SECRET)
    with unit_of_work(org, "gm", NOW) as ctx:
        documents.change_classification(ctx, doc_id, level=Level.SECRET,
                                        period=Period(years=5), note="重要合同")
    with org.sessions() as s:
        hist = documents.history(s, doc_id)
        assert [(h.kind, h.old_level, h.new_level, h.new_period) for h in hist] == [
            ("register", None, "confidential", "10y"),
            ("change", "confidential", "secret", "5y"),
        ]


def test_declassify_job_idempotent_and_catching_up(org: Infra) -> None:
    short = register(org, title="短期", category=Category.CONTRACT,
                     period=Period(until=date(2026, 12, 31)), issued_on=date(2026, 1, 1))
    register(org, title="长期", category=Category.CONTRACT)
    later = datetime(2027, 3, 1, tzinfo=UTC)  # the job did not run for two months
    with unit_of_work(org, None, later) as ctx:
        preview = declassify.run(ctx, later, dry_run=True)
    assert [d.document_id for d in preview] == [short]
    with unit_of_work(org, None, later) as ctx:
        done = declassify.run(ctx, later)
    assert [(d.document_id, d.old_level) for d in done] == [(short, "confidential")]
    with unit_of_work(org, None, later) as ctx:
        assert declassify.run(ctx, later) == []
    with org.sessions() as s:
        assert s.get(Document, short).level == "internal"  # type: ignore[union-attr]
        kinds = s.scalars(select(ClassificationChange.kind)
                          .where(ClassificationChange.document_id == short)).all()
        assert kinds == ["register", "auto_declassify"]
    (event,) = events(org, Action.DOCUMENT_DECLASSIFY)
    assert (event.actor, event.level, event.reason) == ("system", "confidential", "period_ended")
    with pytest.raises(InvalidInput, match="future"):
        with unit_of_work(org, None, NOW) as ctx:
            declassify.run(ctx, later)


def test_rotation_interrupted_then_resumed(org: Infra) -> None:
    bodies = {register(org, content=f"file {i}".encode() * 100): f"file {i}".encode() * 100
              for i in range(5)}
    old = org.keyring.active_id
    first = keys.rotate(org, stop_after=2)  # killed halfway
    assert first.new_key is not None and first.rewrapped == 2
    usage = keys.usage(org)
    assert usage == {old: 3, first.new_key: 2}
    for doc_id, body in bodies.items():  # nothing lost meanwhile
        assert read(org, "clerk", doc_id) == body
    second = keys.rotate(org)
    assert second.new_key is None and second.rewrapped == 3
    assert keys.usage(org) == {first.new_key: 5}
    keys.retire(org, old)
    for doc_id, body in bodies.items():
        assert read(org, "clerk", doc_id) == body
    assert [e.object_id for e in events(org, Action.KEY_RETIRE)] == [old]


def test_retire_refused_while_in_use(org: Infra) -> None:
    register(org, content=b"hello")
    old = org.keyring.active_id
    org.keyring.rotate()
    from vault.errors import Conflict

    with pytest.raises(Conflict, match="still wraps 1"):
        keys.retire(org, old)
