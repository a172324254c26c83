"""Importing a CSV file of customers, purchases or contacts, in batches.

`run_import` reads the file once, checks every row (crm.imports.rows) and writes the
valid ones batch by batch (crm.imports.writing). It flushes and never commits: the
caller passes `commit`, called at each batch boundary, so a crash leaves whole batches
or none; importing the same file again changes nothing (customers match by email or
phone, purchases and contacts carry an import key). A dry run checks everything and
writes nothing.
"""
from __future__ import annotations

import csv
import gc
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from crm import audit
from crm.auth.models import User
from crm.domain import N_, DomainError, ValidationFailed
from crm.exports.csvstream import protect
from crm.extensions import db
from crm.imports import reading
from crm.imports.fields import FIELDS, KINDS, LABELS, guess_mapping
from crm.imports.rows import CHECKS, CHOICES, Lookups, RowRejected, TypeInfo
from crm.imports.writing import WRITERS, BatchResult, Item
from crm.moments.models import MomentType

BATCH_SIZE = 10_000  # rows per transaction: fewer commits rewrite fewer index pages
KEEP_ERRORS = 1000  # rejected rows kept in memory for a page; the error file has them all
# A file of this kind cannot be imported without these columns (one of each tuple).
REQUIRED = {
    "customers": (("name",),),
    "purchases": (("customer_email", "customer_phone"), ("purchased_on",), ("amount",)),
    "moments": (("customer_email", "customer_phone"), ("moment_type",), ("occurred_at",)),
}


@dataclass
class RowError:
    line: int
    cells: list[str]
    errors: dict[str, DomainError]

    def reason(self) -> str:
        """Every problem of the row, each after the column it is about, in the reader's language."""
        return "; ".join(f"{LABELS[name] if name in LABELS else name}: {err.translated()}"
                         for name, err in self.errors.items())


@dataclass
class ImportSummary:
    kind: str
    dialect: reading.Dialect
    header: list[str]
    mapping: dict[int, str]
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)

    def counts(self, pending: BatchResult | None = None, refused: int = 0) -> dict[str, int]:
        """The counts so far (with `pending`, a batch written but not yet counted)."""
        pending = pending or BatchResult()
        return {"rows": self.rows, "created": self.created + pending.created,
                "updated": self.updated + pending.updated, "unchanged": self.unchanged + pending.unchanged,
                "rejected": self.rejected + refused}


# What the page and the API say when a batch failed (the batches before it stay imported).
INTERRUPTED = N_("The import stopped in the rows from line %(line)s on; they were not imported, the rows "
                 "before them were. Import the same file again to finish: rows already imported stay as they are.")


class ImportInterrupted(Exception):
    """A batch failed: the batches before it are committed, this one must be rolled back."""

    def __init__(self, summary: ImportSummary, line: int, cause: BaseException):
        super().__init__(f"import stopped in the batch starting at line {line}: {cause!r}")
        self.summary, self.line, self.cause = summary, line, cause


def refuse(message: str, **params) -> ValidationFailed:
    return ValidationFailed({"file": DomainError(message, "file", **params)})


def open_file(stream, dialect: reading.Dialect | None = None) -> reading.Rows:
    """The rows of a binary stream, or a ValidationFailed on `file` saying why it cannot be read.
    With the `dialect` found when it was first read, the file is not decoded a second time."""
    try:
        return reading.Rows(stream, dialect or reading.detect(stream))
    except reading.UnreadableFile as exc:
        raise refuse(exc.message, **exc.params) from None


# SQLite's page cache is 2 MB per connection: a batch adding tens of thousands of entries
# to the search-term and customer indexes at random places would keep evicting the pages
# it is about to change again. A larger cache for the batch's writes, given back before
# the commit (the connection returns to the pool, where the small cache is the rule).
BATCH_CACHE_KIB = 32 * 1024


