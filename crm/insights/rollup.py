"""Daily rollups: each local day's additive figures, so a period reads a few hundred rows
instead of every contact.

A period's contact-based figures (contacts and their cost, logged emotion, survey answers,
incidents resolved, commitments kept or broken, compensations issued, revenue) are sums of
what happened on each of its local days. This module keeps those sums per local day (in the
company's time zone) and per touchpoint (moment type, channel) and customer (segment, tier):

- `rollup_figures`: contacts, cost, emotion; incidents resolved; commitments decided (on time
  or late, per kind); compensations issued with their value and cost;
- `rollup_answers`: survey answers per kind and score;
- `rollup_revenue`: purchases per currency.

**Always exact.** A day is read from the rollup only when it was built for the company's
time zone (`rollup_days`) and nothing has changed it since (`rollup_dirty`); every other day
of a period is counted live from the source tables, with the same queries as before. Every
write that can change a day's figures marks that day dirty in its own transaction: ORM
inserts, updates and deletes of contacts, commitments, compensations, survey answers,
purchases (and a customer's segment or tier, which marks every day of theirs) through a
session hook, and the few bulk UPDATEs through `mark_instants` / `mark_customers`. Markers
are only ever inserted (never upserted), and `refresh` deletes only the markers it read, so
a write that commits while a day is being rebuilt leaves its marker for the next refresh.

The scheduler refreshes every minute (dirty days first, then days never built), so at most
the current minute's days are counted live. `flask --app wsgi crm rollup refresh` does the
same by hand.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Date,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    and_,
    case,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, attributes, mapped_column

from crm.compensations.models import Compensation
from crm.customers.lifecycle import STAGES
from crm.customers.models import Customer, Purchase, StageChange
from crm.extensions import db
from crm.followups.models import SurveyResponse
from crm.moments.models import Commitment, Moment
from crm.types import UTCDateTime

log = logging.getLogger(__name__)

MONEY = Numeric(14, 2)
CHUNK_DAYS = 31  # days rebuilt by one query per family
MARK_ALL_ABOVE = 2000
ADVISORY_LOCK = 0x0F1D311A  # PostgreSQL: one refresh at a time, across schedulers  # customers changed at once beyond which every built day is marked


class RollupDay(db.Model):
    """A local day whose rows were built, and for which time zone."""

    __tablename__ = "rollup_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    zone: Mapped[str] = mapped_column(String(64))
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RollupDirty(db.Model):
    """A day some write changed since it was built: insert-only, one row per writing transaction."""

    __tablename__ = "rollup_dirty"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)


class TouchpointDay:
    """The keys of a touchpoint's day: the local day, the contact's moment type and channel
    (none for what concerns no contact), and the customer's segment and tier."""

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    moment_type_id: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(String(20))
    segment: Mapped[str | None] = mapped_column(String(60))
    tier: Mapped[str | None] = mapped_column(String(20))


class RollupFigures(TouchpointDay, db.Model):
    __tablename__ = "rollup_figures"
    contacts: Mapped[int] = mapped_column(Integer, default=0)
    contact_cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    emotion_sum: Mapped[int] = mapped_column(Integer, default=0)
    emotions: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    resolved_first: Mapped[int] = mapped_column(Integer, default=0)
    resolved_second: Mapped[int] = mapped_column(Integer, default=0)
    first_response_on_time: Mapped[int] = mapped_column(Integer, default=0)
    first_response_late: Mapped[int] = mapped_column(Integer, default=0)
    resolution_on_time: Mapped[int] = mapped_column(Integer, default=0)
    resolution_late: Mapped[int] = mapped_column(Integer, default=0)
    compensations: Mapped[int] = mapped_column(Integer, default=0)
    compensation_value: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    compensation_cost: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))

    __table_args__ = (Index("ix_rollup_figures_day", "day", "moment_type_id"),)


class RollupAnswers(TouchpointDay, db.Model):
    __tablename__ = "rollup_answers"
    kind: Mapped[str] = mapped_column(String(10))
    score: Mapped[int] = mapped_column(SmallInteger)
    answers: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_rollup_answers_day", "day"),)


class RollupRevenue(db.Model):
    __tablename__ = "rollup_revenue"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    segment: Mapped[str | None] = mapped_column(String(60))
    tier: Mapped[str | None] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    purchases: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MONEY)

    __table_args__ = (Index("ix_rollup_revenue_day", "day"),)


class RollupCustomers(db.Model):
    """Customers per day of creation and of churning, by segment, tier and signup month
    (`cohort`): `created` counts new customers; `present` adds one for a new customer not
    created as churned and for a move out of churned, and takes one for a move into it, so
    its sum over the days before an instant counts the customers then not churned."""

    __tablename__ = "rollup_customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    segment: Mapped[str | None] = mapped_column(String(60))
    tier: Mapped[str | None] = mapped_column(String(20))
    cohort: Mapped[date] = mapped_column(Date)
    created: Mapped[int] = mapped_column(Integer)
    present: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_rollup_customers_day", "day"),)


