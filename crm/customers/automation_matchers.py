"""What each lifecycle rule matches: one set-based query per rule.

A matcher yields (customer id, stage, loyalty, Hit) for the customers its rule matches
*and could still change*: each query is limited to customers below the rule's stage or
loyalty level (ladder rules) or who could fall (at_risk/churned rules), so a run over a
settled database reads little and returns less. `automation_rules.decide` has the last
word; these filters only keep out customers it would leave alone anyway.

The queries drive from the customers and seek each one's purchases through the
(customer_id, purchased_on) index; a closed date range would tempt SQLite into the
purchased_on index and a sort of every purchase in the window instead, so purchase
windows have a lower bound only (nothing is dated after tomorrow).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, or_, select

from crm.customers.automation_rules import (
    FALLBACK,
    FALLBACK_FROM,
    LADDER,
    NPS_PROMOTER,
    RuleConfig,
    RuleSpec,
    exclusive_months,
    hit,
    month_start,
)
from crm.customers.lifecycle import LOYALTY_LEVELS
from crm.customers.models import Customer, Purchase, StageChange
from crm.extensions import db
from crm.followups.models import SurveyResponse
from crm.followups.rules import SCORE_RANGE, is_detractor
from crm.moments.models import Commitment, Moment, MomentType

# Up to this many won-back customers are named in the purchase rules' queries; beyond it
# (a first run over old data) every at_risk/churned customer is read and `decide` sorts them.
FRESH_LIST_MAX = 500


@dataclass(frozen=True)
class Scope:
    now: datetime
    today: date  # in the company's time zone
    zone: ZoneInfo
    ids: tuple[int, ...] | None  # None: every customer
    fresh: frozenset[int] = frozenset()  # at_risk/churned customers who bought since

    def only(self, stmt, column):
        return stmt if self.ids is None else stmt.where(column.in_(self.ids))


def _columns():
    return Customer.id, Customer.stage, Customer.loyalty


def _latest_change():
    """The customer's latest stage change (the (customer_id, at) index answers it)."""
    return (select(func.max(StageChange.at)).where(StageChange.customer_id == Customer.id)
            .correlate(Customer).scalar_subquery())


def fresh_purchases(scope: Scope) -> frozenset[int]:
    """At_risk/churned customers who bought after getting there: a purchase recorded after
    their latest stage change and dated no earlier than that (local) day."""
    entered = scope.only(select(StageChange.customer_id, func.max(StageChange.at).label("at"))
                         .join(Customer, Customer.id == StageChange.customer_id)
                         .where(Customer.stage.in_(FALLBACK)), StageChange.customer_id)
    entered = entered.group_by(StageChange.customer_id).subquery("entered")
    stmt = (select(Purchase.customer_id, Purchase.purchased_on, entered.c.at)
            .join(entered, entered.c.customer_id == Purchase.customer_id)
            .where(Purchase.created_at > entered.c.at))
    return frozenset(customer_id for customer_id, day, at in db.session.execute(stmt)
                     if day >= at.astimezone(scope.zone).date())


def _could_climb(spec: RuleSpec, scope: Scope):
    """Below the rule's stage or loyalty level, or (purchase rules) won back."""
    condition = Customer.stage.in_(LADDER[:LADDER.index(spec.stage)])
    if spec.loyalty is not None:
        condition = or_(condition, Customer.loyalty.in_(LOYALTY_LEVELS[:LOYALTY_LEVELS.index(spec.loyalty)]))
    if spec.purchase_based and scope.fresh:
        won_back = (Customer.id.in_(sorted(scope.fresh)) if len(scope.fresh) <= FRESH_LIST_MAX
                    else Customer.stage.in_(FALLBACK))
        condition = or_(condition, won_back)
    return condition


def _could_fall(spec: RuleSpec, *, itself: bool = True):
    """Where the rule may take customers from; its own stage too (fresh evidence keeps an
    at-risk customer from a win-back); churned customers (won back, they may fall again);
    and prospects who bought (they may become new and fall in the same run)."""
    stages = FALLBACK_FROM[spec.stage] + ((spec.stage, "churned") if itself else ())
    return or_(Customer.stage.in_(stages),
               and_(Customer.stage == "prospect", exists().where(Purchase.customer_id == Customer.id)))


