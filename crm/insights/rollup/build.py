"""Building the rollup: a day's rows recounted from the source tables, and the refresh."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, delete, func, insert, or_, select, text

from crm.compensations.models import Compensation
from crm.customers.lifecycle import STAGES
from crm.customers.models import Customer, Purchase, StageChange
from crm.extensions import db
from crm.followups.models import SurveyResponse
from crm.insights.filters import local_midnight, money
from crm.insights.rollup.days import company_zone, day_runs, days_of, local_day
from crm.insights.rollup.models import (
    ADVISORY_LOCK,
    DIMENSIONS,
    FIGURE_MEASURES,
    RollupAnswers,
    RollupCustomers,
    RollupDay,
    RollupDirty,
    RollupFigures,
    RollupRevenue,
)
from crm.moments.models import Commitment, Moment

CHUNK_DAYS = 31  # days rebuilt by one query per family


def _day_case(column, bounds: list[datetime]):
    """The index of the local day an instant falls on, given the chunk's midnights."""
    return case(*[(column < bound, i) for i, bound in enumerate(bounds[1:])], else_=None)


def _sum_if(condition, value=1):
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _figure_rows(days: list[date], bounds: list[datetime]) -> dict[tuple, dict]:
    start, end = bounds[0], bounds[-1]
    rows: dict[tuple, dict] = {}

    def add(i, dims, **measures):
        key = (days[i], *dims)
        row = rows.setdefault(key, {})
        for name, value in measures.items():
            row[name] = row.get(name, 0) + value

    moment_dims = (Moment.moment_type_id, Moment.channel, Customer.segment, Customer.tier)
    contact_day = _day_case(Moment.occurred_at, bounds).label("i")
    for i, *dims, n, cost, esum, ecount in db.session.execute(
            select(contact_day, *moment_dims, func.count(), func.coalesce(func.sum(Moment.cost), 0),
                   func.coalesce(func.sum(Moment.emotion), 0), func.count(Moment.emotion))
            .join(Customer, Customer.id == Moment.customer_id)
            .where(Moment.occurred_at >= start, Moment.occurred_at < end)
            .group_by(contact_day, *moment_dims)):
        add(i, dims, contacts=n, contact_cost=money(cost), emotion_sum=int(esum), emotions=ecount)

    resolved_day = _day_case(Moment.resolved_at, bounds).label("i")
    for i, *dims, n, one, two in db.session.execute(
            select(resolved_day, *moment_dims, func.count(), _sum_if(Moment.resolved_contact == 1),
                   _sum_if(Moment.resolved_contact <= 2))
            .join(Customer, Customer.id == Moment.customer_id)
            .where(Moment.resolved_at >= start, Moment.resolved_at < end)
            .group_by(resolved_day, *moment_dims)):
        add(i, dims, resolved=n, resolved_first=int(one), resolved_second=int(two))

    on_time = and_(Commitment.status == "met", Commitment.met_at <= Commitment.due_at)
    late = or_(Commitment.status == "breached", and_(Commitment.status == "met", Commitment.met_at > Commitment.due_at))
    due_day = _day_case(Commitment.due_at, bounds).label("i")
    for i, kind, *dims, kept, broken in db.session.execute(
            select(due_day, Commitment.kind, *moment_dims, _sum_if(on_time), _sum_if(late))
            .join(Moment, Moment.id == Commitment.moment_id)
            .join(Customer, Customer.id == Commitment.customer_id)
            .where(Commitment.due_at >= start, Commitment.due_at < end)
            .group_by(due_day, Commitment.kind, *moment_dims)):
        if kind in ("first_response", "resolution"):
            add(i, dims, **{f"{kind}_on_time": int(kept), f"{kind}_late": int(broken)})

    issued_day = _day_case(Compensation.issued_at, bounds).label("i")
    for i, *dims, n, value, cost in db.session.execute(
            select(issued_day, *moment_dims, func.count(), func.coalesce(func.sum(Compensation.value), 0),
                   func.coalesce(func.sum(Compensation.cost), 0))
            .select_from(Compensation)
            .outerjoin(Moment, Moment.id == Compensation.moment_id)
            .join(Customer, Customer.id == Compensation.customer_id)
            .where(Compensation.status == "issued", Compensation.issued_at >= start, Compensation.issued_at < end)
            .group_by(issued_day, *moment_dims)):
        add(i, dims, compensations=n, compensation_value=money(value), compensation_cost=money(cost))
    return rows


