"""Reading the rollup: which days of a period it holds, and the customers before an instant."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, select

from crm.customers.models import Customer
from crm.extensions import db
from crm.insights.filters import local_midnight, setting
from crm.insights.rollup.build import customer_rows
from crm.insights.rollup.days import company_zone, day_runs, local_day
from crm.insights.rollup.models import RollupCustomers, RollupDay, RollupDirty


def split_days(first_day: date, last_day: date, zone: str) -> tuple[list[date], list[tuple[date, date]]]:
    """The days of [first_day, last_day] readable from the rollup, and the runs of the
    others (first, last), to be counted live."""
    built = set(db.session.scalars(select(RollupDay.day).where(
        RollupDay.day >= first_day, RollupDay.day <= last_day, RollupDay.zone == zone)))
    if built:
        built -= set(db.session.scalars(select(RollupDirty.day).where(
            RollupDirty.day >= first_day, RollupDirty.day <= last_day)))
    others = (first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1))
    live = [(run[0], run[-1]) for run in day_runs(day for day in others if day not in built)]
    return sorted(built), live


def plan(start: datetime, end: datetime, zone: str, *, usable: bool = True
         ) -> tuple[list[date], list[tuple[datetime, datetime]]]:
    """How to count [start, end): the local days to read from the rollup, and the instant
    ranges to count live (everything, when the rollup may not be used, the period is not
    whole local days, or the zone is not the company's)."""
    days = whole_days(start, end, zone) if usable and setting("CRM_ROLLUPS", True) and zone == company_zone() \
        else None
    if days is None:
        return [], [(start, end)]
    served, live = split_days(*days, zone)
    return served, [(local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone))
                    for first, last in live]


def whole_days(start: datetime, end: datetime, zone: str) -> tuple[date, date] | None:
    """The local days [first, last] when [start, end) is exactly whole local days, else None."""
    first, last = local_day(start, zone), local_day(end, zone) - timedelta(days=1)
    if last < first or local_midnight(first, zone) != start or local_midnight(last + timedelta(days=1), zone) != end:
        return None
    return first, last


def in_days(column, days: list[date]):
    """`column` among these days: a range, minus the gaps."""
    if not days:
        return False
    gaps = sorted(set(days[0] + timedelta(days=n) for n in range((days[-1] - days[0]).days + 1)) - set(days))
    condition = and_(column >= days[0], column <= days[-1])
    return and_(condition, column.not_in(gaps)) if gaps else condition


def customers_before(instant: datetime, zone: str, conditions=(), model_conditions=()) -> dict | None:
    """{(segment, cohort): [created, present]} summed over every local day before `instant`
    (a local midnight): how many customers were created before it, and how many of them
    were then not churned. None when the rollup does not hold every day with customer data
    before it (not built yet, or another zone): the caller counts live."""
    first = _first_customer_day(zone)
    last = local_day(instant, zone) - timedelta(days=1)
    if local_midnight(last + timedelta(days=1), zone) != instant:
        return None
    out: dict[tuple, list[int]] = {}
    if first is None or last < first:
        return out
    built = db.session.scalar(select(func.count()).select_from(RollupDay).where(
        RollupDay.day >= first, RollupDay.day <= last, RollupDay.zone == zone))
    if built != (last - first).days + 1:
        return None
    dirty = sorted(set(db.session.scalars(select(RollupDirty.day).where(RollupDirty.day <= last))))
    c = RollupCustomers
    where = [c.day <= last, *model_conditions]
    if dirty:
        where.append(c.day.not_in(dirty))
    for segment, cohort, created, present in db.session.execute(
            select(c.segment, c.cohort, func.sum(c.created), func.sum(c.present)).where(*where)
            .group_by(c.segment, c.cohort)):
        out[(segment, cohort)] = [int(created), int(present)]
    for run in day_runs(d for d in dirty if d >= first):
        live = customer_rows(local_midnight(run[0], zone), local_midnight(run[-1] + timedelta(days=1), zone), zone,
                             conditions)
        for (_, segment, _tier, cohort), (created, present) in live.items():
            row = out.setdefault((segment, cohort), [0, 0])
            row[0] += created
            row[1] += present
    return out


def _first_customer_day(zone: str) -> date | None:
    """The day the first customer was created (an index's first entry): no customer, no churn."""
    first = db.session.scalar(select(func.min(Customer.created_at)))
    return None if first is None else local_day(first, zone)