@contextmanager
def batch_settings(enabled: bool = True, batched: bool = False):
    """SQLite settings for writing one batch on its connection: a larger page cache and,
    when the import commits batch by batch (`batched`), no automatic checkpoint at the
    commit. Each commit's checkpoint copied the pages it changed into the database file
    (and synced it), so the index pages every batch touches were copied once per batch,
    a sixth of a large import's time; they are copied once, at the end (most of them by
    `early_checkpoint` while the last batch is written, the rest by `checkpoint`). The pool
    turns checkpoints back on when the connection comes back (crm/__init__.py)."""
    connection = db.session.connection()
    if not enabled or connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size=-{BATCH_CACHE_KIB}")
    if batched:
        connection.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        connection.connection.info["checkpoints_off"] = True
    try:
        yield
    finally:
        with suppress(SQLAlchemyError):  # a broken connection is thrown away with its cache
            connection.exec_driver_sql(f"PRAGMA cache_size={int(before)}")


PASSIVE_CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"


def checkpoint():
    """Copy the WAL's pages into the SQLite database file now, as far as readers allow
    (PASSIVE: nobody waits); what they hold back the next automatic checkpoint copies.
    SQLite's answer (busy, pages in the WAL, pages copied), or None on other engines."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        return connection.exec_driver_sql(PASSIVE_CHECKPOINT).one()


def early_checkpoint() -> Callable[[], None] | None:
    """For a batched import into a SQLite file: a checkpoint of what is committed so far, on
    a connection of its own. The reading thread runs it once the file is read, while the
    last batch is written: the final `checkpoint` then copies only that batch's pages."""
    engine = db.engine
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None

    def run() -> None:
        with suppress(SQLAlchemyError), engine.connect() as connection:  # if it fails, the final one does it all
            connection.exec_driver_sql(PASSIVE_CHECKPOINT)
    return run


def check_mapping(kind: str, mapping: dict[int, str]) -> None:
    mapped = set(mapping.values())
    missing = [" / ".join(str(LABELS[f]) for f in group) for group in REQUIRED[kind] if not mapped & set(group)]
    if missing:
        raise refuse(N_("The file needs a column for: %(fields)s."), fields=", ".join(missing))


@cache  # the codes and their labels do not change while the process runs
def _aliases() -> dict[str, dict[str, str]]:
    """What people write for each code: the code itself and its label in Spanish and English."""
    from crm.customers.search import normalise
    from crm.labels import LABELS as CODE_LABELS

    out: dict[str, dict[str, str]] = {}
    for name, codes in CHOICES.items():
        table = out.setdefault(name, {})
        for code in codes:
            table[normalise(code)] = code
            for locale in ("es", "en"):
                with force_locale(locale):
                    label = CODE_LABELS.get(name, {}).get(code)
                    if label is not None:
                        table.setdefault(normalise(str(label)), code)
    return out


def lookups(now: datetime, emails: set[str] | None = None, codes: set[str] | None = None) -> Lookups:
    """What rows refer to: every user and moment type (a whole file names many), or only
    those with these emails and codes (the few rows of a preview)."""
    users_stmt = select(User.id, User.email)
    if emails is not None:
        users_stmt = users_stmt.where(func.lower(User.email).in_(sorted({e.strip().lower() for e in emails})))
    types_stmt = select(MomentType.id, MomentType.code, MomentType.channel, MomentType.cost, MomentType.active)
    if codes is not None:
        types_stmt = types_stmt.where(MomentType.code.in_(sorted({c.strip() for c in codes})))
    users = {email.lower(): uid for uid, email in db.session.execute(users_stmt)}
    types = {code: TypeInfo(tid, channel, cost, active)
             for tid, code, channel, cost, active in db.session.execute(types_stmt)}
    return Lookups(zone=ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]),
                   currency=current_app.config["CRM_CURRENCY"], now=now, users=users, types=types,
                   aliases=_aliases())


def row_values(cells: list[str], mapping: dict[int, str]) -> dict[str, str]:
    width = len(cells)
    out = {}
    for index, name in mapping.items():
        if index < width:
            cell = cells[index]
            out[name] = (reading.unescape(cell) if cell[:1] == "'" else cell).strip()
        else:
            out[name] = ""
    return out


