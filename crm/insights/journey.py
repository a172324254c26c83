"""The journey map and the service blueprint: live figures per touchpoint, counted in the database.

A touchpoint is a moment type seen in a period. Its figures for the instants [start, end):

- volume: contacts of the type that occurred in the period, and their cost (sum of the
  moments' own costs);
- average emotion: the mean, on the −2..+2 scale, of every emotion measured at the
  touchpoint in the period: the emotions staff logged on its contacts (moments that
  occurred in the period; NULL means "not recorded" and is left out) AND the survey
  answers about its contacts given in the period, each mapped onto the same scale with
  `crm.followups.rules.emotion_for`. Both count, one point each: a contact with a logged
  emotion and an answered survey weighs twice. Answers about no contact belong to no
  touchpoint;
- service levels: the commitments (first response and resolution alike) of its contacts
  that fell due in the period, kept on time ÷ (kept on time + broken or met late), as on
  the metrics page;
- CSAT: share of 4–5 answers among the CSAT answers about its contacts given in the period;
- resolved by the second contact: of the incidents that began with a contact of this type
  and were resolved in the period, the share resolved on the first or second contact;
- objective: the type's target (objective_metric ≥ objective_target) against the actual
  value of that metric; unknown when nothing was measured.

A touchpoint is a pain point when its average emotion is below zero or it misses its
objective. A touchpoint appears when anything was counted for it in the period.

Every family of figures is one GROUP BY query per period, so a map costs the same handful
of queries however many contacts there are. Scope: a customer segment, or one customer.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload

from crm.customers.models import Customer
from crm.domain import N_, Cleaner
from crm.extensions import db
from crm.followups.models import SurveyResponse
from crm.followups.rules import emotion_for
from crm.insights import metrics, rollup
from crm.insights.filters import Filters, Period, count_if, customer_conditions, make_period, setting, today, within
from crm.moments.models import PHASES, Commitment, Moment, MomentType
from crm.queries import is_id, typed_id

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Scope:
    """Whose journey: everyone, a customer segment, or a single customer."""

    segment: str | None = None
    customer_id: int | None = None

    def as_dict(self) -> dict:
        return {"segment": self.segment, "customer_id": self.customer_id}


def clean_scope(data: Mapping | None) -> Scope:
    """Check `segment` and `customer_id` (an id, as a number or digits): every problem at once."""
    data = dict(data or {})
    c = Cleaner()
    segment = c.text("segment", data.get("segment"), max_len=60) or None
    customer_id = typed_id(data.get("customer_id"))
    if isinstance(customer_id, str) and not customer_id.strip():
        customer_id = None
    if customer_id is not None and (not is_id(customer_id) or db.session.get(Customer, customer_id) is None):
        c.fail("customer_id", N_("no such customer"))
        customer_id = None
    c.check()
    return Scope(segment=segment, customer_id=customer_id)


def _customers(column, scope: Scope) -> list:
    conditions = [] if scope.customer_id is None else [column == scope.customer_id]
    return conditions + customer_conditions(column, Filters(segment=scope.segment))


def _of_type(column, type_id: int | None) -> list:
    return [] if type_id is None else [column == type_id]


# --- the raw counts, one query per family ----------------------------------------------------

def _contacts(start, end, scope, type_id) -> dict:
    rows = db.session.execute(
        select(Moment.moment_type_id, func.count(), func.coalesce(func.sum(Moment.cost), 0),
               func.coalesce(func.sum(Moment.emotion), 0), func.count(Moment.emotion))
        .where(within(Moment.occurred_at, start, end), *_customers(Moment.customer_id, scope),
               *_of_type(Moment.moment_type_id, type_id))
        .group_by(Moment.moment_type_id))
    return {t: {"volume": n, "cost": Decimal(str(cost)).quantize(CENT), "logged_sum": int(esum),
                "logged": int(ecount)} for t, n, cost, esum, ecount in rows}


def _answers(start, end, scope, type_id) -> dict:
    rows = db.session.execute(
        select(Moment.moment_type_id, SurveyResponse.kind, SurveyResponse.score, func.count())
        .join(Moment, Moment.id == SurveyResponse.moment_id)
        .where(within(SurveyResponse.answered_at, start, end), *_customers(SurveyResponse.customer_id, scope),
               *_of_type(Moment.moment_type_id, type_id))
        .group_by(Moment.moment_type_id, SurveyResponse.kind, SurveyResponse.score))
    out: dict = {}
    for type_id_, kind, score, n in rows:
        row = out.setdefault(type_id_, {"answers": 0, "answer_sum": 0, "csat": {}})
        row["answers"] += n
        row["answer_sum"] += emotion_for(kind, score) * n
        if kind == "csat":
            row["csat"][score] = n
    return out


def _service_levels(start, end, scope, type_id) -> dict:
    on_time = and_(Commitment.status == "met", Commitment.met_at <= Commitment.due_at)
    late = or_(Commitment.status == "breached", and_(Commitment.status == "met", Commitment.met_at > Commitment.due_at))
    rows = db.session.execute(
        select(Moment.moment_type_id, count_if(on_time), count_if(late))
        .join(Moment, Moment.id == Commitment.moment_id)
        .where(within(Commitment.due_at, start, end), *_customers(Commitment.customer_id, scope),
               *_of_type(Moment.moment_type_id, type_id))
        .group_by(Moment.moment_type_id))
    return {t: {"sla_met": met, "sla_breached": late_} for t, met, late_ in rows}


def _resolutions(start, end, scope, type_id) -> dict:
    """Incidents first resolved in the period, by the type of their first contact: how many,
    and how many on the first contact or by the second (as kept on each incident's first
    contact: `Moment.resolved_at`, `resolved_contact`)."""
    rows = db.session.execute(
        select(Moment.moment_type_id, func.count(), count_if(Moment.resolved_contact == 1),
               count_if(Moment.resolved_contact <= 2))
        .where(within(Moment.resolved_at, start, end), *_customers(Moment.customer_id, scope),
               *_of_type(Moment.moment_type_id, type_id))
        .group_by(Moment.moment_type_id))
    return {t: {"incidents_resolved": n, "resolved_first_contact": one, "resolved_by_second_contact": two}
            for t, n, one, two in rows}


def _live(start, end, scope: Scope, type_id: int | None = None) -> dict[int, dict]:
    """Every touchpoint's counts in [start, end), from the source tables."""
    out: dict[int, dict] = {}
    for family in (_contacts, _answers, _service_levels, _resolutions):
        for key, values in family(start, end, scope, type_id).items():
            out.setdefault(key, {}).update(values)
    return out


