"""Commitment deadlines in business time: when one falls due, warns, pauses and resumes.

Pure rules over a crm.sla.BusinessCalendar; the services load and store.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from crm.sla import BusinessCalendar


@dataclass(frozen=True)
class Deadline:
    due_at: datetime
    warn_at: datetime


def plan(calendar: BusinessCalendar, starts_at: datetime, target_hours: Decimal, warn_ratio: Decimal) -> Deadline:
    """Due after `target_hours` of business time; at risk after `warn_ratio` of them."""
    allowed = timedelta(hours=float(target_hours))
    return Deadline(due_at=calendar.add(starts_at, allowed),
                    warn_at=calendar.add(starts_at, allowed * float(warn_ratio)))


def remaining_at_pause(calendar: BusinessCalendar, due_at: datetime, now: datetime) -> int:
    """Seconds of business time left when the clock stops, rounded up: pausing never
    brings a deadline forward."""
    return max(0, math.ceil(calendar.elapsed(now, due_at).total_seconds()))


def resumed(calendar: BusinessCalendar, *, now: datetime, remaining_seconds: int, paused_at: datetime,
            warn_at: datetime | None) -> Deadline:
    """The clock starts again with the business time that was left; paused time never counts.

    The warning moves the same way; one already passed when the clock stopped is due at once.
    """
    due_at = calendar.add(now, timedelta(seconds=remaining_seconds))
    if warn_at is None:
        return Deadline(due_at=due_at, warn_at=due_at)
    to_warning = max(calendar.elapsed(paused_at, warn_at), timedelta(0))
    return Deadline(due_at=due_at, warn_at=calendar.add(now, to_warning))
