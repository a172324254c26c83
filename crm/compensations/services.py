"""Compensations: proposed when a promise breaks, decided by supervisors, issued, counted."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from crm import audit
from crm.auth.models import ROLES, User
from crm.compensations import rules
from crm.compensations.models import (
    KINDS,
    STATUSES,
    Compensation,
    CompensationPolicy,
    GoodwillLimit,
)
from crm.customers.lifecycle import TIERS
from crm.customers.models import Customer
from crm.domain import N_, Cleaner, Conflict, Forbidden
from crm.extensions import db
from crm.moments.catalog import MAX_COST, parse_decimal
from crm.moments.models import Commitment, Moment, MomentType
from crm.pagination import Page, paginate
from crm.queries import get_or_raise, is_id, taken_by_other
from crm.webhooks import events as webhook_events

GRANTED = ("approved", "issued")


def _terms(policy: CompensationPolicy) -> rules.PolicyTerms:
    return rules.PolicyTerms(
        id=policy.id, moment_type_id=policy.moment_type_id, tier=policy.tier, kind=policy.kind,
        value=policy.value, cost=policy.cost, requires_approval=policy.requires_approval,
        escalate_after=policy.escalate_after, escalated_value=policy.escalated_value, cap_value=policy.cap_value)


# --- proposals from the sweep ---------------------------------------------------------

@dataclass
class ProposalCounts:
    proposed: int = 0
    issued: int = 0


def propose_for_breaches(commitment_ids: list[int], now: datetime) -> ProposalCounts:
    """One compensation per newly breached commitment that a policy covers.

    Works in bulk: the commitments, the policies and each customer's recent breaches
    and granted value are read with a handful of queries, whatever the batch size.
    """
    counts = ProposalCounts()
    if not commitment_ids:
        return counts
    policies = list(db.session.scalars(select(CompensationPolicy).where(CompensationPolicy.active.is_(True))))
    if not policies:
        return counts
    terms = [_terms(p) for p in policies]
    windows = {p.id: (p.escalation_window_days, p.cap_period_days) for p in policies}
    breaches = db.session.execute(
        select(Commitment.id, Commitment.customer_id, Commitment.moment_id, Commitment.kind,
               Moment.moment_type_id, Customer.tier)
        .join(Moment, Moment.id == Commitment.moment_id).join(Customer, Customer.id == Commitment.customer_id)
        .where(Commitment.id.in_(commitment_ids))).all()
    customers = {b.customer_id for b in breaches}
    longest = max(max(w) for w in windows.values())
    history = _customer_history(customers, now - timedelta(days=longest), exclude=set(commitment_ids))
    rows = []
    for breach in sorted(breaches, key=lambda b: b.id):
        policy = rules.choose_policy(terms, breach.moment_type_id, breach.tier)
        if policy is None:
            continue
        escalation_days, cap_days = windows[policy.id]
        past = history[breach.customer_id]
        proposal = rules.propose(
            policy,
            recent_breaches=sum(1 for at, _ in past["breaches"] if at >= now - timedelta(days=escalation_days)),
            granted_in_period=sum((v for at, v in past["granted"] if at >= now - timedelta(days=cap_days)),
                                  Decimal("0")))
        # Later breaches of the same customer in this batch see the earlier ones.
        past["breaches"].append((now, breach.id))
        if proposal.issue_now:
            past["granted"].append((now, proposal.value))
        rows.append({
            "commitment_id": breach.id, "customer_id": breach.customer_id, "moment_id": breach.moment_id,
            "policy_id": policy.id, "kind": proposal.kind, "value": proposal.value, "cost": proposal.cost,
            "status": "issued" if proposal.issue_now else "proposed",
            "reason": f"breach:{breach.kind}", "escalated": proposal.escalated, "over_cap": proposal.over_cap,
            "proposed_at": now, "decided_at": now if proposal.issue_now else None,
            "issued_at": now if proposal.issue_now else None, "decision_note": "",
        })
    if not rows:
        return counts
    created = _insert_new(rows)
    issued = [compensation_id for compensation_id, _, status in created if status == "issued"]
    if issued:
        _write_notices(issued, now)
    counts.issued = len(issued)
    counts.proposed = len(created) - len(issued)
    return counts


def _customer_history(customer_ids: set[int], since: datetime, exclude: set[int]) -> dict:
    history: dict = defaultdict(lambda: {"breaches": [], "granted": []})
    if not customer_ids:
        return history
    for customer_id, breached_at, commitment_id in db.session.execute(
            select(Commitment.customer_id, Commitment.breached_at, Commitment.id)
            .where(Commitment.customer_id.in_(customer_ids), Commitment.status == "breached",
                   Commitment.breached_at >= since)):
        if commitment_id not in exclude:
            history[customer_id]["breaches"].append((breached_at, commitment_id))
    for customer_id, at, value in db.session.execute(
            select(Compensation.customer_id, Compensation.proposed_at, Compensation.value)
            .where(Compensation.customer_id.in_(customer_ids), Compensation.status.in_(GRANTED),
                   Compensation.proposed_at >= since)):
        history[customer_id]["granted"].append((at, value))
    return history


def _insert_new(rows: list[dict]) -> list[tuple[int, int, str]]:
    """Insert in one multi-row statement, skipping commitments that already have one (a
    concurrent sweep got there first); RETURNING names only the rows really inserted."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    statement = upsert(Compensation.__table__).on_conflict_do_nothing(index_elements=["commitment_id"]).returning(
        Compensation.id, Compensation.customer_id, Compensation.status)
    return [tuple(row) for row in db.session.connection().execute(statement, rows)]


