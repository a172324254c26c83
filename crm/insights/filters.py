"""What a figure is asked for: a period of whole local days, the filters, and the query
conditions they become.

A period is the half-open range of instants [start, end) between local midnights in the
company's time zone. Filters on the contact (team, agent, channel, moment type) and on the
customer (segment, tier) narrow every contact-based figure; the customer-based ones
(revenue, churn, retention) follow the customer filters only, since a purchase or a lost
customer belongs to no team or channel.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select

from crm.auth.models import Team, User
from crm.customers.lifecycle import TIERS
from crm.customers.models import Customer
from crm.domain import N_, Cleaner, NotFound
from crm.extensions import db
from crm.moments.catalog import get_moment_type
from crm.moments.models import CHANNELS, MomentType
from crm.queries import is_id, typed_id

MAX_DAYS = 366
DEFAULT_DAYS = 30
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)
CENT = Decimal("0.01")


def setting(key: str, default):
    """An app setting, or `default` outside an app (the pure tests)."""
    from flask import current_app, has_app_context

    return current_app.config.get(key, default) if has_app_context() else default


# --- filters ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    segment: str | None = None
    tier: str | None = None
    team_id: int | None = None
    agent_id: int | None = None
    channel: str | None = None
    moment_type_id: int | None = None

    @property
    def on_contacts(self) -> bool:
        return any(v is not None for v in (self.team_id, self.agent_id, self.channel, self.moment_type_id))

    @property
    def on_customers(self) -> bool:
        return self.segment is not None or self.tier is not None

    def as_dict(self) -> dict:
        return {"segment": self.segment, "tier": self.tier, "team_id": self.team_id, "agent_id": self.agent_id,
                "channel": self.channel, "moment_type_id": self.moment_type_id}


def _reference(c: Cleaner, field: str, value, model, message: str) -> int | None:
    if value in (None, ""):
        return None
    value = typed_id(value)
    if not is_id(value) or db.session.get(model, value) is None:
        c.fail(field, message)
        return None
    return value


def clean_filters(data: Mapping | None) -> Filters:
    """Check the filters a page or API call sent: every problem at once, as a ValidationFailed.

    Keys: segment, tier, team_id, agent_id, channel and moment_type (an id or a
    code; moment_type_id is accepted too). Empty values mean "any".
    """
    data = dict(data or {})
    c = Cleaner()
    segment = c.text("segment", data.get("segment"), max_len=60) or None
    tier = c.choice("tier", data.get("tier") or None, TIERS, required=False)
    channel = c.choice("channel", data.get("channel") or None, CHANNELS, required=False)
    team_id = _reference(c, "team_id", data.get("team_id"), Team, N_("no such team"))
    agent_id = _reference(c, "agent_id", data.get("agent_id"), User, N_("no such user"))
    moment_type_id = None
    ref = data.get("moment_type", data.get("moment_type_id"))
    if isinstance(ref, str):
        # A code is checked as text before it reaches a query: PostgreSQL refuses NUL bytes.
        ref = c.text("moment_type", ref, max_len=40)
    if ref not in (None, ""):
        try:
            moment_type_id = get_moment_type(typed_id(ref)).id
        except NotFound:
            c.fail("moment_type", N_("no such moment type"))
    c.check()
    return Filters(segment=segment, tier=tier, team_id=team_id, agent_id=agent_id, channel=channel,
                   moment_type_id=moment_type_id)


# --- periods ---------------------------------------------------------------------------

def local_midnight(day: date, zone: str) -> datetime:
    """The instant a local day starts in the company's time zone, in UTC."""
    return datetime.combine(day, time(), tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


def today(zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


@dataclass(frozen=True)
class Period:
    """Whole local days, first to last inclusive, in the company's time zone."""

    first_day: date
    last_day: date
    zone: str

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def start(self) -> datetime:
        return local_midnight(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        """Exclusive: the midnight after the last day."""
        return local_midnight(self.last_day + timedelta(days=1), self.zone)

    def previous(self) -> Period:
        """The same number of days just before, so trends compare like with like."""
        return replace(self, first_day=self.first_day - timedelta(days=self.days),
                       last_day=self.first_day - timedelta(days=1))


def is_date(value) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_day(value):
    """A date as given: a date, an ISO "YYYY-MM-DD" string (read here), or nothing."""
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        try:
            return date.fromisoformat(value) if _ISO_DAY.fullmatch(value) else value
        except ValueError:
            return value
    return value


def make_period(first_day, last_day, zone: str, *, today_: date | None = None) -> Period:
    """Check a period given as local dates (or "YYYY-MM-DD"). Missing ends default to the
    last 30 days up to today: `last_day` to today, `first_day` to 29 days before the last day."""
    c = Cleaner()
    first_day, last_day = parse_day(first_day), parse_day(last_day)
    if last_day is None and today_ is not None:
        last_day = today_
    if first_day is None and is_date(last_day):
        first_day = last_day - timedelta(days=DEFAULT_DAYS - 1)
    for field, day in (("from", first_day), ("to", last_day)):
        if not is_date(day):
            c.fail(field, N_("must be a date (YYYY-MM-DD)"))
        elif not EARLIEST_DAY <= day <= LATEST_DAY:
            c.fail(field, N_("must be between %(first)s and %(last)s"), first=EARLIEST_DAY.isoformat(),
                   last=LATEST_DAY.isoformat())
    c.check()
    if last_day < first_day:
        c.fail("to", N_("must not be before the start of the period"))
    elif (last_day - first_day).days + 1 > MAX_DAYS:
        c.fail("to", N_("a period can be at most %(max)d days long"), max=MAX_DAYS)
    c.check()
    return Period(first_day, last_day, zone)


def first_midnight_from(instant: datetime, zone: str) -> date:
    """The first local day whose midnight is at or after `instant`."""
    day = instant.astimezone(ZoneInfo(zone)).date()
    return day if local_midnight(day, zone) >= instant else day + timedelta(days=1)


# --- conditions shared by the queries ---------------------------------------------------------

def contact_conditions(moment, f: Filters) -> list:
    conditions = []
    if f.channel is not None:
        conditions.append(moment.channel == f.channel)
    if f.agent_id is not None:
        conditions.append(moment.staff_id == f.agent_id)
    if f.moment_type_id is not None:
        conditions.append(moment.moment_type_id == f.moment_type_id)
    if f.team_id is not None:
        conditions.append(moment.moment_type_id.in_(select(MomentType.id).where(MomentType.team_id == f.team_id)))
    return conditions


def customer_conditions(customer_id, f: Filters) -> list:
    if not f.on_customers:
        return []
    customers = select(Customer.id)
    if f.segment is not None:
        customers = customers.where(Customer.segment == f.segment)
    if f.tier is not None:
        customers = customers.where(Customer.tier == f.tier)
    # "+ 0": the period's time range drives these queries; without it SQLite may start from
    # the segment's customers and probe their rows one by one (seconds, not milliseconds).
    return [(customer_id + 0).in_(customers)]


def on_customer(f: Filters) -> list:
    """The customer filters, on the customers table itself."""
    conditions = []
    if f.segment is not None:
        conditions.append(Customer.segment == f.segment)
    if f.tier is not None:
        conditions.append(Customer.tier == f.tier)
    return conditions


def rollup_conditions(model, f: Filters) -> list:
    """The filters on a rollup table's columns (the agent is not kept there)."""
    conditions = []
    if f.segment is not None:
        conditions.append(model.segment == f.segment)
    if f.tier is not None:
        conditions.append(model.tier == f.tier)
    if hasattr(model, "moment_type_id"):
        if f.channel is not None:
            conditions.append(model.channel == f.channel)
        if f.moment_type_id is not None:
            conditions.append(model.moment_type_id == f.moment_type_id)
        if f.team_id is not None:
            conditions.append(model.moment_type_id.in_(select(MomentType.id).where(MomentType.team_id == f.team_id)))
    return conditions


def within(column, start: datetime, end: datetime):
    return and_(column >= start, column < end)


def money(value) -> Decimal:
    # SQLite sums NUMERIC as floating point: back to cents.
    return Decimal(str(value or 0)).quantize(CENT)


def count_if(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)