class ReadAhead:
    """The batches of `batches`, the next one read and checked in a thread while the caller
    waits on the database for this one.

    The checks are Python; the writes are SQLite or PostgreSQL working without the GIL. Two
    threads running Python at once only take turns, so the reading thread starts on the next
    batch when told (`read_next`, called by the writer as its statements begin), or when the
    caller asks for it. One batch waits at most (memory stays at two batches); an error in
    the reading thread is raised in the caller; `close` stops the thread."""

    def __init__(self, batches: Iterator):
        app = current_app._get_current_object()
        self._handoff: queue.Queue = queue.Queue(maxsize=1)
        self._go = threading.Event()
        self._stop = threading.Event()

        def wait_for(event: threading.Event) -> bool:
            while not self._stop.is_set():
                if event.wait(0.2):
                    return True
            return False

        def give(item) -> bool:
            while not self._stop.is_set():
                try:
                    self._handoff.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        def work():
            with app.app_context():
                try:
                    iterator = iter(batches)
                    while wait_for(self._go):
                        self._go.clear()
                        try:
                            batch = next(iterator)
                        except StopIteration:
                            give(("done", None))
                            return
                        if not give(("batch", batch)):
                            return
                except BaseException as exc:  # handed to the caller, raised there
                    give(("error", exc))

        self._requested = True  # the first batch
        self._go.set()
        self._thread = threading.Thread(target=work, name="import-reader", daemon=True)
        self._thread.start()

    def read_next(self) -> None:
        """Start reading the batch after the one being written (once per batch)."""
        if not self._requested:
            self._requested = True
            self._go.set()

    def __iter__(self):
        return self

    def __next__(self):
        self.read_next()  # if the writer did not ask for it already
        what, item = self._handoff.get()
        self._requested = False
        if what == "done":
            raise StopIteration
        if what == "error":
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


_tuning_lock = threading.Lock()
_tuning: dict = {"users": 0}
SWITCH_INTERVAL = 0.0005  # seconds (Python's default is 0.005)


@contextmanager
def bulk_tuning():
    """Two process-wide settings for as long as an import runs (counted, so overlapping
    imports in one process restore them once, after the last one):

    - no cyclic garbage collection: a batch is tens of thousands of small objects without
      cycles, and each collection walked them all (a fifth of the time of a large import);
    - a ten times finer GIL switch interval: the writing thread takes the GIL back after
      each statement, and with the default 5 ms it waited out the reading thread's Python
      instead of working beside it.
    """
    with _tuning_lock:
        if _tuning["users"] == 0:
            _tuning["gc"], _tuning["interval"] = gc.isenabled(), sys.getswitchinterval()
            gc.disable()
            sys.setswitchinterval(min(SWITCH_INTERVAL, _tuning["interval"]))
        _tuning["users"] += 1
    try:
        yield
    finally:
        with _tuning_lock:
            _tuning["users"] -= 1
            if _tuning["users"] == 0:
                sys.setswitchinterval(_tuning["interval"])
                if _tuning["gc"]:
                    gc.enable()