# --- ladder rules -----------------------------------------------------------------------------

def first_purchase(cfg: RuleConfig, scope: Scope):
    spec = cfg.spec
    stmt = scope.only(select(*_columns(), func.max(Purchase.purchased_on))
                      .join(Purchase, Purchase.customer_id == Customer.id).where(_could_climb(spec, scope)),
                      Customer.id).group_by(*_columns())
    for customer_id, stage, loyalty, last in db.session.execute(stmt):
        yield customer_id, stage, loyalty, hit(spec, f"purchase {last.isoformat()}")


def regular_purchases(cfg: RuleConfig, scope: Scope):
    spec, wanted, days = cfg.spec, cfg.params["purchases"], cfg.params["days"]
    since = scope.today - timedelta(days=days - 1)
    stmt = scope.only(
        select(*_columns(), func.count().label("n")).join(Purchase, Purchase.customer_id == Customer.id)
        .where(Purchase.purchased_on >= since, _could_climb(spec, scope)),
        Customer.id).group_by(*_columns()).having(func.count() >= wanted)
    for customer_id, stage, loyalty, n in db.session.execute(stmt):
        yield customer_id, stage, loyalty, hit(spec, f"{n} purchases / {days} d")


def exclusive(cfg: RuleConfig, scope: Scope):
    """A purchase in each of the `months` calendar months before this one, or in each of the
    `months` ending with this one. First the customers with enough purchases in the window,
    then, for those few, which of its months hold one."""
    spec, months = cfg.spec, cfg.params["months"]
    current, first, _end = exclusive_months(scope.today, months)
    enough = scope.only(
        select(Customer.id).join(Purchase, Purchase.customer_id == Customer.id)
        .where(Purchase.purchased_on >= first, _could_climb(spec, scope)),
        Customer.id).group_by(Customer.id).having(func.count() >= months)
    starts = [month_start(current - months + k) for k in range(months + 2)]
    bought_in = [func.max(case((and_(Purchase.purchased_on >= starts[k], Purchase.purchased_on < starts[k + 1]), 1),
                               else_=0)) for k in range(months + 1)]
    before, ending_now = sum(bought_in[:-1]), sum(bought_in[1:])
    stmt = (select(*_columns()).join(Purchase, Purchase.customer_id == Customer.id)
            .where(Customer.id.in_(enough), Purchase.purchased_on >= first)
            .group_by(*_columns()).having(or_(before >= months, ending_now >= months)))
    for customer_id, stage, loyalty in db.session.execute(stmt):
        yield customer_id, stage, loyalty, hit(spec, f"purchases in each of {months} months")


def promoter(cfg: RuleConfig, scope: Scope):
    spec, days, codes = cfg.spec, cfg.params["days"], cfg.params["referral_types"]
    if not codes:
        return
    since = scope.now - timedelta(days=days)
    answers = scope.only(
        select(SurveyResponse.customer_id, func.max(SurveyResponse.score).label("score"))
        .where(SurveyResponse.kind == "nps", SurveyResponse.score >= NPS_PROMOTER,
               SurveyResponse.answered_at > since, SurveyResponse.answered_at <= scope.now),
        SurveyResponse.customer_id).group_by(SurveyResponse.customer_id).subquery("promoter_answers")
    referral_types = select(MomentType.id).where(MomentType.code.in_(codes))
    referrals = scope.only(
        select(Moment.customer_id, func.max(Moment.occurred_at).label("at"))
        .where(Moment.moment_type_id.in_(referral_types), Moment.occurred_at > since,
               Moment.occurred_at <= scope.now),
        Moment.customer_id).group_by(Moment.customer_id).subquery("referrals")
    stmt = (select(*_columns(), answers.c.score, referrals.c.at)
            .join(answers, answers.c.customer_id == Customer.id)
            .join(referrals, referrals.c.customer_id == Customer.id)
            .where(_could_climb(spec, scope)))
    for customer_id, stage, loyalty, score, at in db.session.execute(stmt):
        day = at.astimezone(scope.zone).date().isoformat()
        yield customer_id, stage, loyalty, hit(spec, f"NPS {score} + referral {day}")


