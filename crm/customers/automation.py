"""Lifecycle automation: rules move customers along the ladder, into at_risk and churned.

Each enabled rule is one set-based query (`automation_matchers`) that returns the
customers it matches and could change (its *hits*); `automation_rules.decide` turns a
customer's hits into stage moves and a loyalty change, and `_apply` writes them in
chunks with bulk statements: guarded UPDATEs, the stage history (each row names its
rule: that is the record of a rule's move), and an audit event per loyalty change. No
query runs per customer, so the nightly run over every customer costs the same handful
of statements as the run for the one customer who just bought.

What makes a second run change nothing: moves only go up (or into at_risk/churned,
which the rules then leave alone), and an at_risk rule only counts evidence newer
than the customer's latest stage change, so a win-back is not undone by the answer
or the breaches that put the customer at risk in the first place.

Services flush and never commit.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from crm import audit
from crm.audit import AuditEvent
from crm.customers.automation_matchers import MATCHERS, Scope, fresh_purchases
from crm.customers.automation_rules import (
    CODES,
    RULES_BY_CODE,
    Decision,
    Hit,
    RuleConfig,
    clean_params,
    decide,
    default_params,
    effective_params,
)
from crm.customers.models import Customer, LifecycleRule, StageChange
from crm.domain import N_, DomainError, NotFound, ValidationFailed
from crm.extensions import db
from crm.insights import rollup
from crm.moments.models import MomentType
from crm.webhooks import events as webhook_events

CHUNK = 1000


# --- the rules as stored --------------------------------------------------------------------

def rules() -> list[LifecycleRule]:
    """Every rule's row, in the engine's order; missing rows are created with their
    defaults (enabled), so a fresh database runs the ladder out of the box."""
    rows = {row.code: row for row in db.session.scalars(select(LifecycleRule).where(LifecycleRule.code.in_(CODES)))}
    missing = [code for code in CODES if code not in rows]
    if missing:
        try:
            with db.session.begin_nested():
                for code in missing:
                    row = LifecycleRule(code=code, enabled=True, params=default_params(code))
                    db.session.add(row)
                    rows[code] = row
        except IntegrityError:
            # Another request seeded them at the same moment: theirs will do.
            rows = {row.code: row for row in db.session.scalars(
                select(LifecycleRule).where(LifecycleRule.code.in_(CODES)))}
    return [rows[code] for code in CODES]


def configs() -> dict[str, RuleConfig]:
    return {row.code: RuleConfig(row.code, bool(row.enabled), effective_params(row.code, row.params))
            for row in rules()}


def get_rule(code) -> LifecycleRule:
    if not isinstance(code, str) or code not in RULES_BY_CODE:
        raise NotFound(N_("no such lifecycle rule"))
    return next(row for row in rules() if row.code == code)


def _clean_rule(row: LifecycleRule, data: dict) -> tuple[bool, dict, dict[str, DomainError]]:
    """(enabled, params, errors by parameter name, "enabled" or "params")."""
    errors: dict[str, DomainError] = {}
    enabled = data.get("enabled", row.enabled)
    if not isinstance(enabled, bool):
        errors["enabled"] = DomainError(N_("must be true or false"), "enabled")
    raw = data.get("params", {})
    if not isinstance(raw, dict):
        errors["params"] = DomainError(N_("must be an object of settings"), "params")
        raw = {}
    current = effective_params(row.code, row.params)
    params, problems = clean_params(row.code, raw, current)
    for name, (message, values) in problems.items():
        errors[name] = DomainError(message, name, **values)
    if "referral_types" in raw and "referral_types" not in problems:
        unknown = _unknown_moment_types(params["referral_types"], current.get("referral_types", []))
        if unknown:
            errors["referral_types"] = DomainError(N_("no moment type has the code %(codes)s"), "referral_types",
                                                   codes=", ".join(unknown))
    return enabled, params, errors


def _unknown_moment_types(codes: list[str], kept: list[str]) -> list[str]:
    """Codes no moment type has. Codes already stored are let through, so the default
    ("recomendacion", from the demo catalog) can be kept before such a type exists."""
    new = [code for code in codes if code not in kept]
    if not new:
        return []
    known = set(db.session.scalars(select(MomentType.code).where(MomentType.code.in_(new))))
    return [code for code in new if code not in known]


def _store(actor, row: LifecycleRule, enabled: bool, params: dict, now: datetime) -> bool:
    if row.enabled == enabled and row.params == params:
        return False
    row.enabled, row.params = enabled, params
    row.updated_at, row.updated_by_id = now, getattr(actor, "id", None)
    audit.record(actor, "lifecycle_rule.saved", "lifecycle_rule", row.id, now, code=row.code, enabled=enabled,
                 params=params)
    return True


def save_rule(actor, code, data: dict, now: datetime) -> LifecycleRule:
    """Change one rule: `enabled` and/or some of its `params`; what is left out stays."""
    row = get_rule(code)
    unknown = sorted(set(data) - {"enabled", "params"})
    enabled, params, errors = _clean_rule(row, data)
    for name in unknown:
        errors[str(name)[:40]] = DomainError(N_("cannot be changed here"), str(name)[:40])
    if errors:
        raise ValidationFailed(errors)
    _store(actor, row, enabled, params, now)
    db.session.flush()
    return row


def save_rules(actor, data: dict[str, dict], now: datetime) -> list[LifecycleRule]:
    """The admin page's one form: every rule at once. Errors are keyed `<code>_<setting>`."""
    rows = rules()
    errors: dict[str, DomainError] = {}
    cleaned = []
    for row in rows:
        if row.code not in data:
            continue
        enabled, params, problems = _clean_rule(row, data[row.code])
        for name, problem in problems.items():
            key = f"{row.code}_{name}"
            errors[key] = DomainError(problem.message, key, **problem.params)
        cleaned.append((row, enabled, params))
    if errors:
        raise ValidationFailed(errors)
    for row, enabled, params in cleaned:
        _store(actor, row, enabled, params, now)
    db.session.flush()
    return rows


