"""search speed (issue 15)

- document_texts.tokens indexed: the corpus statistics of a search (documents and
  their average length, BM25's N and avgdl) read the index instead of the rows,
  whose encrypted texts sit beside the column.

Revision ID: 0013_search
Revises: 0012_service
"""

from __future__ import annotations

from alembic import op

revision = "0013_search"
down_revision = "0012_service"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_document_texts_tokens", "document_texts", ["tokens"])


def downgrade() -> None:
    op.drop_index("ix_document_texts_tokens", table_name="document_texts")
