"""The tamper-evident audit trail (SPEC §6). `vault.audit.chain` is pure (canonical
events, MAC chain, verification); `vault.audit.log.AuditLog` is the facade the rest of
Vault uses (writing events in the caller's transaction), over `keys` (the HMAC and
signing keys), `mirror` (the JSON-lines files written after commit), `checkpoints`
(signed checkpoints and their leaves), `witness` (copies out of reach), `verify`
(database, mirror and offline verification), `export` (CSV and JSON lines) and
`common` (tables, statements and the read models `Report`, `Knower`)."""

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