def _write_notice(compensation_id: int, now: datetime) -> None:
    _write_notices([compensation_id], now)


def _write_notices(compensation_ids: list[int], now: datetime) -> None:
    """The customer's notices of issued compensations, written to the outbox by the
    compensation_issued rules in this same transaction, keyed so each is written once."""
    from crm.followups.services import schedule_compensation_notices

    issued = list(db.session.scalars(select(Compensation).options(
        joinedload(Compensation.customer).joinedload(Customer.owner),
        joinedload(Compensation.moment).joinedload(Moment.moment_type)).where(Compensation.id.in_(compensation_ids))))
    schedule_compensation_notices(issued, now)
    webhook_events.compensations_issued(issued, now)


# --- decisions ------------------------------------------------------------------------

def get_compensation(compensation_id: int) -> Compensation:
    return get_or_raise(Compensation, compensation_id, N_("no such compensation"))


def _require_supervisor(actor: User) -> None:
    if not actor.has_role("supervisor"):
        raise Forbidden(N_("only supervisors decide compensations"))


def _decide(compensation: Compensation, expected: str, refusal: str, **values) -> None:
    """Move the compensation on only if it is still `expected` in the database, in one
    UPDATE: two supervisors deciding at once cannot both succeed (the second waits for
    the first's row, or SQLite's write lock, then finds the status changed: Conflict)."""
    changed = db.session.execute(
        update(Compensation).where(Compensation.id == compensation.id, Compensation.status == expected)
        .values(**values).execution_options(synchronize_session=False))
    if changed.rowcount != 1:
        db.session.expire(compensation)
        raise Conflict(refusal, "status")
    for name, value in values.items():
        set_committed_value(compensation, name, value)


