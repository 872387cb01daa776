"""The tamper-evident audit trail (SPEC §6): see `vault.audit.chain` (pure: canonical
events, MAC chain, verification) and `vault.audit.log` (writer, mirror, checkpoints,
verification, export)."""

from __future__ import annotations

from vault.audit.chain import VerifyResult, escape_text, verify_chain
from vault.audit.log import (
    AuditLog,
    AuditMirrorFailed,
    Knower,
    RecordedEvent,
    Report,
    verify_offline,
)
from vault.audit.models import AuditCheckpoint, AuditEvent, AuditHead

__all__ = [
    "AuditCheckpoint",
    "AuditEvent",
    "AuditHead",
    "AuditLog",
    "AuditMirrorFailed",
    "Knower",
    "RecordedEvent",
    "Report",
    "VerifyResult",
    "escape_text",
    "verify_chain",
    "verify_offline",
]
