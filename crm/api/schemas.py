"""Request and response shapes of the JSON API; the OpenAPI document is built from them.

Schemas check types only. The rules (lengths, choices, references) live in the
services, so the pages, the API and the CLI refuse exactly the same things.
"""
from functools import partial

from marshmallow import EXCLUDE, Schema, fields, validate

from crm.queries import MAX_ID

# A list filtered by an id: past an id column's range is a 422, never the database's overflow (a
# 500 on PostgreSQL; found by tests/security/test_api_schema_fuzz.py).
IdFilter = partial(fields.Integer, validate=validate.Range(min=1, max=MAX_ID))


class ErrorBodySchema(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class PageQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, metadata={"description": "From 1"})
    per_page = fields.Integer(load_default=25, metadata={"description": "1 to 100"})


def page_schema(item_schema, name: str):
    """Every list answers this envelope (see crm.api.paging)."""
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "total": fields.Integer(required=True, allow_none=True,
                                metadata={"description": "null when the list is not counted"}),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
        "pages": fields.Integer(required=True, allow_none=True,
                                metadata={"description": "null when the list is not counted"}),
        "has_next": fields.Boolean(required=True),
    }, name=name)


# --- customers -------------------------------------------------------------------

class CustomerSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    company = fields.String(allow_none=True)
    segment = fields.String(allow_none=True)
    stage = fields.String()
    loyalty = fields.String()
    tier = fields.String()
    language = fields.String()
    marketing_consent = fields.Boolean()
    owner_id = fields.Integer(allow_none=True, strict=True)
    renewal_date = fields.Date(allow_none=True, metadata={"description": "When the contract or plan renews"})
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)


class CustomerCreateSchema(CustomerSchema):
    class Meta:
        exclude = ("created_at", "updated_at")

    name = fields.String(required=True)


class CustomerUpdateSchema(CustomerSchema):
    class Meta:
        exclude = ("stage", "created_at", "updated_at")


class CustomerQuerySchema(PageQuerySchema):
    q = fields.String(load_default="")
    stage = fields.String(load_default=None)
    segment = fields.String(load_default=None)
    owner_id = IdFilter(load_default=None)


class StageChangeRequestSchema(Schema):
    stage = fields.String(required=True)
    reason = fields.String(required=True)