def approve(actor: User, compensation: Compensation, now: datetime, *, value=None, note=None) -> Compensation:
    _require_supervisor(actor)
    refusal = N_("only a proposed compensation can be approved")
    if compensation.status != "proposed":
        raise Conflict(refusal, "status")
    c = Cleaner()
    new_value = parse_decimal(c, "value", value, maximum=MAX_COST)
    note = c.text("note", note, max_len=1000, multiline=True) or ""
    c.check()
    values = {"status": "approved", "decided_at": now, "decided_by_id": actor.id, "decision_note": note}
    if new_value is not None and new_value != compensation.value:
        # The cost follows the value in proportion (a cheaper gift costs less).
        values["cost"] = (compensation.cost * new_value / compensation.value).quantize(Decimal("0.01")) \
            if compensation.value else new_value
        values["value"] = new_value
    _decide(compensation, "proposed", refusal, **values)
    audit.record(actor, "compensation.approved", "compensation", compensation.id, now,
                 value=str(compensation.value), note=note)
    return compensation


def reject(actor: User, compensation: Compensation, reason, now: datetime) -> Compensation:
    _require_supervisor(actor)
    refusal = N_("only a proposed compensation can be rejected")
    if compensation.status != "proposed":
        raise Conflict(refusal, "status")
    c = Cleaner()
    reason = c.text("reason", reason, max_len=1000, required=True, multiline=True)
    c.check()
    _decide(compensation, "proposed", refusal, status="rejected", decided_at=now, decided_by_id=actor.id,
            decision_note=reason)
    audit.record(actor, "compensation.rejected", "compensation", compensation.id, now, reason=reason)
    return compensation


def issue(actor: User, compensation: Compensation, now: datetime) -> Compensation:
    """Hand it to the customer: it counts as a cost from now and the customer is told."""
    _require_supervisor(actor)
    refusal = N_("only an approved compensation can be issued")
    if compensation.status != "approved":
        raise Conflict(refusal, "status")
    _decide(compensation, "approved", refusal, status="issued", issued_at=now, issued_by_id=actor.id)
    _write_notice(compensation.id, now)
    audit.record(actor, "compensation.issued", "compensation", compensation.id, now)
    return compensation


# --- goodwill on the spot ---------------------------------------------------------------

def goodwill_limit(role: str) -> Decimal:
    limit = db.session.get(GoodwillLimit, role)
    return limit.max_value if limit else Decimal("0")


def grant_goodwill(actor: User, moment: Moment, data: dict, now: datetime) -> Compensation:
    """An agent's own gesture while handling a contact, up to the role's limit: issued at once."""
    c = Cleaner()
    kind = c.choice("kind", data.get("kind"), KINDS)
    value = parse_decimal(c, "value", data.get("value"), maximum=MAX_COST, required=True)
    reason = c.text("reason", data.get("reason"), max_len=1000, required=True, multiline=True)
    c.check()
    limit = goodwill_limit(actor.role)
    if value > limit:
        raise Forbidden(N_("your role may grant up to %(limit)s on the spot; ask a supervisor for more"),
                        "value", limit=str(limit))
    compensation = Compensation(
        customer_id=moment.customer_id, moment_id=moment.id, kind=kind, value=value, cost=value,
        status="issued", reason=f"goodwill:{reason}", proposed_at=now, created_by_id=actor.id,
        decided_at=now, decided_by_id=actor.id, issued_at=now, issued_by_id=actor.id)
    db.session.add(compensation)
    db.session.flush()
    _write_notice(compensation.id, now)
    audit.record(actor, "compensation.goodwill", "compensation", compensation.id, now, value=str(value))
    return compensation


def set_goodwill_limit(actor: User, role: str, value, now: datetime) -> GoodwillLimit:
    if not actor.has_role("admin"):
        raise Forbidden(N_("only admins set goodwill limits"))
    c = Cleaner()
    c.choice("role", role, ROLES)
    amount = parse_decimal(c, "max_value", value, maximum=MAX_COST, required=True)
    c.check()
    limit = db.session.get(GoodwillLimit, role) or GoodwillLimit(role=role)
    limit.max_value = amount
    db.session.add(limit)
    db.session.flush()
    audit.record(actor, "goodwill_limit.set", "goodwill_limit", None, now, role=role, value=str(amount))
    return limit


