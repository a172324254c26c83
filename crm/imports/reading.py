"""Reading CSV files as people's spreadsheets write them: pure, no Flask, no database.

Encoding (UTF-8 with or without BOM, else Windows-1252 as Spanish Excel saves), the
delimiter (`;` or `,`), rows with the physical line they start on, and the values
(decimal commas, dd/mm/yyyy dates, yes/no) are all decided here.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo

from crm.domain import N_, DomainError

# Exports write a cell a spreadsheet would run as a formula with a leading apostrophe (one
# more when the text already had its own); the importer takes exactly that one away again.
from crm.exports.csvstream import unprotect as unescape  # noqa: F401 (imports' name for it)

SNIFF_BYTES = 64 * 1024
CHUNK = 256 * 1024
MAX_CELL = 100_000  # characters; a cell longer than this is a broken file, not data
BOM = codecs.BOM_UTF8


class UnreadableFile(DomainError):
    """The file cannot be read as CSV at all (about the `file` field; `message` is a gettext id)."""

    def __init__(self, message: str, **params):
        super().__init__(message, "file", **params)


@dataclass(frozen=True)
class Dialect:
    encoding: str  # "utf-8-sig" (BOM), "utf-8" or "cp1252"
    delimiter: str

    @property
    def label(self) -> str:
        return {"utf-8-sig": "UTF-8 (BOM)", "utf-8": "UTF-8", "cp1252": "Windows-1252 / Latin-1"}[self.encoding]


def _is_utf8(stream) -> bool:
    """Decode the whole stream strictly, in chunks (constant memory)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        while chunk := stream.read(CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _first_line(text: str) -> str:
    return re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]


def delimiter_of(header: str) -> str:
    """`;` or `,`: whichever the header line has more of outside quotes (`,` on a tie)."""
    counts = {";": 0, ",": 0}
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    return ";" if counts[";"] > counts[","] else ","


def detect(stream) -> Dialect:
    """The encoding and delimiter of a binary, seekable stream (left at its start)."""
    stream.seek(0)
    head = stream.read(SNIFF_BYTES)
    if not head.strip(b"\r\n\t \xef\xbb\xbf"):
        raise UnreadableFile(N_("The file is empty."))
    if b"\x00" in head:
        raise UnreadableFile(N_("This is not a CSV file (it looks like a binary file, e.g. a spreadsheet "
                                "saved as .xlsx: save it as CSV)."))
    stream.seek(0)
    if head.startswith(BOM):
        encoding = "utf-8-sig"
        if not _is_utf8(stream):
            raise UnreadableFile(N_("The file says it is UTF-8 but is not: save it again as CSV UTF-8."))
    else:
        encoding = "utf-8" if _is_utf8(stream) else "cp1252"
    stream.seek(0)
    text = head.decode(encoding if encoding != "cp1252" else "latin-1", errors="replace")
    return Dialect(encoding=encoding, delimiter=delimiter_of(_first_line(text.lstrip("\ufeff"))))


def text_stream(stream, dialect: Dialect):
    stream.seek(0)
    # cp1252 leaves five bytes undefined; Latin-1 as Excel writes it never uses them, and
    # replacing them beats refusing a whole file over one stray byte.
    errors = "replace" if dialect.encoding == "cp1252" else "strict"
    return io.TextIOWrapper(stream, encoding=dialect.encoding, errors=errors, newline="")


class Rows:
    """The header and then (line, cells) per row, skipping blank lines.

    `line` is the physical line the row starts on (a quoted newline makes a row span
    several lines). `position()` tells how far into the file the reading is, in bytes
    read so far, for progress bars.
    """

    def __init__(self, stream, dialect: Dialect):
        self.dialect = dialect
        self._text = text_stream(stream, dialect)
        self._raw = stream
        csv.field_size_limit(MAX_CELL)
        self._reader = csv.reader(self._text, delimiter=dialect.delimiter, quotechar='"', doublequote=True,
                                  strict=False)
        self.header: list[str] = []
        for _line, cells in self._rows():
            self.header = [clean_header_cell(c) for c in cells]
            break
        if not any(self.header):
            raise UnreadableFile(N_("The file has no header line."))

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        reader = self._reader
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise UnreadableFile(N_("The file cannot be read as CSV near line %(line)s: %(detail)s"),
                                     line=start, detail=str(exc)) from None
            if not any(map(str.strip, cells)):
                continue  # a blank line (or a row of empty cells, as Excel leaves at the end)
            yield start, cells

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        return self._rows()

    def position(self) -> int:
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0


