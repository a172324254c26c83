"""Reading mail back: the .eml files the file transport writes, and the messages in the outbox.

The folder can hold many thousands of files, so a page of the list opens only its
own files and reads only their headers.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from crm.domain import N_, NotFound
from crm.pagination import Page, clamp

# The file transport names each file by its outbox id ("000000123.eml"). ASCII digits
# only (str.isdigit and \d accept other scripts' digits) and nothing else: no path.
MAIL_NAME = re.compile(r"[0-9]{9}\.eml", re.ASCII)
PER_PAGE = 50
HEADER_LIMIT = 64 * 1024
SHOWN_HEADERS = ("Date", "From", "To", "Reply-To", "Subject", "Message-ID", "List-Unsubscribe")


@dataclass
class MailSummary:
    name: str
    date: datetime | None
    to: str
    subject: str


@dataclass
class ParsedMail:
    headers: list[tuple[str, str]]
    subject: str
    text: str
    html: str


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, TypeError, IndexError):  # a malformed header the parser cannot fold
        return ""
    return "" if value is None else str(value)


def _date(message: EmailMessage) -> datetime | None:
    try:
        value = message.get("Date")
    except (ValueError, TypeError, IndexError):
        return None
    moment = getattr(value, "datetime", None)
    return moment if isinstance(moment, datetime) and moment.tzinfo is not None else None


def _part(message: EmailMessage, subtype: str) -> str:
    try:
        part = message.get_body(preferencelist=(subtype,))
        return part.get_content() if part is not None else ""
    except (LookupError, ValueError, TypeError, AttributeError, AssertionError):
        # an unknown charset or a broken part: show what can be shown, never fail the page
        return ""


def parse_message(raw: bytes) -> ParsedMail:
    """Headers worth showing, the plain-text part and the HTML part of an RFC 5322 message."""
    message = BytesParser(policy=policy.default).parsebytes(bytes(raw))
    headers = [(name, _header(message, name)) for name in SHOWN_HEADERS]
    return ParsedMail(headers=[(name, value) for name, value in headers if value],
                      subject=_header(message, "Subject"), text=_part(message, "plain"), html=_part(message, "html"))


def _read_head(path: Path) -> bytes:
    """The header block of a message file: the lines before the first empty one."""
    lines, size = [], 0
    with open(path, "rb") as handle:
        while size < HEADER_LIMIT:
            line = handle.readline(8192)
            if not line or line in (b"\r\n", b"\n"):
                break
            lines.append(line)
            size += len(line)
    return b"".join(lines)


def _names(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if MAIL_NAME.fullmatch(e.name) and e.is_file(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(names, reverse=True)


def list_mail(folder: str, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The sent-mail files, newest (highest number) first, one page at a time."""
    page, per_page = clamp(page, per_page)
    names = _names(folder)
    items = []
    for name in names[(page - 1) * per_page: page * per_page]:
        try:
            head = BytesParser(policy=policy.default).parsebytes(_read_head(Path(folder) / name),
                                                                 headersonly=True)
        except OSError:  # removed since the folder was listed
            continue
        items.append(MailSummary(name=name, date=_date(head), to=_header(head, "To"),
                                 subject=_header(head, "Subject")))
    return Page(items=items, total=len(names), page=page, per_page=per_page)


def mail_file(folder: str, name: str) -> bytes:
    """The raw bytes of one sent-mail file; anything but a plain file name of the folder is a 404."""
    if not isinstance(name, str) or not MAIL_NAME.fullmatch(name):
        raise NotFound(N_("no such email"))
    path = Path(folder) / name
    try:
        if path.is_symlink() or not path.is_file():
            raise NotFound(N_("no such email"))
        return path.read_bytes()
    except OSError:
        raise NotFound(N_("no such email")) from None
