"""search speed at 100,000 documents (issue 15)

- grants (document_id, grantee_id): the scope's "designated" test (an EXISTS over
  the file's live grants to the reader, `services/scope.py`) is a lookup of both
  columns. With one-column indexes SQLite chose the reader's grants
  (ix_grants_grantee_id) and walked all of them for every candidate file: a staff
  member holding 1,700 registration grants paid 1,700 steps per file searched.

Revision ID: 0015_search_speed
Revises: 0014_scale_sort
"""

from __future__ import annotations

from alembic import op

revision = "0015_search_speed"
down_revision = "0014_scale_sort"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_grants_document_grantee", "grants", ["document_id", "grantee_id"])


def downgrade() -> None:
    op.drop_index("ix_grants_document_grantee", table_name="grants")
