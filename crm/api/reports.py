"""/api/v1: the supervisor's dashboard, service blueprints, the weekly report PDF and the
service charter PDF: the same data and files as the pages."""
from __future__ import annotations

from io import BytesIO

from flask import current_app, send_file
from flask_babel import get_locale
from marshmallow import Schema, fields

from crm.api import api_blueprint, api_user, require_role
from crm.api.schemas.catalog import MomentTypeSchema
from crm.api.schemas.insights import JourneyQuerySchema, MetricsPeriodSchema, RoundedFloat, TouchpointSchema
from crm.api.schemas.moments import CommitmentSchema, SurveyResponseSchema
from crm.config import SUPPORTED_LOCALES
from crm.domain import N_, DomainError, ValidationFailed
from crm.insights import dashboard as dashboards
from crm.insights import journey, report
from crm.moments.catalog import get_moment_type
from crm.moments.models import BLUEPRINT_LANES
from crm.types import utc_now

blp = api_blueprint("api_reports", __name__, url_prefix="/api/v1",
                    description="The dashboard, service blueprints, the weekly report and the charter")


def _zone() -> str:
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


# --- the dashboard ----------------------------------------------------------------------------

class PendingSchema(Schema):
    count = fields.Integer()
    value = fields.Decimal(as_string=True)
    cost = fields.Decimal(as_string=True)


class TodaySchema(Schema):
    day = fields.Date(metadata={"description": "Today in the company's time zone"})
    start = fields.AwareDateTime()
    end = fields.AwareDateTime()
    breached = fields.Integer(metadata={"description": "Commitments broken today"})
    at_risk = fields.Integer(metadata={"description": "Open commitments past their warning, not yet due"})
    pending = fields.Nested(PendingSchema, metadata={"description": "Compensations proposed or approved"})
    detractors = fields.Integer(metadata={"description": "Unhappy survey answers in the last 7 days"})
    moved_at_risk = fields.Integer(metadata={"description": "Customers moved to at risk in the last 7 days"})
    breached_list = fields.List(fields.Nested(CommitmentSchema), metadata={"description": "The latest 10"})
    at_risk_list = fields.List(fields.Nested(CommitmentSchema), metadata={"description": "The soonest due 10"})
    detractor_list = fields.List(fields.Nested(SurveyResponseSchema), metadata={"description": "The latest 10"})


class TrendSchema(Schema):
    direction = fields.String(allow_none=True, metadata={"enum": ["up", "down", "flat", None]})
    good = fields.Boolean(allow_none=True, metadata={"description": "Whether the move is for the better"})


class KeyFigureSchema(Schema):
    key = fields.String()
    kind = fields.String(metadata={"enum": ["points", "percent", "money"]})
    current = RoundedFloat(allow_none=True)
    previous = RoundedFloat(allow_none=True)
    change = RoundedFloat(allow_none=True)
    trend = fields.Nested(TrendSchema)


class KeyFiguresSchema(Schema):
    period = fields.Nested(MetricsPeriodSchema)
    previous_period = fields.Nested(MetricsPeriodSchema)
    rows = fields.List(fields.Nested(KeyFigureSchema))


class DashboardSchema(Schema):
    now = fields.AwareDateTime()
    today = fields.Nested(TodaySchema)
    figures = fields.Nested(KeyFiguresSchema, metadata={
        "description": "The key figures of the last 30 days against the 30 before"})


@blp.get("/dashboard")
@require_role("supervisor")
@blp.response(200, DashboardSchema)
def get_dashboard():
    """What needs a supervisor's attention today, and the key figures' trend (supervisors)."""
    return dashboards.dashboard(utc_now(), _zone())


# --- service blueprints ---------------------------------------------------------------------------

def _lane(name: str):
    return fields.Function(lambda row: getattr(row["moment_type"], name), metadata={"type": "string"})


# A touchpoint's figures with the blueprint lanes behind it.
BlueprintRowSchema = TouchpointSchema.from_dict({lane: _lane(lane) for lane in BLUEPRINT_LANES},
                                                name="BlueprintRow")


class BlueprintsSchema(Schema):
    period = fields.Nested(MetricsPeriodSchema)
    currency = fields.String()
    filters = fields.Function(lambda data: data["scope"].as_dict(), metadata={"type": "object"})
    touchpoints = fields.List(fields.Nested(BlueprintRowSchema))


