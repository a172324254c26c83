"""API schemas: Period figures (metrics) and the journey map."""

from marshmallow import Schema, fields


class PeriodQuerySchema(Schema):
    """A period of local days; empty values mean the default period (the last 30 days)."""

    class Meta:
        # A misspelt filter would otherwise be ignored and the figures look filtered when they
        # are not (webargs excludes unknown query parameters unless the view asks for "raise").
        unknown = "raise"

    first_day = fields.String(data_key="from", load_default=None, metadata={
        "format": "date", "description": "First local day, YYYY-MM-DD; 29 days before `to` when left out"})
    last_day = fields.String(data_key="to", load_default=None, metadata={
        "format": "date", "description": "Last local day (included), YYYY-MM-DD; today when left out"})


class MetricsQuerySchema(PeriodQuerySchema):
    """Empty values mean "any" (or the default period), so `?segment=&team_id=` is fine."""

    segment = fields.String(load_default=None)
    tier = fields.String(load_default=None)
    team_id = fields.String(load_default=None, metadata={"description": "The moment type's team"})
    agent_id = fields.String(load_default=None, metadata={"description": "The staff member of the contact"})
    channel = fields.String(load_default=None)
    moment_type = fields.String(load_default=None, metadata={"description": "The moment type's id or code"})


