"""Profit per customer, the tier rule, tier recomputation and keep-or-end decisions.

Profit over a period = revenue (purchases in the company's currency) − cost to serve
(the cost of the customer's contacts + the cost of the compensations issued to them).
It is one aggregate query: each source is summed per customer in a subquery and the
subqueries are joined to the customers, so no query runs per customer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, literal, select, update

from crm import audit
from crm.compensations.models import Compensation
from crm.customers.lifecycle import TIERS
from crm.customers.models import Customer, Purchase
from crm.domain import N_, Cleaner, DomainError, NotFound, ValidationFailed
from crm.extensions import db
from crm.insights import rollup
from crm.insights.filters import Period, first_midnight_from, setting, today
from crm.insights.models import CustomerDecision, TierChange, TierRuleSetting
from crm.insights.tier_rules import TierRule, clean_rule, cutoffs_from_sorted, tier_for
from crm.moments.models import Moment
from crm.pagination import Page, paginate

CENT = Decimal("0.01")
DECISIONS = ("keep", "end")
LISTS = ("unprofitable", "top", "bottom")
DEFAULT_RULE = TierRule("thresholds", Decimal("1000.00"), Decimal("0.00"), 365, active=False)
RULE_ID = 1
CHUNK = 1000


def money(value) -> Decimal:
    # SQLite sums NUMERIC as floating point: back to cents.
    return Decimal(str(value or 0)).quantize(CENT)


def period_for(days: int, now: datetime, zone: str) -> Period:
    """The last `days` whole local days, today included."""
    last = today(zone, now)
    return Period(last - timedelta(days=days - 1), last, zone)


# --- the rule -------------------------------------------------------------------------------

def get_rule() -> TierRule:
    row = db.session.get(TierRuleSetting, RULE_ID)
    if row is None:
        return DEFAULT_RULE
    return TierRule(row.mode, money(row.premium_value), money(row.standard_value), row.period_days, row.active)


def rule_setting() -> TierRuleSetting | None:
    return db.session.get(TierRuleSetting, RULE_ID)


def save_rule(actor, data: dict, now: datetime) -> TierRule:
    rule, errors = clean_rule(data)
    if errors:
        raise ValidationFailed({name: DomainError(message, name, **params)
                                for name, (message, params) in errors.items()})
    row = db.session.get(TierRuleSetting, RULE_ID)
    if row is None:
        row = TierRuleSetting(id=RULE_ID)
        db.session.add(row)
    row.mode, row.premium_value, row.standard_value = rule.mode, rule.premium, rule.standard
    row.period_days, row.active = rule.period_days, rule.active
    row.updated_at, row.updated_by_id = now, getattr(actor, "id", None)
    audit.record(actor, "tier_rule.saved", "tier_rule", RULE_ID, now, rule=rule.describe(),
                 period_days=rule.period_days, active=rule.active)
    db.session.flush()
    return rule


# --- profit per customer ----------------------------------------------------------------------

def profit_query(period: Period, currency: str):
    """SELECT id, name, tier, revenue, contact_cost, compensation_cost, profit for every
    customer over `period` (customers with nothing in it have zero everywhere)."""
    start, end = period.start, period.end
    first_day: date = first_midnight_from(start, period.zone)
    end_day: date = first_midnight_from(end, period.zone)
    revenue = (select(Purchase.customer_id.label("customer_id"), func.sum(Purchase.amount).label("amount"))
               .where(Purchase.currency == currency, Purchase.purchased_on >= first_day,
                      Purchase.purchased_on < end_day)
               .group_by(Purchase.customer_id).subquery("revenue"))
    contacts = (select(Moment.customer_id.label("customer_id"), func.sum(Moment.cost).label("amount"))
                .where(Moment.occurred_at >= start, Moment.occurred_at < end)
                .group_by(Moment.customer_id).subquery("contacts"))
    compensations = (select(Compensation.customer_id.label("customer_id"),
                            func.sum(Compensation.cost).label("amount"))
                     .where(Compensation.status == "issued", Compensation.issued_at >= start,
                            Compensation.issued_at < end)
                     .group_by(Compensation.customer_id).subquery("compensations"))
    zero = literal(0)
    rev = func.coalesce(revenue.c.amount, zero)
    contact_cost = func.coalesce(contacts.c.amount, zero)
    compensation_cost = func.coalesce(compensations.c.amount, zero)
    profit = (rev - contact_cost - compensation_cost).label("profit")
    return (select(Customer.id, Customer.name, Customer.tier, rev.label("revenue"),
                   contact_cost.label("contact_cost"), compensation_cost.label("compensation_cost"), profit)
            .select_from(Customer)
            .outerjoin(revenue, revenue.c.customer_id == Customer.id)
            .outerjoin(contacts, contacts.c.customer_id == Customer.id)
            .outerjoin(compensations, compensations.c.customer_id == Customer.id))


@dataclass(frozen=True)
class CustomerProfit:
    id: int
    name: str
    tier: str
    revenue: Decimal
    contact_cost: Decimal
    compensation_cost: Decimal

    @property
    def cost_to_serve(self) -> Decimal:
        return self.contact_cost + self.compensation_cost

    @property
    def profit(self) -> Decimal:
        return self.revenue - self.cost_to_serve


def _row(row) -> CustomerProfit:
    return CustomerProfit(row.id, row.name, row.tier, money(row.revenue), money(row.contact_cost),
                          money(row.compensation_cost))


def customer_profits(period: Period, currency: str | None = None, *, ids=None) -> list[CustomerProfit]:
    """Everybody's figures (or those of `ids`), by customer id."""
    stmt = profit_query(period, currency or setting("CRM_CURRENCY", "EUR")).order_by(Customer.id)
    if ids is not None:
        stmt = stmt.where(Customer.id.in_(list(ids)))
    return [_row(row) for row in db.session.execute(stmt)]


