"""The viewer service over the real stack (SQLite and PostgreSQL): what it releases,
what it audits, and that it fails closed."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from datetime import UTC, datetime

import pytest
from PIL import Image
from sqlalchemy import select

from vault.audit.models import AuditEvent
from vault.errors import (
    AuditUnavailable,
    ConfigError,
    Forbidden,
    IntegrityFailure,
    InvalidInput,
    NotFound,
)
from vault.models import DocumentVersion
from vault.policy import Category, Level
from vault.services import document_pages, documents, samples, viewer
from vault.services.context import Infra, unit_of_work

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def _register(infra: Infra, level: Level, content: bytes, filename: str,
              category: Category = Category.CONTRACT) -> int:
    with unit_of_work(infra, "clerk", NOW) as ctx:
        from vault.services import accounts

        return documents.register(
            ctx, title="查看器测试", category=category, level=level,
            supervisor=accounts.get_user(ctx.session, "boss"), department_code="CS",
            content=io.BytesIO(content), filename=filename).id


def _events(infra: Infra, doc_id: int) -> list[AuditEvent]:
    with infra.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.document_id == doc_id)
                              .order_by(AuditEvent.seq)))


@pytest.fixture
def pdf_doc(org: Infra) -> int:
    return _register(org, Level.SECRET, samples.pdf_pages("机密报告", 3), "report.pdf")


def test_page_image_is_a_watermarked_png_and_audited(org: Infra, pdf_doc: int) -> None:
    with unit_of_work(org, "boss", NOW) as ctx:
        png = viewer.page_image(ctx, pdf_doc, 2)
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG" and img.width == viewer.RENDER_WIDTH
    event = _events(org, pdf_doc)[-1]
    assert (event.action, event.actor, event.outcome, event.level) == (
        "document:view", "boss", "allowed", "secret")
    assert json.loads(event.detail or "{}") == {"page": 2, "version": 1}


def test_viewer_page_counts_pages_and_audits_a_metadata_view(org: Infra, pdf_doc: int) -> None:
    with unit_of_work(org, "clerk", NOW) as ctx:
        shown = viewer.open_viewer(ctx, pdf_doc, lang="en")
    assert (shown.kind, shown.pages, shown.marking) == (viewer.Kind.PDF, 3, "SECRET★20 years")
    assert not shown.may_download and shown.text is None
    assert _events(org, pdf_doc)[-1].action == "document:view_metadata"


def test_text_is_released_and_audited_as_a_view(org: Infra) -> None:
    doc_id = _register(org, Level.CONFIDENTIAL, "通知正文\n".encode(), "n.txt", Category.NOTICE)
    with unit_of_work(org, "boss", NOW) as ctx:
        shown = viewer.open_viewer(ctx, doc_id)
    assert shown.text == "通知正文\n" and shown.kind is viewer.Kind.TEXT
    assert _events(org, doc_id)[-1].action == "document:view"


def test_refusals_are_audited_and_release_nothing(org: Infra, pdf_doc: int) -> None:
    with pytest.raises(Forbidden), unit_of_work(org, "gm", NOW) as ctx:
        viewer.page_image(ctx, pdf_doc, 1)  # knows of it (approver), may not read
    with pytest.raises(NotFound), unit_of_work(org, "accountant", NOW) as ctx:
        viewer.page_image(ctx, pdf_doc, 1)  # out of scope
    with pytest.raises(NotFound), unit_of_work(org, "boss", NOW) as ctx:
        viewer.page_image(ctx, pdf_doc, 4)  # no such page
    tail = [(e.actor, e.action, e.outcome) for e in _events(org, pdf_doc)[-3:]]
    assert tail == [("gm", "document:view", "denied"), ("accountant", "document:view", "denied"),
                    ("boss", "document:view", "denied")]


def test_missing_font_fails_before_anything_is_released(org: Infra, pdf_doc: int) -> None:
    settings = dataclasses.replace(org.settings,
                                   font_file=org.settings.home / "no-such-font.ttc")
    broken = dataclasses.replace(org, settings=settings)
    before = len(_events(org, pdf_doc))
    with pytest.raises(ConfigError) as err, unit_of_work(broken, "boss", NOW) as ctx:
        viewer.page_image(ctx, pdf_doc, 1)
    assert err.value.code == "font_missing"
    assert len(_events(org, pdf_doc)) == before


def test_fails_closed_when_the_audit_cannot_be_written(org: Infra, pdf_doc: int) -> None:
    shutil.rmtree(org.settings.audit_dir)
    org.settings.audit_dir.write_text("not a folder")
    released: list[bytes] = []
    with pytest.raises(AuditUnavailable), unit_of_work(org, "boss", NOW) as ctx:
        released.append(viewer.page_image(ctx, pdf_doc, 1))
    # The service returned bytes inside the unit of work, but the commit failed: a
    # caller that sends only after the block (as the views do) sends nothing.
    with org.sessions() as s:
        assert not any(e.action == "document:view" and e.outcome == "allowed"
                       for e in s.scalars(select(AuditEvent)))


def test_tampered_blob_is_refused(org: Infra, pdf_doc: int) -> None:
    with org.sessions() as s:
        blob_id = s.scalar(select(DocumentVersion.blob_id)
                           .where(DocumentVersion.document_id == pdf_doc))
    assert blob_id is not None
    path = org.blobs.path_of(blob_id)
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityFailure), unit_of_work(org, "boss", NOW) as ctx:
        viewer.page_image(ctx, pdf_doc, 1)
    assert not any(e.action == "document:view" and e.outcome == "allowed"
                   for e in _events(org, pdf_doc))


def test_too_large_to_view(org: Infra, pdf_doc: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(viewer, "VIEW_MAX_BYTES", 100)
    with unit_of_work(org, "boss", NOW) as ctx:
        assert viewer.open_viewer(ctx, pdf_doc).kind is viewer.Kind.TOO_LARGE
    with pytest.raises(InvalidInput) as err, unit_of_work(org, "boss", NOW) as ctx:
        viewer.page_image(ctx, pdf_doc, 1)
    assert err.value.code == "too_large_to_view"


def test_audio_ranges_are_verified_segments(org: Infra) -> None:
    wav = samples.wav_tone(seconds=10.0)
    doc_id = _register(org, Level.CONFIDENTIAL, wav, "call.wav", Category.CALL_RECORDING)
    with unit_of_work(org, "boss", NOW) as ctx:
        stream = viewer.audio(ctx, doc_id, (70_000, 140_001))
    assert (stream.start, stream.stop, stream.partial) == (70_000, 140_001, True)
    assert b"".join(stream.chunks) == wav[70_000:140_001]
    with unit_of_work(org, "boss", NOW) as ctx:
        whole = viewer.audio(ctx, doc_id)
    assert b"".join(whole.chunks) == wav and not whole.partial
    text_id = _register(org, Level.CONFIDENTIAL, b"text\n", "t.txt", Category.NOTICE)
    with pytest.raises(InvalidInput), unit_of_work(org, "boss", NOW) as ctx:
        viewer.audio(ctx, text_id)


def test_paper_original_has_nothing_to_show(org: Infra) -> None:
    with unit_of_work(org, "clerk", NOW) as ctx:
        doc_id = documents.register(ctx, title="纸质", category=Category.CONTRACT,
                                    paper_original=True).id
    with unit_of_work(org, "clerk", NOW) as ctx:
        assert viewer.open_viewer(ctx, doc_id).kind is viewer.Kind.NONE
    with pytest.raises(InvalidInput), unit_of_work(org, "clerk", NOW) as ctx:
        viewer.page_image(ctx, doc_id, 1)


def test_document_page_data(org: Infra, pdf_doc: int) -> None:
    with unit_of_work(org, "boss", NOW) as ctx:
        page = document_pages.page(ctx, pdf_doc, "zh")
    assert page.marking == "机密★20年" and page.may_grant and page.may_add_version
    assert page.may_view and not page.may_download and page.viewer_kind == "pdf"
    assert {k.username for k in page.may_view_list} == {"ceo", "boss", "clerk"}
    assert "accountant" in {c.value for c in page.grant_candidates}
    assert [c.kind for c in page.changes] == ["register"]
    with unit_of_work(org, "keeper", NOW) as ctx:
        kept = document_pages.page(ctx, pdf_doc, "zh")
    assert not (kept.may_view or kept.may_grant or kept.may_add_version)
    assert kept.grant_candidates == []
