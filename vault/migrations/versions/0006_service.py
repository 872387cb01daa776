"""customer-service records: requests and receipts, follow-up visits, deposits;
recordings link to their request record (their free-text references become records)

Revision ID: 0006_service
Revises: 0005
Create Date: 2026-12-07 00:40:00
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0006_service"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("grade", sa.String(length=16), nullable=True),
        sa.Column("reply_only", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("handler_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("caller_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("content_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("reply_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("master_key_id", sa.String(length=64), nullable=True),
        sa.Column("reply_letter_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("legacy", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"],
                                name=op.f("fk_service_requests_company_id_companies")),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_service_requests_department_id_departments")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_service_requests_tenant_id_tenants")),
        sa.ForeignKeyConstraint(["handler_id"], ["users.id"],
                                name=op.f("fk_service_requests_handler_id_users")),
        sa.ForeignKeyConstraint(["reply_letter_id"], ["documents.id"],
                                name=op.f("fk_service_requests_reply_letter_id_documents")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_service_requests_created_by_id_users")),
        sa.ForeignKeyConstraint(["closed_by_id"], ["users.id"],
                                name=op.f("fk_service_requests_closed_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_requests")),
        sa.UniqueConstraint("company_id", "number", name="uq_service_requests_company_number"),
    )
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        for col in ("number", "company_id", "department_id", "tenant_id", "kind", "received_at",
                    "due_at", "handler_id", "status", "master_key_id"):
            batch_op.create_index(batch_op.f(f"ix_service_requests_{col}"), [col], unique=False)

    op.create_table(
        "request_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("via", sa.String(length=200), nullable=True),
        sa.Column("note_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["service_requests.id"],
                                name=op.f("fk_request_receipts_request_id_service_requests")),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["users.id"],
                                name=op.f("fk_request_receipts_recorded_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_receipts")),
    )
    with op.batch_alter_table("request_receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_request_receipts_request_id"), ["request_id"],
                              unique=False)

    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("owner_role", sa.String(length=32), nullable=False),
        sa.Column("trigger_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("visited_on", sa.Date(), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("visitor_id", sa.Integer(), nullable=True),
        sa.Column("resolved", sa.Boolean(), nullable=True),
        sa.Column("notes_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("signature_document_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("opinion_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("master_key_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"],
                                name=op.f("fk_follow_ups_company_id_companies")),
        sa.ForeignKeyConstraint(["department_id"], ["departments.id"],
                                name=op.f("fk_follow_ups_department_id_departments")),
        sa.ForeignKeyConstraint(["request_id"], ["service_requests.id"],
                                name=op.f("fk_follow_ups_request_id_service_requests")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_follow_ups_tenant_id_tenants")),
        sa.ForeignKeyConstraint(["visitor_id"], ["users.id"],
                                name=op.f("fk_follow_ups_visitor_id_users")),
        sa.ForeignKeyConstraint(["signature_document_id"], ["documents.id"],
                                name=op.f("fk_follow_ups_signature_document_id_documents")),
        sa.ForeignKeyConstraint(["reviewed_by_id"], ["users.id"],
                                name=op.f("fk_follow_ups_reviewed_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
    )
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        for col in ("company_id", "request_id", "kind", "due_on", "status", "master_key_id"):
            batch_op.create_index(batch_op.f(f"ix_follow_ups_{col}"), [col], unique=False)

    op.create_table(
        "deposits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("received_by_id", sa.Integer(), nullable=False),
        sa.Column("collected_at", sa.DateTime(), nullable=True),
        sa.Column("collected_by", sa.String(length=200), nullable=True),
        sa.Column("handed_out_by_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"],
                                name=op.f("fk_deposits_company_id_companies")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_deposits_tenant_id_tenants")),
        sa.ForeignKeyConstraint(["received_by_id"], ["users.id"],
                                name=op.f("fk_deposits_received_by_id_users")),
        sa.ForeignKeyConstraint(["handed_out_by_id"], ["users.id"],
                                name=op.f("fk_deposits_handed_out_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposits")),
    )
    with op.batch_alter_table("deposits", schema=None) as batch_op:
        for col in ("company_id", "tenant_id", "collected_at"):
            batch_op.create_index(batch_op.f(f"ix_deposits_{col}"), [col], unique=False)

    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_recordings_request_id"), ["request_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_recordings_request_id_service_requests"),
                                    "service_requests", ["request_id"], ["id"])
    # An archive made by `vault jobs run` (a request left open past due) has no person.
    with op.batch_alter_table("recording_archives", schema=None) as batch_op:
        batch_op.alter_column("archived_by_id", existing_type=sa.Integer(), nullable=True)

    _link_recordings()


def _link_recordings() -> None:
    """Each recording's free-text 诉求记录 reference becomes a request record of the
    recording's company (one per company and reference; ``legacy``: its content was
    never recorded in Vault), and the recording links to it."""
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT r.document_id, r.request_ref, r.called_at, d.company_id, d.department_id, "
        "d.tenant_id FROM recordings r JOIN documents d ON d.id = r.document_id "
        "ORDER BY r.called_at, r.document_id")).all()
    made: dict[tuple[int, str], int] = {}
    now = datetime.utcnow()  # noqa: DTZ003 - naive UTC, as the UTC columns store it
    for doc_id, ref, called_at, company_id, dept_id, tenant_id in rows:
        key = (company_id, ref)
        if key not in made:
            conn.execute(sa.text(
                "INSERT INTO service_requests (number, company_id, department_id, tenant_id, "
                "anonymous, channel, kind, reply_only, received_at, status, created_at, legacy) "
                "VALUES (:n, :c, :d, :t, :f, 'hotline', 'enquiry', :f, :r, 'open', :now, :tr)"),
                {"n": ref, "c": company_id, "d": dept_id, "t": tenant_id, "f": False,
                 "r": called_at, "now": now, "tr": True})
            made[key] = conn.execute(sa.text(
                "SELECT id FROM service_requests WHERE company_id = :c AND number = :n"),
                {"c": company_id, "n": ref}).scalar_one()
        conn.execute(sa.text("UPDATE recordings SET request_id = :q WHERE document_id = :d"),
                     {"q": made[key], "d": doc_id})


def downgrade() -> None:
    with op.batch_alter_table("recording_archives", schema=None) as batch_op:
        batch_op.alter_column("archived_by_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_recordings_request_id_service_requests"),
                                 type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_recordings_request_id"))
        batch_op.drop_column("request_id")
    op.drop_table("deposits")
    op.drop_table("follow_ups")
    op.drop_table("request_receipts")
    op.drop_table("service_requests")
