"""Checking one row of a file: text cells in, the values to store out, or the reasons it is refused.

The checks are the services' own (the Cleaner, the email rules, the enumerations), on
values read the way spreadsheets write them (crm.imports.reading). Nothing here touches
the database: what rows refer to (users, moment types) comes in a `Lookups`.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email

from crm.auth.services import normalise_email
from crm.customers import search
from crm.customers.lifecycle import CUSTOMER_LANGUAGES, LOYALTY_LEVELS, STAGES, TIERS
from crm.customers.purchases import (
    CENT,
    DESCRIPTION_MAX,
    clean_amount,
    clean_currency,
    clean_purchased_on,
)
from crm.customers.search import phone_key
from crm.domain import N_, Cleaner, DomainError
from crm.imports import reading
from crm.moments.catalog import MAX_COST
from crm.moments.models import CHANNELS, OUTCOMES
from crm.moments.services import EARLIEST as EARLIEST_CONTACT
from crm.moments.services import FUTURE_TOLERANCE, NOTES_MAX, clean_emotion

CHOICES = {"stage": STAGES, "loyalty": LOYALTY_LEVELS, "tier": TIERS, "language": CUSTOMER_LANGUAGES,
           "channel": CHANNELS, "outcome": OUTCOMES}


@dataclass
class TypeInfo:
    id: int
    channel: str
    cost: Decimal
    active: bool


@dataclass
class Lookups:
    """What rows refer to, loaded once per import."""

    zone: ZoneInfo
    currency: str
    now: datetime
    users: dict[str, int] = field(default_factory=dict)  # email → id
    types: dict[str, TypeInfo] = field(default_factory=dict)  # code → type
    # Codes by what people write for them ("Activo", "active", "ACTIVE"), per field.
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    codes: dict[tuple[str, str], str] = field(default_factory=dict)  # (field, cell) → code, as met
    # Per repeated customer field (REPEATED): cell → (value, error), as met.
    memo: dict[str, dict] = field(default_factory=lambda: {name: {} for name in REPEATED})


class RowRejected(Exception):
    def __init__(self, errors: dict[str, DomainError]):
        super().__init__(next(iter(errors.values())).message)
        self.errors = errors


def _choice(c: Cleaner, lookups: Lookups, name: str, value: str):
    if not value:
        return None
    code = lookups.codes.get((name, value))
    if code is None:
        code = lookups.codes[name, value] = lookups.aliases.get(name, {}).get(search.normalise(value), value)
    return c.choice(name, code, CHOICES[name])


def _date(c: Cleaner, lookups: Lookups, name: str, value: str, *, required=False) -> date | None:
    if not value:
        if required:
            c.fail(name, N_("is required"))
        return None
    day = reading.parse_date(value, lookups.zone)
    if day is None:
        c.fail(name, N_("must be a date as dd/mm/yyyy or yyyy-mm-dd"))
    return day


@lru_cache(maxsize=8192)  # a file repeats its dates: convert each once
def _utc_instant(text: str, zone: ZoneInfo) -> datetime | None:
    instant = reading.parse_instant(text, zone)
    return None if instant is None else instant.astimezone(timezone.utc)


def _instant(c: Cleaner, lookups: Lookups, name: str, value: str, *, required=False) -> datetime | None:
    if not value:
        if required:
            c.fail(name, N_("is required"))
        return None
    instant = _utc_instant(value, lookups.zone)
    if instant is None:
        c.fail(name, N_("must be a date and time as dd/mm/yyyy hh:mm or ISO 8601"))
        return None
    if not EARLIEST_CONTACT <= instant <= lookups.now + FUTURE_TOLERANCE:
        c.fail(name, N_("cannot be in the future or before 2000"))
        return None
    return instant


def _user(c: Cleaner, lookups: Lookups, name: str, value: str) -> int | None:
    if not value:
        return None
    user_id = lookups.users.get(value.strip().lower())
    if user_id is None:
        c.fail(name, N_("no such user"))
    return user_id


# Plain ASCII addresses (nearly all of them) are checked here, and their domain once per
# file by the email rules the customer service uses; anything else goes to those rules whole.
_PLAIN_EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                          r"@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


@lru_cache(maxsize=4096)
def _domain_ok(domain: str) -> bool:
    try:
        validate_email(f"x@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def clean_email(c: Cleaner, name: str, value: str) -> str | None:
    """normalise_email(c, name, value, required=False), faster for plain addresses."""
    text = value.strip()
    match = _PLAIN_EMAIL.fullmatch(text)
    if match and len(text) <= 254 and text.index("@") <= 64 and _domain_ok(match.group(1).lower()):
        return text.lower()
    return normalise_email(c, name, value, required=False)


def _phone(c: Cleaner, name: str, value: str) -> str | None:
    phone = c.text(name, value, max_len=40)
    if phone and len(search.phone_digits(phone)) < 6:
        c.fail(name, N_("is not a valid phone number"))
        return None
    return phone or None


def _customer_ref(c: Cleaner, values: dict) -> tuple[str | None, str | None]:
    email = clean_email(c, "customer_email", values.get("customer_email", ""))
    phone = _phone(c, "customer_phone", values.get("customer_phone", ""))
    if not email and not phone and "customer_email" not in c.errors and "customer_phone" not in c.errors:
        c.fail("customer_email", N_("give the customer's email or phone"))
    return email, phone_key(phone)


def one_line(text: str) -> str:
    """A quoted newline inside a one-line field (a company on two lines) becomes a space."""
    return " ".join(text.split()) if ("\n" in text or "\r" in text) else text


def _check(c: Cleaner) -> None:
    if c.errors:
        raise RowRejected(c.errors)


def _text(c: Cleaner, name: str, value: str, max_len: int, required: bool = False) -> str | None:
    """c.text(name, value, max_len=max_len, required=required), without its checks for the
    printable text of nearly every cell (printable: no control characters, no line breaks)."""
    if value.isprintable():
        value = unicodedata.normalize("NFC", value.strip())
        if value and len(value) <= max_len:
            return value
    return c.text(name, value, max_len=max_len, required=required)


def _consent(c: Cleaner, lookups: Lookups, name: str, value: str) -> bool | None:
    consent = reading.parse_bool(value)
    if consent is None:
        c.fail(name, N_("must be yes or no"))
    return consent


# The customer fields whose cells repeat across a file (segments, codes, yes/no, owners,
# dates): the field of the record each fills, and its check, run once per distinct cell
# of an import (`Lookups.memo`).
REPEATED: dict[str, tuple[str, Callable[[Cleaner, Lookups, str, str], Any]]] = {
    "segment": ("segment", lambda c, lookups, name, value: c.text(name, one_line(value), max_len=60) or None),
    "stage": ("stage", _choice),
    "loyalty": ("loyalty", _choice),
    "tier": ("tier", _choice),
    "language": ("language", _choice),
    "marketing_consent": ("marketing_consent", _consent),
    "owner_email": ("owner_id", _user),
    "renewal_date": ("renewal_date", _date),
    "created_at": ("created_at", _instant),
}
CUSTOMER_FIELDS = ("name", "email", "phone", "company", *REPEATED)  # the order errors are told in
MEMO_MAX = 10_000  # distinct cells remembered per field (a free-text segment column can be unique)


def _repeated(lookups: Lookups, name: str, value: str) -> tuple[Any, DomainError | None]:
    """Check a repeated field's cell: its value, or its error (remembered for the import)."""
    c = Cleaner()
    known = (REPEATED[name][1](c, lookups, name, value), c.errors.get(name))
    memo = lookups.memo[name]
    if len(memo) < MEMO_MAX:
        memo[value] = known
    return known


