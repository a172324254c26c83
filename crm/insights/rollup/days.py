"""Local days in the company's time zone, and runs of consecutive days."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from crm.insights.filters import setting


def company_zone() -> str:
    return setting("BABEL_DEFAULT_TIMEZONE", "UTC")


def local_day(instant: datetime, zone: str) -> date:
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    return instant.astimezone(ZoneInfo(zone)).date()


def days_of(values: Iterable, zone: str) -> set[date]:
    """The local days of these instants (dates count as themselves; None is skipped)."""
    days = set()
    for value in values:
        if isinstance(value, datetime):
            days.add(local_day(value, zone))
        elif isinstance(value, date):
            days.add(value)
    return days


def day_runs(days: Iterable[date], longest: int | None = None) -> list[list[date]]:
    """The days sorted, in runs of consecutive days (of at most `longest` days)."""
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][-1] + timedelta(days=1) == day and (longest is None or len(runs[-1]) < longest):
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs
