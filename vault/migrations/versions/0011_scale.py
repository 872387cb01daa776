"""indexes for a million documents (issue 17)

- the annual-review queue, oldest due first, one way at a time (files I supervise,
  registered, of my company, 绝密), each read in index order and stopped at the
  queue's page: documents(supervisor_id | registrant_id | company_id | level,
  coalesce(reviewed_at, created_at), id). The first two also serve the scope of
  every search ("files I supervise / registered"), which had no index;
- documents(title), documents(issued_on): the list sorted by title or date of issue
  (issue 16's sortable columns) reads the first page from an index instead of
  sorting every file in scope (3–4 s for a staff member at a million);
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


REVIEW_WAYS = ("supervisor_id", "registrant_id", "company_id", "level")


def upgrade() -> None:
    for column in REVIEW_WAYS:
        op.execute(f"CREATE INDEX ix_documents_review_{column} ON documents "
                   f"({column}, coalesce(reviewed_at, created_at), id)")
    op.create_index("ix_documents_title", "documents", ["title"])
    op.create_index("ix_documents_issued_on", "documents", ["issued_on"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_documents_title_trgm ON documents "
                   "USING gin (title gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_documents_title_trgm")
    op.drop_index("ix_documents_issued_on", table_name="documents")
    op.drop_index("ix_documents_title", table_name="documents")
    for column in REVIEW_WAYS:
        op.drop_index(f"ix_documents_review_{column}", table_name="documents")
