"""Where customers' search terms are kept, and how a query finds them.

The terms themselves (crm.customers.search) are the same on every engine; where they
live is not:

- PostgreSQL: one row per (term, customer) in `customer_search_terms`, whose B-tree
  answers a prefix as a range (collation "C").
- SQLite: one row per customer in the FTS5 table `customer_search` (rowid = customer id,
  the terms joined by spaces). Its tokenizer splits only at spaces and control
  characters, so its tokens are exactly our terms; `"prefix"*` finds the same customers
  as the range does. FTS5 collects a batch's terms in memory and writes them as one
  sorted segment: an import of 100,000 customers writes their ~800,000 terms several
  times faster than into two B-trees. `customer_search_terms` exists there too (one
  schema for both engines) and stays empty.

On both engines a trigger takes a deleted customer's terms away. On PostgreSQL the terms
have no foreign key to their customer: its check, one index probe and row lock per term,
took 10 of the 14 s an import of 100,000 customers spent copying their ~800,000 terms.
A term left by a customer deleted while an import indexed them would match nobody: a
search returns customers, not terms.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from sqlalchemy import Column, Integer, MetaData, Table, Text, and_, delete, func, literal_column, select
from sqlalchemy.engine import Dialect

from crm.bulk import insert_rows, session_dialect
from crm.customers import search
from crm.customers.models import Customer, CustomerSearchTerm
from crm.extensions import db

FTS_TABLE = "customer_search"
# FTS5 keeps a virtual table's data in tables named after it (_data, _idx, _content, _docsize, _config).
FTS_SHADOW_SUFFIXES = ("_data", "_idx", "_content", "_docsize", "_config")
# Not in db.metadata: create_all and the migrations make it with the DDL below.
fts = Table(FTS_TABLE, MetaData(), Column("rowid", Integer, primary_key=True), Column("terms", Text))

# Token characters: letters, numbers, marks, punctuation and symbols (an email's "@", ".",
# "+"); separators: spaces and control characters only. Terms are already lower case and
# without accents (search.normalise), so the tokenizer changes nothing else.
# detail=none and columnsize=0: a search asks which customers have terms with these prefixes,
# not where in the text nor how long it is (nothing ranks by relevance: results sort by name).
CREATE_FTS = (f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(terms, detail=none, columnsize=0, "
              "tokenize=\"unicode61 remove_diacritics 0 categories 'L* N* Co M* P* S*'\")")
CREATE_TRIGGER = (f"CREATE TRIGGER customers_search_delete AFTER DELETE ON customers "
                  f"BEGIN DELETE FROM {FTS_TABLE} WHERE rowid = old.id; END")
DROP = ("DROP TRIGGER IF EXISTS customers_search_delete", f"DROP TABLE IF EXISTS {FTS_TABLE}")
# PostgreSQL: once per DELETE statement, however many customers it removes.
CREATE_PG_FUNCTION = ("CREATE OR REPLACE FUNCTION customers_search_delete() RETURNS trigger LANGUAGE plpgsql AS $$ "
                      "BEGIN DELETE FROM customer_search_terms t USING gone WHERE t.customer_id = gone.id; "
                      "RETURN NULL; END $$")
CREATE_PG_TRIGGER = ("CREATE TRIGGER customers_search_delete AFTER DELETE ON customers REFERENCING OLD TABLE AS gone "
                     "FOR EACH STATEMENT EXECUTE FUNCTION customers_search_delete()")
DROP_PG = ("DROP TRIGGER IF EXISTS customers_search_delete ON customers",
           "DROP FUNCTION IF EXISTS customers_search_delete()")

JSON_CHUNK = 100_000  # customers per statement on SQLite: a few MB of JSON at most


def is_fts_table(name: str) -> bool:
    """A table SQLite's FTS5 keeps for the index (not one of the models')."""
    return name == FTS_TABLE or (name.startswith(FTS_TABLE + "_") and name.endswith(FTS_SHADOW_SUFFIXES))


def _uses_fts() -> bool:
    return session_dialect().name == "sqlite"


def _terms_text(terms: Iterable[str]) -> str:
    return " ".join(terms)  # in any order: a query asks which terms there are, not where


def _fts_query(prefixes: Iterable[str]) -> str:
    """An FTS5 query for terms beginning with every one of `prefixes`: each a quoted string
    (`"` doubled inside, so nothing in it is an operator) followed by `*`."""
    return " AND ".join('"' + p.replace('"', '""') + '"*' for p in prefixes)


def matching(prefixes: list[str]):
    """A condition on Customer.id: each of `prefixes` begins one of the customer's terms."""
    if not prefixes:
        return None
    if _uses_fts():
        # The table's name on the left: detail=none answers no query on a column.
        return Customer.id.in_(select(fts.c.rowid).where(literal_column(FTS_TABLE).op("MATCH")(_fts_query(prefixes))))
    conditions = [Customer.id.in_(search.matching_ids(CustomerSearchTerm, p)) for p in prefixes]
    return conditions[0] if len(conditions) == 1 else and_(*conditions)