# --- policies ---------------------------------------------------------------------------

def save_policy(actor: User, policy: CompensationPolicy | None, data: dict, now: datetime) -> CompensationPolicy:
    if not actor.has_role("admin"):
        raise Forbidden(N_("only admins manage compensation policies"))
    c = Cleaner()
    moment_type_id = data.get("moment_type_id") or None
    if moment_type_id is not None and (not is_id(moment_type_id) or db.session.get(MomentType, moment_type_id) is None):
        c.fail("moment_type_id", N_("no such moment type"))
    tier = c.choice("tier", data.get("tier") or None, TIERS, required=False)
    kind = c.choice("kind", data.get("kind"), KINDS)
    value = parse_decimal(c, "value", data.get("value"), maximum=MAX_COST) or Decimal("0.00")
    cost = parse_decimal(c, "cost", data.get("cost"), maximum=MAX_COST)
    escalated_value = parse_decimal(c, "escalated_value", data.get("escalated_value"), maximum=MAX_COST)
    cap_value = parse_decimal(c, "cap_value", data.get("cap_value"), maximum=MAX_COST)
    numbers = {}
    for key, default, low, high in (("escalate_after", None, 1, 100), ("escalation_window_days", 90, 1, 3650),
                                    ("cap_period_days", 365, 1, 3650)):
        raw = data.get(key)
        if raw in (None, ""):
            numbers[key] = default
        elif isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            c.fail(key, N_("must be a whole number from %(min)s to %(max)s"), min=low, max=high)
        else:
            numbers[key] = raw
    if escalated_value is not None and numbers.get("escalate_after") is None:
        c.fail("escalate_after", N_("is required with an escalated value"))
    c.check()
    same_scope = and_(
        CompensationPolicy.moment_type_id.is_(None) if moment_type_id is None
        else CompensationPolicy.moment_type_id == moment_type_id,
        CompensationPolicy.tier.is_(None) if tier is None else CompensationPolicy.tier == tier)
    if taken_by_other(CompensationPolicy, same_scope, policy):
        raise Conflict(N_("a policy for that moment type and tier already exists"), "moment_type_id")
    if policy is None:
        policy = CompensationPolicy(created_at=now)
        db.session.add(policy)
    policy.moment_type_id, policy.tier, policy.kind = moment_type_id, tier, kind
    policy.value, policy.cost, policy.escalated_value, policy.cap_value = value, cost, escalated_value, cap_value
    policy.requires_approval = bool(data.get("requires_approval", True))
    policy.active = bool(data.get("active", True))
    for key, number in numbers.items():
        setattr(policy, key, number)
    db.session.flush()
    audit.record(actor, "compensation_policy.saved", "compensation_policy", policy.id, now)
    return policy


def get_policy(policy_id: int) -> CompensationPolicy:
    return get_or_raise(CompensationPolicy, policy_id, N_("no such compensation policy"))


def list_policies() -> list[CompensationPolicy]:
    return list(db.session.scalars(select(CompensationPolicy).options(joinedload(CompensationPolicy.moment_type))
                                   .order_by(CompensationPolicy.moment_type_id, CompensationPolicy.tier)))


# --- review ---------------------------------------------------------------------------------

def list_compensations(*, status=None, customer_id=None, team_id=None, moment_type_id=None, tier=None,
                       since=None, until=None, page=1, per_page=25) -> Page:
    stmt = filtered(select(Compensation), status=status, customer_id=customer_id, team_id=team_id,
                     moment_type_id=moment_type_id, tier=tier, since=since, until=until)
    stmt = stmt.options(joinedload(Compensation.customer), joinedload(Compensation.moment).joinedload(Moment.moment_type))
    return paginate(stmt.order_by(Compensation.proposed_at.desc(), Compensation.id.desc()), page, per_page)


