"""/api/v1/impact: customers after a moment type or a compensation, beside comparable customers (supervisors)."""
from __future__ import annotations

from flask import current_app
from marshmallow import Schema, fields

from crm.api import api_blueprint, require_role
from crm.api.schemas.insights import MetricsPeriodSchema, RoundedFloat
from crm.insights import impact
from crm.types import utc_now

blp = api_blueprint("api_impact", __name__, url_prefix="/api/v1",
                    description="Impact of a moment type or a compensation on purchases and churn")


class ImpactQuerySchema(Schema):
    """Empty values mean the default (the period) or "any" (segment, tier)."""

    class Meta:
        # A misspelt parameter is refused rather than silently ignored.
        unknown = "raise"

    treatment = fields.String(load_default=None, metadata={
        "description": '"compensation" (compensations issued) or a moment type\'s id or code'})
    first_day = fields.String(data_key="from", load_default=None, metadata={
        "format": "date", "description": "First local day, YYYY-MM-DD; 89 days before `to` when left out, "
                                         "and with both left out the 90 days ending 91 days before today"})
    last_day = fields.String(data_key="to", load_default=None, metadata={
        "format": "date", "description": "Last local day (included), YYYY-MM-DD; 89 days after `from` when left out"})
    segment = fields.String(load_default=None, metadata={"description": "Only this customer segment"})
    tier = fields.String(load_default=None, metadata={"description": "Only this service tier (the current one)"})


class ImpactFiguresSchema(Schema):
    bought = RoundedFloat(allow_none=True, metadata={"description": "Percent of customers with a purchase"})
    purchases = RoundedFloat(allow_none=True, metadata={"description": "Purchases per customer, any currency"})
    revenue = fields.Decimal(as_string=True, places=2, allow_none=True, metadata={
        "description": "Revenue per customer in the company's currency"})
    churned = RoundedFloat(allow_none=True, metadata={"description": "Percent of customers who moved to churned"})


class ImpactComparisonSchema(Schema):
    exposed = fields.Nested(ImpactFiguresSchema)
    comparable = fields.Nested(ImpactFiguresSchema, metadata={
        "description": "Reweighted to the exposed customers' mix of segment and tier"})
    difference = fields.Nested(ImpactFiguresSchema, metadata={
        "description": "exposed − comparable (points for percentages); null when either is unknown"})


class ImpactChangeSchema(Schema):
    exposed = fields.Nested(ImpactFiguresSchema)
    comparable = fields.Nested(ImpactFiguresSchema)
    difference = fields.Nested(ImpactFiguresSchema, metadata={"description": "The difference after − before"})


class ImpactGroupsSchema(Schema):
    exposed = fields.Nested(ImpactFiguresSchema)
    comparable = fields.Nested(ImpactFiguresSchema)


class ImpactStratumSchema(Schema):
    segment = fields.String(allow_none=True)
    tier = fields.String()
    exposed = fields.Integer(metadata={"description": "Exposed customers in the figures (window complete)"})
    window_open = fields.Integer(metadata={"description": "Exposed customers whose 90 days are not over yet"})
    comparable = fields.Integer()
    matched = fields.Boolean(metadata={"description": "Has both exposed and comparable customers"})
    reference = fields.AwareDateTime(allow_none=True, metadata={
        "description": "The median exposure, around which the comparable customers are counted"})
    before = fields.Nested(ImpactGroupsSchema)
    after = fields.Nested(ImpactGroupsSchema)
    difference = fields.Nested(ImpactFiguresSchema, metadata={"description": "exposed − comparable, after"})


class ImpactUnmatchedSchema(Schema):
    segment = fields.String(allow_none=True)
    tier = fields.String()
    exposed = fields.Integer()


class ImpactSchema(Schema):
    treatment = fields.Function(lambda report: report["treatment"].as_dict(), metadata={"type": "object"})
    period = fields.Nested(MetricsPeriodSchema)
    window_days = fields.Integer()
    complete_until = fields.Date(metadata={"description": "The last exposure day whose window is over"})
    currency = fields.String()
    filters = fields.Dict()
    exposed_customers = fields.Integer(metadata={"description": "Everybody exposed in the period"})
    window_open = fields.Integer(metadata={"description": "Left out: their 90 days are not over yet"})
    in_figures = fields.Integer(metadata={"description": "Exposed customers in the figures"})
    unmatched = fields.Integer(metadata={"description": "Left out: no comparable customer in their stratum"})
    comparable_customers = fields.Integer()
    other_currency = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "Purchases in other currencies (counted as purchases, not as revenue)"})
    before = fields.Nested(ImpactComparisonSchema)
    after = fields.Nested(ImpactComparisonSchema)
    change = fields.Nested(ImpactChangeSchema, metadata={"description": "after − before"})
    strata = fields.List(fields.Nested(ImpactStratumSchema))
    unmatched_strata = fields.List(fields.Nested(ImpactUnmatchedSchema))


@blp.get("/impact")
@require_role("supervisor")
@blp.arguments(ImpactQuerySchema, location="query", unknown="raise")
@blp.response(200, ImpactSchema)
def get_impact(args):
    """Purchases and churn in the 90 days after and before a treatment (`compensation`, or a
    moment type's id or code) for the customers who had it in the local days `from`–`to`,
    beside comparable customers of the same segment and tier who did not, reweighted to
    the exposed customers' mix. The same numbers as the impact page.

    Refused with 422: no or an unknown treatment, a bad date, `to` before `from`, more than
    366 days, an unknown tier, or an unknown parameter."""
    return impact.impact_report(args["treatment"], args["first_day"], args["last_day"],
                                {"segment": args["segment"], "tier": args["tier"]},
                                zone=current_app.config["BABEL_DEFAULT_TIMEZONE"], now=utc_now())