def check_customer(values: dict[str, str], lookups: Lookups) -> dict:
    """The customer fields a row gives (empty cells are left out: they change nothing)."""
    c = Cleaner()
    out: dict = {"name": _text(c, "name", one_line(values.get("name", "")), 200, required=True)}
    if text := values.get("email"):
        out["email"] = clean_email(c, "email", text)
    if text := values.get("phone"):
        out["phone"] = _phone(c, "phone", text)
    if text := values.get("company"):
        out["company"] = _text(c, "company", one_line(text), 200) or None
    memo = lookups.memo
    for name, text in values.items():
        cells = memo.get(name)
        if cells is None or not text:
            continue
        value, error = cells.get(text) or _repeated(lookups, name, text)
        if error is not None:
            c.errors.setdefault(name, error)
        elif value is not None or name != "created_at":
            out[REPEATED[name][0]] = value
    if c.errors:
        raise RowRejected({name: c.errors[name] for name in CUSTOMER_FIELDS if name in c.errors})
    return out


def check_purchase(values: dict[str, str], lookups: Lookups) -> dict:
    c = Cleaner()
    email, phone = _customer_ref(c, values)
    # Read the way spreadsheets write them (thousands separators, dd/mm/yyyy), then checked
    # by the same rules as a purchase recorded on the page.
    amount, text = None, values.get("amount", "")
    parsed = reading.parse_decimal(text) if text else None
    if text and parsed is None:
        c.fail("amount", N_("must be a number"))
    else:
        amount = clean_amount(c, parsed)
    currency = clean_currency(c, values.get("currency") or lookups.currency)
    day = _date(c, lookups, "purchased_on", values.get("purchased_on", ""), required=True)
    if day is not None:
        day = clean_purchased_on(c, day, lookups.now)
    description = c.text("description", one_line(values.get("description", "")), max_len=DESCRIPTION_MAX) or ""
    _check(c)
    return {"email": email, "phone": phone, "amount": amount, "currency": currency,
            "purchased_on": day, "description": description}