def _from_rollup(days, scope: Scope, type_id: int | None) -> dict[int, dict]:
    """The same counts for these local days, from the daily rollup (a segment or everyone)."""
    out: dict[int, dict] = {}
    r = rollup.RollupFigures
    conditions = [rollup.in_days(r.day, days), *_of_type(r.moment_type_id, type_id)]
    if scope.segment is not None:
        conditions.append(r.segment == scope.segment)
    sums = [func.coalesce(func.sum(column), 0) for column in (
        r.contacts, r.contact_cost, r.emotion_sum, r.emotions, r.first_response_on_time + r.resolution_on_time,
        r.first_response_late + r.resolution_late, r.resolved, r.resolved_first, r.resolved_second)]
    for t, n, cost, esum, ecount, met, late, resolved, one, two in db.session.execute(
            select(r.moment_type_id, *sums).where(*conditions).group_by(r.moment_type_id)):
        row = {}
        if n:
            row.update(volume=int(n), cost=Decimal(str(cost)).quantize(CENT), logged_sum=int(esum), logged=int(ecount))
        if met or late:
            row.update(sla_met=int(met), sla_breached=int(late))
        if resolved:
            row.update(incidents_resolved=int(resolved), resolved_first_contact=int(one),
                       resolved_by_second_contact=int(two))
        if row:
            out[t] = row
    a = rollup.RollupAnswers
    conditions = [rollup.in_days(a.day, days), a.moment_type_id.is_not(None), *_of_type(a.moment_type_id, type_id)]
    if scope.segment is not None:
        conditions.append(a.segment == scope.segment)
    for t, kind, score, n in db.session.execute(
            select(a.moment_type_id, a.kind, a.score, func.sum(a.answers)).where(*conditions)
            .group_by(a.moment_type_id, a.kind, a.score)):
        row = out.setdefault(t, {}).setdefault("_answers", {"answers": 0, "answer_sum": 0, "csat": {}})
        row["answers"] += int(n)
        row["answer_sum"] += emotion_for(kind, score) * int(n)
        if kind == "csat":
            row["csat"][score] = row["csat"].get(score, 0) + int(n)
    for row in out.values():
        row.update(row.pop("_answers", {}))
    return out