def profit_page(period: Period, which: str, page: int, per_page: int = 25, currency: str | None = None) -> Page:
    """One page of the most profitable, the least profitable, or the unprofitable customers."""
    if which not in LISTS:
        raise ValidationFailed({"show": DomainError(N_("must be one of: %(choices)s"), "show",
                                                    choices=", ".join(LISTS))})
    query = profit_query(period, currency or setting("CRM_CURRENCY", "EUR")).subquery("p")
    stmt = select(query)
    if which == "top":
        stmt = stmt.order_by(query.c.profit.desc(), query.c.id)
    else:
        stmt = stmt.order_by(query.c.profit.asc(), query.c.id)
        if which == "unprofitable":
            stmt = stmt.where(query.c.profit < 0)
    # Counting the top and bottom lists is counting customers; the unprofitable list
    # only says whether there is a next page (a count would run the aggregate twice).
    result = paginate(stmt, page, per_page, scalars=False, count=False)
    result.items = [_row(row) for row in result.items]
    if which != "unprofitable":
        result.total = db.session.scalar(select(func.count(Customer.id)))
    return result


def tier_distribution() -> dict[str, int]:
    counts = dict(db.session.execute(select(Customer.tier, func.count()).group_by(Customer.tier)).all())
    return {tier: counts.get(tier, 0) for tier in reversed(TIERS)}


# --- recomputation --------------------------------------------------------------------------

@dataclass
class RecomputeResult:
    skipped: bool = False
    customers: int = 0
    changed: int = 0
    by_tier: dict = field(default_factory=dict)

    def __str__(self) -> str:
        if self.skipped:
            return "tier rule is off; nothing recomputed"
        moves = ", ".join(f"{n} to {tier}" for tier, n in sorted(self.by_tier.items())) or "none"
        return f"{self.customers} customers, {self.changed} tier changes ({moves})"


