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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from crm import audit
from crm.auth.models import User
from crm.domain import N_, DomainError, ValidationFailed
from crm.exports.csvstream import protect
from crm.extensions import db
from crm.imports import reading
from crm.imports.fields import FIELDS, KINDS, LABELS, guess_mapping
from crm.imports.rows import CHECKS, CHOICES, Lookups, RowRejected, TypeInfo
from crm.imports.writing import WRITERS, Item
from crm.moments.models import MomentType

BATCH_SIZE = 5000
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

    def counts(self) -> dict[str, int]:
        return {"rows": self.rows, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected}


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


def open_file(stream) -> reading.Rows:
    """The rows of a binary stream, or a ValidationFailed on `file` saying why it cannot be read."""
    try:
        return reading.Rows(stream, reading.detect(stream))
    except reading.UnreadableFile as exc:
        raise refuse(exc.message, **exc.params) from None


def check_mapping(kind: str, mapping: dict[int, str]) -> None:
    mapped = set(mapping.values())
    missing = [" / ".join(str(LABELS[f]) for f in group) for group in REQUIRED[kind] if not mapped & set(group)]
    if missing:
        raise refuse(N_("The file needs a column for: %(fields)s."), fields=", ".join(missing))


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


def lookups(now: datetime) -> Lookups:
    users = {email.lower(): uid for uid, email in db.session.execute(select(User.id, User.email))}
    types = {code: TypeInfo(tid, channel, cost, active) for tid, code, channel, cost, active in db.session.execute(
        select(MomentType.id, MomentType.code, MomentType.channel, MomentType.cost, MomentType.active))}
    return Lookups(zone=ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]),
                   currency=current_app.config["CRM_CURRENCY"], now=now, users=users, types=types,
                   aliases=_aliases())


def row_values(cells: list[str], mapping: dict[int, str]) -> dict[str, str]:
    return {name: reading.unescape(cells[index]).strip() if index < len(cells) else ""
            for index, name in mapping.items()}


def run_import(kind: str, stream, *, actor: User | None, now: datetime, mapping: dict[int, str] | None = None,
               dry_run: bool = False, commit: Callable[[], None] | None = None,
               on_error: Callable[[RowError], None] | None = None, on_progress: Callable[[int], None] | None = None,
               batch_size: int = BATCH_SIZE, keep_errors: int = KEEP_ERRORS) -> ImportSummary:
    """Import (or with `dry_run`, only check) a CSV file from a binary seekable stream."""
    if kind not in KINDS:
        raise refuse(N_("Unknown kind of import."))
    rows = open_file(stream)
    mapping = guess_mapping(kind, rows.header) if mapping is None else mapping
    check_mapping(kind, mapping)
    summary = ImportSummary(kind=kind, dialect=rows.dialect, header=rows.header, mapping=mapping, dry_run=dry_run)
    check, known = CHECKS[kind], lookups(now)
    writer = WRITERS[kind](getattr(actor, "id", None), now, dry_run)

    def reject(line, cells, errors):
        error = RowError(line, cells, errors)
        summary.rejected += 1
        if len(summary.errors) < keep_errors:
            summary.errors.append(error)
        if on_error:
            on_error(error)

    def flush(batch: list[Item], refused: list[RowError]):
        try:
            result = writer.write(batch) if batch else None
            if not dry_run:
                db.session.flush()
                if commit:
                    commit()
        except Exception as exc:
            raise ImportInterrupted(summary, (batch or refused)[0].line, exc) from exc
        if result:
            summary.created += result.created
            summary.updated += result.updated
            summary.unchanged += result.unchanged
            refused = refused + [RowError(item.line, item.cells, errors) for item, errors in result.rejected]
        for error in sorted(refused, key=lambda e: e.line):
            reject(error.line, error.cells, error.errors)
        if on_progress:
            on_progress(rows.position())

    batch: list[Item] = []
    refused: list[RowError] = []
    for line, cells in rows:
        summary.rows += 1
        try:
            batch.append(Item(line, cells, check(row_values(cells, mapping), known)))
        except RowRejected as exc:
            refused.append(RowError(line, cells, exc.errors))
        if len(batch) + len(refused) >= batch_size:
            flush(batch, refused)
            batch, refused = [], []
    if batch or refused:
        flush(batch, refused)
    if not dry_run:
        audit.record(actor, f"import.{kind}", "import", None, now, **summary.counts())
        db.session.flush()
    return summary


def preview(kind: str, stream, mapping: dict[int, str], now: datetime, limit: int = 10) -> list[dict]:
    """The first rows as the import reads them: each field's value, or why the row is refused."""
    rows = open_file(stream)
    check, known = CHECKS[kind], lookups(now)
    out = []
    for line, cells in rows:
        values = row_values(cells, mapping)
        try:
            record = check(values, known)
        except RowRejected as exc:
            out.append({"line": line, "values": values, "error": RowError(line, cells, exc.errors).reason()})
        else:
            out.append({"line": line, "values": values, "read": record, "error": None})
        if len(out) >= limit:
            break
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