class StageChangeSchema(Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    from_stage = fields.String(allow_none=True)
    to_stage = fields.String()
    at = fields.AwareDateTime()
    user_id = fields.Integer(allow_none=True)
    rule = fields.String(allow_none=True)
    reason = fields.String()


# --- catalog -----------------------------------------------------------------------

class ParticipantSchema(Schema):
    who = fields.String(required=True)
    does = fields.String()


class ServiceLevelSchema(Schema):
    tier = fields.String(required=True)
    first_response_hours = fields.Decimal(allow_none=True, as_string=True, allow_nan=False)
    resolution_hours = fields.Decimal(allow_none=True, as_string=True, allow_nan=False)


class MomentTypeSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    phase = fields.String(required=True)
    channel = fields.String(required=True)
    team_id = fields.Integer(allow_none=True, strict=True)
    owner_role = fields.String()
    participants = fields.List(fields.Nested(ParticipantSchema))
    process = fields.String()
    cost = fields.Decimal(as_string=True, allow_nan=False)
    objective = fields.String()
    physical_evidence = fields.String()
    customer_action = fields.String()
    frontstage_action = fields.String()
    backstage_action = fields.String()
    support_process = fields.String()
    active = fields.Boolean()
    service_levels = fields.List(fields.Nested(ServiceLevelSchema))
    calendar_id = fields.Integer(allow_none=True, strict=True, metadata={
        "description": "The business calendar its deadlines count in; the default calendar when null"})
    warn_ratio = fields.Decimal(as_string=True, allow_nan=False, metadata={
        "description": "Share of the time allowed after which an open commitment is at risk (0 to 1)"})
    objective_metric = fields.String(allow_none=True, metadata={
        "description": "What the objective is measured by: emotion, csat, fcr_second or sla"})
    objective_target = fields.Decimal(allow_none=True, as_string=True, allow_nan=False)


class MomentTypeUpdateSchema(MomentTypeSchema):
    """Only what is sent changes."""

    code = fields.String()
    name = fields.String()
    phase = fields.String()
    channel = fields.String()


# --- moments and commitments -----------------------------------------------------

class CommitmentSchema(Schema):
    id = fields.Integer()
    moment_id = fields.Integer()
    customer_id = fields.Integer()
    owner_id = fields.Integer(allow_none=True)
    kind = fields.String()
    status = fields.String()
    starts_at = fields.AwareDateTime()
    due_at = fields.AwareDateTime()
    met_at = fields.AwareDateTime(allow_none=True)
    breached_at = fields.AwareDateTime(allow_none=True)
    warn_at = fields.AwareDateTime(allow_none=True)
    warned_at = fields.AwareDateTime(allow_none=True)
    paused_at = fields.AwareDateTime(allow_none=True)
    compensation_id = fields.Method("get_compensation_id", allow_none=True)

    def get_compensation_id(self, commitment):
        return self.context_ids().get(commitment.id)

    def context_ids(self) -> dict:
        from flask import g

        return getattr(g, "compensation_ids", {})


class CommitmentQuerySchema(PageQuerySchema):
    status = fields.String(load_default=None)
    customer_id = IdFilter(load_default=None)
    owner_id = IdFilter(load_default=None)


class MomentCreateSchema(Schema):
    customer_id = fields.Integer(required=True, strict=True)
    moment_type = fields.Raw(required=True, metadata={
        "description": "The moment type's code (string) or id (integer)",
        "oneOf": [{"type": "string"}, {"type": "integer"}]})
    channel = fields.String(allow_none=True)
    emotion = fields.Integer(allow_none=True, strict=True, metadata={"minimum": -2, "maximum": 2})
    notes = fields.String(allow_none=True)
    occurred_at = fields.AwareDateTime(allow_none=True)
    follows_moment_id = fields.Integer(allow_none=True, strict=True)
    outcome = fields.String(allow_none=True)
    cost = fields.Decimal(allow_none=True, allow_nan=False)
    staff_id = fields.Integer(allow_none=True, strict=True)


class EmotionSchema(Schema):
    emotion = fields.Integer(required=True, allow_none=True, strict=True, metadata={
        "minimum": -2, "maximum": 2, "description": "−2 (very unhappy) to +2 (delighted); null clears it"})


class MomentSchema(Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    moment_type = fields.Function(lambda m: m.moment_type.code)
    moment_type_id = fields.Integer()
    channel = fields.String()
    staff_id = fields.Integer(allow_none=True)
    occurred_at = fields.AwareDateTime()
    emotion = fields.Integer(allow_none=True)
    notes = fields.String()
    cost = fields.Decimal(as_string=True)
    outcome = fields.String()
    follows_moment_id = fields.Integer(allow_none=True)
    incident_id = fields.Integer(allow_none=True)
    commitments = fields.List(fields.Nested(CommitmentSchema))


class SurveyResponseSchema(Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    moment_id = fields.Integer(allow_none=True)
    kind = fields.String(metadata={"enum": ["nps", "csat", "ces"]})
    score = fields.Integer()
    comment = fields.String()
    answered_at = fields.AwareDateTime()


# --- users -----------------------------------------------------------------------

class UserSchema(Schema):
    id = fields.Integer(dump_only=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    team_id = fields.Integer(allow_none=True, strict=True)
    locale = fields.String(allow_none=True)
    active = fields.Boolean()
    password = fields.String(load_only=True, required=True)
    created_at = fields.AwareDateTime(dump_only=True)


class UserUpdateSchema(UserSchema):
    """Only what is sent changes; a password left out stays."""

    email = fields.String()
    name = fields.String()
    role = fields.String()
    password = fields.String(load_only=True)


class TeamSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True)
    kind = fields.String(metadata={"enum": ["internal", "partner"], "description": "internal when left out"})
    description = fields.String(allow_none=True)
    created_at = fields.AwareDateTime(dump_only=True)


# --- calendars and compensations ------------------------------------------------------

class CalendarSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True)
    timezone = fields.String(required=True)
    hours = fields.Dict(keys=fields.String(), values=fields.List(fields.List(fields.String())), required=True,
                        metadata={"description": 'Weekday (0=Monday) to shifts: {"0": [["09:00", "14:00"]]}'})
    country = fields.String(allow_none=True)
    subdivision = fields.String(allow_none=True)
    closures = fields.List(fields.String(), metadata={"description": "ISO dates the business is closed"})
    is_default = fields.Boolean()


class CalendarUpdateSchema(CalendarSchema):
    name = fields.String()
    timezone = fields.String()
    hours = fields.Dict(keys=fields.String(), values=fields.List(fields.List(fields.String())))


class CompensationSchema(Schema):
    id = fields.Integer()
    commitment_id = fields.Integer(allow_none=True)
    customer_id = fields.Integer()
    moment_id = fields.Integer(allow_none=True)
    kind = fields.String()
    value = fields.Decimal(as_string=True)
    cost = fields.Decimal(as_string=True)
    status = fields.String()
    reason = fields.String()
    escalated = fields.Boolean()
    over_cap = fields.Boolean()
    proposed_at = fields.AwareDateTime()
    decided_at = fields.AwareDateTime(allow_none=True)
    decided_by_id = fields.Integer(allow_none=True)
    decision_note = fields.String()
    issued_at = fields.AwareDateTime(allow_none=True)


class PolicySchema(Schema):
    """What a broken promise earns: per moment type and tier (null: any), with escalation and a cap."""

    id = fields.Integer(dump_only=True)
    moment_type_id = fields.Integer(allow_none=True, strict=True, metadata={"description": "null: any type"})
    tier = fields.String(allow_none=True, metadata={"description": "null: any tier"})
    kind = fields.String(required=True, metadata={
        "enum": ["discount", "credit", "gift", "free_service", "apology"]})
    value = fields.Decimal(as_string=True, allow_none=True, allow_nan=False)
    cost = fields.Decimal(as_string=True, allow_none=True, allow_nan=False, metadata={
        "description": "What it costs the business; the value when null"})
    requires_approval = fields.Boolean(metadata={"description": "true when left out"})
    escalate_after = fields.Integer(allow_none=True, strict=True, metadata={"minimum": 1, "maximum": 100})
    escalation_window_days = fields.Integer(allow_none=True, strict=True, metadata={"minimum": 1, "maximum": 3650})
    escalated_value = fields.Decimal(as_string=True, allow_none=True, allow_nan=False)
    cap_value = fields.Decimal(as_string=True, allow_none=True, allow_nan=False)
    cap_period_days = fields.Integer(allow_none=True, strict=True, metadata={"minimum": 1, "maximum": 3650})
    active = fields.Boolean(metadata={"description": "true when left out"})
    created_at = fields.AwareDateTime(dump_only=True)


class GoodwillLimitSchema(Schema):
    role = fields.String(dump_only=True)
    max_value = fields.Decimal(as_string=True, places=2, required=True, allow_nan=False, metadata={
        "description": "The most one person of this role may grant on the spot"})


class CompensationQuerySchema(PageQuerySchema):
    status = fields.String(load_default=None)
    customer_id = IdFilter(load_default=None)
    team_id = IdFilter(load_default=None)
    moment_type_id = IdFilter(load_default=None)
    tier = fields.String(load_default=None)
    since = fields.AwareDateTime(load_default=None, data_key="from")
    until = fields.AwareDateTime(load_default=None, data_key="to")


class ApproveSchema(Schema):
    value = fields.Decimal(allow_none=True, allow_nan=False)
    note = fields.String(allow_none=True)


class RejectSchema(Schema):
    reason = fields.String(required=True)


class GoodwillSchema(Schema):
    kind = fields.String(required=True)
    value = fields.Decimal(required=True, allow_nan=False)
    reason = fields.String(required=True)


# --- follow-ups and the outbox ----------------------------------------------------------

OUTBOX_STATUS_DOC = {"enum": ["pending", "sending", "sent", "failed", "cancelled"]}


class TemplateSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"enum": ["transactional", "marketing"]})
    survey = fields.String(allow_none=True, metadata={"enum": ["nps", "csat", None]})
    languages = fields.Function(lambda template: [text.language for text in template.texts],
                                metadata={"type": "array", "items": {"type": "string"},
                                          "description": "Languages the template has words in"})
    active = fields.Boolean()