def recompute_tiers(now: datetime, actor=None, *, rule: TierRule | None = None, zone: str | None = None,
                    currency: str | None = None, checkpoint=None) -> RecomputeResult:
    """Apply the tier rule to everybody's profit; change only the tiers that differ and keep
    a TierChange for each. A second run with the same data changes nothing. `checkpoint`
    (the boundary's commit) is called after each chunk so a long run holds no long lock."""
    rule = rule or get_rule()
    if not rule.active:
        return RecomputeResult(skipped=True)
    zone = zone or setting("BABEL_DEFAULT_TIMEZONE", "UTC")
    currency = currency or setting("CRM_CURRENCY", "EUR")
    period = period_for(rule.period_days, now, zone)
    figures = profit_query(period, currency).subquery("p")
    rows = [(customer_id, current, money(profit)) for customer_id, current, profit
            in db.session.execute(select(figures.c.id, figures.c.tier, figures.c.profit))]
    # Percentile cutoffs from the rows already here: one more aggregate query would cost more.
    cutoffs = cutoffs_from_sorted(sorted((row[2] for row in rows), reverse=True), rule)
    moves: dict[tuple[str, str], list[tuple[int, Decimal]]] = {}
    for customer_id, current, profit in rows:
        target = tier_for(profit, rule, cutoffs)
        if target != current:
            moves.setdefault((current, target), []).append((customer_id, profit))
    result = RecomputeResult(customers=len(rows))
    description = rule.describe()
    user_id = getattr(actor, "id", None)
    for (current, target), items in sorted(moves.items()):
        for start in range(0, len(items), CHUNK):
            chunk = dict(items[start:start + CHUNK])
            # Only rows still in the tier we read: a concurrent run or edit is not overwritten twice.
            moved = db.session.scalars(
                update(Customer).where(Customer.id.in_(list(chunk)), Customer.tier == current)
                .values(tier=target, updated_at=now).returning(Customer.id)
                .execution_options(synchronize_session=False)).all()
            if moved:
                rollup.mark_customers(moved)
                db.session.execute(insert(TierChange), [
                    {"customer_id": customer_id, "from_tier": current, "to_tier": target, "at": now,
                     "profit": chunk[customer_id], "rule": description[:200], "user_id": user_id,
                     "reason": f"profit {chunk[customer_id]} {currency} over the last {rule.period_days} days"}
                    for customer_id in sorted(moved)])
            result.changed += len(moved)
            result.by_tier[target] = result.by_tier.get(target, 0) + len(moved)
            db.session.flush()
            if checkpoint is not None:
                checkpoint()
    if result.changed or actor is not None:
        audit.record(actor, "tiers.recomputed", "tier_rule", RULE_ID, now, rule=description,
                     customers=result.customers, changed=result.changed)
        db.session.flush()
    # Loaded customers must not keep the tier they had before the bulk update.
    db.session.expire_all()
    return result


# --- keep or end ---------------------------------------------------------------------------

def decide_customer(actor, customer_id: int, data: dict, now: datetime) -> CustomerDecision:
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(N_("no such customer"))
    c = Cleaner()
    decision = c.choice("decision", data.get("decision"), DECISIONS)
    reason = c.text("reason", data.get("reason"), max_len=1000, required=True, multiline=True)
    c.check()
    rule = get_rule()
    zone = setting("BABEL_DEFAULT_TIMEZONE", "UTC")
    figures = customer_profits(period_for(rule.period_days, now, zone), ids=[customer_id])
    record = CustomerDecision(customer_id=customer_id, decision=decision, reason=reason,
                              profit=figures[0].profit if figures else None, user_id=getattr(actor, "id", None),
                              at=now)
    db.session.add(record)
    db.session.flush()
    audit.record(actor, f"customer.{decision}_decided", "customer", customer_id, now, decision=decision,
                 reason=reason, profit=str(record.profit) if record.profit is not None else None)
    db.session.flush()
    return record


def latest_decisions(customer_ids) -> dict[int, CustomerDecision]:
    """The newest decision of each of these customers (one query for a page)."""
    ids = list(customer_ids)
    if not ids:
        return {}
    newest = (select(CustomerDecision.customer_id, func.max(CustomerDecision.id).label("id"))
              .where(CustomerDecision.customer_id.in_(ids)).group_by(CustomerDecision.customer_id).subquery())
    rows = db.session.scalars(select(CustomerDecision).join(newest, newest.c.id == CustomerDecision.id))
    return {row.customer_id: row for row in rows}


def recent_tier_changes(limit: int = 10) -> list[TierChange]:
    return list(db.session.scalars(select(TierChange).order_by(TierChange.at.desc(), TierChange.id.desc())
                                   .limit(limit)))
