"""secrecy rules at every use (issue 11)

- copy_requests: void_reason, voided_at (an approval that no longer holds at use);
- leak_reports: given_document_id (the id as reported, whether or not it exists);
- grants: basis ("grant" or "registration"), hq_confirmed_by_id / hq_confirmed_at
  (a designation an HQ executive made or confirmed holds at every level).

Existing data: grants made by an HQ executive count as confirmed by them; the
registrant of a 绝密 file who is not an HQ executive (and was not removed), and the
registrant of a 机密 file who is neither its supervisor nor an HQ executive, keep
their access as a designation "by registration" (the 机密 one in the supervisor's
name), as a file registered from now on gets.

Revision ID: 0010_rules
Revises: 0009_hardena
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0010_rules"
down_revision = "0009_hardena"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("copy_requests", sa.Column("void_reason", sa.String(length=32), nullable=True))
    op.add_column("copy_requests", sa.Column("voided_at", sa.DateTime(), nullable=True))
    op.add_column("leak_reports", sa.Column("given_document_id", sa.Integer(), nullable=True))
    op.execute("UPDATE leak_reports SET given_document_id = document_id "
               "WHERE copy_number IS NULL")
    with op.batch_alter_table("grants") as batch:
        batch.add_column(sa.Column("basis", sa.String(length=16), nullable=False,
                                   server_default="grant"))
        batch.add_column(sa.Column("hq_confirmed_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("hq_confirmed_at", sa.DateTime(), nullable=True))
        batch.create_foreign_key(op.f("fk_grants_hq_confirmed_by_id_users"), "users",
                                 ["hq_confirmed_by_id"], ["id"])
    bind = op.get_bind()
    bind.execute(sa.text(
        "UPDATE grants SET hq_confirmed_by_id = grantor_id, hq_confirmed_at = created_at "
        "WHERE grantor_id IN (SELECT ur.user_id FROM user_roles ur "
        "JOIN users u ON u.id = ur.user_id JOIN companies c ON c.id = u.company_id "
        "WHERE ur.role = 'hq_executive' AND c.is_hq = :true)"), {"true": True})
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = bind.execute(sa.text(
        "SELECT id, level, registrant_id, supervisor_id FROM documents "
        "WHERE registrant_id IS NOT NULL AND registrant_id NOT IN ("
        "SELECT ur.user_id FROM user_roles ur "
        "JOIN users u ON u.id = ur.user_id JOIN companies c ON c.id = u.company_id "
        "WHERE ur.role = 'hq_executive' AND c.is_hq = :true) "
        "AND ((level = 'top_secret' AND registrant_removed = :false) "
        "OR (level = 'secret' AND (supervisor_id IS NULL OR supervisor_id <> registrant_id)))"),
        {"true": True, "false": False}).all()
    for doc_id, level, registrant_id, supervisor_id in rows:
        grantor = registrant_id if level == "top_secret" or supervisor_id is None else supervisor_id
        bind.execute(sa.text(
            "INSERT INTO grants (document_id, grantee_id, grantor_id, level, created_at, basis) "
            "VALUES (:doc, :grantee, :grantor, :level, :now, 'registration')"),
            {"doc": doc_id, "grantee": registrant_id, "grantor": grantor, "level": level,
             "now": now})


def downgrade() -> None:
    op.execute("DELETE FROM grants WHERE basis = 'registration'")
    with op.batch_alter_table("grants") as batch:
        batch.drop_constraint(op.f("fk_grants_hq_confirmed_by_id_users"), type_="foreignkey")
        batch.drop_column("hq_confirmed_at")
        batch.drop_column("hq_confirmed_by_id")
        batch.drop_column("basis")
    op.drop_column("leak_reports", "given_document_id")
    op.drop_column("copy_requests", "voided_at")
    op.drop_column("copy_requests", "void_reason")
