"""The experience metrics of a period, counted in the database.

Every family of figures is one aggregate query (COUNT / SUM with CASE, grouped
by a handful of values), so a report costs the same dozen queries however
many rows there are. Date bucketing uses instant ranges computed here, never
an engine's date functions, so SQLite and PostgreSQL give the same numbers.

Periods and filters are in `crm.insights.filters` (re-exported here, where the pages,
the API and the report find them); churn and retention in `crm.insights.churn`.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, case, func, or_, select

from crm.compensations.models import Compensation
from crm.customers.models import Purchase
from crm.extensions import db
from crm.followups.models import SURVEY_KINDS, SurveyResponse
from crm.insights import metrics, rollup
from crm.insights.churn import churn, retention
from crm.insights.filters import (  # noqa: F401  (re-exported: periods and filters are asked for here)
    DEFAULT_DAYS,
    EARLIEST_DAY,
    Filters,
    Period,
    clean_filters,
    contact_conditions,
    count_if,
    customer_conditions,
    first_midnight_from,
    is_date,
    local_midnight,
    make_period,
    money,
    parse_day,
    rollup_conditions,
    setting,
    today,
    within,
)
from crm.moments.models import Commitment, Moment

DEFAULT_FCR_TARGET = 0.90
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
            .where(within(SurveyResponse.answered_at, start, end),
                   *customer_conditions(SurveyResponse.customer_id, f))
            .group_by(SurveyResponse.kind, SurveyResponse.score))
    if f.on_contacts:
        # An answer about no particular contact cannot belong to a team or a channel.
        stmt = stmt.join(Moment, Moment.id == SurveyResponse.moment_id).where(*contact_conditions(Moment, f))
    for kind, score, count in db.session.execute(stmt):
        counts["answers"].setdefault(kind, {})[score] = count

    # Incidents whose first resolving contact falls in the period, by the number of that
    # contact in the incident, as kept on each incident's first contact (`Moment.resolved_at`,
    # `resolved_contact`); an incident belongs to the team, agent, channel and type of its
    # first contact.
    counts["fcr"] = list(db.session.execute(
        select(func.count(), count_if(Moment.resolved_contact == 1), count_if(Moment.resolved_contact <= 2))
        .where(within(Moment.resolved_at, start, end), *contact_conditions(Moment, f),
               *customer_conditions(Moment.customer_id, f))).one())

    # Commitments that fell due in the period: kept on time, or not (breached, or met late
    # before the sweep came by). Open and paused ones are not decided yet.
    on_time = and_(Commitment.status == "met", Commitment.met_at <= Commitment.due_at)
    late = or_(Commitment.status == "breached", and_(Commitment.status == "met", Commitment.met_at > Commitment.due_at))
    stmt = (select(Commitment.kind, count_if(on_time), count_if(late))
            .where(within(Commitment.due_at, start, end), *customer_conditions(Commitment.customer_id, f))
            .group_by(Commitment.kind))
    if f.on_contacts:
        stmt = stmt.join(Moment, Moment.id == Commitment.moment_id).where(*contact_conditions(Moment, f))
    for kind, met, breached in db.session.execute(stmt):
        counts["sla"][kind] = [met, breached]

    compensations = (select(func.count(), func.coalesce(func.sum(Compensation.value), 0),
                            func.coalesce(func.sum(Compensation.cost), 0))
                     .select_from(Compensation)
                     .where(Compensation.status == "issued", within(Compensation.issued_at, start, end),
                            *customer_conditions(Compensation.customer_id, f)))
    if f.on_contacts:
        compensations = compensations.join(Moment, Moment.id == Compensation.moment_id).where(
            *contact_conditions(Moment, f))
    issued, value, cost = db.session.execute(compensations).one()
    counts["compensations"] = [issued, money(value), money(cost)]
    contacts, contact_cost = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Moment.cost), 0))
        .where(within(Moment.occurred_at, start, end), *contact_conditions(Moment, f),
               *customer_conditions(Moment.customer_id, f))).one()
    counts["contacts"] = [contacts, money(contact_cost)]
    counts["revenue"] = _revenue_counts(start, end, f, zone, currency)
    return counts


def _rollup_counts(days: list[date], f: Filters, currency: str) -> dict:
    """The counts of these local days, read from the daily rollup."""
    counts = _empty_counts()
    r = rollup.RollupFigures
    total = [func.coalesce(func.sum(column), 0) for column in (
        r.resolved, r.resolved_first, r.resolved_second, r.first_response_on_time, r.first_response_late,
        r.resolution_on_time, r.resolution_late, r.compensations, r.compensation_value, r.compensation_cost,
        r.contacts, r.contact_cost)]
    row = db.session.execute(select(*total).where(rollup.in_days(r.day, days), *rollup_conditions(r, f))).one()
    counts["fcr"] = [int(row[0]), int(row[1]), int(row[2])]
    counts["sla"] = {"first_response": [int(row[3]), int(row[4])], "resolution": [int(row[5]), int(row[6])]}
    counts["compensations"] = [int(row[7]), money(row[8]), money(row[9])]
    counts["contacts"] = [int(row[10]), money(row[11])]
    a = rollup.RollupAnswers
    for kind, score, n in db.session.execute(
            select(a.kind, a.score, func.sum(a.answers)).where(rollup.in_days(a.day, days), *rollup_conditions(a, f))
            .group_by(a.kind, a.score)):
        counts["answers"].setdefault(kind, {})[score] = int(n)
    v = rollup.RollupRevenue
    ours = v.currency == currency
    amount, others = db.session.execute(
        select(func.coalesce(func.sum(case((ours, v.amount), else_=0)), 0),
               func.coalesce(func.sum(case((ours, 0), else_=v.purchases)), 0))
        .where(rollup.in_days(v.day, days), *rollup_conditions(v, f))).one()
    counts["revenue"] = [money(amount), int(others)]
    return counts


def _counts(start, end, f: Filters, zone: str, currency: str) -> dict:
    """The counts of [start, end): whole local days the rollup holds from it, the rest live."""
    served, live = rollup.plan(start, end, zone, usable=f.agent_id is None)  # the rollup keeps no agent
    counts = _rollup_counts(served, f, currency) if served else _empty_counts()
    for live_start, live_end in live:
        _add_counts(counts, _live_counts(live_start, live_end, f, zone, currency))
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


def _revenue_counts(start, end, f: Filters, zone: str, currency: str) -> list:
    """Purchases carry a date, not an instant: a day counts when its local midnight is in
    the period. Only the company's currency is added up; others are counted apart."""
    first_day, end_day = first_midnight_from(start, zone), first_midnight_from(end, zone)
    ours = Purchase.currency == currency
    amount, others = db.session.execute(
        select(func.coalesce(func.sum(case((ours, Purchase.amount), else_=0)), 0), count_if(~ours))
        .where(Purchase.purchased_on >= first_day, Purchase.purchased_on < end_day,
               *customer_conditions(Purchase.customer_id, f))).one()
    return [money(amount), others]