_ADDITIVE = ("volume", "logged_sum", "logged", "answers", "answer_sum", "sla_met", "sla_breached",
             "incidents_resolved", "resolved_first_contact", "resolved_by_second_contact")


def _merge(total: dict[int, dict], part: dict[int, dict]) -> dict[int, dict]:
    for t, values in part.items():
        row = total.setdefault(t, {})
        for key, value in values.items():
            if key == "csat":
                histogram = row.setdefault("csat", {})
                for score, n in value.items():
                    histogram[score] = histogram.get(score, 0) + n
            elif key == "cost":
                row["cost"] = row.get("cost", Decimal("0.00")) + value
            elif key in _ADDITIVE:
                row[key] = row.get(key, 0) + value
    return total


def _raw(start, end, scope: Scope, type_id: int | None = None) -> dict[int, dict]:
    """Every touchpoint's counts in [start, end): {moment type id: {name: count}}; the whole
    local days the daily rollup holds are read from it (not for one customer), the rest live."""
    served, live = rollup.plan(start, end, setting("BABEL_DEFAULT_TIMEZONE", "UTC"),
                               usable=scope.customer_id is None)  # one customer: a handful of rows, live
    out = _from_rollup(served, scope, type_id) if served else {}
    for live_start, live_end in live:
        _merge(out, _live(live_start, live_end, scope, type_id))
    return out


# --- figures ------------------------------------------------------------------------------------

def _mean(total: int, count: int) -> float | None:
    return None if not count else total / count


def _objective(moment_type: MomentType, figures: dict) -> dict | None:
    metric, target = moment_type.objective_metric, moment_type.objective_target
    if metric is None or target is None:
        return None
    actual = {"emotion": figures["emotion"], "csat": figures["csat"],
              "fcr_second": figures["fcr_second"], "sla": figures["sla"]}[metric]
    met = None if actual is None else actual >= float(target)
    return {"metric": metric, "target": float(target), "actual": actual, "met": met}


def touchpoint(moment_type: MomentType, raw: Mapping | None) -> dict:
    """A moment type's figures from its raw counts (none: nothing counted)."""
    raw = raw or {}
    logged, answers = raw.get("logged", 0), raw.get("answers", 0)
    met, breached = raw.get("sla_met", 0), raw.get("sla_breached", 0)
    csat_histogram = raw.get("csat", {})
    resolved = raw.get("incidents_resolved", 0)
    fcr = metrics.fcr_from_counts(resolved, raw.get("resolved_first_contact", 0),
                                  raw.get("resolved_by_second_contact", 0))
    figures = {
        "moment_type": moment_type,
        "volume": raw.get("volume", 0),
        "cost": raw.get("cost", Decimal("0.00")),
        "emotion_sum": raw.get("logged_sum", 0) + raw.get("answer_sum", 0),
        "emotions_logged": logged,
        "survey_answers": answers,
        "emotion": _mean(raw.get("logged_sum", 0) + raw.get("answer_sum", 0), logged + answers),
        "sla_met": met, "sla_breached": breached, "sla": metrics.sla_compliance(met, breached),
        "csat_answers": sum(csat_histogram.values()), "csat": metrics.csat_from_histogram(csat_histogram),
        "incidents_resolved": resolved, "fcr_second": fcr.by_second,
    }
    figures["objective"] = _objective(moment_type, figures)
    reasons = []
    if figures["emotion"] is not None and figures["emotion"] < 0:
        reasons.append("emotion")
    if figures["objective"] is not None and figures["objective"]["met"] is False:
        reasons.append("objective")
    figures["pain_reasons"] = reasons
    figures["pain"] = bool(reasons)
    return figures


def _journey_order(moment_type: MomentType):
    return (PHASES.index(moment_type.phase) if moment_type.phase in PHASES else len(PHASES),
            moment_type.name, moment_type.id)


