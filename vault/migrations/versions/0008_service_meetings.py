"""tenant meetings (租户大会): the tenants present at a meeting whose minutes are a
document

Revision ID: 0008_service_meetings
Revises: 0007_search
Create Date: 2026-12-07 01:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_service_meetings"
down_revision = "0007_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meeting_attendees",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"],
                                name=op.f("fk_meeting_attendees_document_id_documents")),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_meeting_attendees_tenant_id_tenants")),
        sa.ForeignKeyConstraint(["added_by_id"], ["users.id"],
                                name=op.f("fk_meeting_attendees_added_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_attendees")),
        sa.UniqueConstraint("document_id", "tenant_id", name="uq_meeting_attendees_doc_tenant"),
    )
    with op.batch_alter_table("meeting_attendees", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_attendees_document_id"), ["document_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_meeting_attendees_tenant_id"), ["tenant_id"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("meeting_attendees")
