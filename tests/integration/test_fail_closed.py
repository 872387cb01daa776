"""Fail closed: when the audit event cannot be written, the action is refused,
nothing is released and nothing changes (SPEC.md §6)."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from vault.audit.models import AuditEvent
from vault.errors import AuditUnavailable
from vault.models import Document, Grant
from vault.policy import Category
from vault.services import documents, grants
from vault.services.context import Infra, unit_of_work

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def break_audit_folder(infra: Infra) -> None:
    # Works as root too (chmod does not stop root): the folder becomes a file.
    shutil.rmtree(infra.settings.audit_dir)
    infra.settings.audit_dir.write_text("not a folder")


def remove_hmac_key(infra: Infra) -> None:
    (infra.settings.keys_dir / "audit-hmac.key").unlink()
    infra.audit = type(infra.audit)(infra.settings)


BREAKERS: list[Callable[[Infra], None]] = [break_audit_folder, remove_hmac_key]


@pytest.fixture
def doc_id(org: Infra) -> int:
    with unit_of_work(org, "boss", NOW) as ctx:
        return documents.register(ctx, title="通知", category=Category.NOTICE,
                                  content=io.BytesIO(b"released only when audited"),
                                  filename="n.txt").id


def blob_files(infra: Infra) -> list[object]:
    return sorted(p for p in (infra.settings.storage_dir / "blobs").rglob("*") if p.is_file())


def counts(infra: Infra) -> tuple[int, int, int]:
    with infra.sessions() as s:
        return (s.scalar(select(func.count()).select_from(AuditEvent)) or 0,
                s.scalar(select(func.count()).select_from(Document)) or 0,
                s.scalar(select(func.count()).select_from(Grant)) or 0)


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda f: f.__name__)
def test_download_refused_and_nothing_released(org: Infra, doc_id: int,
                                               breaker: Callable[[Infra], None]) -> None:
    before = counts(org)
    breaker(org)
    released: list[bytes] = []
    with pytest.raises(AuditUnavailable):
        with unit_of_work(org, "clerk", NOW) as ctx:
            content = documents.open_content(ctx, doc_id)
            released.extend(content.chunks)  # a caller would only stream after commit
    assert counts(org) == before


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda f: f.__name__)
def test_register_and_grant_refused_and_nothing_changed(org: Infra, doc_id: int,
                                                        breaker: Callable[[Infra], None]) -> None:
    with unit_of_work(org, "boss", NOW) as ctx:
        secret = documents.register(ctx, title="纪要", category=Category.MEETING_MINUTES).id
    before = counts(org)
    blobs_before = blob_files(org)
    breaker(org)
    with pytest.raises(AuditUnavailable):
        with unit_of_work(org, "boss", NOW) as ctx:
            grants.grant(ctx, secret, "clerk")
    with pytest.raises(AuditUnavailable):
        with unit_of_work(org, "boss", NOW) as ctx:
            documents.register(ctx, title="新文件", category=Category.NOTICE,
                               content=io.BytesIO(b"new"), filename="x.txt")
    assert counts(org) == before
    assert blob_files(org) == blobs_before


def test_cli_export_refused_leaves_no_file(org: Infra, doc_id: int, tmp_path: object) -> None:
    from pathlib import Path

    from click.testing import CliRunner

    from vault.cli import main

    out = Path(str(tmp_path)) / "out.txt"
    break_audit_folder(org)
    env = {"VAULT_HOME": str(org.settings.home), "VAULT_DATABASE_URL": org.settings.database_url}
    res = CliRunner().invoke(main, ["export", str(doc_id), "--as", "clerk", "--out", str(out)],
                             env=env)
    assert res.exit_code == 3, res.output
    assert "audit" in res.output.lower()
    assert not out.exists()


@pytest.mark.parametrize("breaker", BREAKERS, ids=lambda f: f.__name__)
def test_copy_approval_and_download_refused_and_nothing_changed(
        org: Infra, breaker: Callable[[Infra], None]) -> None:
    from vault.models import CopyRequest, RegisteredCopy
    from vault.policy import CopyKind, Level
    from vault.services import copies, samples

    with unit_of_work(org, "boss", NOW) as ctx:
        doc = documents.register(ctx, title="合同", category=Category.CONTRACT,
                                 level=Level.CONFIDENTIAL,
                                 content=io.BytesIO(samples.pdf_pages("合同")),
                                 filename="c.pdf").id
    with unit_of_work(org, "clerk", NOW) as ctx:
        pending = copies.request(ctx, doc, CopyKind.COPY, "审计").id
        approved = copies.request(ctx, doc, CopyKind.COPY, "审计").id
    with unit_of_work(org, "gm", NOW) as ctx:
        copies.approve(ctx, approved)
    before = counts(org)
    breaker(org)
    with pytest.raises(AuditUnavailable):
        with unit_of_work(org, "gm", NOW) as ctx:
            copies.approve(ctx, pending)
    released: list[bytes] = []
    with pytest.raises(AuditUnavailable):
        with unit_of_work(org, "clerk", NOW) as ctx:
            delivery = copies.download(ctx, approved)
            released.extend(delivery.chunks)  # a caller would only send after commit
    assert counts(org) == before
    with org.sessions() as s:
        assert s.get(CopyRequest, pending).status == "pending"  # type: ignore[union-attr]
        assert s.get(CopyRequest, approved).status == "approved"  # type: ignore[union-attr]
        assert s.scalars(select(RegisteredCopy)).all() == []
