"""On SQLite the FTS5 search index keeps no column sizes

Revision ID: f7a1b2c3d706
Revises: f7a1b2c3d705
Create Date: 2026-11-23 01:30:00.000000

FTS5 writes each row's column size to a table of its own (`customer_search_docsize`),
for ranking by relevance; customer search asks only which customers match, and sorts
them by name. Without it (`columnsize=0`) an import of 100,000 customers writes their
search terms about a fifth faster. The index is made again with the option and its
rows copied over (SQLite cannot change a virtual table's options in place); PostgreSQL
has no such index and nothing changes there. The statements are repeated here, not
imported, so that this revision stays as it is.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f7a1b2c3d706'
down_revision = 'f7a1b2c3d705'
branch_labels = None
depends_on = None

TOKENIZE = "tokenize=\"unicode61 remove_diacritics 0 categories 'L* N* Co M* P* S*'\""
CREATE_WITHOUT_SIZES = f"CREATE VIRTUAL TABLE customer_search USING fts5(terms, detail=none, columnsize=0, {TOKENIZE})"
CREATE_WITH_SIZES = f"CREATE VIRTUAL TABLE customer_search USING fts5(terms, detail=none, {TOKENIZE})"
CREATE_TRIGGER = ("CREATE TRIGGER customers_search_delete AFTER DELETE ON customers "
                  "BEGIN DELETE FROM customer_search WHERE rowid = old.id; END")


def _remake(create: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE TEMP TABLE customer_search_copy AS SELECT rowid AS id, terms FROM customer_search")
    op.execute("DROP TRIGGER IF EXISTS customers_search_delete")
    op.execute("DROP TABLE customer_search")
    op.execute(create)
    op.execute("INSERT INTO customer_search (rowid, terms) SELECT id, terms FROM customer_search_copy ORDER BY id")
    op.execute("DROP TABLE customer_search_copy")
    op.execute(CREATE_TRIGGER)


def upgrade():
    _remake(CREATE_WITHOUT_SIZES)


def downgrade():
    _remake(CREATE_WITH_SIZES)