def _answer_rows(days: list[date], bounds: list[datetime]) -> list[dict]:
    answered_day = _day_case(SurveyResponse.answered_at, bounds).label("i")
    dims = (Moment.moment_type_id, Moment.channel, Customer.segment, Customer.tier)
    stmt = (select(answered_day, *dims, SurveyResponse.kind, SurveyResponse.score, func.count())
            .select_from(SurveyResponse)
            .outerjoin(Moment, Moment.id == SurveyResponse.moment_id)
            .join(Customer, Customer.id == SurveyResponse.customer_id)
            .where(SurveyResponse.answered_at >= bounds[0], SurveyResponse.answered_at < bounds[-1])
            .group_by(answered_day, *dims, SurveyResponse.kind, SurveyResponse.score))
    return [{"day": days[i], "moment_type_id": t, "channel": ch, "segment": seg, "tier": tier, "kind": kind,
             "score": score, "answers": n} for i, t, ch, seg, tier, kind, score, n in db.session.execute(stmt)]


def _revenue_rows(days: list[date]) -> list[dict]:
    stmt = (select(Purchase.purchased_on, Customer.segment, Customer.tier, Purchase.currency, func.count(),
                   func.coalesce(func.sum(Purchase.amount), 0))
            .join(Customer, Customer.id == Purchase.customer_id)
            .where(Purchase.purchased_on >= days[0], Purchase.purchased_on <= days[-1])
            .group_by(Purchase.purchased_on, Customer.segment, Customer.tier, Purchase.currency))
    wanted = set(days)
    return [{"day": d, "segment": seg, "tier": tier, "currency": cur, "purchases": n, "amount": money(amount)}
            for d, seg, tier, cur, n, amount in db.session.execute(stmt) if d in wanted]


CHURNED = "churned"
NOT_CHURNED = [s for s in STAGES if s != CHURNED]


def cohort_of(day: date) -> date:
    return day.replace(day=1)


def initial_stage():
    """A customer's stage when created: their first history row's stage (the row written at
    creation has no "from"), the stage their first change started from (history without
    that row), or their stage now when it never changed."""
    first = (select(case((StageChange.from_stage.is_(None), StageChange.to_stage), else_=StageChange.from_stage))
             .where(StageChange.customer_id == Customer.id)
             .order_by(StageChange.at, StageChange.id).limit(1).scalar_subquery())
    return func.coalesce(first, Customer.stage)


def customer_rows(start: datetime, end: datetime, zone: str, conditions=()) -> dict[tuple, list[int]]:
    """{(day, segment, tier, cohort): [created, present]} for the instants [start, end):
    customers created then, and moves into and out of churned then."""
    rows: dict[tuple, list[int]] = {}

    def add(at, created_at, segment, tier, created, present):
        key = (local_day(at, zone), segment, tier, cohort_of(local_day(created_at, zone)))
        row = rows.setdefault(key, [0, 0])
        row[0] += created
        row[1] += present

    for created_at, segment, tier, stage in db.session.execute(
            select(Customer.created_at, Customer.segment, Customer.tier, initial_stage())
            .where(Customer.created_at >= start, Customer.created_at < end, *conditions)):
        add(created_at, created_at, segment, tier, 1, 0 if stage == CHURNED else 1)
    moves = select(StageChange.at, Customer.created_at, Customer.segment, Customer.tier).join(
        Customer, Customer.id == StageChange.customer_id)
    into = moves.where(StageChange.to_stage == CHURNED, StageChange.from_stage != CHURNED)
    out = moves.where(StageChange.to_stage.in_(NOT_CHURNED), StageChange.from_stage == CHURNED)
    for stmt, delta in ((into, -1), (out, 1)):
        for at, created_at, segment, tier in db.session.execute(
                stmt.where(StageChange.at >= start, StageChange.at < end, *conditions)):
            add(at, created_at, segment, tier, 0, delta)
    return rows


