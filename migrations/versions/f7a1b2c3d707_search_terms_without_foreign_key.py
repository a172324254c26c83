"""search terms without a foreign key; a trigger removes a deleted customer's terms

Revision ID: f7a1b2c3d707
Revises: f7a1b2c3d706
Create Date: 2026-11-23 12:00:00.000000

On PostgreSQL the foreign key from customer_search_terms to customers was checked for
every term written (an index probe and a row lock on the customer): 10 of the 14 s an
import of 100,000 customers spent copying their ~800,000 terms. The terms are derived data,
as SQLite's FTS5 index is; a statement-level trigger now removes a deleted customer's terms
as the key's cascade did. On SQLite the table stays empty (the FTS5 index holds the terms)
and is made again without the key, so both engines have one schema. The statements are
repeated here, not imported, so that this revision stays as it is.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f7a1b2c3d707'
down_revision = 'f7a1b2c3d706'
branch_labels = None
depends_on = None

FK = "fk_customer_search_terms_customer_id_customers"
CREATE_PG_FUNCTION = ("CREATE OR REPLACE FUNCTION customers_search_delete() RETURNS trigger LANGUAGE plpgsql AS $$ "
                      "BEGIN DELETE FROM customer_search_terms t USING gone WHERE t.customer_id = gone.id; "
                      "RETURN NULL; END $$")
CREATE_PG_TRIGGER = ("CREATE TRIGGER customers_search_delete AFTER DELETE ON customers REFERENCING OLD TABLE AS gone "
                     "FOR EACH STATEMENT EXECUTE FUNCTION customers_search_delete()")
SQLITE_COLUMNS = """
    term VARCHAR(120) NOT NULL,
    customer_id INTEGER NOT NULL,
    CONSTRAINT pk_customer_search_terms PRIMARY KEY (term, customer_id){foreign_key}
"""
SQLITE_FOREIGN_KEY = """,
    CONSTRAINT fk_customer_search_terms_customer_id_customers FOREIGN KEY(customer_id)
        REFERENCES customers (id) ON DELETE CASCADE"""


def _sqlite_rebuild(foreign_key: str) -> None:
    op.execute(f"CREATE TABLE customer_search_terms_new ({SQLITE_COLUMNS.format(foreign_key=foreign_key)}) "
               "WITHOUT ROWID")
    op.execute("INSERT INTO customer_search_terms_new (term, customer_id) "
               "SELECT term, customer_id FROM customer_search_terms ORDER BY term, customer_id")
    op.execute("DROP TABLE customer_search_terms")
    op.execute("ALTER TABLE customer_search_terms_new RENAME TO customer_search_terms")
    op.execute("CREATE INDEX ix_customer_search_terms_customer_id ON customer_search_terms (customer_id)")


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild("")
        return
    op.drop_constraint(FK, "customer_search_terms", type_="foreignkey")
    op.execute(CREATE_PG_FUNCTION)
    op.execute(CREATE_PG_TRIGGER)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild(SQLITE_FOREIGN_KEY)
        return
    op.execute("DROP TRIGGER IF EXISTS customers_search_delete ON customers")
    op.execute("DROP FUNCTION IF EXISTS customers_search_delete()")
    # Terms a customer deleted mid-import left behind would refuse the key.
    op.execute("DELETE FROM customer_search_terms t WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = t.customer_id)")
    op.create_foreign_key(FK, "customer_search_terms", "customers", ["customer_id"], ["id"], ondelete="CASCADE")