def clean_header_cell(cell: str) -> str:
    return cell.replace("\ufeff", "").strip()


def header_key(name: str) -> str:
    """"Teléfono ", "TELEFONO" and "telefono" are the same column; so are "Customer e-mail" and
    "customer_email"."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", "_", plain).strip("_")


# --- values -----------------------------------------------------------------------------

_SPACES = re.compile(r"[\s\u00a0\u202f']")
_PLAIN = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]+)?")
_GROUPED_DOT = re.compile(r"[+-]?[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?")  # 1.234,50 / 1.234.567
_GROUPED_COMMA = re.compile(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")  # 1,234.50


def parse_decimal(text: str) -> Decimal | None:
    """A number with a decimal comma or point and optional thousands separators:
    "1.234,50", "1234.50", "1234,5", "1,234.50", "12 €". None when it is not a number.

    One separator alone is the decimal one ("1,234" is 1.234, as Spanish writes it);
    both together, the last one is. Exponents and other text are refused."""
    text = _SPACES.sub("", text.strip().removesuffix("€").removeprefix("€"))
    if not text or len(text) > 40:
        return None
    if _PLAIN.fullmatch(text):
        normal = text.replace(",", ".")
    elif _GROUPED_DOT.fullmatch(text):
        normal = text.replace(".", "").replace(",", ".")
    elif _GROUPED_COMMA.fullmatch(text):
        normal = text.replace(",", "")
    else:
        return None
    try:
        return Decimal(normal)
    except InvalidOperation:
        return None


_DMY = re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})")
_DMY_TIME = re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})[ T]+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ISO_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")


@lru_cache(maxsize=8192)  # a file repeats its dates: read each once
def parse_date(text: str, zone: ZoneInfo) -> date | None:
    """dd/mm/yyyy (also with - or .), ISO yyyy-mm-dd, or an ISO instant (its day in `zone`)."""
    text = text.strip()
    try:
        if match := _DMY.fullmatch(text):
            day, month, year = map(int, match.groups())
            return date(year, month, day)
        if _ISO_DATE.fullmatch(text):
            return date.fromisoformat(text)
        if _ISO_START.match(text):
            instant = parse_instant(text, zone)
            return instant.astimezone(zone).date() if instant else None
    except ValueError:
        return None
    return None


@lru_cache(maxsize=8192)
def parse_instant(text: str, zone: ZoneInfo) -> datetime | None:
    """An aware instant from ISO (with offset or Z; without one it is local time in `zone`),
    dd/mm/yyyy hh:mm[:ss] (local) or a bare date (local midnight)."""
    text = text.strip()
    try:
        if match := _DMY_TIME.fullmatch(text):
            day, month, year, hour, minute, second = match.groups()
            local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
        elif _ISO_START.match(text):
            local = datetime.fromisoformat(text)
            if local.tzinfo is not None:
                return local
        else:
            day = parse_date(text, zone) if (_DMY.fullmatch(text) or _ISO_DATE.fullmatch(text)) else None
            if day is None:
                return None
            local = datetime.combine(day, time.min)
    except ValueError:
        return None
    # fold=0: an ambiguous autumn hour is read as its first occurrence.
    return local.replace(tzinfo=zone)


_TRUE = {"1", "true", "yes", "y", "si", "sí", "s", "x", "verdadero", "t", "on"}
_FALSE = {"0", "false", "no", "n", "falso", "f", "off", ""}


def parse_bool(text: str) -> bool | None:
    value = text.strip().casefold()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None