class BlueprintSchema(Schema):
    period = fields.Nested(MetricsPeriodSchema)
    previous_period = fields.Nested(MetricsPeriodSchema)
    currency = fields.String()
    filters = fields.Function(lambda data: data["scope"].as_dict(), metadata={"type": "object"})
    moment_type = fields.Nested(MomentTypeSchema)
    figures = fields.Nested(BlueprintRowSchema)
    previous = fields.Nested(BlueprintRowSchema, metadata={"description": "The previous period's figures"})


@blp.get("/blueprints")
@require_role("supervisor")
@blp.arguments(JourneyQuerySchema, location="query", unknown="raise")
@blp.response(200, BlueprintsSchema)
def list_blueprints(args):
    """Every moment type in use (or with figures in the period) in journey order, with its
    blueprint lanes and figures for the local days `from`–`to` (the last 30 days by default).
    Refused with 422 like `/journey`."""
    return journey.blueprints_report(args["first_day"], args["last_day"],
                                     {"segment": args["segment"], "customer_id": args["customer_id"]},
                                     zone=_zone(), now=utc_now())


@blp.get("/blueprints/<id:type_id>")
@require_role("supervisor")
@blp.arguments(JourneyQuerySchema, location="query", unknown="raise")
@blp.response(200, BlueprintSchema)
def get_blueprint(args, type_id):
    """One moment type's service blueprint with its figures for the period and the previous one."""
    moment_type = get_moment_type(type_id)
    return journey.blueprint_report(moment_type, args["first_day"], args["last_day"],
                                    {"segment": args["segment"], "customer_id": args["customer_id"]},
                                    zone=_zone(), now=utc_now())


# --- files ----------------------------------------------------------------------------------

class WeeklyReportQuerySchema(Schema):
    class Meta:
        unknown = "raise"

    week = fields.String(load_default=None, metadata={
        "format": "date", "description": "Any day of the week; the last complete week when left out"})
    lang = fields.String(load_default=None, metadata={
        "enum": list(report.LANGUAGES), "description": "The report's language; the caller's own when left out"})


def _pdf_doc(summary: str, description: str) -> dict:
    return {"summary": summary, "description": description, "responses": {200: {
        "description": "The PDF file", "content": {"application/pdf": {"schema": {"type": "string",
                                                                               "format": "binary"}}}}}}


@blp.get("/reports/weekly.pdf")
@require_role("supervisor")
@blp.arguments(WeeklyReportQuerySchema, location="query", unknown="raise")
@blp.doc(**_pdf_doc("The weekly report as a PDF (supervisors)",
                    "The same file as the page's download. Refused with 422: a bad or future `week`, an "
                    "unknown `lang`; 503 when the conversion runs out of time or memory."))
def weekly_report(args):
    if args["lang"] not in (None, *report.LANGUAGES):
        raise ValidationFailed({"lang": DomainError(N_("must be one of: %(choices)s"), "lang",
                                                    choices=", ".join(report.LANGUAGES))})
    now = utc_now()
    week_start = report.week_of(args["week"], _zone(), now)  # ValidationFailed: 422
    language = args["lang"] or api_user().locale or str(get_locale() or "")
    if language not in report.LANGUAGES:
        language = report.default_language()
    pdf = report.weekly_report_pdf(week_start, zone=_zone(), now=now, language=language)
    response = send_file(BytesIO(pdf), mimetype="application/pdf", as_attachment=True,
                         download_name=report.file_name(week_start, language))
    response.headers["Cache-Control"] = "private, no-store"
    return response


class CharterQuerySchema(Schema):
    class Meta:
        unknown = "raise"

    lang = fields.String(load_default=None, metadata={
        "enum": list(SUPPORTED_LOCALES), "description": "The company's default language when left out"})


@blp.get("/charter.pdf")
@blp.arguments(CharterQuerySchema, location="query", unknown="raise")
@blp.doc(**_pdf_doc("The public service charter as a PDF",
                    "The same file as the public /charter.pdf (which needs no token): the promises of "
                    "every moment type, the compensations, the opening hours and closures."))
def charter_pdf(args):
    from crm.charter_views import pdf

    return pdf()  # reads `lang` from the query string, as the public address does