# --- rules that take customers out of the ladder -------------------------------------------------

def _detractor_answers():
    """`followups.rules.is_detractor` as SQL, written out from the rule itself."""
    return or_(*(and_(SurveyResponse.kind == kind,
                      SurveyResponse.score.in_([s for s in range(low, high + 1) if is_detractor(kind, s)]))
                 for kind, (low, high) in SCORE_RANGE.items()))


def survey_detractor(cfg: RuleConfig, scope: Scope):
    spec, days = cfg.spec, cfg.params["days"]
    latest = _latest_change()
    stmt = scope.only(
        select(*_columns(), SurveyResponse.kind, SurveyResponse.score, SurveyResponse.answered_at)
        .join(SurveyResponse, SurveyResponse.customer_id == Customer.id)
        .where(_detractor_answers(), SurveyResponse.answered_at > scope.now - timedelta(days=days),
               SurveyResponse.answered_at <= scope.now, _could_fall(spec),
               # Only answers after the latest stage change count: one answer moves a customer once.
               or_(latest.is_(None), SurveyResponse.answered_at > latest)),
        SurveyResponse.customer_id)
    latest_answer: dict[int, tuple] = {}
    for customer_id, stage, loyalty, kind, score, at in db.session.execute(stmt):
        if customer_id not in latest_answer or at > latest_answer[customer_id][4]:
            latest_answer[customer_id] = (stage, loyalty, kind, score, at)
    for customer_id, (stage, loyalty, kind, score, _at) in latest_answer.items():
        # The reason is just the answer, readable in any language.
        yield customer_id, stage, loyalty, hit(spec, f"{kind.upper()} {score}")


def repeated_breaches(cfg: RuleConfig, scope: Scope):
    spec, wanted, days = cfg.spec, cfg.params["breaches"], cfg.params["days"]
    since = scope.now - timedelta(days=days)
    # The sweep records a breach at its due instant (breached_at = due_at): the
    # (status, due_at) index finds the window's breaches; there is none on breached_at.
    breaches = scope.only(
        select(Commitment.customer_id, func.count().label("n"), func.max(Commitment.breached_at).label("last"))
        .where(Commitment.status == "breached", Commitment.due_at >= since, Commitment.breached_at >= since,
               Commitment.breached_at <= scope.now),
        Commitment.customer_id).group_by(Commitment.customer_id).having(func.count() >= wanted).subquery("breaches")
    latest = _latest_change()
    stmt = (select(*_columns(), breaches.c.n).join(breaches, breaches.c.customer_id == Customer.id)
            .where(_could_fall(spec),
                   # The newest breach must follow the latest stage change.
                   or_(latest.is_(None), breaches.c.last > latest)))
    for customer_id, stage, loyalty, n in db.session.execute(stmt):
        yield customer_id, stage, loyalty, hit(spec, f"{n} breaches / {days} d")


def inactivity(cfg: RuleConfig, scope: Scope):
    spec, days = cfg.spec, cfg.params["days"]
    cutoff = scope.now - timedelta(days=days)
    # A person who moved the customer within the window has looked at them: not churned behind their back.
    decided_by_person = exists().where(StageChange.customer_id == Customer.id, StageChange.user_id.is_not(None),
                                       StageChange.at > cutoff)
    stmt = scope.only(
        select(*_columns(), Customer.last_activity_at)
        .where(_could_fall(spec, itself=False),
               or_(Customer.last_activity_at <= cutoff,
                   and_(Customer.last_activity_at.is_(None), Customer.created_at <= cutoff)),
               ~decided_by_person),
        Customer.id)
    for customer_id, stage, loyalty, last in db.session.execute(stmt):
        since = last.astimezone(scope.zone).date().isoformat() if last else "-"
        yield customer_id, stage, loyalty, hit(spec, f"no activity {days} d (last {since})")


MATCHERS = {
    "first_purchase": first_purchase,
    "regular_purchases": regular_purchases,
    "exclusive": exclusive,
    "promoter": promoter,
    "survey_detractor": survey_detractor,
    "repeated_breaches": repeated_breaches,
    "inactivity": inactivity,
}
