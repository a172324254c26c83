"""The filters an export understands, cleaned the same way for the pages, the API and the CLI.

Names follow the list pages, so a download button can pass the page's query string on
as it is (`owner`, `customer`, `from`, `to`, ...); the API's `*_id` and `since`/`until`
spellings are accepted too. Unknown names (`page`, `format`) are ignored. Every bad
value is reported at once, as a ValidationFailed (422) naming the filter.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from crm.auth.models import Team, User
from crm.compensations.models import STATUSES as COMPENSATION_STATUSES
from crm.customers.lifecycle import STAGES, TIERS
from crm.customers.models import Customer
from crm.domain import N_, Cleaner
from crm.extensions import db
from crm.moments.models import CHANNELS, COMMITMENT_STATUSES, MomentType
from crm.queries import is_id

ENTITIES = ("customers", "moments", "commitments", "compensations", "purchases")
ALIASES = {"owner_id": "owner", "customer_id": "customer", "team_id": "team", "moment_type_id": "moment_type",
           "since": "from", "until": "to"}
ACCEPTED = {
    "customers": ("q", "stage", "segment", "owner"),
    "moments": ("customer", "from", "to", "moment_type", "channel"),
    "commitments": ("status", "owner", "customer"),
    "compensations": ("status", "customer", "team", "moment_type", "tier", "from", "to"),
    "purchases": ("customer", "from", "to"),
}
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]{1,19}")


def _values(args, name: str) -> list[str]:
    """Every non-empty value given under `name` or its alias, from a MultiDict or a dict."""
    found = []
    for key in [name] + [alias for alias, canonical in ALIASES.items() if canonical == name]:
        if key not in args:
            continue
        raw = args.getlist(key) if hasattr(args, "getlist") else args[key]
        found.extend(raw if isinstance(raw, (list, tuple)) else [raw])
    return [str(v).strip() if not isinstance(v, str) else v.strip() for v in found
            if v is not None and str(v).strip() != ""]


def _one(c: Cleaner, args, name: str) -> str | None:
    values = _values(args, name)
    if len(set(values)) > 1:
        c.fail(name, N_("give one value only"))
        return None
    return values[0] if values else None


def _id(c: Cleaner, name: str, value: str | None) -> int | None:
    if value is None:
        return None
    number = int(value) if _DIGITS.fullmatch(value) else None
    if not is_id(number):
        c.fail(name, N_("must be a whole number"))
        return None
    return number


def _existing(c: Cleaner, name: str, model, ident: int | None, message: str) -> int | None:
    if ident is not None and db.session.get(model, ident) is None:
        c.fail(name, message)
        return None
    return ident


def _owner(c: Cleaner, value: str | None) -> int | None:
    """A staff member by id or by email (the CLI's friendlier form)."""
    if value is None:
        return None
    if "@" in value:
        owner = db.session.scalar(select(User.id).where(User.email == value.lower()[:254]))
        if owner is None:
            c.fail("owner", N_("no such user"))
        return owner
    return _existing(c, "owner", User, _id(c, "owner", value), N_("no such user"))


def _moment_type(c: Cleaner, value: str | None) -> int | None:
    """A moment type by id or by code."""
    if value is None:
        return None
    if _DIGITS.fullmatch(value):
        return _existing(c, "moment_type", MomentType, _id(c, "moment_type", value), N_("no such moment type"))
    found = db.session.scalar(select(MomentType.id).where(MomentType.code == value[:40]))
    if found is None:
        c.fail("moment_type", N_("no such moment type"))
    return found


def _day(c: Cleaner, name: str, value: str | None) -> date | None:
    if value is None:
        return None
    day = None
    if _ISO_DATE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
    if day is None or day.year < 1900:
        c.fail(name, N_("must be a date (YYYY-MM-DD)"))
        return None
    return day


def clean_filters(entity: str, args, zone: str) -> dict:
    """The cleaned filters of one export, ready for crm.exports.services.

    Days (`from`, `to`, both inclusive) are the company's local days; for instants
    they become `since` (first instant) and `until` (first instant after)."""
    accepted = ACCEPTED[entity]
    c = Cleaner()
    raw = {name: _one(c, args, name) for name in accepted if name != "status"}
    out: dict = {}
    if "q" in accepted:
        out["q"] = c.text("q", raw["q"], max_len=200) or None
    if "stage" in accepted:
        out["stage"] = c.choice("stage", raw["stage"], STAGES, required=False)
    if "segment" in accepted:
        out["segment"] = c.text("segment", raw["segment"], max_len=60) or None
    if "owner" in accepted:
        out["owner_id"] = _owner(c, raw["owner"])
    if "customer" in accepted:
        out["customer_id"] = _existing(c, "customer", Customer, _id(c, "customer", raw["customer"]),
                                       N_("no such customer"))
    if "team" in accepted:
        out["team_id"] = _existing(c, "team", Team, _id(c, "team", raw["team"]), N_("no such team"))
    if "moment_type" in accepted:
        out["moment_type_id"] = _moment_type(c, raw["moment_type"])
    if "channel" in accepted:
        out["channel"] = c.choice("channel", raw["channel"], CHANNELS, required=False)
    if "tier" in accepted:
        out["tier"] = c.choice("tier", raw["tier"], TIERS, required=False)
    if entity == "commitments":
        # Several at once: the supervisors' queue is "open and paused".
        out["statuses"] = tuple(sorted({c.choice("status", s, COMMITMENT_STATUSES) for s in _values(args, "status")}
                                       - {None})) or None
    elif entity == "compensations":
        out["status"] = c.choice("status", _one(c, args, "status"), COMPENSATION_STATUSES, required=False)
    if "from" in accepted:
        first, last = _day(c, "from", raw["from"]), _day(c, "to", raw["to"])
        if first and last and first > last:
            c.fail("to", N_("must not be before the start"))
        out.update(_period(entity, first, last, ZoneInfo(zone)))
    c.check()
    return out


def _period(entity: str, first: date | None, last: date | None, zone: ZoneInfo) -> dict:
    if entity == "purchases":  # purchases are dated, not timed
        return {"since": first, "until": last}

    def start(day):
        return datetime.combine(day, time(), tzinfo=zone) if day else None

    return {"since": start(first), "until": start(last + timedelta(days=1)) if last else None}


def describe(filters: dict) -> dict:
    """The filters for the audit trail: only those given, as JSON-friendly values."""
    out = {}
    for name, value in filters.items():
        if value is None:
            continue
        out[name] = value.isoformat() if isinstance(value, (date, datetime)) else (
            list(value) if isinstance(value, tuple) else value)
    return out