# --- the report ------------------------------------------------------------------------


def compute_metrics(period_start: datetime, period_end: datetime, filters: Filters | Mapping | None = None, *,
                    zone: str | None = None, currency: str | None = None, fcr_target: float | None = None,
                    memo: dict | None = None) -> dict:
    """Every experience figure for the instants [period_start, period_end).

    Rates are percentages at full precision, money is Decimal in cents of the company's
    currency (CRM_CURRENCY); `filters` is a Filters or a mapping for `clean_filters`;
    `memo`, shared by the calls of one report, keeps what two periods both ask for.
    """
    if period_start.tzinfo is None or period_end.tzinfo is None or not period_start < period_end:
        raise ValueError("a period needs aware instants, start before end")
    f = filters if isinstance(filters, Filters) else clean_filters(filters)
    zone = zone or setting("BABEL_DEFAULT_TIMEZONE", "UTC")
    currency = currency or setting("CRM_CURRENCY", "EUR")
    target = float(setting("CRM_FCR_TARGET", DEFAULT_FCR_TARGET) if fcr_target is None else fcr_target)
    result = {"start": period_start, "end": period_end, "currency": currency}
    result.update(_figures(_counts(period_start, period_end, f, zone, currency), target))
    result.update(churn(period_start, period_end, f, zone, memo))
    result.update(retention(period_end, f, zone, memo))
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
    options = {"zone": zone, "currency": currency, "fcr_target": fcr_target, "memo": {}}
    report = compare(compute_metrics(period.start, period.end, f, **options),
                     compute_metrics(previous.start, previous.end, f, **options))
    report.update(period=period, previous_period=previous, filters=f, currency=report["current"]["currency"])
    return report
