"""indexes for a million documents (issue 17)

- documents(supervisor_id), documents(registrant_id): the scope of every search and
  the review queue ask "files I supervise / registered";
- documents(coalesce(reviewed_at, created_at), id): the annual-review queue, oldest
  due first, read in index order and stopped at its page;
- PostgreSQL only: a pg_trgm GIN index on documents.title, so a title search
  (``LIKE '%…%'``) reads the matching rows instead of every row. SQLite has no
  such index: nothing there (a small deployment scans quickly enough).

Revision ID: 0011_scale
Revises: 0010_rules
"""

from __future__ import annotations

from alembic import op

revision = "0011_scale"
down_revision = "0010_rules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_documents_supervisor_id", "documents", ["supervisor_id"])
    op.create_index("ix_documents_registrant_id", "documents", ["registrant_id"])
    op.execute("CREATE INDEX ix_documents_review_due ON documents "
               "(coalesce(reviewed_at, created_at), id)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_documents_title_trgm ON documents "
                   "USING gin (title gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_documents_title_trgm")
    op.drop_index("ix_documents_review_due", table_name="documents")
    op.drop_index("ix_documents_registrant_id", table_name="documents")
    op.drop_index("ix_documents_supervisor_id", table_name="documents")
