"""The compliance console's use cases: the trail page by page with filters, the
denied attempts, a document's whole history, the chain's status and verification
on demand. Compliance officers only (`policy.can_review_audit`); a refusal is
itself an audit event. Reading the trail is audited (``audit:view``), as are
verification and export (`vault.services.audit_trail`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import func, select

from vault import policy
from vault.actions import Action, Outcome
from vault.audit.log import Knower, Report
from vault.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from vault.errors import Forbidden, InvalidInput
from vault.models import Document
from vault.services import audit_trail
from vault.services.context import Ctx

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
ACTIONS: tuple[str, ...] = tuple(a.value for a in Action)
OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)


def _require(ctx: Ctx, action: Action, **kwargs: Any) -> None:
    decision = policy.can_review_audit(ctx.subject)
    if not decision.allowed:
        raise ctx.refuse(
            Forbidden("Only compliance officers may read the audit trail.",
                      code=decision.reason.value),
            action, object_type="audit", **kwargs,
        )


def require_reviewer(ctx: Ctx) -> None:
    """Refuse (audited) anyone who may not read the trail; for pages that stop
    before reading it (a form with mistakes still answers 403 first)."""
    _require(ctx, Action.AUDIT_VIEW)


@dataclass(frozen=True)
class Filters:
    """What the trail is narrowed to; ``since`` inclusive, ``until`` exclusive (UTC)."""

    actor: str | None = None
    document: int | None = None
    action: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def check(self) -> None:
        if self.action is not None and self.action not in ACTIONS:
            raise InvalidInput(f"Unknown action {self.action!r}.", code="unknown_action")
        if self.outcome is not None and self.outcome not in OUTCOMES:
            raise InvalidInput(f"Unknown outcome {self.outcome!r}.", code="unknown_outcome")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InvalidInput("The time range ends before it starts.", code="bad_range")

    def as_query(self) -> dict[str, Any]:
        return {"actor": self.actor, "document": self.document, "action": self.action,
                "outcome": self.outcome, "since": self.since, "until": self.until}

    def as_detail(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.as_query().items() if v is not None}


@dataclass(frozen=True)
class TrailPage:
    events: list[AuditEvent]
    total: int
    page: int
    pages: int
    page_size: int


def trail(ctx: Ctx, filters: Filters, page: int = 1, page_size: int = PAGE_SIZE) -> TrailPage:
    """Matching events, newest first, one page of them."""
    _require(ctx, Action.AUDIT_VIEW)
    filters.check()
    page_size = max(1, min(page_size, MAX_PAGE_SIZE))
    stmt = ctx.infra.audit.query(**filters.as_query())
    total = int(ctx.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    pages = max(1, -(-total // page_size))
    page = max(1, min(page, pages))
    events = list(ctx.session.scalars(
        stmt.order_by(None).order_by(AuditEvent.seq.desc())
        .offset((page - 1) * page_size).limit(page_size)
    ))
    ctx.record(Action.AUDIT_VIEW, object_type="audit", reason="trail",
               detail={**filters.as_detail(), "page": page})
    return TrailPage(events, total, page, pages, page_size)


@dataclass(frozen=True)
class DocumentHistory:
    document_id: int
    title: str | None  # None: no such document (any more): the trail may still speak of it
    level: str | None
    events: list[AuditEvent]
    knowers: list[Knower] = field(default_factory=list)


def document_history(ctx: Ctx, document_id: int) -> DocumentHistory:
    """Everything the trail says about a document, and who has known it (知悉记录).
    Compliance sees a file's metadata, never its content (SPEC.md §2)."""
    _require(ctx, Action.AUDIT_VIEW, document_id=document_id)
    doc = ctx.session.get(Document, document_id)
    events = audit_trail.history(ctx, document_id)
    knowers = audit_trail.knowers(ctx, document_id)
    ctx.record(Action.AUDIT_VIEW, object_type="audit", document_id=document_id,
               reason="document_history")
    return DocumentHistory(document_id, doc.title if doc else None,
                           doc.level if doc else None, events, knowers)


@dataclass(frozen=True)
class ChainStatus:
    events: int
    checkpoint_seq: int | None
    checkpoint_at: datetime | None
    verified_at: datetime | None  # the last verification anyone ran (CLI or console)
    verified_ok: bool | None
    verified_by: str | None
    verified_events: int | None
    first_bad_seq: int | None


def chain_status(ctx: Ctx) -> ChainStatus:
    """The head of the chain, the last signed checkpoint and the last verification."""
    import json

    _require(ctx, Action.AUDIT_VIEW)
    head = ctx.session.get(AuditHead, 1)
    cp = ctx.session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1))
    last = ctx.session.scalar(
        select(AuditEvent).where(AuditEvent.action == Action.AUDIT_VERIFY.value)
        .order_by(AuditEvent.seq.desc()).limit(1)
    )
    detail: dict[str, Any] = {}
    if last is not None and last.detail:
        try:
            loaded = json.loads(last.detail)
        except ValueError:
            loaded = {}
        detail = loaded if isinstance(loaded, dict) else {}
    return ChainStatus(
        events=head.seq if head is not None else 0,
        checkpoint_seq=cp.seq if cp is not None else None,
        checkpoint_at=cp.created_at if cp is not None else None,
        verified_at=last.ts if last is not None else None,
        verified_ok=(last.outcome == Outcome.ALLOWED.value) if last is not None else None,
        verified_by=last.actor if last is not None else None,
        verified_events=_int_or_none(detail.get("events")),
        first_bad_seq=_int_or_none(detail.get("first_bad_seq")),
    )


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def verify(ctx: Ctx) -> Report:
    """Recompute the whole chain now (compliance only); the run is audited."""
    _require(ctx, Action.AUDIT_VERIFY)
    return audit_trail.verify(ctx)


def export(ctx: Ctx, fmt: str, out: TextIO, filters: Filters) -> int:
    """Write the matching events as ``csv`` or ``jsonl`` to ``out``; audited."""
    _require(ctx, Action.AUDIT_EXPORT)
    filters.check()
    return audit_trail.export(ctx, fmt, out, **filters.as_query())
