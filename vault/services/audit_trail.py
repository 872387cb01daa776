"""Compliance's use of the audit trail: verify, export, a file's history and who
has known it (知悉记录). Reading the trail is itself audited."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from vault import policy
from vault.actions import Action, Outcome
from vault.audit.log import Knower, Report
from vault.audit.models import AuditEvent
from vault.audit.witness import Witnessed, read_records
from vault.errors import AuditUnavailable, Forbidden, InvalidInput
from vault.services.context import Ctx

FORMATS = ("csv", "jsonl")


def _require_compliance(ctx: Ctx, action: Action) -> None:
    decision = policy.can_review_audit(ctx.subject)
    if not decision.allowed:
        raise ctx.refuse(
            Forbidden("Only compliance officers may read the audit trail.",
                      code=decision.reason.value),
            action, object_type="audit",
        )


def checkpoint(ctx: Ctx) -> int | None:
    """Sign a checkpoint now; the event it covers up to, or None when nothing is new."""
    cp = ctx.infra.audit.maybe_checkpoint(ctx.session, ctx.now, force=True)
    return cp.seq if cp is not None else None


def read_witness(witness_file: Path) -> list[Witnessed]:
    """The checkpoint records of a witness file (our JSON lines or saved syslog)."""
    try:
        return read_records(witness_file)
    except FileNotFoundError:
        raise InvalidInput(f"The witness file {witness_file} does not exist.",
                           code="no_witness_file") from None
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"Cannot read the witness file {witness_file}: {exc}",
                           code="bad_witness_file") from None


def verify(ctx: Ctx, witness_file: Path | None = None) -> Report:
    """Recompute the chain, check every checkpoint and the mirror, and with a
    witness file that the trail reaches every witnessed head; the run is audited."""
    witnessed = read_witness(witness_file) if witness_file is not None else None
    readonly = ctx.infra.readonly_sessions()
    with readonly() as session:
        report = ctx.infra.audit.verify_database(session, witnessed=witnessed)
    savepoint = ctx.session.begin_nested()
    try:
        ctx.record(
            Action.AUDIT_VERIFY,
            Outcome.ALLOWED if report.ok else Outcome.FAILED,
            object_type="audit",
            reason="chain_ok" if report.ok else "chain_broken",
            detail={"events": report.events, "first_bad_seq": report.first_bad_seq},
        )
    except AuditUnavailable as exc:
        savepoint.rollback()
        if report.ok:
            raise
        # A broken trail may refuse the check's own event (a row forged where it
        # would go): the finding matters more than its record, so it is still told.
        return replace(report, notes=(*report.notes,
                                      f"this check could not be recorded: {exc.message}"))
    savepoint.commit()
    return report


def verify_offline(
    audit_dir: Path, public_key_file: Path, witness_file: Path | None = None
) -> Report:
    """Check a copied audit folder with the public key alone (no database, no HMAC key)."""
    from vault.audit import log

    if not audit_dir.is_dir():
        raise InvalidInput(f"{audit_dir} is not a folder.", code="no_audit_dir")
    try:
        pem = public_key_file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Cannot read the public key {public_key_file}: {exc}",
                           code="bad_public_key") from None
    witnessed = read_witness(witness_file) if witness_file is not None else None
    return log.verify_offline(audit_dir, pem, witnessed=witnessed)


def export(
    ctx: Ctx,
    fmt: str,
    out: TextIO,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    document: int | None = None,
    action: str | None = None,
    outcome: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Export matching events (compliance only); the export is an event too."""
    _require_compliance(ctx, Action.AUDIT_EXPORT)
    if fmt not in FORMATS:
        raise InvalidInput(f"Unknown format {fmt!r}; use csv or jsonl.", code="bad_format")
    if action is not None and action not in {a.value for a in Action}:
        raise InvalidInput(f"Unknown action {action!r}.", code="unknown_action")
    if outcome is not None and outcome not in {o.value for o in Outcome}:
        raise InvalidInput(f"Unknown outcome {outcome!r}; use allowed, denied or failed.",
                           code="unknown_outcome")
    filters: dict[str, Any] = {"since": since, "until": until, "actor": actor,
                               "document": document, "action": action, "outcome": outcome}
    # Record first: if the event cannot be written, nothing is exported (fail closed).
    ctx.record(Action.AUDIT_EXPORT, object_type="audit", reason="exported",
               detail={"format": fmt, **{k: str(v) for k, v in filters.items() if v is not None}})
    readonly = ctx.infra.readonly_sessions()
    with readonly() as session:
        return ctx.infra.audit.export(session, fmt, out, progress=progress, **filters)


def history(ctx: Ctx, document_id: int) -> list[AuditEvent]:
    """Every event about a document, oldest first (compliance only)."""
    _require_compliance(ctx, Action.AUDIT_EXPORT)
    return ctx.infra.audit.history(ctx.session, document_id)


def knowers(ctx: Ctx, document_id: int) -> list[Knower]:
    """Everyone who viewed, downloaded, exported or received a copy of a document."""
    _require_compliance(ctx, Action.AUDIT_EXPORT)
    return ctx.infra.audit.knowers(ctx.session, document_id)

