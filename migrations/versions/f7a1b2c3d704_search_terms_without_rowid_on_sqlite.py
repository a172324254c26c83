"""customer search terms kept in their primary key's B-tree on SQLite (WITHOUT ROWID)

Revision ID: f7a1b2c3d704
Revises: f7a1b2c3d703
Create Date: 2026-11-22 17:45:00.000000

Imports write about eight terms per customer; a rowid table writes each one three
times (table, primary key, customer index), WITHOUT ROWID twice. PostgreSQL has no
such distinction: nothing to do there.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f7a1b2c3d704'
down_revision = 'f7a1b2c3d703'
branch_labels = None
depends_on = None

COLUMNS = """
    term VARCHAR(120) NOT NULL,
    customer_id INTEGER NOT NULL,
    CONSTRAINT pk_customer_search_terms PRIMARY KEY (term, customer_id),
    CONSTRAINT fk_customer_search_terms_customer_id_customers FOREIGN KEY(customer_id)
        REFERENCES customers (id) ON DELETE CASCADE
"""


def _rebuild(options: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"CREATE TABLE customer_search_terms_new ({COLUMNS}){options}")
    op.execute("INSERT INTO customer_search_terms_new (term, customer_id) "
               "SELECT term, customer_id FROM customer_search_terms ORDER BY term, customer_id")
    op.execute("DROP TABLE customer_search_terms")
    op.execute("ALTER TABLE customer_search_terms_new RENAME TO customer_search_terms")
    op.execute("CREATE INDEX ix_customer_search_terms_customer_id ON customer_search_terms (customer_id)")


def upgrade():
    _rebuild(" WITHOUT ROWID")


def downgrade():
    _rebuild("")