def last_run() -> AuditEvent | None:
    return db.session.scalar(select(AuditEvent).where(AuditEvent.entity == "lifecycle_rules")
                             .order_by(AuditEvent.id.desc()).limit(1))


# --- deciding and applying -------------------------------------------------------------------

@dataclass(frozen=True)
class Move:
    customer_id: int
    stage: str
    loyalty: str
    decision: Decision


def evaluate(now: datetime, *, customer_ids=None, rule_configs: dict[str, RuleConfig] | None = None,
             zone: str | None = None) -> list[Move]:
    """What the enabled rules would change, for every customer or for `customer_ids`.
    One query per enabled rule, one more for win-backs; nothing is written."""
    rule_configs = rule_configs if rule_configs is not None else configs()
    zone_info = ZoneInfo(zone or current_app.config.get("BABEL_DEFAULT_TIMEZONE", "UTC"))
    ids = None if customer_ids is None else tuple(sorted(set(customer_ids)))
    if ids is not None and not ids:
        return []
    scope = Scope(now, now.astimezone(zone_info).date(), zone_info, ids)
    if any(cfg.enabled and cfg.spec.purchase_based for cfg in rule_configs.values()):
        scope = replace(scope, fresh=fresh_purchases(scope))
    state: dict[int, tuple[str, str]] = {}
    hits: dict[int, list[Hit]] = defaultdict(list)
    for code in CODES:
        cfg = rule_configs.get(code)
        if cfg is None or not cfg.enabled:
            continue
        for customer_id, stage, loyalty, found in MATCHERS[code](cfg, scope):
            state[customer_id] = (stage, loyalty)
            hits[customer_id].append(found)
    moves = []
    for customer_id in sorted(state):
        stage, loyalty = state[customer_id]
        decision = decide(stage, loyalty, hits[customer_id], fresh_purchase=customer_id in scope.fresh)
        if decision:
            moves.append(Move(customer_id, stage, loyalty, decision))
    return moves


@dataclass
class RunResult:
    stage_moves: dict[str, int] = field(default_factory=dict)
    loyalty_changes: dict[str, int] = field(default_factory=dict)
    disabled: list[str] = field(default_factory=list)
    customers: int = 0  # customers changed

    def lines(self) -> list[str]:
        out = []
        for code in CODES:
            if code in self.disabled:
                out.append(f"{code}: off")
            else:
                out.append(f"{code}: {self.stage_moves.get(code, 0)} stage moves, "
                           f"{self.loyalty_changes.get(code, 0)} loyalty changes")
        return out

    def __str__(self) -> str:
        return f"{self.customers} customers changed\n" + "\n".join(self.lines())