def totals(**filters) -> dict:
    """Count, value and cost per status for the same filters as the list."""
    stmt = filtered(select(Compensation.status, func.count(), func.coalesce(func.sum(Compensation.value), 0),
                            func.coalesce(func.sum(Compensation.cost), 0)), **filters).group_by(Compensation.status)
    out = {status: {"count": 0, "value": Decimal("0"), "cost": Decimal("0")} for status in STATUSES}
    for status, count, value, cost in db.session.execute(stmt):
        out[status] = {"count": count, "value": Decimal(value), "cost": Decimal(cost)}
    return out


def filtered(stmt, *, status=None, customer_id=None, team_id=None, moment_type_id=None, tier=None, since=None,
              until=None):
    c = Cleaner()
    c.choice("status", status, STATUSES, required=False)
    c.choice("tier", tier, TIERS, required=False)
    c.check()
    if status:
        stmt = stmt.where(Compensation.status == status)
    if customer_id:
        stmt = stmt.where(Compensation.customer_id == customer_id)
    if team_id or moment_type_id:
        stmt = stmt.join(Moment, Moment.id == Compensation.moment_id)
        if moment_type_id:
            stmt = stmt.where(Moment.moment_type_id == moment_type_id)
        if team_id:
            stmt = stmt.join(MomentType, MomentType.id == Moment.moment_type_id).where(MomentType.team_id == team_id)
    if tier:
        stmt = stmt.join(Customer, Customer.id == Compensation.customer_id).where(Customer.tier == tier)
    if since:
        stmt = stmt.where(Compensation.proposed_at >= since)
    if until:
        stmt = stmt.where(Compensation.proposed_at < until)
    return stmt


def compensation_ids(commitments) -> dict[int, int]:
    """commitment id → its compensation's id, for a page of commitments in one query."""
    ids = [c.id for c in commitments]
    if not ids:
        return {}
    return dict(db.session.execute(select(Compensation.commitment_id, Compensation.id)
                                   .where(Compensation.commitment_id.in_(ids))).all())


def breach_digest(*, team_id=None, moment_type_id=None, tier=None, since=None, until=None) -> list:
    """Breaches per moment type in the period: one summary, not an alert per breach."""
    stmt = (select(MomentType.name, func.count(Commitment.id))
            .select_from(Commitment).join(Moment, Moment.id == Commitment.moment_id)
            .join(MomentType, MomentType.id == Moment.moment_type_id)
            .where(Commitment.status == "breached"))
    if team_id:
        stmt = stmt.where(MomentType.team_id == team_id)
    if moment_type_id:
        stmt = stmt.where(Moment.moment_type_id == moment_type_id)
    if tier:
        stmt = stmt.join(Customer, Customer.id == Commitment.customer_id).where(Customer.tier == tier)
    if since:
        stmt = stmt.where(Commitment.breached_at >= since)
    if until:
        stmt = stmt.where(Commitment.breached_at < until)
    return list(db.session.execute(stmt.group_by(MomentType.name).order_by(func.count(Commitment.id).desc())))


def ledger(customer: Customer) -> list[Compensation]:
    return list(db.session.scalars(select(Compensation).where(Compensation.customer_id == customer.id)
                                   .order_by(Compensation.proposed_at.desc())))


def issued_cost(compensations: list[Compensation]) -> Decimal:
    """What these compensations cost the business: the issued ones count."""
    return sum((c.cost for c in compensations if c.status == "issued"), Decimal("0"))


def compensation_cost(customer: Customer) -> Decimal:
    """What this customer's compensations cost the business (issued ones count)."""
    return issued_cost(ledger(customer))


def describe(compensation: Compensation) -> str:
    """What the customer receives, in the current language: "Discount: €10.00"."""
    from crm.i18n import money
    from crm.labels import label

    kind = label("compensation_kind", compensation.kind)
    if not compensation.value:
        return kind
    return f"{kind}: {money(compensation.value)}"
