"""Load the demo business into an empty database (idempotent)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, insert, select, text

from crm.auth.models import Team, User
from crm.calendars.services import arithmetic, default_calendar, save_calendar
from crm.compensations.services import save_policy, set_goodwill_limit
from crm.customers import search_index
from crm.customers.automation import apply_lifecycle_rules
from crm.customers.models import Customer, Purchase, StageChange
from crm.demo import catalog
from crm.demo.generator import DemoGenerator, Ids, TypeInfo, activity_from_purchases
from crm.extensions import db
from crm.followups.services import save_rule, save_template
from crm.moments.catalog import save_moment_type
from crm.moments.models import Commitment, Moment, MomentType
from crm.moments.services import backfill_resolutions

DEMO_PASSWORD = "demo"  # demo data only: never created outside this seed


def seed_demo(*, customers: int, moments: int, seed: int, now: datetime) -> dict | None:
    if db.session.scalar(select(User.id).where(User.email == "admin@demo.local")) is not None:
        return None
    teams = {}
    for spec in catalog.TEAMS:
        team = Team(name=spec["name"], kind=spec["kind"], description=spec["description"], created_at=now)
        db.session.add(team)
        teams[spec["name"]] = team
    db.session.flush()
    staff = []
    for email, name, role, team in catalog.STAFF:
        user = User(email=email, name=name, role=role, team_id=teams[team].id, created_at=now)
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
        staff.append(user)
    db.session.flush()
    admin = staff[0]
    save_calendar(admin, None, catalog.CALENDAR, now)
    types = []
    for spec in catalog.MOMENT_TYPES:
        data = {k: v for k, v in spec.items() if k not in ("team", "levels")}
        data["team_id"] = teams[spec["team"]].id
        data["service_levels"] = spec["levels"]
        types.append(save_moment_type(admin, None, data, now))
    codes = {t.code: t.id for t in types}
    for spec in catalog.COMPENSATION_POLICIES:
        data = {k: v for k, v in spec.items() if k != "type"}
        save_policy(admin, None, {**data, "moment_type_id": codes.get(spec["type"])}, now)
    for role, value in catalog.GOODWILL_LIMITS.items():
        set_goodwill_limit(admin, role, value, now)
    templates = {}
    for spec in catalog.MESSAGE_TEMPLATES:
        templates[spec["code"]] = save_template(admin, spec, now)
    for spec in catalog.FOLLOWUP_RULES:
        save_rule(admin, {"name": spec["name"], "trigger": spec["trigger"], "days": spec["days"],
                          "template_id": templates[spec["template"]].id, "moment_type_id": codes.get(spec.get("type")),
                          "outcome": spec.get("outcome")}, now)
    summary = load_customers_and_moments(
        now=now, seed=seed, customers=customers, moments=moments,
        staff_ids=[u.id for u in staff if u.role != "admin"], types=types)
    # What the scheduler's first nightly run would do, so the demo starts as the rules leave it.
    apply_lifecycle_rules(now)
    return {"teams": len(teams), "staff": len(staff), "calendars": 1, "moment types": len(types),
            "compensation policies": len(catalog.COMPENSATION_POLICIES), "email templates": len(templates),
            "follow-up rules": len(catalog.FOLLOWUP_RULES), **summary}


def type_infos(types: list[MomentType]) -> list[TypeInfo]:
    fallback = default_calendar()
    infos = []
    for t in types:
        calendar = t.calendar or fallback
        infos.append(TypeInfo(
            id=t.id, code=t.code, phase=t.phase, channel=t.channel, cost=Decimal(t.cost),
            levels={sl.tier: (sl.first_response_hours, sl.resolution_hours) for sl in t.service_levels},
            calendar=arithmetic(calendar), calendar_id=calendar.id if calendar else None,
            warn_ratio=Decimal(t.warn_ratio)))
    return infos


def next_ids() -> Ids:
    def after(column):
        return (db.session.scalar(select(func.max(column))) or 0) + 1

    return Ids(customer=after(Customer.id), stage_change=after(StageChange.id), moment=after(Moment.id),
               commitment=after(Commitment.id), purchase=after(Purchase.id))


def load_customers_and_moments(*, now, seed, customers, moments, staff_ids, types, progress=None) -> dict:
    """Bulk-load generated customers, their purchases and contacts; used by the seed and the benchmarks."""
    ids = next_ids()
    generator_first = ids.customer
    generator = DemoGenerator(now=now, staff_ids=staff_ids, types=type_infos(types), seed=seed, ids=ids,
                              currency=current_app.config["CRM_CURRENCY"])
    infos = []
    bought = 0
    for customer_rows, term_rows, change_rows, batch_infos in generator.customers(customers):
        purchase_rows = generator.purchases(batch_infos)
        # A purchase is activity: the contacts below move it later where they are newer.
        last_purchase = activity_from_purchases(purchase_rows)
        for row in customer_rows:
            row["last_activity_at"] = last_purchase.get(row["id"])
        db.session.execute(insert(Customer), customer_rows)
        search_index.add(term_rows)
        db.session.execute(insert(StageChange), change_rows)
        if purchase_rows:
            db.session.execute(insert(Purchase), purchase_rows)
        bought += len(purchase_rows)
        infos.extend(batch_infos)
        if progress:
            progress("customers", len(infos))
    made = commitments = 0
    for moment_rows, commitment_rows in generator.moments(infos, moments):
        db.session.execute(insert(Moment), moment_rows)
        if commitment_rows:
            db.session.execute(insert(Commitment), commitment_rows)
        made += len(moment_rows)
        commitments += len(commitment_rows)
        if progress:
            progress("moments", made)
    _reset_sequences()
    backfill_resolutions()
    # The latest contact, where it is newer than the latest purchase (or there is none).
    db.session.execute(text(
        "UPDATE customers SET last_activity_at = (SELECT MAX(moments.occurred_at) FROM moments "
        "WHERE moments.customer_id = customers.id) WHERE id >= :first AND EXISTS (SELECT 1 FROM moments "
        "WHERE moments.customer_id = customers.id AND (customers.last_activity_at IS NULL "
        "OR moments.occurred_at > customers.last_activity_at))"), {"first": generator_first})
    return {"customers": len(infos), "purchases": bought, "moments": made, "commitments": commitments}


def _reset_sequences() -> None:
    """Rows were inserted with explicit ids; PostgreSQL's sequences must catch up."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in ("customers", "stage_changes", "purchases", "moments", "commitments"):
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"))
