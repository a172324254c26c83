"""The supervisor's dashboard: what needs attention today, and how the key figures move.

The page costs a fixed handful of queries whatever the size of the tables: one row of
counts and sums (each an uncorrelated subquery on an indexed condition), three short
lists of at most ten rows with what they show loaded in the same query, and the metrics
of the last 30 days against the 30 before them, from `services.metrics_report`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload

from crm.compensations.models import Compensation
from crm.customers.models import StageChange
from crm.extensions import db
from crm.followups.models import SurveyResponse
from crm.followups.rules import SCORE_RANGE, is_detractor
from crm.insights import services
from crm.moments.models import Commitment, Moment

LIST_SIZE = 10
RECENT_DAYS = 7
PENDING_COMPENSATIONS = ("proposed", "approved")
AT_RISK_STAGE = "at_risk"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class KeyFigure:
    key: str  # a figure of services.compute_metrics
    kind: str  # how it is shown: points, percent, money
    higher_is_better: bool


KEY_FIGURES = (
    KeyFigure("nps", "points", True),
    KeyFigure("csat", "percent", True),
    KeyFigure("fcr_first", "percent", True),
    KeyFigure("fcr_second", "percent", True),
    KeyFigure("sla_first_response", "percent", True),
    KeyFigure("sla_resolution", "percent", True),
    KeyFigure("cost_to_serve", "money", False),
    KeyFigure("revenue", "money", True),
    KeyFigure("churn_rate", "percent", False),
)


# --- pure helpers --------------------------------------------------------------------

def day_bounds(now: datetime, zone: str) -> tuple[date, datetime, datetime]:
    """Today in the company's zone, and the UTC instants of its midnight and the next one."""
    day = services.today(zone, now)
    return day, services.local_midnight(day, zone), services.local_midnight(day + timedelta(days=1), zone)


@dataclass(frozen=True)
class Trend:
    direction: str | None  # "up", "down", "flat"; None when either period has no value
    good: bool | None  # whether the move is for the better; None when flat or unknown


def trend(change, higher_is_better: bool) -> Trend:
    """Which way a figure moved, judged at the two decimals the page shows."""
    if change is None:
        return Trend(None, None)
    shown = round(change, 2)
    if shown == 0:
        return Trend("flat", None)
    up = shown > 0
    return Trend("up" if up else "down", up == higher_is_better)


def _detractor_answers():
    """The SQL for `followups.rules.is_detractor`, written out from the rule itself so the
    two cannot disagree: each kind with the scores of its scale that the rule calls unhappy."""
    return or_(*(and_(SurveyResponse.kind == kind,
                      SurveyResponse.score.in_([s for s in range(low, high + 1) if is_detractor(kind, s)]))
                 for kind, (low, high) in SCORE_RANGE.items()))


def _money(value) -> Decimal:
    # SQLite sums NUMERIC as floating point: back to cents.
    return Decimal(str(value or 0)).quantize(CENT)


# --- today -------------------------------------------------------------------------------

def _breached_today(start: datetime, end: datetime):
    # The sweep records a breach at the commitment's due instant (breached_at = due_at), so
    # the (status, due_at) index finds today's breaches; there is no index on breached_at.
    return and_(Commitment.status == "breached", Commitment.due_at >= start, Commitment.due_at < end,
                Commitment.breached_at >= start, Commitment.breached_at < end)


def _at_risk(now: datetime):
    """Commitment.is_at_risk as SQL: open, past its warning instant, not yet due. The
    (status, warn_at) index bounds it to the open ones past their warning."""
    return and_(Commitment.status == "open", Commitment.warn_at <= now, Commitment.due_at > now)


def _recent(column, now: datetime):
    return and_(column > now - timedelta(days=RECENT_DAYS), column <= now)


def _count(condition, *, of=None):
    return select(func.count(of) if of is not None else func.count()).where(condition).scalar_subquery()


def _counts(now: datetime, start: datetime, end: datetime) -> dict:
    """Every count and sum of the "today" panel in one statement."""
    pending = Compensation.status.in_(PENDING_COMPENSATIONS)
    row = db.session.execute(select(
        _count(_breached_today(start, end)).label("breached"),
        _count(_at_risk(now)).label("at_risk"),
        _count(pending).label("pending"),
        select(func.coalesce(func.sum(Compensation.value), 0)).where(pending).scalar_subquery().label("value"),
        select(func.coalesce(func.sum(Compensation.cost), 0)).where(pending).scalar_subquery().label("cost"),
        _count(and_(_recent(SurveyResponse.answered_at, now), _detractor_answers())).label("detractors"),
        _count(and_(StageChange.to_stage == AT_RISK_STAGE, _recent(StageChange.at, now)),
               of=func.distinct(StageChange.customer_id)).label("moved_at_risk"),
    )).one()
    return {"breached": row.breached, "at_risk": row.at_risk,
            "pending": {"count": row.pending, "value": _money(row.value), "cost": _money(row.cost)},
            "detractors": row.detractors, "moved_at_risk": row.moved_at_risk}


def _commitments(condition, *order):
    """The listed commitments with their contact, customer, type and owner in one query."""
    return list(db.session.scalars(
        select(Commitment).where(condition)
        .options(joinedload(Commitment.moment).joinedload(Moment.customer),
                 joinedload(Commitment.moment).joinedload(Moment.moment_type),
                 joinedload(Commitment.owner))
        .order_by(*order).limit(LIST_SIZE)))


def today_panel(now: datetime, zone: str) -> dict:
    """What needs a supervisor's attention now: today's breaches (in the company's local
    day), commitments at risk, compensations waiting for a decision or to be issued, unhappy
    survey answers and customers who moved to at risk in the last seven days."""
    day, start, end = day_bounds(now, zone)
    panel = _counts(now, start, end)
    panel.update(
        day=day, start=start, end=end,
        breached_list=_commitments(_breached_today(start, end), Commitment.breached_at.desc(),
                                   Commitment.id.desc()),
        at_risk_list=_commitments(_at_risk(now), Commitment.due_at, Commitment.id),
        detractor_list=list(db.session.scalars(
            select(SurveyResponse).where(_recent(SurveyResponse.answered_at, now), _detractor_answers())
            .options(joinedload(SurveyResponse.customer))
            .order_by(SurveyResponse.answered_at.desc(), SurveyResponse.id.desc()).limit(LIST_SIZE))),
    )
    return panel


# --- key figures -----------------------------------------------------------------------

def key_figures(now: datetime, zone: str) -> dict:
    """The key figures of the last 30 local days against the 30 before, with their trend."""
    report = services.metrics_report(None, None, None, zone=zone, now=now)
    rows = []
    for figure in KEY_FIGURES:
        change = report["change"][figure.key]
        rows.append({"key": figure.key, "kind": figure.kind, "current": report["current"][figure.key],
                     "previous": report["previous"][figure.key], "change": change,
                     "trend": trend(change, figure.higher_is_better)})
    return {"period": report["period"], "previous_period": report["previous_period"], "rows": rows}


def dashboard(now: datetime, zone: str) -> dict:
    return {"now": now, "today": today_panel(now, zone), "figures": key_figures(now, zone)}
