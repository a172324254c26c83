"""API schemas: Logged contacts, their commitments and the survey answers about them."""

from marshmallow import Schema, fields

from crm.api.schemas import IdFilter, PageQuerySchema


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
