"""Churn and retention: the figures about customers rather than contacts.

Customers lost in a period ÷ customers at its start, by segment, and the monthly signup
cohorts of the last twelve months with how many were still customers at the period's end.
A customer's stage at an instant is where their latest stage change before it went (or
the stage they were created in). When the daily rollup holds every day before the instant,
the customers then present are sums of it; otherwise they are counted from the history.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, or_, select, union
from sqlalchemy.orm import aliased

from crm.customers.models import Customer, StageChange
from crm.extensions import db
from crm.insights import metrics
from crm.insights.filters import Filters, count_if, local_midnight, on_customer, rollup_conditions, setting, within
from crm.insights.rollup import RollupCustomers, company_zone, customers_before, initial_stage

COHORT_MONTHS = 12
CHURNED = "churned"


def _before(instant: datetime, f: Filters, zone: str, memo: dict | None) -> dict | None:
    """The rollup's customers before `instant`, or None when they must be counted live.
    `memo` keeps them for the caller: a report asks for its start twice (the current
    period's churn, the previous period's retention)."""
    if not setting("CRM_ROLLUPS", True) or zone != company_zone():
        return None
    memo = {} if memo is None else memo
    key = (instant, zone, f.segment, f.tier)
    if key not in memo:
        memo[key] = customers_before(instant, zone, on_customer(f), rollup_conditions(RollupCustomers, f))
    return memo[key]


def churned_at(instant: datetime):
    """The customers whose stage just before `instant` was churned: their latest stage change
    before it went to churned (or, with no change before it, they were created churned).

    Only changes *to* churned are read, each checked for a later change through the
    (customer, at) index, instead of ranking every customer's whole history.
    """
    later = aliased(StageChange)
    latest_is_churn = select(StageChange.customer_id.label("customer_id")).where(
        StageChange.to_stage == CHURNED, StageChange.at < instant,
        ~exists().where(later.customer_id == StageChange.customer_id, later.at < instant,
                        or_(later.at > StageChange.at, and_(later.at == StageChange.at, later.id > StageChange.id))))
    no_history = select(Customer.id.label("customer_id")).where(
        ~exists().where(StageChange.customer_id == Customer.id, StageChange.at < instant),
        initial_stage() == CHURNED)
    return union(latest_is_churn, no_history).subquery()


def stage_at(instant, otherwise=None):
    """A customer's stage just before `instant` (an instant or a column): where their latest
    change before it went, one backward step on the (customer, at) index, or, with none,
    `otherwise` (default: the stage they were created in)."""
    latest = (select(StageChange.to_stage).where(StageChange.customer_id == Customer.id, StageChange.at < instant)
              .order_by(StageChange.at.desc(), StageChange.id.desc()).limit(1)
              .correlate_except(StageChange).scalar_subquery())
    return func.coalesce(latest, initial_stage() if otherwise is None else otherwise)


def churn(start, end, f: Filters, zone: str, memo: dict | None = None) -> dict:
    """Customers lost in the period ÷ customers at its start. The customers at the start are
    those created before it whose stage then was not churned; a customer is lost when one
    of them moved to churned during the period (once, however many times it happened).

    The customers at the start come from the daily rollup when it holds every day before
    the start (sums of customers created and of moves into and out of churned); the lost
    ones are few and always read live."""
    before = _before(start, f, zone, memo)
    if before is not None:
        at_start: dict = {}
        for (segment, _cohort), (_created, present) in before.items():
            at_start[segment] = at_start.get(segment, 0) + present
        lost = dict(db.session.execute(
            select(Customer.segment, func.count()).where(
                Customer.id.in_(select(StageChange.customer_id).where(StageChange.to_stage == CHURNED,
                                                                      within(StageChange.at, start, end))),
                Customer.created_at < start, stage_at(start) != CHURNED, *on_customer(f))
            .group_by(Customer.segment)).all())
        rows = [(segment, count, lost.get(segment, 0)) for segment, count in at_start.items() if count]
        return _churn_figures(rows)
    churned_then = churned_at(start)
    lost = (select(StageChange.customer_id).where(StageChange.to_stage == CHURNED,
                                                  within(StageChange.at, start, end))
            .group_by(StageChange.customer_id).subquery())
    rows = db.session.execute(
        select(Customer.segment, func.count(), count_if(lost.c.customer_id.is_not(None)))
        .select_from(Customer)
        .outerjoin(churned_then, churned_then.c.customer_id == Customer.id)
        .outerjoin(lost, lost.c.customer_id == Customer.id)
        .where(Customer.created_at < start, churned_then.c.customer_id.is_(None), *on_customer(f))
        .group_by(Customer.segment)).all()
    return _churn_figures(rows)


def _churn_figures(rows) -> dict:
    """From (segment, customers at the start, lost) rows."""
    by_segment = [{"segment": segment, "at_start": count, "lost": lost_count,
                   "rate": metrics.churn_rate(lost_count, count)}
                  for segment, count, lost_count in sorted(rows, key=lambda r: (r[0] is None, r[0] or ""))]
    at_start_total = sum(r["at_start"] for r in by_segment)
    lost_total = sum(r["lost"] for r in by_segment)
    return {"customers_at_start": at_start_total, "customers_lost": lost_total,
            "churn_rate": metrics.churn_rate(lost_total, at_start_total), "churn_by_segment": by_segment}


def _month_starts(end: datetime, zone: str, months: int = COHORT_MONTHS) -> list[date]:
    """The first days of the `months` local months up to the one the period ends in."""
    last = (end - timedelta(microseconds=1)).astimezone(ZoneInfo(zone)).date()
    index = last.year * 12 + last.month - 1
    return [date((i // 12), i % 12 + 1, 1) for i in range(index - months + 1, index + 1)]


def retention(end, f: Filters, zone: str, memo: dict | None = None) -> dict:
    """Monthly signup cohorts of the last twelve months up to the period's end, and how
    many of each were still customers (not churned) at that end (from the daily rollup
    when it holds every day before the end)."""
    months = _month_starts(end, zone)
    before = _before(end, f, zone, memo)
    if before is not None:
        counts: dict = {}
        for (_segment, cohort), (created, present) in before.items():
            if cohort >= months[0]:
                row = counts.setdefault(months.index(cohort), [0, 0])
                row[0] += created
                row[1] += present
        return _retention_figures(months, counts)
    bounds = [local_midnight(month, zone) for month in months]
    churned_end = churned_at(end)
    cohort = case(*[(Customer.created_at < bound, i) for i, bound in enumerate(bounds[1:])],
                  else_=len(bounds) - 1)
    still = case((churned_end.c.customer_id.is_(None), 1), else_=0)
    members = (select(cohort.label("cohort"), still.label("still"))
               .select_from(Customer).outerjoin(churned_end, churned_end.c.customer_id == Customer.id)
               .where(within(Customer.created_at, bounds[0], end), *on_customer(f)).subquery())
    counts = {i: (n, kept) for i, n, kept in db.session.execute(
        select(members.c.cohort, func.count(), func.sum(members.c.still)).group_by(members.c.cohort))}
    return _retention_figures(months, counts)


def _retention_figures(months: list[date], counts: dict) -> dict:
    cohorts = []
    for i, month in enumerate(months):
        size, kept = counts.get(i, (0, 0))
        cohorts.append({"month": month, "customers": size, "retained": int(kept or 0),
                        "rate": metrics.retention(size, int(kept or 0))})
    size = sum(c["customers"] for c in cohorts)
    kept = sum(c["retained"] for c in cohorts)
    return {"cohort_customers": size, "cohort_retained": kept, "retention": metrics.retention(size, kept),
            "retention_by_cohort": cohorts}
