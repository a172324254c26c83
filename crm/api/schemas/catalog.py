"""API schemas: The moment-of-truth catalog: moment types, their participants and service levels."""

from marshmallow import Schema, fields


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