def prepare(texts: list[str], dialect: Dialect | None = None) -> Callable[[list[int]], None]:
    """Index new customers: `texts[i]`, terms separated by spaces (search.keys_of_many), for
    the i-th of the ids the returned function is given (an import knows them once its rows
    are inserted). The Python work happens now, the statements when called (on the
    session's connection then), so that an import's reading thread runs while they do;
    given the `dialect`, preparing touches no session."""
    if not texts:
        return lambda ids: None
    if (dialect or session_dialect()).name != "sqlite":
        return lambda ids: insert_rows(CustomerSearchTerm.__table__, ("term", "customer_id"), sorted(
            (t, cid) for cid, text in zip(ids, texts, strict=True) for t in set(text.split())))
    # One JSON array of texts per chunk, unnested by SQLite in one step (without the GIL):
    # each customer's id is the chunk's first id plus its place in the array. Ids that are not
    # consecutive go as {"id": text} instead, the id read as the object's key. A term twice in
    # a text is indexed once.
    chunks = [(start, json.dumps(texts[start:start + JSON_CHUNK], ensure_ascii=False, separators=(",", ":")))
              for start in range(0, len(texts), JSON_CHUNK)]
    statement = (f"INSERT INTO {FTS_TABLE} (rowid, terms) SELECT ? + CAST(key AS INTEGER), value "
                 "FROM json_each(?) WHERE value != ''")

    def run(ids: list[int]) -> None:
        if len(ids) != len(texts):
            raise ValueError("one id per customer's terms")
        connection = db.session.connection()
        for start, chunk in chunks:
            part = ids[start:start + JSON_CHUNK]
            first = part[0]
            if part != list(range(first, first + len(part))):
                first = 0
                chunk = json.dumps(dict(zip(map(str, part), texts[start:start + JSON_CHUNK], strict=True)),
                                   ensure_ascii=False, separators=(",", ":"))
            connection.exec_driver_sql(statement, (first, chunk))
    return run


def add(customers: list[tuple[int, Iterable[str]]]) -> None:
    """Index customers that are not indexed yet: (id, terms)."""
    prepare([_terms_text(terms) for _, terms in customers])([cid for cid, _ in customers])


def replace(customers: list[tuple[int, Iterable[str]]]) -> None:
    """Index customers again after their name, company, email or phone changed: (id, terms)."""
    remove([cid for cid, _ in customers])
    add(customers)


def remove(ids: list[int]) -> int:
    """Take these customers out of the index; how many terms they had."""
    if not ids:
        return 0
    if _uses_fts():
        removed = sum(len(t) for t in terms_of(ids).values())
        db.session.execute(delete(fts).where(fts.c.rowid.in_(ids)))
        return removed
    return db.session.execute(delete(CustomerSearchTerm).where(CustomerSearchTerm.customer_id.in_(ids)),
                              execution_options={"synchronize_session": False}).rowcount


def terms_of(ids: list[int]) -> dict[int, set[str]]:
    """The indexed terms of these customers (those with none are left out)."""
    if _uses_fts():
        rows = db.session.execute(select(fts.c.rowid, fts.c.terms).where(fts.c.rowid.in_(ids)))
        return {cid: set(text.split()) for cid, text in rows if text}
    out: dict[int, set[str]] = {}
    for term, cid in db.session.execute(select(CustomerSearchTerm.term, CustomerSearchTerm.customer_id)
                                        .where(CustomerSearchTerm.customer_id.in_(ids))):
        out.setdefault(cid, set()).add(term)
    return out


def count_terms() -> int:
    """Every customer's terms, counted (the index's size)."""
    if _uses_fts():
        return sum(len(set(text.split())) for text in db.session.scalars(select(fts.c.terms)))
    return db.session.scalar(select(func.count()).select_from(CustomerSearchTerm))