def run_import(kind: str, stream, *, actor: User | None, now: datetime, mapping: dict[int, str] | None = None,
               dry_run: bool = False, commit: Callable[[], None] | None = None,
               on_error: Callable[[RowError], None] | None = None, on_progress: Callable[[int], None] | None = None,
               before_commit: Callable[[dict[str, int], int], None] | None = None,
               dialect: reading.Dialect | None = None, known: Lookups | None = None,
               batch_size: int = BATCH_SIZE, keep_errors: int = KEEP_ERRORS) -> ImportSummary:
    """Import (or with `dry_run`, only check) a CSV file from a binary seekable stream.

    Every rejected row goes to `on_error` as it is found (the error file); `keep_errors`
    only bounds the list kept on the summary for a page. `dialect`, when the file was
    read before, skips detecting it again. `before_commit(counts, position)` runs inside
    each batch's transaction, just before `commit`, with the counts including that batch."""
    if kind not in KINDS:
        raise refuse(N_("Unknown kind of import."))
    rows = open_file(stream, dialect)
    mapping = guess_mapping(kind, rows.header) if mapping is None else mapping
    check_mapping(kind, mapping)
    summary = ImportSummary(kind=kind, dialect=rows.dialect, header=rows.header, mapping=mapping, dry_run=dry_run)
    check, known = CHECKS[kind], known or lookups(now)
    writer = WRITERS[kind](getattr(actor, "id", None), now, dry_run)
    prepare_batch = writer.prepare_batch  # in the reading thread (see its docstring)
    read_all = early_checkpoint() if commit and not dry_run else None

    def flush(batch: list[Item], refused: list[RowError], position: int, prepared):
        try:
            if batch:
                with batch_settings(enabled=not dry_run, batched=commit is not None):
                    result = writer.write(batch, prepared)
            else:
                result = BatchResult()
            refused = sorted(refused + [RowError(item.line, item.cells, errors) for item, errors in result.rejected],
                             key=lambda e: e.line)
            if not dry_run:
                db.session.flush()
                if before_commit:
                    before_commit(summary.counts(result, len(refused)), position)
                if commit:
                    commit()
        except Exception as exc:
            raise ImportInterrupted(summary, min(x.line for x in (*batch[:1], *refused[:1])), exc) from exc
        summary.created += result.created
        summary.updated += result.updated
        summary.unchanged += result.unchanged
        summary.rejected += len(refused)
        for error in refused:
            if len(summary.errors) < keep_errors:
                summary.errors.append(error)
            if on_error:
                on_error(error)
        if on_progress:
            on_progress(position)

    def checked_batches():
        batch: list[Item] = []
        refused: list[RowError] = []
        for line, cells in rows:
            try:
                record = check(row_values(cells, mapping), known)
                batch.append(Item(line, cells, record))
            except RowRejected as exc:
                refused.append(RowError(line, cells, exc.errors))
            if len(batch) + len(refused) >= batch_size:
                yield batch, refused, rows.position(), prepare_batch(batch)
                batch, refused = [], []
        if batch or refused:
            yield batch, refused, rows.position(), prepare_batch(batch)
        if read_all:
            read_all()  # the last batch is being written: the reading thread has nothing else to do

    with bulk_tuning(), closing(ReadAhead(checked_batches())) as batches:  # stops the reading thread however this ends
        writer.writing = batches.read_next  # called as the writer's statements begin
        for batch, refused, position, prepared in batches:
            summary.rows += len(batch) + len(refused)
            flush(batch, refused, position, prepared)
    if commit and not dry_run:
        checkpoint()
    if not dry_run:
        audit.record(actor, f"import.{kind}", "import", None, now, **summary.counts())
        db.session.flush()
    return summary


def preview(kind: str, stream, mapping: dict[int, str], now: datetime, limit: int = 10,
            dialect: reading.Dialect | None = None) -> list[dict]:
    """The first rows as the import reads them: each field's value, or why the row is refused.
    Only the users and moment types these rows name are looked up."""
    rows = open_file(stream, dialect)
    first = []
    for line, cells in rows:
        first.append((line, row_values(cells, mapping)))
        if len(first) >= limit:
            break
    emails = {v for _, values in first for k in ("owner_email", "staff_email") if (v := values.get(k))}
    codes = {v for _, values in first if (v := values.get("moment_type"))}
    check, known = CHECKS[kind], lookups(now, emails, codes)
    out = []
    for line, values in first:
        try:
            record = check(values, known)
        except RowRejected as exc:
            out.append({"line": line, "values": values, "error": RowError(line, [], exc.errors).reason()})
        else:
            out.append({"line": line, "values": values, "read": record, "error": None})
    return out


# --- the error file ----------------------------------------------------------------------

class ErrorFile:
    """Rejected rows as CSV: the file's own columns, then `line` and `error`; UTF-8 with BOM and
    the file's delimiter, so Excel opens it and the fixed file imports as it is."""

    def __init__(self, out, header: list[str], delimiter: str):
        self.out = out
        out.write("\ufeff")
        self.writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
        self.writer.writerow([*header, "line", "error"])
        self.width = len(header)
        self.count = 0

    def __call__(self, error: RowError) -> None:
        cells = (error.cells + [""] * self.width)[:max(self.width, len(error.cells))]
        self.writer.writerow([protect(c) for c in cells] + [str(error.line), protect(error.reason())])
        self.count += 1


def describe(summary: ImportSummary) -> str:
    return _("%(rows)s rows: %(created)s created, %(updated)s updated, %(unchanged)s unchanged, "
             "%(rejected)s rejected.", **summary.counts())


__all__ = ["FIELDS", "ErrorFile", "ImportInterrupted", "ImportSummary", "RowError", "run_import"]