class RoundedFloat(fields.Float):
    """Figures are kept at full precision and sent rounded to two decimals."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else round(float(value), 2)


METRIC_COUNTS = (
    "nps_answers", "promoters", "passives", "detractors", "csat_answers", "ces_answers", "incidents_resolved",
    "resolved_first_contact", "resolved_by_second_contact", "sla_first_response_met", "sla_first_response_breached",
    "sla_resolution_met", "sla_resolution_breached", "breaches", "compensations_issued", "contacts",
    "purchases_other_currency", "customers_at_start", "customers_lost", "cohort_customers", "cohort_retained")
METRIC_MONEY = ("compensations_value", "compensations_cost", "contact_cost", "cost_to_serve", "revenue")
METRIC_RATES = {
    "nps": "Net Promoter Score, −100 to 100", "csat": "Percent of CSAT answers that are 4 or 5",
    "ces": "Mean CES answer, 1 to 7", "fcr_first": "Percent of resolved incidents resolved on the first contact",
    "fcr_second": "Percent of resolved incidents resolved by the second contact",
    "sla_first_response": "Percent of first-response commitments due in the period kept on time",
    "sla_resolution": "Percent of resolution commitments due in the period kept on time",
    "churn_rate": "Percent of the customers at the start lost in the period",
    "retention": "Percent of the last twelve months' signups still customers at the end"}


def _metric_fields() -> dict:
    out = {key: fields.Integer() for key in METRIC_COUNTS}
    out.update({key: fields.Decimal(as_string=True, places=2) for key in METRIC_MONEY})
    out.update({key: RoundedFloat(allow_none=True, metadata={"description": text})
                for key, text in METRIC_RATES.items()})
    return out


class ChurnBySegmentSchema(Schema):
    segment = fields.String(allow_none=True)
    at_start = fields.Integer()
    lost = fields.Integer()
    rate = RoundedFloat(allow_none=True)


class RetentionCohortSchema(Schema):
    month = fields.Function(lambda row: row["month"].strftime("%Y-%m"),
                            metadata={"type": "string", "description": "The signup month, YYYY-MM"})
    customers = fields.Integer()
    retained = fields.Integer()
    rate = RoundedFloat(allow_none=True)


MetricFiguresSchema = Schema.from_dict({
    **_metric_fields(),
    "start": fields.AwareDateTime(), "end": fields.AwareDateTime(),
    "currency": fields.String(),
    "fcr_target": RoundedFloat(metadata={"description": "Percent the business wants resolved on the first contact"}),
    "fcr_target_met": fields.Boolean(allow_none=True),
    "churn_by_segment": fields.List(fields.Nested(ChurnBySegmentSchema)),
    "retention_by_cohort": fields.List(fields.Nested(RetentionCohortSchema)),
}, name="MetricFigures")
MetricChangeSchema = Schema.from_dict(_metric_fields(), name="MetricChange")


class MetricsPeriodSchema(Schema):
    first_day = fields.Date(data_key="from")
    last_day = fields.Date(data_key="to")
    days = fields.Integer()
    start = fields.AwareDateTime(metadata={"description": "First instant, UTC"})
    end = fields.AwareDateTime(metadata={"description": "The instant after the last, UTC"})


class MetricsSchema(Schema):
    period = fields.Nested(MetricsPeriodSchema)
    previous_period = fields.Nested(MetricsPeriodSchema)
    currency = fields.String()
    filters = fields.Function(lambda report: report["filters"].as_dict(), metadata={"type": "object"})
    current = fields.Nested(MetricFiguresSchema)
    previous = fields.Nested(MetricFiguresSchema)
    change = fields.Nested(MetricChangeSchema, metadata={
        "description": "current − previous, in each figure's unit; null when either is unknown"})


# --- the journey map ----------------------------------------------------------------------

class JourneyQuerySchema(PeriodQuerySchema):
    """Empty values mean "everyone" (or the default period)."""

    segment = fields.String(load_default=None, metadata={"description": "Only this customer segment"})
    customer_id = fields.String(load_default=None, metadata={"description": "Only this customer's journey"})


class JourneyObjectiveSchema(Schema):
    metric = fields.String(metadata={"description": "emotion, csat, fcr_second or sla"})
    target = RoundedFloat(metadata={"description": "The value the metric must reach (at least)"})
    actual = RoundedFloat(allow_none=True)
    met = fields.Boolean(allow_none=True, metadata={"description": "null when nothing was measured"})


def _type_field(attribute: str, **metadata):
    return fields.Function(lambda row: getattr(row["moment_type"], attribute), metadata=metadata)


class TouchpointSchema(Schema):
    moment_type_id = _type_field("id", type="integer")
    code = _type_field("code", type="string")
    name = _type_field("name", type="string")
    phase = _type_field("phase", type="string")
    channel = _type_field("channel", type="string")
    owner_role = _type_field("owner_role", type="string")
    team = fields.Function(lambda row: row["moment_type"].team.name if row["moment_type"].team else None,
                           allow_none=True, metadata={"type": "string"})  # null: a type with no team
    external_partner = fields.Function(
        lambda row: bool(row["moment_type"].team and row["moment_type"].team.kind == "partner"),
        metadata={"type": "boolean"})
    volume = fields.Integer(metadata={"description": "Contacts in the period"})
    cost = fields.Decimal(as_string=True, places=2, metadata={"description": "Sum of the contacts' costs"})
    emotion = RoundedFloat(allow_none=True, metadata={
        "description": "Mean of the logged emotions and the survey answers mapped onto −2..+2"})
    emotions_logged = fields.Integer()
    survey_answers = fields.Integer()
    sla = RoundedFloat(allow_none=True, metadata={"description": "Percent of the commitments due kept on time"})
    sla_met = fields.Integer()
    sla_breached = fields.Integer()
    csat = RoundedFloat(allow_none=True)
    csat_answers = fields.Integer()
    fcr_second = RoundedFloat(allow_none=True)
    incidents_resolved = fields.Integer()
    objective = fields.Nested(JourneyObjectiveSchema, allow_none=True)
    pain = fields.Boolean(metadata={"description": "Average emotion below zero or objective missed"})
    pain_reasons = fields.List(fields.String())


class JourneyPhaseSchema(Schema):
    phase = fields.String()
    volume = fields.Integer()
    cost = fields.Decimal(as_string=True, places=2)
    emotion = RoundedFloat(allow_none=True)
    emotion_points = fields.Integer()
    sla = RoundedFloat(allow_none=True)
    sla_met = fields.Integer()
    sla_breached = fields.Integer()
    pain = fields.Boolean()
    pain_points = fields.Integer()
    touchpoints = fields.List(fields.Nested(TouchpointSchema))


class CurvePointSchema(Schema):
    moment_type_id = _type_field("id", type="integer")
    code = _type_field("code", type="string")
    name = _type_field("name", type="string")
    phase = fields.String()
    emotion = RoundedFloat(allow_none=True)
    previous_emotion = RoundedFloat(allow_none=True)
    pain = fields.Boolean()


class JourneySchema(Schema):
    period = fields.Nested(MetricsPeriodSchema)
    previous_period = fields.Nested(MetricsPeriodSchema)
    currency = fields.String()
    filters = fields.Function(lambda report: report["scope"].as_dict(), metadata={"type": "object"})
    phases = fields.List(fields.Nested(JourneyPhaseSchema))
    previous_phases = fields.List(fields.Nested(JourneyPhaseSchema))
    curve = fields.List(fields.Nested(CurvePointSchema), metadata={
        "description": "Average emotion per touchpoint in journey order, with the previous period's"})
