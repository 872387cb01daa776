"""search speed at 100,000 documents (issue 15)

- grants (document_id, grantee_id): the scope's "designated" test (an EXISTS over
  the file's live grants to the reader, `services/scope.py`) is a lookup of both
  columns. With one-column indexes SQLite chose the reader's grants
  (ix_grants_grantee_id) and walked all of them for every candidate file: a staff
  member holding 1,700 registration grants paid 1,700 steps per file searched.
- documents.text_tokens, a copy of document_texts.tokens (BM25's document length)
  kept by the indexer and the purge: ranking read each candidate's text row for
  it, and on SQLite that row holds the encrypted text (a page per file): 8x the
  rest of the ranking statement at 5,000 documents.

Revision ID: 0015_search_speed
Revises: 0014_scale_sort
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_search_speed"
down_revision = "0014_scale_sort"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_grants_document_grantee", "grants", ["document_id", "grantee_id"])
    op.add_column("documents", sa.Column("text_tokens", sa.Integer(), nullable=False,
                                         server_default="0"))
    op.execute(
        "UPDATE documents SET text_tokens = (SELECT t.tokens FROM document_texts t "
        "WHERE t.document_id = documents.id) "
        "WHERE EXISTS (SELECT 1 FROM document_texts t WHERE t.document_id = documents.id "
        "AND t.tokens > 0)")


def downgrade() -> None:
    # A plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch copy of `documents` on
    # SQLite cannot reflect 0011's expression indexes (a warning, and they were lost).
    op.drop_column("documents", "text_tokens")
    op.drop_index("ix_grants_document_grantee", table_name="grants")