FIGURE_MEASURES = ("contacts", "contact_cost", "emotion_sum", "emotions", "resolved", "resolved_first",
                   "resolved_second", "first_response_on_time", "first_response_late", "resolution_on_time",
                   "resolution_late", "compensations", "compensation_value", "compensation_cost")
DIMENSIONS = ("moment_type_id", "channel", "segment", "tier")


# --- local days ------------------------------------------------------------------------------

def company_zone() -> str:
    from crm.insights.services import setting

    return setting("BABEL_DEFAULT_TIMEZONE", "UTC")


def local_day(instant: datetime, zone: str) -> date:
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    return instant.astimezone(ZoneInfo(zone)).date()


def midnight(day: date, zone: str) -> datetime:
    from crm.insights.services import local_midnight

    return local_midnight(day, zone)


def _days_of(values: Iterable, zone: str) -> set[date]:
    days = set()
    for value in values:
        if value is None:
            continue
        if isinstance(value, datetime):
            days.add(local_day(value, zone))
        elif isinstance(value, date):
            days.add(value)
    return days


# --- marking ---------------------------------------------------------------------------------

def mark_days(connection, days: Iterable[date]) -> None:
    """Insert one marker per day (within this transaction, once)."""
    days = sorted(set(days))
    if days:
        connection.execute(insert(RollupDirty), [{"day": d} for d in days])


def mark_instants(instants: Iterable, zone: str | None = None) -> None:
    """Mark the local days of these instants (or dates) dirty, in the current transaction."""
    days = _days_of(instants, zone or company_zone())
    _mark_in_session(db.session, days)


def _mark_in_session(session, days: set[date]) -> None:
    marked = session.info.setdefault("rollup_marked", set())
    new = days - marked
    if new:
        mark_days(session.connection(), new)
        marked.update(new)


def mark_moments(moment_ids: Iterable[int]) -> None:
    """Mark the days of these contacts (when they happened, when their incident was resolved)
    before a bulk UPDATE changes them."""
    ids = sorted(set(moment_ids))
    instants = []
    for start in range(0, len(ids), 500):
        for occurred, resolved in db.session.connection().execute(
                select(Moment.occurred_at, Moment.resolved_at).where(Moment.id.in_(ids[start:start + 500]))):
            instants += [occurred, resolved]
    mark_instants(instants)


def _customer_instants(session, customer_ids: list[int]) -> list:
    out = []
    for start in range(0, len(customer_ids), 500):
        ids = customer_ids[start:start + 500]
        for stmt in (select(Moment.occurred_at).where(Moment.customer_id.in_(ids)),
                     select(Moment.resolved_at).where(Moment.customer_id.in_(ids), Moment.resolved_at.is_not(None)),
                     select(Commitment.due_at).where(Commitment.customer_id.in_(ids)),
                     select(Compensation.issued_at).where(Compensation.customer_id.in_(ids),
                                                          Compensation.issued_at.is_not(None)),
                     select(SurveyResponse.answered_at).where(SurveyResponse.customer_id.in_(ids)),
                     select(Purchase.purchased_on).where(Purchase.customer_id.in_(ids)),
                     select(Customer.created_at).where(Customer.id.in_(ids)),
                     select(StageChange.at).where(StageChange.customer_id.in_(ids))):
            out.extend(session.connection().execute(stmt).scalars())
    return out


def mark_customers(customer_ids: Iterable[int], session=None, zone: str | None = None) -> None:
    """A change of these customers' segment or tier moves their figures between rollup rows:
    mark every day they have figures on (every built day, when very many changed at once)."""
    session = session or db.session
    ids = sorted(set(customer_ids))
    if not ids:
        return
    if len(ids) > MARK_ALL_ABOVE:
        session.connection().execute(insert(RollupDirty).from_select(["day"], select(RollupDay.day)))
        return
    _mark_in_session(session, _days_of(_customer_instants(session, ids), zone or company_zone()))


TRACKED = {
    Moment: ("occurred_at", "resolved_at"),
    Commitment: ("due_at",),
    Compensation: ("issued_at",),
    SurveyResponse: ("answered_at",),
    Purchase: ("purchased_on",),
    Customer: ("created_at",),  # only when new: a change of segment or tier marks all their days
    StageChange: ("at",),
}


def _values(obj, names, *, with_old: bool) -> list:
    values = []
    for name in names:
        if with_old:
            history = attributes.get_history(obj, name)
            values.extend([*history.added, *history.unchanged, *history.deleted])
        else:
            values.append(getattr(obj, name, None))
    return values