class TemplateTextSchema(Schema):
    language = fields.String()
    subject = fields.String()
    body = fields.String()


class TemplateDetailSchema(TemplateSchema):
    texts = fields.List(fields.Nested(TemplateTextSchema))
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class TemplateWriteSchema(Schema):
    """The whole template: both languages' subject and body are required."""

    code = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": ["transactional", "marketing"]})
    survey = fields.String(allow_none=True, metadata={"enum": ["nps", "csat", "ces", None]})
    active = fields.Boolean(metadata={"description": "true when left out"})
    subject_es = fields.String(required=True)
    body_es = fields.String(required=True)
    subject_en = fields.String(required=True)
    body_en = fields.String(required=True)


class RuleSchema(Schema):
    """A follow-up rule: which event sends which template, how many days after (or before)."""

    id = fields.Integer(dump_only=True)
    name = fields.String(required=True)
    trigger = fields.String(required=True, metadata={
        "enum": ["after_moment", "before_renewal", "inactivity", "compensation_issued"]})
    template_id = fields.Integer(required=True, strict=True)
    moment_type_id = fields.Integer(allow_none=True, strict=True, metadata={
        "description": "Required for after_moment, ignored otherwise"})
    outcome = fields.String(allow_none=True, metadata={"description": "after_moment only: only this outcome"})
    days = fields.Integer(strict=True, metadata={"minimum": 0, "maximum": 3650, "description": "0 when left out"})
    active = fields.Boolean(metadata={"description": "true when left out"})
    last_error = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "Why its last message could not be written, if it failed"})
    created_at = fields.AwareDateTime(dump_only=True)


