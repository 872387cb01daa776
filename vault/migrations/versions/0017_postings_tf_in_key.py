"""postings: tf in the primary key's leaf entries on PostgreSQL (issue 15)

A search's bounded pass (`vault.services.search`) reads the driving token's
postings newest first and, for each other token, either looks it up by (token,
document) or merges its postings alongside. Both read the term frequency, and a
PostgreSQL B-tree entry held only the key: every posting read cost a visit of the
table's page as well. With ``INCLUDE (tf)`` they are index-only scans. The entry
is no larger (8 bytes of header, 8 of token, 4 of document and 4 of tf: 24 bytes,
the size the 20 bytes of key were aligned to).

Index-only scans skip the table page only where the visibility map says every
row of the page is visible, which VACUUM sets. PostgreSQL's default vacuums a
table for inserts after 20 % of its size (16 million postings at 100,000 files):
the newest postings, which every search reads first, would wait that long, so
``postings`` is vacuumed for inserts after 1 % of its size instead.

SQLite keeps postings in the primary key's tree (WITHOUT ROWID): nothing to do.

The key is rebuilt in the migration's transaction (writes to postings wait for
it; maintenance_work_mem 256 MB for the sort). At 100,000 files (81 million
postings, a key of 2,439 MB before and after): 27.3 s on 2 cores (PostgreSQL 15,
two parallel maintenance workers, load 1.6). Downgrading rebuilds it without tf
in the same time.

Revision ID: 0017_postings_tf_in_key
Revises: 0016_search_epoch
"""

from __future__ import annotations

from alembic import op

revision = "0017_postings_tf_in_key"
down_revision = "0016_search_epoch"
branch_labels = None
depends_on = None


def _key(include: str) -> None:
    op.execute("SET LOCAL maintenance_work_mem = '256MB'")
    op.execute("ALTER TABLE postings DROP CONSTRAINT pk_postings, "
               f"ADD CONSTRAINT pk_postings PRIMARY KEY (token, document_id){include}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _key(" INCLUDE (tf)")
    op.execute("ALTER TABLE postings SET (autovacuum_vacuum_insert_scale_factor = 0.01)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE postings RESET (autovacuum_vacuum_insert_scale_factor)")
    _key("")
