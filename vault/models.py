"""Typed SQLAlchemy 2 models. The schema itself is owned by Alembic (vault/migrations)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    is_hq: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    departments: Mapped[list[Department]] = relationship(back_populates="company")


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("company_id", "code", name="uq_departments_company_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))

    company: Mapped[Company] = relationship(back_populates="departments")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on deactivation and password change: sessions and tokens of an older epoch die.
    auth_epoch: Mapped[int] = mapped_column(Integer, default=0)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    company: Mapped[Company] = relationship()
    department: Mapped[Department | None] = relationship()
    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r.role for r in self.role_rows)


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str | None] = mapped_column(String(100))
    contact: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32), default="active")
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))


class Document(Base):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    category: Mapped[str] = mapped_column(String(32), index=True)
    level: Mapped[str] = mapped_column(String(16), index=True)  # materialised level
    period_years: Mapped[int] = mapped_column(Integer, default=0)
    period_months: Mapped[int] = mapped_column(Integer, default=0)
    period_days: Mapped[int] = mapped_column(Integer, default=0)
    period_until: Mapped[date | None] = mapped_column(Date)
    condition: Mapped[str | None] = mapped_column(Text)
    issued_on: Mapped[date] = mapped_column(Date)
    declassify_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    registrant_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    registrant_removed: Mapped[bool] = mapped_column(Boolean, default=False)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    has_paper_original: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Tokens of its indexed text (title included): BM25's document length, a copy of
    # document_texts.tokens read beside the scope's columns (migration 0015_search_speed).
    text_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    company: Mapped[Company] = relationship()
    department: Mapped[Department | None] = relationship()
    supervisor: Mapped[User | None] = relationship(foreign_keys=[supervisor_id])
    registrant: Mapped[User | None] = relationship(foreign_keys=[registrant_id])
    tenant: Mapped[Tenant | None] = relationship()
    grants: Mapped[list[Grant]] = relationship(back_populates="document", lazy="selectin")
    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", order_by="DocumentVersion.number"
    )


class DocumentVersion(Base):
    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "number", name="uq_versions_doc_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    number: Mapped[int] = mapped_column(Integer)
    blob_id: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer, default=0)
    media_type: Mapped[str | None] = mapped_column(String(128))
    original_name: Mapped[str | None] = mapped_column(String(255))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_key_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    document: Mapped[Document] = relationship(back_populates="versions")


class Grant(Base):
    __tablename__ = "grants"
    # The scope's "designated" test looks up both (migration 0015_search_speed).
    __table_args__ = (Index("ix_grants_document_grantee", "document_id", "grantee_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    grantee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    grantor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    level: Mapped[str] = mapped_column(String(16))  # the file's level when granted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Indexed: the moments a search's cached statistics hold until (0016_search_epoch).
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # "grant", or "registration": the registrant's own access to a 绝密 file, or to a
    # 机密 file they do not supervise (in the supervisor's name), revocable like any.
    basis: Mapped[str] = mapped_column(String(16), default="grant", server_default="grant")
    # An HQ executive made or confirmed it: it then holds at every level (绝密 included).
    hq_confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    hq_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    document: Mapped[Document] = relationship(back_populates="grants")
    grantee: Mapped[User] = relationship(foreign_keys=[grantee_id])
    grantor: Mapped[User] = relationship(foreign_keys=[grantor_id])
    hq_confirmed_by: Mapped[User | None] = relationship(foreign_keys=[hq_confirmed_by_id])


class ClassificationChange(Base):
    """History of a file's level and period; never rewritten."""

    __tablename__ = "classification_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: system
    kind: Mapped[str] = mapped_column(String(32))  # register, change, declassify, extend, ...
    old_level: Mapped[str | None] = mapped_column(String(16))
    new_level: Mapped[str] = mapped_column(String(16))
    old_period: Mapped[str | None] = mapped_column(Text)
    new_period: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)

    actor: Mapped[User | None] = relationship()