def check_moment(values: dict[str, str], lookups: Lookups) -> dict:
    c = Cleaner()
    email, phone = _customer_ref(c, values)
    code = values.get("moment_type", "").strip()
    moment_type = lookups.types.get(code)
    if not code:
        c.fail("moment_type", N_("is required"))
    elif moment_type is None:
        c.fail("moment_type", N_("no such moment type"))
    elif not moment_type.active:
        c.fail("moment_type", N_("this moment type is no longer in use"))
    occurred_at = _instant(c, lookups, "occurred_at", values.get("occurred_at", ""), required=True)
    channel = _choice(c, lookups, "channel", values.get("channel", ""))
    outcome = _choice(c, lookups, "outcome", values.get("outcome", "")) or "pending"
    emotion = clean_emotion(c, values.get("emotion", ""))
    cost = None
    if text := values.get("cost", ""):
        cost = reading.parse_decimal(text)
        if cost is None or not cost.is_finite() or not 0 <= cost <= MAX_COST:
            c.fail("cost", N_("must be between %(min)s and %(max)s"), min=0, max=MAX_COST)
            cost = None
        elif cost != cost.quantize(CENT):
            c.fail("cost", N_("must have at most two decimals"))
    staff_id = _user(c, lookups, "staff_email", values.get("staff_email", ""))
    notes = c.text("notes", values.get("notes", ""), max_len=NOTES_MAX, multiline=True) or ""
    _check(c)
    return {"email": email, "phone": phone, "type_id": moment_type.id,
            "channel": channel or moment_type.channel, "occurred_at": occurred_at, "staff_id": staff_id,
            "emotion": emotion, "outcome": outcome,
            "cost": (moment_type.cost if cost is None else cost).quantize(CENT), "notes": notes}


CHECKS = {"customers": check_customer, "purchases": check_purchase, "moments": check_moment}


def digest(kind: str, *parts) -> str:
    """The import key: what makes a purchase or contact the same when its file is loaded again."""
    text = "\x1f".join("" if p is None else str(p) for p in (kind, *parts))
    return hashlib.sha256(text.encode()).hexdigest()
