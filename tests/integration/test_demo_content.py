"""The demo group looks like a real group (issue 16): multi-page contracts,
certificates with numbers, holders and custodian, a notice with a scanned sign-off
sheet, a hotline call that is speech (espeak-ng: `make test` installs it, so this
test never skips), an original out on loan and files due in the annual review."""

from __future__ import annotations

import io
import shutil
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from vault.config import load_settings
from vault.db import make_engine, make_sessionmaker
from vault.models import Certificate, Document, Loan, SignOff
from vault.policy import Category, Level
from vault.services import annual_review, samples, viewer
from vault.services.context import Infra, unit_of_work


@pytest.fixture
def demo(demo_home: Path, database_url: str) -> Iterator[Infra]:
    settings = load_settings({}, home=demo_home, database_url=database_url)
    engine = make_engine(settings.database_url)
    try:
        yield Infra.build(settings, make_sessionmaker(engine))
    finally:
        engine.dispose()


def _content(infra: Infra, user: str, title: str) -> tuple[int, bytes, str | None]:
    with unit_of_work(infra, user) as ctx:
        doc = ctx.session.scalar(select(Document).where(Document.title == title))
        assert doc is not None, title
        ver = doc.versions[-1]
        return doc.id, viewer._decrypt(ctx, doc, ver), ver.media_type


def test_the_demo_reads_like_a_real_group(demo: Infra) -> None:
    # A contract of several pages, with its clauses.
    doc_id, pdf, media = _content(demo, "zhou.zhuguan", "A座物业服务合同")
    assert media == "application/pdf"
    assert viewer._count_pages(viewer.Kind.PDF, pdf) >= 4

    # The hotline call is speech, not the test tone: seconds long and far from a pure
    # 440 Hz sine (most of a tone's samples sit near its peaks; speech pauses often).
    assert shutil.which("espeak-ng"), "make test installs espeak-ng (Makefile RUN_DEBS)"
    _id, wav, media = _content(demo, "zhou.zhuguan", "热线录音 2026-11-20 10:32（漏水报修）")
    assert media == "audio/wav" and wav != samples.wav_tone()
    with wave.open(io.BytesIO(wav)) as w:
        seconds = w.getnframes() / w.getframerate()
        frames = w.readframes(w.getnframes())
    assert 3 <= seconds <= 20
    quiet = sum(1 for i in range(0, len(frames) - 1, 2)
                if abs(int.from_bytes(frames[i:i + 2], "little", signed=True)) < 200)
    assert quiet / (len(frames) // 2) > 0.2

    with demo.sessions() as s:
        # Certificates carry their number, custodian and where the original is.
        certs = s.scalars(select(Certificate)).all()
        assert len(certs) == 4
        assert all(c.number and c.custodian_id and c.original_location for c in certs)
        # The notice has a scanned sign-off sheet besides the on-site signature.
        methods = {o.method for o in s.scalars(select(SignOff))}
        assert {"on_site", "scanned"} <= methods
        scanned = s.scalar(select(SignOff).where(SignOff.method == "scanned"))
        assert scanned is not None and scanned.sheet_document_id is not None
        # The business licence is out on loan.
        loans = s.scalars(select(Loan)).all()
        assert len(loans) == 1 and loans[0].lent_at is not None
        assert loans[0].returned_at is None
        licence = s.get(Document, loans[0].document_id)
        assert licence is not None and licence.category == Category.BUSINESS_LICENCE.value

    # Files registered more than a year ago wait in the annual review.
    with unit_of_work(demo, "zhou.zhuguan") as ctx:
        due = annual_review.queue(ctx)
        titles = {i.document.title for i in due}
        assert "A座物业服务合同" in titles and "电梯厂家技术资料" in titles
        assert all(i.level is not Level.INTERNAL for i in due)
    assert doc_id == 8  # the README's examples keep their numbers


def test_speech_comes_through_a_pipe() -> None:
    wav = samples.speech_wav("您好")
    assert wav is not None and wav[:4] == b"RIFF"
