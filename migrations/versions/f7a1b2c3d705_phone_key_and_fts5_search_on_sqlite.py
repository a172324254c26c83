"""customers.phone_key; on SQLite the search terms move to an FTS5 index

Revision ID: f7a1b2c3d705
Revises: f7a1b2c3d704
Create Date: 2026-11-22 22:30:00.000000

Imports matched customers by phone through the search terms; they now use an indexed
`phone_key` column (the phone's last nine digits), on both engines. On SQLite the terms
move from `customer_search_terms` (two B-trees, ~8 rows per customer) to the FTS5 table
`customer_search` (one row per customer, rowid = customer id), which writes an import's
terms several times faster; the old table stays, empty, so both engines share one schema.
A trigger takes deleted customers out of the index, as the foreign key's cascade did.
The statements are repeated here, not imported, so that this revision stays as it is.
"""
import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f7a1b2c3d705'
down_revision = 'f7a1b2c3d704'
branch_labels = None
depends_on = None

CREATE_FTS = ("CREATE VIRTUAL TABLE customer_search USING fts5(terms, detail=none, "
              "tokenize=\"unicode61 remove_diacritics 0 categories 'L* N* Co M* P* S*'\")")
CREATE_TRIGGER = ("CREATE TRIGGER customers_search_delete AFTER DELETE ON customers "
                  "BEGIN DELETE FROM customer_search WHERE rowid = old.id; END")
CHUNK = 5000
_NOT_DIGITS = re.compile(r"\D")


def _phone_key(phone):
    digits = _NOT_DIGITS.sub("", phone) if phone else ""
    return digits[-9:] if digits else None


def upgrade():
    op.add_column("customers", sa.Column("phone_key", sa.String(length=20), nullable=True))
    op.create_index("ix_customers_phone_key", "customers", ["phone_key"], unique=False)
    bind = op.get_bind()
    customers = sa.table("customers", sa.column("id", sa.Integer), sa.column("phone", sa.String),
                         sa.column("phone_key", sa.String))
    rows = bind.execute(sa.select(customers.c.id, customers.c.phone).where(customers.c.phone.is_not(None))).all()
    update = sa.update(customers).where(customers.c.id == sa.bindparam("cid")).values(phone_key=sa.bindparam("key"))
    for start in range(0, len(rows), CHUNK):
        bind.execute(update, [{"cid": cid, "key": _phone_key(phone)} for cid, phone in rows[start:start + CHUNK]])
    if bind.dialect.name != "sqlite":
        return
    op.execute(CREATE_FTS)
    op.execute(CREATE_TRIGGER)
    # Terms have no spaces (words, an email, digits), so joining them by spaces keeps each one.
    op.execute("INSERT INTO customer_search (rowid, terms) SELECT customer_id, group_concat(term, ' ') "
               "FROM (SELECT customer_id, term FROM customer_search_terms ORDER BY customer_id, term) "
               "GROUP BY customer_id")
    op.execute("DELETE FROM customer_search_terms")


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        terms = bind.execute(sa.text("SELECT rowid, terms FROM customer_search")).all()
        rows = sorted((term, cid) for cid, text in terms for term in set((text or "").split()))
        insert = sa.text("INSERT INTO customer_search_terms (term, customer_id) VALUES (:term, :cid)")
        for start in range(0, len(rows), CHUNK):
            bind.execute(insert, [{"term": t, "cid": c} for t, c in rows[start:start + CHUNK]])
        op.execute("DROP TRIGGER IF EXISTS customers_search_delete")
        op.execute("DROP TABLE IF EXISTS customer_search")
    op.drop_index("ix_customers_phone_key", table_name="customers")
    if bind.dialect.name == "sqlite":
        # SQLite drops a column in place (3.35+): a batch copy of customers would drop the
        # table, and with it (foreign keys on) every row that refers to a customer.
        op.execute("ALTER TABLE customers DROP COLUMN phone_key")
    else:
        op.drop_column("customers", "phone_key")
