"""search epoch: what a search's cached corpus statistics are keyed by (issue 15)

A search ranks with BM25 over the reader's scope: the number of files in scope,
their average length and each token's document frequency in scope. At 100,000
files these cost a staff member 120-350 ms per query; `vault.services.search`
now keeps them in memory, keyed by ``search_epoch.value``. The value is a new
random string whenever anything those statistics read changes, in the same
transaction as the change, whatever wrote it:

- ``documents``: rows added or removed; the scope's and the filters' columns
  (level, period end, company, department, supervisor, registrant, category,
  tenant, date of issue) and BM25's length (``text_tokens``, which the indexer and
  the purge write with every change of a file's postings) changed;
- ``grants``: any change (the scope's designations);
- ``document_texts``: rows added or removed, ``tokens`` changed (the corpus of a
  reader of everything);
- ``companies``, ``departments``, ``tenants``: the filters name them by code;
- ``postings`` on PostgreSQL too (one statement-level trigger costs nothing; on
  SQLite a trigger runs per row, and every write of postings already changes
  ``documents.text_tokens`` in its transaction).

Random rather than a counter: a restored backup brings an old value back with the
data it stood for. What the time changes (a period ending, a grant's end) is not
a write: the cache keeps the moments around it (`search._horizon`), and
``grants (until)`` is indexed here for that.

On SQLite a row trigger sets the value (one writer at a time). On PostgreSQL a
statement trigger notes the transaction once (``search_epoch_marks``, a local
setting) and a deferred constraint trigger sets the value at commit: the row is
locked for the commit only, after everything else the transaction locked (the
audit head included), so writers neither wait on it for long nor deadlock on it.

Revision ID: 0016_search_epoch
Revises: 0015_search_speed
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_search_epoch"
down_revision = "0015_search_speed"
branch_labels = None
depends_on = None

#: Columns of `documents` the cached statistics read (scope, filters, length);
#: tests/integration/test_search.py checks the scope and filters read no other.
DOCUMENT_COLUMNS = ("id", "level", "declassify_at", "company_id", "department_id",
                    "supervisor_id", "registrant_id", "category", "tenant_id", "issued_on",
                    "text_tokens")
#: (table, columns whose update counts; None: any)
WATCHED: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("documents", DOCUMENT_COLUMNS),
    ("grants", None),
    ("document_texts", ("document_id", "tokens")),
    ("companies", ("id", "code")),
    ("departments", ("id", "code", "company_id")),
    ("tenants", ("id", "code")),
)

_PG_FUNCTIONS = """
CREATE FUNCTION search_epoch_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('vault.search_epoch_marked', true) IS DISTINCT FROM 'on' THEN
        PERFORM set_config('vault.search_epoch_marked', 'on', true);
        INSERT INTO search_epoch_marks DEFAULT VALUES;
    END IF;
    RETURN NULL;
END $$;
CREATE FUNCTION search_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE search_epoch SET value = md5(random()::text || clock_timestamp()::text)
     WHERE id = 1;
    DELETE FROM search_epoch_marks WHERE id = NEW.id;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER search_epoch_bump AFTER INSERT ON search_epoch_marks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION search_epoch_bump();
"""


def upgrade() -> None:
    op.create_table(
        "search_epoch",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("value", sa.String(32), nullable=False),
    )
    op.create_index("ix_grants_until", "grants", ["until"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("INSERT INTO search_epoch (id, value) "
                   "VALUES (1, md5(random()::text || clock_timestamp()::text))")
        op.create_table("search_epoch_marks",
                        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True))
        op.execute(_PG_FUNCTIONS)
        for table, columns in (*WATCHED, ("postings", None)):
            update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
            op.execute(f"CREATE TRIGGER search_epoch AFTER INSERT OR DELETE OR TRUNCATE OR "
                       f"{update} ON {table} FOR EACH STATEMENT "
                       f"EXECUTE FUNCTION search_epoch_mark()")
        return
    op.execute("INSERT INTO search_epoch (id, value) VALUES (1, lower(hex(randomblob(16))))")
    bump = "UPDATE search_epoch SET value = lower(hex(randomblob(16))) WHERE id = 1;"
    for table, columns in WATCHED:
        update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
        for event, name in (("INSERT", "insert"), ("DELETE", "delete"), (update, "update")):
            op.execute(f"CREATE TRIGGER search_epoch_{table}_{name} AFTER {event} ON {table} "
                       f"BEGIN {bump} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, _columns in (*WATCHED, ("postings", None)):
            op.execute(f"DROP TRIGGER search_epoch ON {table}")
        op.execute("DROP TRIGGER search_epoch_bump ON search_epoch_marks")
        op.execute("DROP FUNCTION search_epoch_mark()")
        op.execute("DROP FUNCTION search_epoch_bump()")
        op.drop_table("search_epoch_marks")
    else:
        for table, _columns in WATCHED:
            for name in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER search_epoch_{table}_{name}")
    op.drop_index("ix_grants_until", table_name="grants")
    op.drop_table("search_epoch")
