"""Tables of the audit trail. The schema is owned by migration 0002.

``audit_events`` rows are never updated or deleted by Vault. ``audit_head`` has
one row (id 1) that every writer locks to append: it serialises the chain on
PostgreSQL (``SELECT … FOR UPDATE``) and carries the last sequence number and
MAC, so the next event needs no scan. ``audit_checkpoints`` holds the signed
checkpoints (also mirrored to ``audit/checkpoints.jsonl``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from vault.models import Base, UTCDateTime

ZERO_MAC = "0" * 64

# Column widths; the writer clips longer (escaped) text to these so that a
# hostile, over-long value (a typed user name at sign-in) cannot make the
# insert fail and turn into a refusal of service.
WIDTHS: dict[str, int] = {
    "actor": 200,
    "actor_roles": 255,
    "source": 100,
    "action": 40,
    "object_type": 40,
    "object_id": 100,
    "level": 16,
    "outcome": 16,
    "reason": 100,
    "request_id": 100,
}


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_document_id_seq", "document_id", "seq"),
        Index("ix_audit_events_actor_seq", "actor", "seq"),
        Index("ix_audit_events_ts", "ts"),
        Index("ix_audit_events_action", "action"),
    )

    # Assigned by the writer (head seq + 1) under the head lock, never by the database.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(WIDTHS["actor"]))  # user name or "system"
    actor_roles: Mapped[str] = mapped_column(String(WIDTHS["actor_roles"]), default="")
    source: Mapped[str | None] = mapped_column(String(WIDTHS["source"]))  # address
    action: Mapped[str] = mapped_column(String(WIDTHS["action"]))
    object_type: Mapped[str | None] = mapped_column(String(WIDTHS["object_type"]))
    object_id: Mapped[str | None] = mapped_column(String(WIDTHS["object_id"]))
    # The document the event concerns (also for grants, copies, loans), for a
    # file's history and its knowers.
    document_id: Mapped[int | None] = mapped_column(Integer)
    level: Mapped[str | None] = mapped_column(String(WIDTHS["level"]))  # level at that moment
    outcome: Mapped[str] = mapped_column(String(WIDTHS["outcome"]))
    reason: Mapped[str | None] = mapped_column(String(WIDTHS["reason"]))
    request_id: Mapped[str | None] = mapped_column(String(WIDTHS["request_id"]))
    detail: Mapped[str | None] = mapped_column(Text)  # canonical JSON text, small, escaped
    mac: Mapped[str] = mapped_column(String(64))  # hex HMAC-SHA256, see vault.audit.chain

    def as_event(self) -> dict[str, object]:
        """The fields the MAC covers (see `vault.audit.chain.EVENT_FIELDS`)."""
        from vault.audit.chain import event_dict

        return event_dict(
            self.seq,
            self.ts,
            self.actor,
            self.actor_roles,
            self.source,
            self.action,
            self.object_type,
            self.object_id,
            self.document_id,
            self.level,
            self.outcome,
            self.reason,
            self.request_id,
            self.detail,
        )


class AuditHead(Base):
    """One row (id 1): the end of the chain, locked by every append."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    mac: Mapped[str] = mapped_column(String(64), default=ZERO_MAC)
    # The last checkpoint, so the writer knows when the next one is due without a query.
    checkpoint_seq: Mapped[int] = mapped_column(Integer, default=0)
    checkpoint_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditCheckpoint(Base):
    """A signed statement "the trail had ``seq`` events, ending in ``mac``, at ``created_at``"."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # size
    prev_seq: Mapped[int] = mapped_column(Integer)  # the previous checkpoint's seq (0: none)
    mac: Mapped[str] = mapped_column(String(64))  # head MAC at seq
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(128))  # hex Ed25519
    # Hex of the 16-byte leaves (SHA-256 of each mirror line) of events prev_seq+1..seq,
    # signed with the rest: lets the offline verifier name the first altered line.
    leaves: Mapped[str] = mapped_column(Text)
