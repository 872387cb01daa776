"""the document list sorted by category or level at a million files (issue 17)

A page of the list sorted by category or by level read every file in scope and
sorted it (3.7–5.8 s for a staff member at a million files, PostgreSQL):

- documents(category, id DESC) and documents(category, id): the list sorted by
  category ascending / descending (ties newest registered first) is the first rows
  of one of them, read forward or backward; documents(category) alone left every
  file of the first category to sort by id;
- documents(level, id): the list sorted by level reads each live classified level
  newest first from it (documents._by_level: the effective level depends on the
  time, so no index holds the whole order).

PostgreSQL only: SQLite deployments are small, sort a page's scope quickly, and pay
for every index on each write; nothing is created there.

Revision ID: 0014_scale_sort
Revises: 0013_search
"""

from __future__ import annotations

from alembic import op

revision = "0014_scale_sort"
down_revision = "0013_search"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_documents_category_id_desc": "documents (category, id DESC)",
    "ix_documents_category_id": "documents (category, id)",
    "ix_documents_level_id": "documents (level, id)",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {columns}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