def _apply(moves: list[Move], now: datetime, *, checkpoint=None) -> RunResult:
    """Write the moves: per (from, to) group and chunk, one guarded UPDATE (only rows still
    in the stage and loyalty that were read), then the stage history and the loyalty
    changes' audit events in bulk."""
    result = RunResult()
    groups: dict[tuple, list[Move]] = defaultdict(list)
    for move in moves:
        d = move.decision
        groups[(move.stage, d.stage or move.stage, move.loyalty, d.loyalty or move.loyalty)].append(move)
    for (from_stage, to_stage, from_loyalty, to_loyalty), items in sorted(groups.items()):
        for start in range(0, len(items), CHUNK):
            chunk = {move.customer_id: move for move in items[start:start + CHUNK]}
            moved = sorted(db.session.scalars(
                update(Customer).where(Customer.id.in_(list(chunk)), Customer.stage == from_stage,
                                       Customer.loyalty == from_loyalty)
                .values(stage=to_stage, loyalty=to_loyalty, updated_at=now).returning(Customer.id)
                .execution_options(synchronize_session=False)).all())
            history, events = [], []
            for customer_id in moved:
                d = chunk[customer_id].decision
                previous = from_stage
                for step in d.steps:
                    # The history row, naming the rule, is the record of a rule's move.
                    history.append({"customer_id": customer_id, "from_stage": previous, "to_stage": step.stage,
                                    "at": now, "user_id": None, "rule": step.rule, "reason": step.reason})
                    result.stage_moves[step.rule] = result.stage_moves.get(step.rule, 0) + 1
                    previous = step.stage
                if d.loyalty is not None:
                    events.append({"at": now, "user_id": None, "action": "customer.loyalty_changed",
                                   "entity": "customer", "entity_id": customer_id,
                                   "details": {"from": from_loyalty, "to": to_loyalty, "rule": d.loyalty_rule}})
                    result.loyalty_changes[d.loyalty_rule] = result.loyalty_changes.get(d.loyalty_rule, 0) + 1
            # Core inserts of the tables: the ORM's bulk path costs more than the rows themselves.
            if history:
                db.session.execute(insert(StageChange.__table__), history)
                rollup.mark_instants([now])  # the day's churn figures changed
                webhook_events.stages_changed(history, now)
            if events:
                db.session.execute(insert(AuditEvent.__table__), events)
            result.customers += len(moved)
            _forget(moved)
            db.session.flush()
            if checkpoint is not None:
                checkpoint()
    return result


def _forget(customer_ids: list[int]) -> None:
    """Customers already loaded in the session must not keep the stage read before the bulk UPDATE."""
    for customer_id in customer_ids:
        loaded = db.session.identity_map.get(db.session.identity_key(Customer, customer_id))
        if loaded is not None:
            db.session.expire(loaded, ["stage", "loyalty", "updated_at"])


def apply_lifecycle_rules(now: datetime, actor=None, *, checkpoint=None) -> RunResult:
    """Evaluate every enabled rule for every customer and apply what they decide (the
    nightly job, the CLI and the admin's "Run now"). A second run changes nothing."""
    rule_configs = configs()
    result = _apply(evaluate(now, rule_configs=rule_configs), now, checkpoint=checkpoint)
    result.disabled = [code for code in CODES if not rule_configs[code].enabled]
    audit.record(actor, "lifecycle.rules_applied", "lifecycle_rules", None, now, customers=result.customers,
                 stage_moves=result.stage_moves, loyalty_changes=result.loyalty_changes)
    db.session.flush()
    return result


def evaluate_customer(customer_id: int, now: datetime) -> Decision | None:
    """Apply the rules to one customer right away (a purchase was recorded, a survey was
    answered): the same queries as the nightly run, limited to them."""
    moves = evaluate(now, customer_ids=[customer_id])
    if not moves:
        return None
    _apply(moves, now)
    return moves[0].decision


def after_contact(customer_id: int, moment_type_code: str, now: datetime) -> Decision | None:
    """A contact of a referral type may complete the promoter rule (a promoter answer plus
    a referral): apply the rules to that customer at once, as a survey answer does. Any
    other contact changes nothing before the nightly run (one small read)."""
    row = db.session.scalar(select(LifecycleRule).where(LifecycleRule.code == "promoter"))
    enabled = True if row is None else bool(row.enabled)  # a missing row means its default: on
    if not enabled or moment_type_code not in effective_params("promoter", row.params if row else None)[
            "referral_types"]:
        return None
    return evaluate_customer(customer_id, now)