class ApiToken(Base):
    """A personal API token: only its hash is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), index=True)  # shown in lists, not secret
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)  # SHA-256 hex
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class TotpFactor(Base):
    """A second factor (TOTP). The secret is stored encrypted (wrapped by the master key)."""

    __tablename__ = "totp_factors"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(64))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: enrolling
    last_step: Mapped[int] = mapped_column(Integer, default=0)  # no code used twice
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecoveryCode(Base):
    """One-time recovery codes for the second factor (hashed)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(128))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CopyRequest(Base):
    """A request for a copy, excerpt, print, loan or classification change (SPEC.md §3).

    Bound at creation to requester, document, version and kind; decided once.
    """

    __tablename__ = "copy_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    version_number: Mapped[int | None] = mapped_column(Integer)  # None: paper original
    kind: Mapped[str] = mapped_column(String(16))
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    pages: Mapped[str | None] = mapped_column(String(200))  # excerpt: "1-3,5"
    new_level: Mapped[str | None] = mapped_column(String(16))  # downgrade / declassify
    new_period: Mapped[str | None] = mapped_column(Text)  # extend: the period spec asked for
    due_on: Mapped[date | None] = mapped_column(Date)  # loan: asked return date
    level_at_request: Mapped[str] = mapped_column(String(16))
    default_no: Mapped[bool] = mapped_column(Boolean, default=False)
    # pending → approved → spent | rejected | cancelled | void (expiry is computed from
    # window_until)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    approved_pages: Mapped[str | None] = mapped_column(String(200))
    window_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    spent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # void: the approval no longer held when it was used (policy.approval_void)
    void_reason: Mapped[str | None] = mapped_column(String(32))
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    document: Mapped[Document] = relationship()
    requester: Mapped[User] = relationship(foreign_keys=[requester_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class RegisteredCopy(Base):
    """A copy that left Vault (复印件视同原件): numbered per document, stamped, registered."""

    __tablename__ = "registered_copies"
    __table_args__ = (
        UniqueConstraint("document_id", "number", name="uq_registered_copies_doc_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[int] = mapped_column(ForeignKey("copy_requests.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    version_number: Mapped[int] = mapped_column(Integer)
    pages: Mapped[str | None] = mapped_column(String(200))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    level_at_issue: Mapped[str] = mapped_column(String(16))
    period_at_issue: Mapped[str | None] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(100), index=True)
    stamped: Mapped[bool] = mapped_column(Boolean, default=False)
    media_type: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="issued", index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_note: Mapped[str | None] = mapped_column(Text)

    document: Mapped[Document] = relationship()
    request: Mapped[CopyRequest] = relationship()
    recipient: Mapped[User] = relationship(foreign_keys=[recipient_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])


class Loan(Base):
    """The lending register (借出) for paper originals and certificates."""

    __tablename__ = "loans"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("copy_requests.id"), unique=True)
    borrower_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    lent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # handed over
    lent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)

    document: Mapped[Document] = relationship()
    request: Mapped[CopyRequest] = relationship()
    borrower: Mapped[User] = relationship(foreign_keys=[borrower_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    lent_by: Mapped[User | None] = relationship(foreign_keys=[lent_by_id])
    returned_by: Mapped[User | None] = relationship(foreign_keys=[returned_by_id])


class Notification(Base):
    """An inbox entry; mailed when SMTP is configured. Never carries file content."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject_zh: Mapped[str] = mapped_column(Text)
    subject_en: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(200))  # a page in Vault (sign-in needed)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("copy_requests.id"))
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


# ---------------------------------------------------------------------------
# Property-management records (issue 7)


class NoticeRecipient(Base):
    """A tenant a notice (or letter) is addressed to."""

    __tablename__ = "notice_recipients"
    __table_args__ = (
        UniqueConstraint("document_id", "tenant_id", name="uq_notice_recipients_doc_tenant"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    document: Mapped[Document] = relationship()
    tenant: Mapped[Tenant] = relationship()


class SignOff(Base):
    """A recipient's sign-off (签收) of a notice; a scanned sheet is a linked document."""

    __tablename__ = "sign_offs"
    __table_args__ = (
        UniqueConstraint("document_id", "tenant_id", name="uq_sign_offs_doc_tenant"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    signer_name: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(16))  # on_site, scanned, electronic
    sheet_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)

    document: Mapped[Document] = relationship(foreign_keys=[document_id])
    tenant: Mapped[Tenant] = relationship()
    sheet: Mapped[Document | None] = relationship(foreign_keys=[sheet_document_id])
    recorded_by: Mapped[User | None] = relationship()


class Recording(Base):
    """Hotline call metadata of a call-recording document; kept after the audio is purged."""

    __tablename__ = "recordings"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    caller_number: Mapped[str] = mapped_column(String(32))
    called_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    agent: Mapped[str] = mapped_column(String(100))
    request_ref: Mapped[str] = mapped_column(String(64), index=True)  # 诉求记录 number
    request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"), index=True)
    source: Mapped[str] = mapped_column(String(16), default="upload")  # api, upload
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    document: Mapped[Document] = relationship()


class RecordingArchive(Base):
    """录音存档记录表: a recording kept for a special event (提取录音另行保存); never purged."""

    __tablename__ = "recording_archives"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("recordings.document_id"), unique=True)
    archived_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: a job
    archived_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    event: Mapped[str] = mapped_column(Text)

    archived_by: Mapped[User | None] = relationship()


class Certificate(Base):
    """证照: a certificate document's paper original, number and custodian."""

    __tablename__ = "certificates"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    number: Mapped[str | None] = mapped_column(String(100))
    custodian_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    original_location: Mapped[str | None] = mapped_column(String(200))
    valid_until: Mapped[date | None] = mapped_column(Date)

    document: Mapped[Document] = relationship()
    custodian: Mapped[User | None] = relationship()


class LeakReport(Base):
    """泄密报告: cannot be deleted; carries the trace as it stood when reported."""

    __tablename__ = "leak_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), index=True)
    copy_id: Mapped[int | None] = mapped_column(ForeignKey("registered_copies.id"))
    copy_number: Mapped[str | None] = mapped_column(String(100))  # as read off a found page
    # The document id as the reporter gave it (kept even when it names no document).
    given_document_id: Mapped[int | None] = mapped_column(Integer)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)  # reported + 24 h
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handling_note: Mapped[str | None] = mapped_column(Text)
    trace_json: Mapped[str | None] = mapped_column(Text)

    document: Mapped[Document | None] = relationship()
    copy: Mapped[RegisteredCopy | None] = relationship()
    reporter: Mapped[User] = relationship(foreign_keys=[reporter_id])
    handled_by: Mapped[User | None] = relationship(foreign_keys=[handled_by_id])


class SignInAddress(Base):
    """Failed sign-ins from one client address, for per-address throttling. In the
    database, not in a process, so that every app node counts the same failures."""

    __tablename__ = "sign_in_addresses"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobRun(Base):
    """A scheduled job's lease: one runner at a time across servers."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_result: Mapped[str | None] = mapped_column(Text)


# ---------------------------------------------------------------------------
# Customer-service records (issue 14): requests, receipts, follow-up visits,
# the temporary-deposit register. Free text about customers (content, caller,
# replies, visit notes, opinions) is sealed under the row's own data key, which
# the key ring wraps exactly like a document version's (`wrapped_key`,
# `master_key_id`): see vault/services/sealed.py.


class ServiceRequest(Base):
    """《诉求（需求）记录表》: one request record, numbered per company and year."""

    __tablename__ = "service_requests"
    __table_args__ = (
        UniqueConstraint("company_id", "number", name="uq_service_requests_company_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), index=True)
    year: Mapped[int | None] = mapped_column(Integer)
    seq: Mapped[int | None] = mapped_column(Integer)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    grade: Mapped[str | None] = mapped_column(String(16))  # complaints: normal/important/major
    reply_only: Mapped[bool] = mapped_column(Boolean, default=False)  # 上级部门只要求复函
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    caller_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    reply_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_key_id: Mapped[str | None] = mapped_column(String(64), index=True)
    reply_letter_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    legacy: Mapped[bool] = mapped_column(Boolean, default=False)  # from a recording's free text

    company: Mapped[Company] = relationship()
    department: Mapped[Department | None] = relationship()
    tenant: Mapped[Tenant | None] = relationship()
    handler: Mapped[User | None] = relationship(foreign_keys=[handler_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    reply_letter: Mapped[Document | None] = relationship()
    receipts: Mapped[list[RequestReceipt]] = relationship(
        back_populates="request", order_by="RequestReceipt.id")


class RequestReceipt(Base):
    """One receipt of a request: the first, and every repeat of the same complaint
    made to another department (对同一问题多次投诉…应作一次记录)."""

    __tablename__ = "request_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(16))
    via: Mapped[str | None] = mapped_column(String(200))  # the department complained to
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    request: Mapped[ServiceRequest] = relationship(back_populates="receipts")
    recorded_by: Mapped[User | None] = relationship()


class FollowUp(Base):
    """《回访记录表》: one follow-up visit, due by rule, then done, then reviewed."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("service_requests.id"), index=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(16), index=True)  # complaint, repair, event, ...
    subject: Mapped[str | None] = mapped_column(String(200))  # an event's name
    sequence: Mapped[int] = mapped_column(Integer, default=1)
    owner_role: Mapped[str] = mapped_column(String(32))  # who follows up
    trigger_on: Mapped[date] = mapped_column(Date)  # handled / event day
    due_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[str] = mapped_column(String(16), default="due", index=True)  # due, done
    visited_on: Mapped[date | None] = mapped_column(Date)
    method: Mapped[str | None] = mapped_column(String(16))  # on_site, telephone
    visitor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    notes_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    signature_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opinion_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_key_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    company: Mapped[Company] = relationship()
    request: Mapped[ServiceRequest | None] = relationship()
    tenant: Mapped[Tenant | None] = relationship()
    visitor: Mapped[User | None] = relationship(foreign_keys=[visitor_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    signature: Mapped[Document | None] = relationship()


class Deposit(Base):
    """《租户临时物品寄存记录表》: an item a tenant left at the front desk."""

    __tablename__ = "deposits"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    item: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    collected_by: Mapped[str | None] = mapped_column(String(200))  # the tenant's person
    handed_out_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(Text)

    company: Mapped[Company] = relationship()
    tenant: Mapped[Tenant] = relationship()
    received_by: Mapped[User] = relationship(foreign_keys=[received_by_id])
    handed_out_by: Mapped[User | None] = relationship(foreign_keys=[handed_out_by_id])


# The content index (vault/services/search_index.py): no plaintext anywhere


class IndexKey(Base):
    """The key of the keyed token hashes (HMAC), wrapped by a master key; one row."""

    __tablename__ = "index_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DocumentText(Base):
    """A document's extracted text (encrypted under its own data key) and its place
    in the extraction queue: pending → running → done / failed."""

    __tablename__ = "document_texts"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)  # queued or extracted; 0: title
    indexed_version: Mapped[int | None] = mapped_column(Integer)  # of the stored text, postings
    state: Mapped[str] = mapped_column(String(16), index=True, default="pending")
    method: Mapped[str | None] = mapped_column(String(16))
    pages_done: Mapped[int] = mapped_column(Integer, default=0)
    pages_total: Mapped[int] = mapped_column(Integer, default=0)
    ocr_pages: Mapped[int] = mapped_column(Integer, default=0)
    chars: Mapped[int] = mapped_column(Integer, default=0)
    tokens: Mapped[int] = mapped_column(Integer, default=0, index=True)  # length for BM25
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    master_key_id: Mapped[str | None] = mapped_column(String(64), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    holder: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(300))


class Posting(Base):
    """(keyed token hash, document, version, term frequency): the whole index."""

    __tablename__ = "postings"
    # tf in the key's entries on PostgreSQL: index-only lookups (0017_postings_tf_in_key).
    __table_args__ = (PrimaryKeyConstraint("token", "document_id", postgresql_include=["tf"]),
                      {"sqlite_with_rowid": False})

    token: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True,
                                             index=True)
    version: Mapped[int] = mapped_column(Integer)
    tf: Mapped[int] = mapped_column(Integer)


class WatchImport(Base):
    """A file taken from a watched folder (`vault watch`): imported or refused."""

    __tablename__ = "watch_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    folder: Mapped[str] = mapped_column(String(500), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer, default=0)
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    outcome: Mapped[str] = mapped_column(String(16))  # imported, refused
    error: Mapped[str | None] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    actor: Mapped[User] = relationship()
    document: Mapped[Document | None] = relationship()


class MeetingAttendee(Base):
    """A tenant present at a tenant meeting (租户大会), whose minutes are the document."""

    __tablename__ = "meeting_attendees"
    __table_args__ = (
        UniqueConstraint("document_id", "tenant_id", name="uq_meeting_attendees_doc_tenant"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tenant: Mapped[Tenant] = relationship()


# Outgoing letters with seal approval (对外发文与用章申请)


class LetterTemplate(Base):
    """对外发文模版: the letterhead and closing every outgoing letter is drawn with;
    kept by administrators, for one company or (company None) the whole group."""

    __tablename__ = "letter_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    letterhead: Mapped[str] = mapped_column(Text)  # lines at the head of the page
    closing: Mapped[str] = mapped_column(Text)  # the sender's block (落款) above the date
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    company: Mapped[Company | None] = relationship()


class Letter(Base):
    """An outgoing letter (or open letter, 公开信): its PDF is the document; it is sent
    to tenants (the notice sign-offs) only once sealed (已用印)."""

    __tablename__ = "letters"
    __table_args__ = (UniqueConstraint("company_id", "number", name="uq_letters_company_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), unique=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("letter_templates.id"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    kind: Mapped[str] = mapped_column(String(16), default="letter")  # letter, open
    number: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    drafter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # draft → pending (seal asked) → sealed (已用印); a refusal returns it to draft
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    sealed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    document: Mapped[Document] = relationship()
    template: Mapped[LetterTemplate] = relationship()
    company: Mapped[Company] = relationship()
    drafter: Mapped[User] = relationship(foreign_keys=[drafter_id])
    sealed_by: Mapped[User | None] = relationship(foreign_keys=[sealed_by_id])


class SealRequest(Base):
    """用章申请: a letter's request for the company seal, decided step by step along
    its route (the owning department's manager, then the general manager)."""

    __tablename__ = "seal_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(Text)
    route: Mapped[str] = mapped_column(String(120))  # approver scopes, comma-separated
    step: Mapped[int] = mapped_column(Integer, default=0)  # index of the step awaited
    # pending → approved | rejected | cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    letter: Mapped[Letter] = relationship()
    requester: Mapped[User] = relationship()
    decisions: Mapped[list[SealDecision]] = relationship(
        back_populates="request", order_by="SealDecision.id")


class SealDecision(Base):
    """One approver's decision on one step of a seal request."""

    __tablename__ = "seal_decisions"
    __table_args__ = (UniqueConstraint("request_id", "step", name="uq_seal_decisions_step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("seal_requests.id"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    scope: Mapped[str] = mapped_column(String(32))
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)

    request: Mapped[SealRequest] = relationship(back_populates="decisions")
    decided_by: Mapped[User] = relationship()


class LetterRequest(Base):
    """An open letter (公开信) answering a request it is attached to."""

    __tablename__ = "letter_requests"
    __table_args__ = (UniqueConstraint("letter_id", "request_id", name="uq_letter_requests_pair"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_requests.id"), index=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
