"""API schemas: Business calendars, compensations, policies and goodwill limits."""

from marshmallow import Schema, fields

from crm.api.schemas import IdFilter, PageQuerySchema


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
