"""Calendars: admins keep them; commitments ask which one applies and compute with it."""
from __future__ import annotations

import threading
from datetime import date, datetime

from sqlalchemy import select, update

from crm import audit
from crm.auth.models import User
from crm.calendars.models import Calendar
from crm.domain import N_, Cleaner, Conflict, DomainError, Forbidden, ValidationFailed
from crm.extensions import db
from crm.queries import get_or_raise, taken_by_other
from crm.sla import BusinessCalendar, CalendarError, parse_hours

# With no calendar configured, deadlines run in plain clock time.
ALWAYS_OPEN = BusinessCalendar("UTC", {day: [("00:00", "24:00")] for day in range(7)})
MAX_CLOSURES = 366

_cache: dict[tuple[int, datetime], BusinessCalendar] = {}
_cache_lock = threading.Lock()


def _error(field: str, exc: CalendarError) -> ValidationFailed:
    return ValidationFailed({field: DomainError(exc.message, field, **exc.params)})


def _clean(data: dict, calendar: Calendar | None) -> dict:
    creating = calendar is None
    c = Cleaner()
    out: dict = {}
    if creating or "name" in data:
        out["name"] = c.text("name", data.get("name"), max_len=120, required=True)
    if creating or "timezone" in data:
        out["timezone"] = c.text("timezone", data.get("timezone"), max_len=64, required=True)
    for key, max_len in (("country", 2), ("subdivision", 10)):
        if creating or key in data:
            value = c.text(key, data.get(key), max_len=max_len)
            out[key] = value.upper() if value else None
    if creating or "hours" in data:
        out["hours"] = data.get("hours")
    if creating or "closures" in data:
        raw = data.get("closures") or []
        closures = []
        if not isinstance(raw, list) or len(raw) > MAX_CLOSURES:
            c.fail("closures", N_("must be a list of at most %(max)d dates"), max=MAX_CLOSURES)
        else:
            for item in raw:
                try:
                    closures.append(item if isinstance(item, date) and not isinstance(item, datetime)
                                    else date.fromisoformat(str(item).strip()))
                except ValueError:
                    c.fail("closures", N_("%(value)s is not a date like 2026-12-24"), value=str(item)[:20])
                    break
        out["closures"] = sorted(set(closures))
    if "is_default" in data:
        out["is_default"] = bool(data["is_default"])
    c.check()
    return out


def _check_arithmetic(fields: dict, calendar: Calendar | None) -> BusinessCalendar:
    """Build the calendar once, field by field, so each problem is named where it lies."""
    merged = {
        "timezone": fields.get("timezone", calendar.timezone if calendar else None),
        "hours": fields.get("hours", calendar.hours if calendar else None),
        "country": fields.get("country", calendar.country if calendar else None),
        "subdivision": fields.get("subdivision", calendar.subdivision if calendar else None),
        "closures": fields.get("closures", [date.fromisoformat(d) for d in calendar.closures] if calendar else []),
    }
    try:
        hours = _as_text(parse_hours(merged["hours"] or {}))
    except CalendarError as exc:
        raise _error("hours", exc) from None
    try:
        BusinessCalendar(merged["timezone"], hours)
    except CalendarError as exc:
        raise _error("timezone", exc) from None
    if merged["subdivision"] and not merged["country"]:
        raise ValidationFailed({"country": DomainError(N_("is required when a region is given"), "country")})
    try:
        return BusinessCalendar(merged["timezone"], hours, holidays=merged["closures"],
                                country=merged["country"], subdivision=merged["subdivision"])
    except CalendarError as exc:
        raise _error("country", exc) from None


def save_calendar(actor: User, calendar: Calendar | None, data: dict, now: datetime) -> Calendar:
    if not actor.has_role("admin"):
        raise Forbidden(N_("only admins manage calendars"))
    fields = _clean(data, calendar)
    checked = _check_arithmetic(fields, calendar)
    if "name" in fields and taken_by_other(Calendar, Calendar.name == fields["name"], calendar):
        raise Conflict(N_("a calendar with that name already exists"), "name")
    if "hours" in fields:
        # Stored normalised: string weekdays (JSON keys), sorted [start, end] pairs.
        fields["hours"] = {str(day): [list(span) for span in spans]
                           for day, spans in sorted(_as_text(checked.hours).items())}
    if "closures" in fields:
        fields["closures"] = [d.isoformat() for d in fields["closures"]]
    if calendar is None:
        calendar = Calendar(created_at=now)
        db.session.add(calendar)
    for key, value in fields.items():
        setattr(calendar, key, value)
    calendar.updated_at = now
    db.session.flush()
    if fields.get("is_default"):
        db.session.execute(update(Calendar).where(Calendar.id != calendar.id).values(is_default=False))
    audit.record(actor, "calendar.saved", "calendar", calendar.id, now, name=calendar.name)
    return calendar


def _as_text(parsed: dict[int, tuple]) -> dict[int, list[tuple[str, str]]]:
    """Parsed minutes back to "HH:MM" pairs, leaving out closed days."""
    return {day: [(f"{a // 60:02d}:{a % 60:02d}", f"{b // 60:02d}:{b % 60:02d}") for a, b in spans]
            for day, spans in parsed.items() if spans}


def list_calendars() -> list[Calendar]:
    return list(db.session.scalars(select(Calendar).order_by(Calendar.is_default.desc(), Calendar.name)))


def get_calendar(calendar_id: int) -> Calendar:
    return get_or_raise(Calendar, calendar_id, N_("no such calendar"), "calendar_id")


def default_calendar() -> Calendar | None:
    return db.session.scalar(select(Calendar).where(Calendar.is_default.is_(True)).limit(1))


def arithmetic(calendar: Calendar | None) -> BusinessCalendar:
    """The BusinessCalendar for a stored calendar, built once per version and process."""
    if calendar is None:
        return ALWAYS_OPEN
    key = (calendar.id, calendar.updated_at)
    with _cache_lock:
        found = _cache.get(key)
    if found is None:
        found = BusinessCalendar(calendar.timezone, {int(day): spans for day, spans in calendar.hours.items()},
                                 holidays=[date.fromisoformat(d) for d in calendar.closures or []],
                                 country=calendar.country, subdivision=calendar.subdivision)
        with _cache_lock:
            if len(_cache) > 64:
                _cache.clear()
            _cache[key] = found
    return found
