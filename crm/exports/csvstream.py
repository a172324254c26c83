"""The CSV writer behind every export: two forms, typed cells, formula protection.

Pure (no Flask, no database), so it is tested directly. Rows come in as batches of
Python values in column order and leave as encoded chunks of bytes, one per batch,
so a million rows never sit in memory at once.

* ``PLAIN``: UTF-8 without BOM, ``,`` between cells, a decimal point; what programs
  (and crm/imports) read.
* ``EXCEL``: UTF-8 with a BOM (so Excel reads the accents), ``;`` between cells and a
  decimal comma, as Spanish Excel expects when the file is opened with a double click.

Cells: empty for None; dates ``YYYY-MM-DD``; instants ISO 8601 in UTC with their offset
and whole seconds (``2026-11-22T10:30:00+00:00``); booleans ``true``/``false``; amounts
as plain decimals (no exponent, no thousands separator). A text cell that a spreadsheet
would read as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return, after any apostrophes of its own) gets one leading apostrophe (OWASP "CSV
injection"); numbers never do.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal

TEXT, NUMBER, DATE, INSTANT, BOOL = "text", "number", "date", "instant", "bool"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


@dataclass(frozen=True)
class CsvForm:
    name: str
    delimiter: str
    bom: bool
    decimal_comma: bool


PLAIN = CsvForm("csv", ",", bom=False, decimal_comma=False)
EXCEL = CsvForm("excel", ";", bom=True, decimal_comma=True)
FORMS = {form.name: form for form in (PLAIN, EXCEL)}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str = TEXT


_FORMULA_SET = frozenset(FORMULA_STARTS)


def protect(text: str) -> str:
    """What a spreadsheet shows as text instead of running it as a formula. Text that
    already starts with apostrophes before a formula start gets one more, so that the
    importer, which takes exactly one away, gives back the text as it was."""
    first = text[:1]
    if first in _FORMULA_SET or (first == "'" and text.lstrip("'")[:1] in _FORMULA_SET):
        return "'" + text
    return text


def unprotect(cell: str) -> str:
    """What `protect` was given: one leading apostrophe taken away, when apostrophes lead to a
    formula start (`'=x` is `=x`, and `''=x` is a text that was `'=x`)."""
    if cell[:1] == "'" and cell.lstrip("'")[:1] in _FORMULA_SET:
        return cell[1:]
    return cell


def _text(value) -> str:
    return protect(value if isinstance(value, str) else str(value))


def _number(value) -> str:
    if isinstance(value, bool):  # a bool is an int to Python, never a number here
        raise TypeError("a boolean in a number column")
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _comma_number(value) -> str:
    return _number(value).replace(".", ",")


def _instant(value) -> str:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise TypeError("instants must be aware datetimes")
    return value.astimezone(timezone.utc).isoformat(timespec="seconds")


def _date(value) -> str:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError("dates must be dates")
    return value.isoformat()


def _bool(value) -> str:
    return "true" if value else "false"


def formatter(kind: str, form: CsvForm):
    """The function that writes one column's values (None is handled by the caller)."""
    if kind == NUMBER:
        return _comma_number if form.decimal_comma else _number
    try:
        return {TEXT: _text, INSTANT: _instant, DATE: _date, BOOL: _bool}[kind]
    except KeyError:
        raise ValueError(f"unknown column kind {kind!r}") from None


def cell(value, kind: str, form: CsvForm) -> str:
    return "" if value is None else formatter(kind, form)(value)


def encode_rows(columns: list[Column], batches: Iterable[Iterable[tuple]], form: CsvForm = PLAIN) -> Iterator[bytes]:
    """The header, then one chunk of bytes per batch of rows (RFC 4180 line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=form.delimiter, lineterminator="\r\n")
    formatters = [formatter(column.kind, form) for column in columns]

    def drain() -> bytes:
        chunk = buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        return chunk

    if form.bom:
        buffer.write(BOM)
    writer.writerow([column.name for column in columns])
    yield drain()
    for batch in batches:
        writer.writerows(["" if value is None else write(value) for write, value in zip(formatters, row, strict=True)]
                         for row in batch)
        chunk = drain()
        if chunk:
            yield chunk
