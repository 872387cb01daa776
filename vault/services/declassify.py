"""The declassification job (自行解密): materialise periods that have ended.

The rule itself holds at every access check (`policy.effective_level`); this
job only writes down what already holds: the new level, a history entry and an
audit event by "system". Idempotent, and it catches up after downtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from vault import policy
from vault.actions import Action
from vault.errors import InvalidInput
from vault.models import ClassificationChange, Document
from vault.services import documents
from vault.services.context import Ctx


@dataclass(frozen=True)
class Declassified:
    document_id: int
    title: str
    old_level: str
    period: str
    ended_at: datetime


def due(ctx: Ctx, as_of: datetime) -> list[Document]:
    stmt = (
        select(Document)
        .where(Document.level != policy.Level.INTERNAL.value)
        .where(Document.declassify_at.is_not(None))
        .where(Document.declassify_at <= as_of)
        .order_by(Document.declassify_at, Document.id)
    )
    return list(ctx.session.scalars(stmt))


def run(ctx: Ctx, as_of: datetime, dry_run: bool = False) -> list[Declassified]:
    """Declassify every file whose period ended at or before ``as_of``."""
    if as_of > ctx.now and not dry_run:
        raise InvalidInput(
            "Declassifying as of a future time would open files early; use --dry-run to preview.",
            code="as_of_in_future",
        )
    changed = []
    for doc in due(ctx, as_of):
        assert doc.declassify_at is not None
        period = documents.period_of(doc).spec()
        item = Declassified(doc.id, doc.title, doc.level, period, doc.declassify_at)
        changed.append(item)
        if dry_run:
            continue
        ctx.session.add(
            ClassificationChange(
                document_id=doc.id, at=ctx.now, actor_id=None, kind="auto_declassify",
                old_level=doc.level, new_level=policy.Level.INTERNAL.value,
                old_period=period, new_period=period,
                note=f"period ended {doc.declassify_at.isoformat()}",
            )
        )
        ctx.record(Action.DOCUMENT_DECLASSIFY, object_type="document", object_id=str(doc.id),
                   level=doc.level, reason="period_ended",
                   detail={"ended_at": doc.declassify_at.isoformat()})
        doc.level = policy.Level.INTERNAL.value
    return changed
