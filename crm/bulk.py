"""Inserting many rows at once, as imports and the demo data do.

Rows are plain tuples in a given column order: no statement is compiled and no dict
built per row. PostgreSQL gets a COPY; SQLite one INSERT … SELECT over a JSON array,
which it runs in one step, in C and without the GIL (an import reads its next batch in
another thread meanwhile). Each helper has a `prepare_` form that does the Python work
at once and returns the statements to run later, on the session's connection of the
thread that runs them: given the `dialect`, preparing touches no connection, so an
import's reading thread prepares the writer's next rows.
"""
from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Dialect

from crm.extensions import db


def nothing() -> None:
    return None


JSON_CHUNK = 100_000  # rows per INSERT … SELECT on SQLite: a few MB of JSON at most


def insert_rows(table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """INSERT many rows given as plain tuples in `columns` order (see `prepare_rows`)."""
    prepare_rows(table, columns, rows)()


def session_dialect() -> Dialect:
    return db.session.get_bind().dialect


def prepare_rows(table, columns: tuple[str, ...], rows: list[tuple],
                 dialect: Dialect | None = None) -> Callable[[], None]:
    """An INSERT of many rows given as plain tuples in `columns` order, in two steps: the
    Python work now (the columns' bind processing, once per distinct value; on SQLite the
    JSON it reads), the statements when the returned function is called. No statement is
    compiled and no dict built per row (a million search terms cost seconds that way).

    A writer prepares all its rows before its statements begin: the thread reading the
    next batch starts then, and has the GIL to itself while the database works."""
    if not rows:
        return nothing
    dialect = dialect or session_dialect()
    # Column by column (zip and map run in C): each column's bind processor (UTC instants,
    # dates, booleans) sees each distinct value once.
    values = list(zip(*rows, strict=True))
    for i, name in enumerate(columns):
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if processor:
            converted = {v: processor(v) for v in set(values[i]) if v is not None}
            values[i] = list(map(converted.get, values[i]))  # None stays None
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if dialect.name == "postgresql":
        def copy_rows() -> None:
            # COPY: the rows stream to the server in one go (an executemany is a round trip,
            # or a pipelined statement, per row), in this transaction.
            driver = db.session.connection().connection.driver_connection
            with driver.cursor() as cursor, cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
                for row in zip(*values, strict=True):
                    copy.write_row(row)
        return copy_rows
    if dialect.name != "sqlite":
        return lambda: db.session.execute(insert(table), [dict(zip(columns, row, strict=True))
                                                          for row in zip(*values, strict=True)])
    # One INSERT … SELECT over a JSON array per chunk: SQLite writes every row of it within one
    # step, in C and without the GIL, so the thread reading the next batch runs meanwhile. An
    # executemany takes the GIL back after each row, and waits for it each time that thread
    # holds it (Python's switch interval): the two threads would take turns instead.
    statements = [_json_insert(quote(table.name), [quote(c) for c in columns],
                               [column[start:start + JSON_CHUNK] for column in values])
                  for start in range(0, len(rows), JSON_CHUNK)]

    def run() -> None:
        connection = db.session.connection()
        for statement, parameters in statements:
            connection.exec_driver_sql(statement, parameters)
    return run


def _json_insert(table: str, columns: list[str], values: list[list]) -> tuple[str, tuple]:
    """SQLite's INSERT … SELECT for the rows whose columns are `values`: a column with one
    value in every row (an import's owner, its instant, a default) is bound once; the
    others travel as one JSON array of arrays. SQLite 3.40 parses a row's JSON again for
    each value taken from it, so each column left out of the JSON saves a parse of every
    row, and makes the parse shorter. (Equal values of different types, 1 and 1.0, count
    as one: the column's affinity stores them alike.)"""
    varying = [i for i, column in enumerate(values) if column.count(column[0]) != len(column)]
    constant = [i for i in range(len(columns)) if i not in varying]
    picks = ({i: f"json_extract(value, '$[{n}]')" for n, i in enumerate(varying)}
             | {i: f"?{n + 2}" for n, i in enumerate(constant)})
    # The bind processors left str, int, float or None: JSON keeps each as that SQL type.
    cells = json.dumps(list(zip(*(values[i] for i in varying), strict=True)) if varying else [[]] * len(values[0]),
                       ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    statement = (f"INSERT INTO {table} ({', '.join(columns)}) "
                 f"SELECT {', '.join(picks[i] for i in range(len(columns)))} FROM json_each(?1) ORDER BY key")
    return statement, (cells, *(values[i][0] for i in constant))


def insert_returning_ids(table, columns: tuple[str, ...], rows: list[tuple]) -> list[int]:
    """Insert many rows and return their new ids, in the order of `rows`."""
    return prepare_returning_ids(table, columns, rows)()


def prepare_returning_ids(table, columns: tuple[str, ...], rows: list[tuple],
                          dialect: Dialect | None = None) -> Callable[[], list[int]]:
    """`prepare_rows` for rows whose new ids are wanted, in the order of `rows`.

    On PostgreSQL the ids come from the table's sequence, then a COPY. SQLite cannot
    promise that order, and SQLAlchemy would then insert row by row (ten times slower);
    but SQLite gives a rowid table's new row max(id) + 1, and the first INSERT takes the
    database's one write lock until commit, so a batch's ids are consecutive and the
    last one is max(id)."""
    dialect = dialect or session_dialect()
    if dialect.name == "postgresql":
        def copy_with_ids() -> list[int]:
            # The ids are taken from the table's sequence first, then the rows are copied in with them.
            ids = sorted(db.session.execute(
                select(func.nextval(func.pg_get_serial_sequence(table.name, "id")))
                .select_from(func.generate_series(1, len(rows)))).scalars())
            insert_rows(table, ("id", *columns), [(new_id, *row) for new_id, row in zip(ids, rows, strict=True)])
            return ids
        return copy_with_ids
    if dialect.name != "sqlite":
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return lambda: list(db.session.execute(stmt, [dict(zip(columns, row, strict=True)) for row in rows]).scalars())
    insert_prepared = prepare_rows(table, columns, rows, dialect)

    def insert_then_count() -> list[int]:
        insert_prepared()
        last = db.session.scalar(select(func.max(table.c.id)))
        return list(range(last - len(rows) + 1, last + 1))
    return insert_then_count
