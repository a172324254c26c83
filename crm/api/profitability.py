"""/api/v1/profitability: profit per customer, keep-or-end decisions and the tier rule
(read and decide: supervisors; the rule: admins). The same numbers as the profitability page."""
from __future__ import annotations

from flask import current_app
from marshmallow import Schema, fields

from crm.api import api_blueprint, api_user, require_role, transaction
from crm.api.paging import page_body
from crm.api.schemas import PageQuerySchema, page_schema
from crm.api.schemas.insights import MetricsPeriodSchema
from crm.customers.services import get_customer
from crm.insights import profitability as service
from crm.insights.tier_rules import MODES
from crm.types import utc_now

blp = api_blueprint("api_profitability", __name__, url_prefix="/api/v1",
                    description="Profitability: profit per customer, keep-or-end decisions, the tier rule")


class TierRuleSchema(Schema):
    mode = fields.String(required=True, metadata={
        "enum": list(MODES), "description": "thresholds: profit amounts; percentiles: shares of the customers"})
    premium = fields.Decimal(as_string=True, required=True, allow_nan=False, metadata={
        "description": "Least profit for premium, or the top percent of customers"})
    standard = fields.Decimal(as_string=True, required=True, allow_nan=False, metadata={
        "description": "Least profit for standard, or the next percent of customers"})
    period_days = fields.Integer(required=True, strict=True, metadata={
        "minimum": 1, "maximum": 3660, "description": "Profit is counted over the last this many days"})
    active = fields.Boolean(load_default=False, metadata={
        "description": "Recompute tiers every night; false when left out"})


class DecisionSchema(Schema):
    id = fields.Integer(dump_only=True)
    customer_id = fields.Integer(dump_only=True)
    decision = fields.String(required=True, metadata={"enum": list(service.DECISIONS)})
    reason = fields.String(required=True)
    profit = fields.Decimal(as_string=True, dump_only=True, allow_none=True, metadata={
        "description": "The customer's profit over the rule's period when it was decided"})
    user_id = fields.Integer(dump_only=True, allow_none=True)
    at = fields.AwareDateTime(dump_only=True)


class CustomerProfitSchema(Schema):
    customer_id = fields.Integer()
    name = fields.String()
    tier = fields.String()
    revenue = fields.Decimal(as_string=True, metadata={"description": "Purchases in the company's currency"})
    contact_cost = fields.Decimal(as_string=True)
    compensation_cost = fields.Decimal(as_string=True)
    cost_to_serve = fields.Decimal(as_string=True)
    profit = fields.Decimal(as_string=True)
    decision = fields.Nested(DecisionSchema, allow_none=True, metadata={
        "description": "The newest keep-or-end decision, if any"})


def _profit_row(row: service.CustomerProfit, decision) -> dict:
    return {"customer_id": row.id, "name": row.name, "tier": row.tier, "revenue": row.revenue,
            "contact_cost": row.contact_cost, "compensation_cost": row.compensation_cost,
            "cost_to_serve": row.cost_to_serve, "profit": row.profit, "decision": decision}


class TierChangeSchema(Schema):
    customer_id = fields.Integer()
    from_tier = fields.String(allow_none=True)
    to_tier = fields.String()
    at = fields.AwareDateTime()
    profit = fields.Decimal(as_string=True, allow_none=True)
    rule = fields.String()
    reason = fields.String()
    user_id = fields.Integer(allow_none=True)


class ProfitabilitySchema(Schema):
    period = fields.Nested(MetricsPeriodSchema)
    currency = fields.String()
    rule = fields.Nested(TierRuleSchema)
    rule_updated_at = fields.AwareDateTime(allow_none=True)
    rule_updated_by_id = fields.Integer(allow_none=True)
    tiers = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "How many customers each service tier has now"})
    recent_tier_changes = fields.List(fields.Nested(TierChangeSchema))


class ProfitQuerySchema(PageQuerySchema):
    show = fields.String(load_default="unprofitable", metadata={
        "enum": list(service.LISTS), "description": "unprofitable (profit below 0, least first), top or bottom"})


CustomerProfitPageSchema = page_schema(CustomerProfitSchema, "CustomerProfitPage")


def _period(now):
    return service.period_for(service.get_rule().period_days, now, current_app.config["BABEL_DEFAULT_TIMEZONE"])


@blp.get("/profitability")
@require_role("supervisor")
@blp.response(200, ProfitabilitySchema)
def get_profitability():
    """The period profit is counted over (the rule's), the tier rule, how many customers each
    tier has, and the latest tier changes (supervisors)."""
    setting = service.rule_setting()
    return {"period": _period(utc_now()), "currency": current_app.config["CRM_CURRENCY"], "rule": service.get_rule(),
            "rule_updated_at": setting.updated_at if setting else None,
            "rule_updated_by_id": setting.updated_by_id if setting else None,
            "tiers": service.tier_distribution(), "recent_tier_changes": service.recent_tier_changes()}


@blp.get("/profitability/customers")
@require_role("supervisor")
@blp.arguments(ProfitQuerySchema, location="query")
@blp.response(200, CustomerProfitPageSchema)
def list_customer_profits(args):
    """Revenue, cost to serve and profit per customer over the rule's period, with each one's
    newest keep-or-end decision (supervisors). The unprofitable list is not counted (`total`
    and `pages` null; `has_next` says whether there is more). An unknown `show`: 422."""
    page = service.profit_page(_period(utc_now()), args["show"], args["page"], args["per_page"],
                               current_app.config["CRM_CURRENCY"])
    decisions = service.latest_decisions(row.id for row in page.items)
    page.items = [_profit_row(row, decisions.get(row.id)) for row in page.items]
    return page_body(page)


@blp.post("/profitability/<id:customer_id>/decision")
@require_role("supervisor")
@blp.arguments(DecisionSchema)
@blp.response(201, DecisionSchema)
def decide_customer(data, customer_id):
    """Record whether to keep a customer or end the relationship, and why (supervisors)."""
    get_customer(customer_id)  # 404 before anything is checked
    with transaction():
        decision = service.decide_customer(api_user(), customer_id, data, utc_now())
    return decision


@blp.put("/profitability/rule")
@require_role("admin")
@blp.arguments(TierRuleSchema)
@blp.response(200, TierRuleSchema)
def save_tier_rule(data):
    """Replace the rule service tiers follow (admins); tiers follow it from the next nightly
    run when `active`. Refused with 422: premium not above standard (thresholds), shares out
    of 0–100 or adding up to more than 100 (percentiles), a period out of 1–3660 days."""
    with transaction():
        rule = service.save_rule(api_user(), data, utc_now())
    return rule
