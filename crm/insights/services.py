"""The experience metrics of a period, counted in the database.

Every family of figures is one aggregate query (COUNT / SUM with CASE, grouped
by a handful of values), so a report costs the same dozen queries however
many rows there are. Date bucketing uses instant ranges computed here, never
an engine's date functions, so SQLite and PostgreSQL give the same numbers.

A period is the half-open range of instants [start, end). Filters on the
contact (team, agent, channel, moment type) and on the customer (segment,
tier) narrow every contact-based figure; the customer-based ones (revenue,
churn, retention) follow the customer filters only, since a purchase or a
lost customer belongs to no team or channel.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, or_, select, union
from sqlalchemy.orm import aliased

from crm.auth.models import Team, User
from crm.compensations.models import Compensation
from crm.customers.lifecycle import TIERS
from crm.customers.models import Customer, Purchase, StageChange
from crm.domain import N_, Cleaner, NotFound
from crm.extensions import db
from crm.followups.models import SURVEY_KINDS, SurveyResponse
from crm.insights import metrics
from crm.insights.rollup import initial_stage
from crm.moments.catalog import get_moment_type
from crm.moments.models import CHANNELS, Commitment, Moment, MomentType
from crm.queries import is_id

MAX_DAYS = 366
DEFAULT_DAYS = 30
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)
COHORT_MONTHS = 12
DEFAULT_FCR_TARGET = 0.90
CHURNED = "churned"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# The single figures of a period, in the order the page and the API show them;
# each has its previous value and its change beside it.
FIGURES = (
    "nps", "nps_answers", "promoters", "passives", "detractors",
    "csat", "csat_answers", "ces", "ces_answers",
    "incidents_resolved", "resolved_first_contact", "resolved_by_second_contact", "fcr_first", "fcr_second",
    "sla_first_response", "sla_first_response_met", "sla_first_response_breached",
    "sla_resolution", "sla_resolution_met", "sla_resolution_breached", "breaches",
    "compensations_issued", "compensations_value", "compensations_cost",
    "contacts", "contact_cost", "cost_to_serve", "revenue", "purchases_other_currency",
    "customers_at_start", "customers_lost", "churn_rate", "cohort_customers", "cohort_retained", "retention",
)


# --- filters and periods ---------------------------------------------------------------

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


def _digits(value):
    """An id typed in a query string ("12") as the integer it is."""
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 18:
        return int(value.strip())
    return value


def _reference(c: Cleaner, field: str, value, model, message: str) -> int | None:
    if value in (None, ""):
        return None
    value = _digits(value)
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
            moment_type_id = get_moment_type(_digits(ref)).id
        except NotFound:
            c.fail("moment_type", N_("no such moment type"))
    c.check()
    return Filters(segment=segment, tier=tier, team_id=team_id, agent_id=agent_id, channel=channel,
                   moment_type_id=moment_type_id)


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


def _is_date(value) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value):
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
    first_day, last_day = _day(first_day), _day(last_day)
    if last_day is None and today_ is not None:
        last_day = today_
    if first_day is None and _is_date(last_day):
        first_day = last_day - timedelta(days=DEFAULT_DAYS - 1)
    for field, day in (("from", first_day), ("to", last_day)):
        if not _is_date(day):
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


# --- conditions shared by the queries ---------------------------------------------------------

def _contact_conditions(moment, f: Filters) -> list:
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


def _customer_conditions(customer_id, f: Filters) -> list:
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


def _on_customer(f: Filters) -> list:
    """The customer filters, on the customers table itself."""
    conditions = []
    if f.segment is not None:
        conditions.append(Customer.segment == f.segment)
    if f.tier is not None:
        conditions.append(Customer.tier == f.tier)
    return conditions


def _within(column, start: datetime, end: datetime):
    return and_(column >= start, column < end)


def _money(value) -> Decimal:
    # SQLite sums NUMERIC as floating point: back to cents.
    return Decimal(str(value or 0)).quantize(CENT)


def _sum(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


# --- the figures: additive counts per family, then the figures from them ----------------------
#
# Each family first counts (answers per score, incidents, commitments, money), which adds up
# across days; the figures are computed from the totals. The counts of a period come from the
# daily rollup for the days it holds and from the source tables for the others (`_counts`).

def _empty_counts() -> dict:
    return {"answers": {kind: {} for kind in SURVEY_KINDS}, "fcr": [0, 0, 0],
            "sla": {"first_response": [0, 0], "resolution": [0, 0]},
            "compensations": [0, ZERO, ZERO], "contacts": [0, ZERO], "revenue": [ZERO, 0]}


def _add_counts(total: dict, part: dict) -> dict:
    for kind, histogram in part["answers"].items():
        into = total["answers"].setdefault(kind, {})
        for score, n in histogram.items():
            into[score] = into.get(score, 0) + n
    for key in ("fcr", "compensations", "contacts", "revenue"):
        total[key] = [a + b for a, b in zip(total[key], part[key], strict=True)]
    for kind, values in part["sla"].items():
        total["sla"][kind] = [a + b for a, b in zip(total["sla"].setdefault(kind, [0, 0]), values, strict=True)]
    return total


def _live_counts(start, end, f: Filters, zone: str, currency: str) -> dict:
    """The counts of the instants [start, end), read from the source tables."""
    counts = _empty_counts()
    stmt = (select(SurveyResponse.kind, SurveyResponse.score, func.count())
            .where(_within(SurveyResponse.answered_at, start, end),
                   *_customer_conditions(SurveyResponse.customer_id, f))
            .group_by(SurveyResponse.kind, SurveyResponse.score))
    if f.on_contacts:
        # An answer about no particular contact cannot belong to a team or a channel.
        stmt = stmt.join(Moment, Moment.id == SurveyResponse.moment_id).where(*_contact_conditions(Moment, f))
    for kind, score, count in db.session.execute(stmt):
        counts["answers"].setdefault(kind, {})[score] = count

    # Incidents whose first resolving contact falls in the period, by the number of that
    # contact in the incident, as kept on each incident's first contact (`Moment.resolved_at`,
    # `resolved_contact`); an incident belongs to the team, agent, channel and type of its
    # first contact.
    counts["fcr"] = list(db.session.execute(
        select(func.count(), _sum(Moment.resolved_contact == 1), _sum(Moment.resolved_contact <= 2))
        .where(_within(Moment.resolved_at, start, end), *_contact_conditions(Moment, f),
               *_customer_conditions(Moment.customer_id, f))).one())

    # Commitments that fell due in the period: kept on time, or not (breached, or met late
    # before the sweep came by). Open and paused ones are not decided yet.
    on_time = and_(Commitment.status == "met", Commitment.met_at <= Commitment.due_at)
    late = or_(Commitment.status == "breached", and_(Commitment.status == "met", Commitment.met_at > Commitment.due_at))
    stmt = (select(Commitment.kind, _sum(on_time), _sum(late))
            .where(_within(Commitment.due_at, start, end), *_customer_conditions(Commitment.customer_id, f))
            .group_by(Commitment.kind))
    if f.on_contacts:
        stmt = stmt.join(Moment, Moment.id == Commitment.moment_id).where(*_contact_conditions(Moment, f))
    for kind, met, breached in db.session.execute(stmt):
        counts["sla"][kind] = [met, breached]

    compensations = (select(func.count(), func.coalesce(func.sum(Compensation.value), 0),
                            func.coalesce(func.sum(Compensation.cost), 0))
                     .select_from(Compensation)
                     .where(Compensation.status == "issued", _within(Compensation.issued_at, start, end),
                            *_customer_conditions(Compensation.customer_id, f)))
    if f.on_contacts:
        compensations = compensations.join(Moment, Moment.id == Compensation.moment_id).where(
            *_contact_conditions(Moment, f))
    issued, value, cost = db.session.execute(compensations).one()
    counts["compensations"] = [issued, _money(value), _money(cost)]
    contacts, contact_cost = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Moment.cost), 0))
        .where(_within(Moment.occurred_at, start, end), *_contact_conditions(Moment, f),
               *_customer_conditions(Moment.customer_id, f))).one()
    counts["contacts"] = [contacts, _money(contact_cost)]
    counts["revenue"] = _revenue_counts(start, end, f, zone, currency)
    return counts


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


def _rollup_counts(days: list[date], f: Filters, currency: str) -> dict:
    """The counts of these local days, read from the daily rollup."""
    from crm.insights.rollup import RollupAnswers, RollupFigures, RollupRevenue, in_days

    counts = _empty_counts()
    r = RollupFigures
    total = [func.coalesce(func.sum(column), 0) for column in (
        r.resolved, r.resolved_first, r.resolved_second, r.first_response_on_time, r.first_response_late,
        r.resolution_on_time, r.resolution_late, r.compensations, r.compensation_value, r.compensation_cost,
        r.contacts, r.contact_cost)]
    row = db.session.execute(select(*total).where(in_days(r.day, days), *rollup_conditions(r, f))).one()
    counts["fcr"] = [int(row[0]), int(row[1]), int(row[2])]
    counts["sla"] = {"first_response": [int(row[3]), int(row[4])], "resolution": [int(row[5]), int(row[6])]}
    counts["compensations"] = [int(row[7]), _money(row[8]), _money(row[9])]
    counts["contacts"] = [int(row[10]), _money(row[11])]
    a = RollupAnswers
    for kind, score, n in db.session.execute(
            select(a.kind, a.score, func.sum(a.answers)).where(in_days(a.day, days), *rollup_conditions(a, f))
            .group_by(a.kind, a.score)):
        counts["answers"].setdefault(kind, {})[score] = int(n)
    v = RollupRevenue
    ours = v.currency == currency
    amount, others = db.session.execute(
        select(func.coalesce(func.sum(case((ours, v.amount), else_=0)), 0),
               func.coalesce(func.sum(case((ours, 0), else_=v.purchases)), 0))
        .where(in_days(v.day, days), *rollup_conditions(v, f))).one()
    counts["revenue"] = [_money(amount), int(others)]
    return counts


def _counts(start, end, f: Filters, zone: str, currency: str) -> dict:
    """The counts of [start, end): whole local days the rollup holds from it, the rest live."""
    from crm.insights import rollup

    usable = setting("CRM_ROLLUPS", True) and f.agent_id is None and zone == rollup.company_zone()
    days = rollup.whole_days(start, end, zone) if usable else None
    if days is None:
        return _live_counts(start, end, f, zone, currency)
    served, live = rollup.split_days(*days, zone)
    counts = _rollup_counts(served, f, currency) if served else _empty_counts()
    for first, last in live:
        _add_counts(counts, _live_counts(local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone),
                                         f, zone, currency))
    return counts


def _figures(counts: dict, target: float) -> dict:
    histograms = counts["answers"]
    nps = histograms.get("nps", {})
    promoters = sum(n for s, n in nps.items() if s >= metrics.PROMOTER_MIN)
    detractors = sum(n for s, n in nps.items() if s <= metrics.DETRACTOR_MAX)
    csat, ces = histograms.get("csat", {}), histograms.get("ces", {})
    out = {
        "nps": metrics.nps_from_histogram(nps), "nps_answers": sum(nps.values()),
        "promoters": promoters, "passives": sum(nps.values()) - promoters - detractors, "detractors": detractors,
        "csat": metrics.csat_from_histogram(csat), "csat_answers": sum(csat.values()),
        "ces": metrics.ces_from_histogram(ces), "ces_answers": sum(ces.values()),
    }
    resolved, first_contact, by_second = counts["fcr"]
    result = metrics.fcr_from_counts(resolved, first_contact, by_second)
    target_percent = 100.0 * target
    out.update({"incidents_resolved": resolved, "resolved_first_contact": first_contact,
                "resolved_by_second_contact": by_second, "fcr_first": result.first, "fcr_second": result.by_second,
                "fcr_target": target_percent, "fcr_target_met": metrics.meets_target(result.first, target_percent)})
    for kind in ("first_response", "resolution"):
        met, breached = counts["sla"].get(kind, (0, 0))
        out[f"sla_{kind}"] = metrics.sla_compliance(met, breached)
        out[f"sla_{kind}_met"], out[f"sla_{kind}_breached"] = met, breached
    out["breaches"] = out["sla_first_response_breached"] + out["sla_resolution_breached"]
    issued, value, cost = counts["compensations"]
    contacts, contact_cost = counts["contacts"]
    out.update({"compensations_issued": issued, "compensations_value": value, "compensations_cost": cost,
                "contacts": contacts, "contact_cost": contact_cost, "cost_to_serve": contact_cost + cost})
    out["revenue"], out["purchases_other_currency"] = counts["revenue"]
    return out


def _first_midnight_from(instant: datetime, zone: str) -> date:
    """The first local day whose midnight is at or after `instant`."""
    day = instant.astimezone(ZoneInfo(zone)).date()
    return day if local_midnight(day, zone) >= instant else day + timedelta(days=1)


def _revenue_counts(start, end, f: Filters, zone: str, currency: str) -> list:
    """Purchases carry a date, not an instant: a day counts when its local midnight is in
    the period. Only the company's currency is added up; others are counted apart."""
    first_day, end_day = _first_midnight_from(start, zone), _first_midnight_from(end, zone)
    ours = Purchase.currency == currency
    amount, others = db.session.execute(
        select(func.coalesce(func.sum(case((ours, Purchase.amount), else_=0)), 0), _sum(~ours))
        .where(Purchase.purchased_on >= first_day, Purchase.purchased_on < end_day,
               *_customer_conditions(Purchase.customer_id, f))).one()
    return [_money(amount), others]