class FollowUpSchema(Schema):
    id = fields.Integer()
    customer_id = fields.Integer(allow_none=True)
    template = fields.Function(lambda message: message.template.code if message.template else None,
                               allow_none=True, metadata={"type": "string", "description": "The template's code"})
    rule_id = fields.Integer(allow_none=True)
    kind = fields.String(metadata={"enum": ["transactional", "marketing"]})
    survey = fields.String(allow_none=True)
    status = fields.String(metadata=OUTBOX_STATUS_DOC)
    due_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)
    attempts = fields.Integer()
    subject = fields.String()
    to_address = fields.String()
    created_by_id = fields.Integer(allow_none=True)
    moment_id = fields.Integer(allow_none=True)
    compensation_id = fields.Integer(allow_none=True)


class OutboxMessageSchema(FollowUpSchema):
    """What admins see: staff alerts too, and where delivery stands."""

    user_id = fields.Integer(allow_none=True, metadata={"description": "The staff member a staff alert goes to"})
    last_error = fields.String(allow_none=True)
    lease_until = fields.AwareDateTime(allow_none=True)


class FollowUpQuerySchema(PageQuerySchema):
    customer_id = IdFilter(load_default=None)
    status = fields.String(load_default=None, metadata=OUTBOX_STATUS_DOC)


class OutboxQuerySchema(PageQuerySchema):
    status = fields.String(load_default=None, metadata=OUTBOX_STATUS_DOC)


class FollowUpCreateSchema(Schema):
    customer_id = fields.Integer(required=True, strict=True)
    template = fields.String(required=True, metadata={"description": "The template's code"})
    due_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "When to send it, with its offset; now when left out"})


# --- purchases ----------------------------------------------------------------------

class PurchaseSchema(Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    amount = fields.Decimal(as_string=True, metadata={"description": "Two decimals, as a string: \"12.50\""})
    currency = fields.String(metadata={"description": "ISO 4217 code"})
    purchased_on = fields.Date()
    description = fields.String()
    created_by_id = fields.Integer(allow_none=True)
    created_at = fields.AwareDateTime()


class PurchaseCreateSchema(Schema):
    customer_id = fields.Integer(required=True, strict=True)
    amount = fields.Raw(required=True, metadata={
        "description": 'More than 0, at most 1,000,000, two decimals at most; "12.50", "12,50" or 12.5',
        "oneOf": [{"type": "string"}, {"type": "number"}]})
    currency = fields.String(allow_none=True, metadata={
        "description": "ISO 4217 code; the business's currency when left out"})
    purchased_on = fields.String(required=True, metadata={
        "format": "date", "description": "YYYY-MM-DD, from 2000 up to tomorrow"})
    description = fields.String(allow_none=True, metadata={"description": "What was bought (up to 500 characters)"})


class PurchaseQuerySchema(PageQuerySchema):
    customer_id = fields.Integer(load_default=None)
    since = fields.Date(load_default=None, data_key="from", metadata={"description": "First day, inclusive"})
    until = fields.Date(load_default=None, data_key="to", metadata={"description": "Last day, inclusive"})


# --- metrics ------------------------------------------------------------------------

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