def _phases(touchpoints: list[dict]) -> list[dict]:
    """The five phases in order, each with its touchpoints and totals (emotion and service
    levels weighted by what was measured, not averaged over touchpoints)."""
    phases = []
    for phase in PHASES:
        items = [t for t in touchpoints if t["moment_type"].phase == phase]
        points = sum(t["emotions_logged"] + t["survey_answers"] for t in items)
        met, breached = sum(t["sla_met"] for t in items), sum(t["sla_breached"] for t in items)
        emotion = _mean(sum(t["emotion_sum"] for t in items), points)
        phases.append({
            "phase": phase, "touchpoints": items,
            "volume": sum(t["volume"] for t in items),
            "cost": sum((t["cost"] for t in items), Decimal("0.00")),
            "emotion": emotion, "emotion_points": points,
            "sla_met": met, "sla_breached": breached, "sla": metrics.sla_compliance(met, breached),
            "pain_points": sum(1 for t in items if t["pain"]),
            "pain": (emotion is not None and emotion < 0) or any(t["pain"] for t in items),
        })
    return phases


def _types() -> dict[int, MomentType]:
    return {t.id: t for t in db.session.scalars(select(MomentType).options(joinedload(MomentType.team)))}


def journey_map(start: datetime, end: datetime, scope: Scope, types: Mapping[int, MomentType] | None = None) -> list:
    """The phases of [start, end) with their touchpoints, in journey order."""
    types = _types() if types is None else types
    raw = _raw(start, end, scope)
    touchpoints = [touchpoint(types[t], counts) for t, counts in raw.items() if t in types]
    return _phases(sorted(touchpoints, key=lambda t: _journey_order(t["moment_type"])))


def _curve(phases: list[dict], previous_phases: list[dict]) -> list[dict]:
    """Average emotion per touchpoint in journey order, this period beside the previous one:
    the touchpoints of either period, so a touchpoint that went quiet still shows."""
    current = {t["moment_type"].id: t for p in phases for t in p["touchpoints"]}
    before = {t["moment_type"].id: t for p in previous_phases for t in p["touchpoints"]}
    types = {t["moment_type"].id: t["moment_type"] for t in [*current.values(), *before.values()]}
    curve = []
    for moment_type in sorted(types.values(), key=_journey_order):
        now_, then = current.get(moment_type.id), before.get(moment_type.id)
        curve.append({"moment_type": moment_type, "phase": moment_type.phase,
                      "emotion": now_["emotion"] if now_ else None,
                      "previous_emotion": then["emotion"] if then else None,
                      "pain": bool(now_ and now_["pain"])})
    return curve


def journey_report(first_day, last_day, scope_data: Mapping | None, *, zone: str, now: datetime) -> dict:
    """What the journey page and the API show: the period of local days (the last 30 days
    by default), its phases and touchpoints, the previous period's, and the emotion curve."""
    period = make_period(first_day, last_day, zone, today_=today(zone, now))
    scope = clean_scope(scope_data)
    previous = period.previous()
    types = _types()
    phases = journey_map(period.start, period.end, scope, types)
    previous_phases = journey_map(previous.start, previous.end, scope, types)
    return {"period": period, "previous_period": previous, "scope": scope,
            "currency": setting("CRM_CURRENCY", "EUR"),
            "phases": phases, "previous_phases": previous_phases, "curve": _curve(phases, previous_phases),
            "pain_points": [t for p in phases for t in p["touchpoints"] if t["pain"]]}


def blueprints_report(first_day, last_day, scope_data: Mapping | None, *, zone: str, now: datetime) -> dict:
    """Every moment type (in use, or with figures in the period) in journey order, with its figures."""
    period = make_period(first_day, last_day, zone, today_=today(zone, now))
    scope = clean_scope(scope_data)
    types = _types()
    raw = _raw(period.start, period.end, scope)
    rows = [touchpoint(t, raw.get(t.id)) for t in sorted(types.values(), key=_journey_order)
            if t.active or t.id in raw]
    return {"period": period, "scope": scope, "currency": setting("CRM_CURRENCY", "EUR"), "touchpoints": rows}


def blueprint_report(moment_type: MomentType, first_day, last_day, scope_data: Mapping | None, *, zone: str,
                     now: datetime) -> dict:
    """One moment type's blueprint figures for the period and the previous one."""
    period: Period = make_period(first_day, last_day, zone, today_=today(zone, now))
    scope = clean_scope(scope_data)
    previous = period.previous()
    current = _raw(period.start, period.end, scope, moment_type.id).get(moment_type.id)
    before = _raw(previous.start, previous.end, scope, moment_type.id).get(moment_type.id)
    return {"period": period, "previous_period": previous, "scope": scope,
            "currency": setting("CRM_CURRENCY", "EUR"), "moment_type": moment_type,
            "figures": touchpoint(moment_type, current), "previous": touchpoint(moment_type, before)}
