"""`vault doctor`: orphan blobs, rows whose blob is missing, blobs that fail
authentication, and temporary files left by a crash. `repair` removes orphans
and temporary files older than an hour (younger ones may be uploads in flight)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from vault.crypto import envelope
from vault.errors import IntegrityFailure
from vault.models import DocumentVersion
from vault.services.context import Infra

GRACE_SECONDS = 3600


@dataclass(frozen=True)
class Problem:
    document_id: int
    version: int
    blob_id: str
    what: str


@dataclass
class Report:
    checked: int = 0
    orphans: list[tuple[str, float]] = field(default_factory=list)  # (blob id, age seconds)
    missing: list[Problem] = field(default_factory=list)
    corrupt: list[Problem] = field(default_factory=list)
    tmp: list[tuple[str, float]] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not (self.orphans or self.missing or self.corrupt or self.tmp)


def check(infra: Infra, progress: Callable[[int, int], None] | None = None) -> Report:
    """Walk every version row and every stored blob; decrypt each blob fully."""
    report = Report()
    with infra.sessions() as session:
        rows = session.execute(
            select(DocumentVersion.document_id, DocumentVersion.number, DocumentVersion.blob_id,
                   DocumentVersion.master_key_id, DocumentVersion.wrapped_key)
            .where(DocumentVersion.blob_id.is_not(None))
            .order_by(DocumentVersion.id)
        ).all()
    blobs = infra.blobs
    referenced = set()
    for i, (doc_id, number, blob_id, key_id, wrapped) in enumerate(rows, 1):
        assert blob_id is not None and key_id is not None and wrapped is not None
        if not blobs.exists(blob_id):
            report.missing.append(Problem(doc_id, number, blob_id, "blob missing"))
        else:
            try:
                key = infra.keyring.unwrap(key_id, wrapped)
                with blobs.open(blob_id) as fh:
                    for _ in envelope.decrypt_stream(key, fh, document_id=doc_id, version=number):
                        pass
            except IntegrityFailure as exc:
                detail = getattr(exc, "detail", "") or exc.message
                report.corrupt.append(Problem(doc_id, number, blob_id, detail))
        referenced.add(blob_id)
        report.checked = i
        if progress:
            progress(i, len(rows))
    now = time.time()
    for blob_id in blobs.iter_ids():
        if blob_id not in referenced:
            report.orphans.append((blob_id, max(0.0, now - blobs.info(blob_id).mtime)))
    report.tmp = [(t.name, t.age_seconds) for t in blobs.list_tmp()]
    return report


def repair(infra: Infra, report: Report) -> list[str]:
    """Remove orphans and temporary files older than an hour. Returns what was removed."""
    removed = []
    for blob_id, age in report.orphans:
        if age >= GRACE_SECONDS and infra.blobs.delete(blob_id):
            removed.append(f"orphan blob {blob_id}")
    for name, age in report.tmp:
        if age >= GRACE_SECONDS and infra.blobs.remove_tmp(name):
            removed.append(f"temporary file {name}")
    return removed
