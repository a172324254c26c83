"""/api/v1/metrics: the experience figures of a period beside the previous period's (supervisors)."""
from __future__ import annotations

from flask import current_app

from crm.api import api_blueprint, require_role
from crm.api.schemas.insights import JourneyQuerySchema, JourneySchema, MetricsQuerySchema, MetricsSchema
from crm.insights import journey, services
from crm.types import utc_now

blp = api_blueprint("api_insights", __name__, url_prefix="/api/v1",
                    description="Experience metrics: NPS, CSAT, CES, FCR, service levels, costs, churn")


@blp.get("/metrics")
@require_role("supervisor")
@blp.arguments(MetricsQuerySchema, location="query", unknown="raise")
@blp.response(200, MetricsSchema)
def get_metrics(args):
    """Every figure for the local days `from`–`to` (the last 30 days by default) and for the
    previous period of the same length, with each figure's change. The same numbers as the
    metrics page. Revenue, churn and retention follow the segment and tier filters only.

    Refused with 422: `to` before `from`, more than 366 days, an unknown channel, tier,
    team, agent or moment type, or an unknown parameter."""
    filters = {key: args[key] for key in ("segment", "tier", "team_id", "agent_id", "channel", "moment_type")}
    return services.metrics_report(args["first_day"], args["last_day"], filters,
                                   zone=current_app.config["BABEL_DEFAULT_TIMEZONE"], now=utc_now())


@blp.get("/journey")
@require_role("supervisor")
@blp.arguments(JourneyQuerySchema, location="query", unknown="raise")
@blp.response(200, JourneySchema)
def get_journey(args):
    """The journey map for the local days `from`–`to` (the last 30 days by default): the
    five phases with their touchpoints (volume, cost, average emotion, service levels,
    target against actual, pain points), the previous period's, and the emotion curve of
    both. The same numbers as the journey page. Optional `segment` or `customer_id`.

    Refused with 422: `to` before `from`, more than 366 days, an unknown customer, or an
    unknown parameter."""
    return journey.journey_report(args["first_day"], args["last_day"],
                                  {"segment": args["segment"], "customer_id": args["customer_id"]},
                                  zone=current_app.config["BABEL_DEFAULT_TIMEZONE"], now=utc_now())