def build_days(days: Iterable[date], zone: str, now: datetime) -> None:
    """Recount these local days from the source tables, replacing what the rollup held."""
    days = sorted(set(days))
    for run in day_runs(days, CHUNK_DAYS):
        bounds = [local_midnight(d, zone) for d in run] + [local_midnight(run[-1] + timedelta(days=1), zone)]
        figures = _figure_rows(run, bounds)
        answers = _answer_rows(run, bounds)
        revenue = _revenue_rows(run)
        customers = customer_rows(bounds[0], bounds[-1], zone)
        for model in (RollupFigures, RollupAnswers, RollupRevenue, RollupCustomers):
            db.session.execute(delete(model).where(model.day.in_(run)))
        db.session.execute(delete(RollupDay).where(RollupDay.day.in_(run)))
        if figures:
            db.session.execute(insert(RollupFigures), [
                {"day": key[0], **dict(zip(DIMENSIONS, key[1:], strict=True)),
                 **{m: measures.get(m, 0) for m in FIGURE_MEASURES}} for key, measures in figures.items()])
        if answers:
            db.session.execute(insert(RollupAnswers), answers)
        if revenue:
            db.session.execute(insert(RollupRevenue), revenue)
        if customers:
            db.session.execute(insert(RollupCustomers), [
                {"day": day, "segment": segment, "tier": tier, "cohort": cohort, "created": created, "present": present}
                for (day, segment, tier, cohort), (created, present) in customers.items()])
        db.session.execute(insert(RollupDay), [{"day": d, "zone": zone, "built_at": now} for d in run])


def first_day(zone: str) -> date | None:
    firsts = [db.session.scalar(select(func.min(column))) for column in (
        Moment.occurred_at, Commitment.due_at, Compensation.issued_at, SurveyResponse.answered_at,
        Customer.created_at, StageChange.at)]
    days = days_of(firsts, zone)
    purchase = db.session.scalar(select(func.min(Purchase.purchased_on)))
    if purchase is not None:
        days.add(purchase)
    return min(days) if days else None


def refresh(now: datetime, *, max_days: int = 400, zone: str | None = None) -> int:
    """Rebuild the dirty days, then days never built (newest first), up to `max_days`;
    returns how many days were rebuilt (0: the rollup is current). The caller commits."""
    zone = zone or company_zone()
    if db.engine.dialect.name == "postgresql" and not db.session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK}):
        return 0  # another scheduler is refreshing right now (SQLite runs one writer at a time anyway)
    if db.session.scalar(select(func.count()).select_from(RollupDay).where(RollupDay.zone != zone)):
        # The company moved to another time zone: every local day changed.
        for model in (RollupFigures, RollupAnswers, RollupRevenue, RollupCustomers, RollupDay, RollupDirty):
            db.session.execute(delete(model))
    today = local_day(now, zone)
    markers = db.session.execute(select(RollupDirty.id, RollupDirty.day).order_by(RollupDirty.id)).all()
    dirty = {day for _, day in markers if day <= today}
    todo = sorted(dirty, reverse=True)[:max_days]
    if len(todo) < max_days:
        first = first_day(zone)
        if first is not None:
            built = set(db.session.scalars(select(RollupDay.day).where(RollupDay.day >= first)))
            missing = [first + timedelta(days=n) for n in range((today - first).days + 1)]
            todo += [d for d in reversed(missing) if d not in built and d not in dirty][:max_days - len(todo)]
    if todo:
        build_days(todo, zone, now)
    done = set(todo)
    # Markers read here and now rebuilt (or of days that are not counted: after today) go;
    # markers written since stay for the next refresh.
    seen = [marker_id for marker_id, day in markers if day in done or day > today]
    for start in range(0, len(seen), 500):
        db.session.execute(delete(RollupDirty).where(RollupDirty.id.in_(seen[start:start + 500])))
    db.session.flush()
    return len(todo)


def refresh_all(now: datetime, commit, *, zone: str | None = None, log_progress=None) -> int:
    """Refresh until nothing is left, committing after each step; returns the days rebuilt."""
    total = 0
    while True:
        rebuilt = refresh(now, zone=zone)
        commit()
        total += rebuilt
        if log_progress and rebuilt:
            log_progress(total)
        if rebuilt == 0:
            return total