def _churned_at(instant: datetime):
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


def _stage_at(instant: datetime):
    """A customer's stage just before `instant`: where their latest change before it went,
    or, with none, the stage they were created in."""
    latest = (select(StageChange.to_stage).where(StageChange.customer_id == Customer.id, StageChange.at < instant)
              .order_by(StageChange.at.desc(), StageChange.id.desc()).limit(1).scalar_subquery())
    return func.coalesce(latest, initial_stage())


def _churn(start, end, f: Filters, zone: str) -> dict:
    """Customers lost in the period ÷ customers at its start. The customers at the start are
    those created before it whose stage then was not churned; a customer is lost when one
    of them moved to churned during the period (once, however many times it happened).

    The customers at the start come from the daily rollup when it holds every day before
    the start (sums of customers created and of moves into and out of churned); the lost
    ones are few and always read live."""
    from crm.insights import rollup

    before = rollup.customers_before(start, zone, _on_customer(f), rollup_conditions(rollup.RollupCustomers, f)) \
        if setting("CRM_ROLLUPS", True) and zone == rollup.company_zone() else None
    if before is not None:
        at_start: dict = {}
        for (segment, _cohort), (_created, present) in before.items():
            at_start[segment] = at_start.get(segment, 0) + present
        lost = dict(db.session.execute(
            select(Customer.segment, func.count()).where(
                Customer.id.in_(select(StageChange.customer_id).where(StageChange.to_stage == CHURNED,
                                                                      _within(StageChange.at, start, end))),
                Customer.created_at < start, _stage_at(start) != CHURNED, *_on_customer(f))
            .group_by(Customer.segment)).all())
        rows = [(segment, count, lost.get(segment, 0)) for segment, count in at_start.items() if count]
        return _churn_figures(rows)
    churned_then = _churned_at(start)
    lost = (select(StageChange.customer_id).where(StageChange.to_stage == CHURNED,
                                                  _within(StageChange.at, start, end))
            .group_by(StageChange.customer_id).subquery())
    rows = db.session.execute(
        select(Customer.segment, func.count(), _sum(lost.c.customer_id.is_not(None)))
        .select_from(Customer)
        .outerjoin(churned_then, churned_then.c.customer_id == Customer.id)
        .outerjoin(lost, lost.c.customer_id == Customer.id)
        .where(Customer.created_at < start, churned_then.c.customer_id.is_(None), *_on_customer(f))
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


def _retention(end, f: Filters, zone: str) -> dict:
    """Monthly signup cohorts of the last twelve months up to the period's end, and how
    many of each were still customers (not churned) at that end (from the daily rollup
    when it holds every day before the end)."""
    from crm.insights import rollup

    months = _month_starts(end, zone)
    before = rollup.customers_before(end, zone, _on_customer(f), rollup_conditions(rollup.RollupCustomers, f)) \
        if setting("CRM_ROLLUPS", True) and zone == rollup.company_zone() else None
    if before is not None:
        counts: dict = {}
        for (_segment, cohort), (created, present) in before.items():
            if cohort >= months[0]:
                row = counts.setdefault(months.index(cohort), [0, 0])
                row[0] += created
                row[1] += present
        return _retention_figures(months, counts)
    bounds = [local_midnight(month, zone) for month in months]
    churned_end = _churned_at(end)
    cohort = case(*[(Customer.created_at < bound, i) for i, bound in enumerate(bounds[1:])],
                  else_=len(bounds) - 1)
    still = case((churned_end.c.customer_id.is_(None), 1), else_=0)
    members = (select(cohort.label("cohort"), still.label("still"))
               .select_from(Customer).outerjoin(churned_end, churned_end.c.customer_id == Customer.id)
               .where(_within(Customer.created_at, bounds[0], end), *_on_customer(f)).subquery())
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


# --- the report ------------------------------------------------------------------------

def setting(key: str, default):
    """An app setting, or `default` outside an app (the pure tests)."""
    from flask import current_app, has_app_context

    return current_app.config.get(key, default) if has_app_context() else default


def compute_metrics(period_start: datetime, period_end: datetime, filters: Filters | Mapping | None = None, *,
                    zone: str | None = None, currency: str | None = None, fcr_target: float | None = None) -> dict:
    """Every experience figure for the instants [period_start, period_end).

    Rates are percentages at full precision, money is Decimal in cents of the company's
    currency (CRM_CURRENCY); `filters` is a Filters or a mapping for `clean_filters`.
    """
    if period_start.tzinfo is None or period_end.tzinfo is None or not period_start < period_end:
        raise ValueError("a period needs aware instants, start before end")
    f = filters if isinstance(filters, Filters) else clean_filters(filters)
    zone = zone or setting("BABEL_DEFAULT_TIMEZONE", "UTC")
    currency = currency or setting("CRM_CURRENCY", "EUR")
    target = float(setting("CRM_FCR_TARGET", DEFAULT_FCR_TARGET) if fcr_target is None else fcr_target)
    result = {"start": period_start, "end": period_end, "currency": currency}
    result.update(_figures(_counts(period_start, period_end, f, zone, currency), target))
    result.update(_churn(period_start, period_end, f, zone))
    result.update(_retention(period_end, f, zone))
    return result


def compare(current: dict, previous: dict) -> dict:
    """Both periods' figures side by side, with each single figure's change."""
    return {"current": current, "previous": previous,
            "change": {key: metrics.change(current.get(key), previous.get(key)) for key in FIGURES}}


def metrics_report(first_day, last_day, filters: Mapping | None, *, zone: str, now: datetime,
                   currency: str | None = None, fcr_target: float | None = None) -> dict:
    """What the page and the API show: the period of local days (the last 30 days when not
    given), the previous period of the same length, and every figure of both."""
    period = make_period(first_day, last_day, zone, today_=today(zone, now))
    f = clean_filters(filters)
    previous = period.previous()
    options = {"zone": zone, "currency": currency, "fcr_target": fcr_target}
    report = compare(compute_metrics(period.start, period.end, f, **options),
                     compute_metrics(previous.start, previous.end, f, **options))
    report.update(period=period, previous_period=previous, filters=f, currency=report["current"]["currency"])
    return report
