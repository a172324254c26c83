"""The public service charter: what the catalog promises customers, gathered in four queries.

The page and the PDF show the same `Charter`; nothing here formats text for a language.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from crm.audit import AuditEvent
from crm.calendars.models import Calendar
from crm.compensations.models import CompensationPolicy
from crm.compensations.rules import choose_policy
from crm.customers.lifecycle import TIERS
from crm.extensions import db
from crm.moments.models import PHASES, MomentType, ServiceLevel

MAX_CLOSURES_SHOWN = 30
# Saving any of these through its service writes an audit event: the charter's version follows them.
CATALOG_ENTITIES = ("moment_type", "compensation_policy", "calendar")


@dataclass(frozen=True)
class Remedy:
    """What a broken commitment earns: the kind and its value (zero for an apology)."""

    kind: str
    value: Decimal


@dataclass(frozen=True)
class Promise:
    """The commitments one moment type makes to one tier, in business hours (None: no promise)."""

    tier: str
    first_response_hours: Decimal | None
    resolution_hours: Decimal | None
    remedy: Remedy | None


@dataclass(frozen=True)
class OpeningHours:
    name: str
    timezone: str
    # (weekday 0=Monday..6, [("09:00", "14:00"), ("16:00", "19:00")]) for all seven days; [] is closed.
    days: list[tuple[int, list[tuple[str, str]]]]
    country: str | None
    subdivision: str | None
    closures: list[date]


@dataclass(frozen=True)
class Entry:
    name: str
    channel: str
    objective: str
    promises: list[Promise]
    # Set only when the type keeps hours other than the company's.
    own_hours: OpeningHours | None


@dataclass(frozen=True)
class Charter:
    channels: list[str]
    hours: OpeningHours | None  # None: no default calendar, business hours are clock hours
    phases: list[tuple[str, list[Entry]]]


def _opening_hours(calendar: Calendar, today: date) -> OpeningHours:
    stored = calendar.hours or {}
    days = [(day, [(str(a), str(b)) for a, b in stored.get(str(day)) or []]) for day in range(7)]
    upcoming = []
    for item in calendar.closures or []:
        try:
            closed = date.fromisoformat(str(item))
        except ValueError:
            continue
        if closed >= today:
            upcoming.append(closed)
    return OpeningHours(calendar.name, calendar.timezone, days, calendar.country, calendar.subdivision,
                        sorted(upcoming)[:MAX_CLOSURES_SHOWN])


def _local_today(calendar: Calendar | None, now: datetime) -> date:
    try:
        return now.astimezone(ZoneInfo(calendar.timezone)).date() if calendar else now.date()
    except (KeyError, ValueError):  # a zone the server no longer knows: UTC is close enough
        return now.date()


def _promises(moment_type: MomentType, policies: list[CompensationPolicy]) -> list[Promise]:
    promises = []
    levels = sorted(moment_type.service_levels, key=lambda level: TIERS.index(level.tier)
                    if level.tier in TIERS else len(TIERS))
    for level in levels:
        if level.first_response_hours is None and level.resolution_hours is None:
            continue
        # The same choice the breach sweep makes (crm.compensations.rules.choose_policy).
        policy = choose_policy(policies, moment_type.id, level.tier)
        remedy = Remedy(policy.kind, policy.value or Decimal("0")) if policy is not None else None
        promises.append(Promise(level.tier, level.first_response_hours, level.resolution_hours, remedy))
    return promises


def build_charter(now: datetime) -> Charter:
    """The charter as the catalog stands: active moment types, their service levels, the
    active compensation policies and the default calendar (four queries, whatever the size)."""
    default = db.session.scalar(select(Calendar).where(Calendar.is_default.is_(True)).limit(1))
    types = list(db.session.scalars(
        select(MomentType).where(MomentType.active.is_(True))
        .options(selectinload(MomentType.service_levels), joinedload(MomentType.calendar))
        .order_by(MomentType.name, MomentType.id)))
    policies = list(db.session.scalars(select(CompensationPolicy).where(CompensationPolicy.active.is_(True))))
    hours = _opening_hours(default, _local_today(default, now)) if default else None

    by_phase: dict[str, list[Entry]] = {}
    channels: list[str] = []
    for moment_type in types:
        own = moment_type.calendar
        own_hours = None
        if own is not None and (default is None or own.id != default.id):
            own_hours = _opening_hours(own, _local_today(own, now))
        by_phase.setdefault(moment_type.phase, []).append(Entry(
            moment_type.name, moment_type.channel, (moment_type.objective or "").strip(),
            _promises(moment_type, policies), own_hours))
        if moment_type.channel not in channels:
            channels.append(moment_type.channel)
    phase_order = {phase: index for index, phase in enumerate(PHASES)}
    phases = sorted(by_phase.items(), key=lambda item: (phase_order.get(item[0], len(PHASES)), item[0]))
    return Charter(channels, hours, phases)


def catalog_version() -> tuple:
    """A cheap fingerprint of everything the charter shows, in one query: the last catalog
    audit event (every save through a service writes one; the index on entity finds them),
    plus the newest row and the row count of each table, for rows written without a service."""
    def newest(column):
        return select(func.max(column)).scalar_subquery()

    def count(model):
        return select(func.count()).select_from(model).scalar_subquery()

    row = db.session.execute(select(
        select(func.max(AuditEvent.id)).where(AuditEvent.entity.in_(CATALOG_ENTITIES)).scalar_subquery(),
        newest(MomentType.created_at), count(MomentType),
        select(func.count()).select_from(MomentType).where(MomentType.active.is_(True)).scalar_subquery(),
        count(ServiceLevel),
        newest(CompensationPolicy.created_at), count(CompensationPolicy),
        newest(Calendar.updated_at), count(Calendar),
    )).one()
    return tuple(row)