def _modified(obj) -> bool:
    state = attributes.instance_state(obj)
    return any(state.attrs[key].history.has_changes() for key in state.committed_state)


@event.listens_for(Session, "before_flush")
def _collect(session, flush_context, instances) -> None:
    """Note the days this flush changes (and the customers whose segment or tier changes)."""
    if not session.info.get("rollup_enabled", True):
        return
    pending = session.info.setdefault("rollup_pending", {"values": [], "customers": set()})
    for obj in session.new:
        names = TRACKED.get(type(obj))
        if names:
            pending["values"].extend(_values(obj, names, with_old=False))
    for obj in session.deleted:
        names = TRACKED.get(type(obj))
        if names:
            pending["values"].extend(_values(obj, names, with_old=True))
    for obj in session.dirty:
        if isinstance(obj, Customer):
            if obj.id is not None and any(
                    attributes.get_history(obj, name).has_changes() for name in ("segment", "tier", "created_at")):
                pending["customers"].add(obj.id)
            continue
        names = TRACKED.get(type(obj))
        if names and _modified(obj):
            pending["values"].extend(_values(obj, names, with_old=True))


@event.listens_for(Session, "after_flush")
def _write_markers(session, flush_context) -> None:
    pending = session.info.pop("rollup_pending", None)
    if not pending or not (pending["values"] or pending["customers"]):
        return
    zone = company_zone()
    _mark_in_session(session, _days_of(pending["values"], zone))
    if pending["customers"]:
        mark_customers(pending["customers"], session, zone)


@event.listens_for(Session, "after_transaction_end")
def _forget(session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop("rollup_marked", None)
        session.info.pop("rollup_pending", None)


# --- building ---------------------------------------------------------------------------------

def _day_case(column, bounds: list[datetime]):
    """The index of the local day an instant falls on, given the chunk's midnights."""
    return case(*[(column < bound, i) for i, bound in enumerate(bounds[1:])], else_=None)


def _sum_if(condition, value=1):
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


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
        add(i, dims, contacts=n, contact_cost=_money(cost), emotion_sum=int(esum), emotions=ecount)

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
        add(i, dims, compensations=n, compensation_value=_money(value), compensation_cost=_money(cost))
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
    return [{"day": d, "segment": seg, "tier": tier, "currency": cur, "purchases": n, "amount": _money(amount)}
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


def _runs(days: list[date]) -> list[list[date]]:
    """Consecutive days in runs of at most CHUNK_DAYS."""
    runs: list[list[date]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] + timedelta(days=1) == day and len(runs[-1]) < CHUNK_DAYS:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def build_days(days: Iterable[date], zone: str, now: datetime) -> None:
    """Recount these local days from the source tables, replacing what the rollup held."""
    days = sorted(set(days))
    for run in _runs(days):
        bounds = [midnight(d, zone) for d in run] + [midnight(run[-1] + timedelta(days=1), zone)]
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


def _first_day(zone: str) -> date | None:
    firsts = [db.session.scalar(select(func.min(column))) for column in (
        Moment.occurred_at, Commitment.due_at, Compensation.issued_at, SurveyResponse.answered_at,
        Customer.created_at, StageChange.at)]
    days = _days_of(firsts, zone)
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
        first = _first_day(zone)
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


# --- reading ----------------------------------------------------------------------------------

def split_days(first_day: date, last_day: date, zone: str) -> tuple[list[date], list[tuple[date, date]]]:
    """The days of [first_day, last_day] readable from the rollup, and the runs of the
    others (first, last), to be counted live."""
    built = set(db.session.scalars(select(RollupDay.day).where(
        RollupDay.day >= first_day, RollupDay.day <= last_day, RollupDay.zone == zone)))
    if built:
        built -= set(db.session.scalars(select(RollupDirty.day).where(
            RollupDirty.day >= first_day, RollupDirty.day <= last_day)))
    live: list[tuple[date, date]] = []
    day = first_day
    while day <= last_day:
        if day not in built:
            if live and live[-1][1] + timedelta(days=1) == day:
                live[-1] = (live[-1][0], day)
            else:
                live.append((day, day))
        day += timedelta(days=1)
    return sorted(built), live


def whole_days(start: datetime, end: datetime, zone: str) -> tuple[date, date] | None:
    """The local days [first, last] when [start, end) is exactly whole local days, else None."""
    first, last = local_day(start, zone), local_day(end, zone) - timedelta(days=1)
    if last < first or midnight(first, zone) != start or midnight(last + timedelta(days=1), zone) != end:
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
    if midnight(last + timedelta(days=1), zone) != instant:
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
    for first_dirty, last_dirty in _day_runs(d for d in dirty if d >= first):
        live = customer_rows(midnight(first_dirty, zone), midnight(last_dirty + timedelta(days=1), zone), zone,
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


def _day_runs(days: Iterable[date]) -> list[tuple[date, date]]:
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs
